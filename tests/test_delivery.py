"""The delivery queue (pure): what each channel owes, across runs that stop half-way."""

from __future__ import annotations

from match_staging.delivery import Queue


def test_new_issues_are_owed_on_every_channel_once() -> None:
    queue = Queue(through=4)
    assert queue.account([5, 6, 3], ["slack", "email"]) == [5, 6]  # 3 was accounted before
    assert queue.account([5], ["slack", "email"]) == []  # a re-run adds nothing
    assert queue.owed("slack") == queue.owed("email") == {5, 6}


def test_a_batch_in_flight_is_never_sent_again_but_a_refused_one_is() -> None:
    queue = Queue(through=4)
    queue.account([5, 6], ["slack", "email"])
    queue.start("slack", [5, 6])
    queue.start("email", [5, 6])
    stopped = Queue.from_data(queue.to_data())  # a run that stopped here: this is all it left
    assert stopped.owed("slack") == set()
    assert stopped.settle_stranded() == {"slack": {5, 6}, "email": {5, 6}}
    assert stopped.to_data()["inflight"] == {}

    queue.finish("slack", [5, 6], retry=False)  # delivered (or maybe delivered)
    queue.finish("email", [5, 6], retry=True)  # refused: nothing left the machine
    assert queue.owed("slack") == set() and queue.owed("email") == {5, 6}
    assert queue.stranded() == {}


def test_forgetting_and_passing_over_keep_the_record_small() -> None:
    queue = Queue(through=4)
    queue.account([5, 6], ["slack"], {5: "f5", 6: "f6"})
    queue.account([7], ["slack", "email"], {7: ""})  # a record nobody can vouch for
    queue.forget([5])  # reviewed before anyone was told
    queue.pass_over(7)  # every issue up to 7 was listed
    assert queue.to_data() == {
        "through": 7,
        "accounted": [],
        "pending": {"email": [7], "slack": [6, 7]},
        "inflight": {},
        "records": {"6": "f6", "7": ""},
    }
    # a channel switched off for one run keeps what it owes; fingerprints stay while the
    # issue waits for review (reminders show the record only while it is the bot's)
    queue.start("slack", [6, 7])
    queue.finish("slack", [6, 7], retry=False)
    queue.tidy()
    assert queue.to_data()["pending"] == {"email": [7]}
    assert queue.to_data()["records"] == {"6": "f6", "7": ""}
    queue.keep_records([])  # 6 was reviewed; 7 is still owed on email
    assert queue.to_data()["records"] == {"7": ""}
    assert Queue.from_data(queue.to_data()) == queue


def test_a_record_in_an_unexpected_shape_reads_as_empty() -> None:
    queue = Queue.from_data(
        {
            "through": "9",
            "pending": {"slack": [1, "2", True, None]},
            "inflight": [3],
            "accounted": {"a": 1},
        }
    )
    assert queue.to_data() == {
        "through": 0,
        "accounted": [],
        "pending": {"slack": [1]},
        "inflight": {},
        "records": {},
    }


# --- every step of the queue, exactly (issue 26) -------------------------------------------


def test_known_is_at_or_below_through_or_accounted_above_it() -> None:
    queue = Queue(through=4, accounted={7})
    assert [i for i in range(1, 9) if queue.known(i)] == [1, 2, 3, 4, 7]
    assert queue.account([4, 5, 7, 8, 8], ["slack"]) == [5, 8]  # sorted, once each
    assert queue.accounted == {5, 7, 8}
    assert queue.account([9], []) == [9] and queue.owed("slack") == {5, 8}  # no channel on


def test_records_are_kept_only_for_issues_given_one() -> None:
    queue = Queue()
    queue.account([1, 2], ["email"], {1: "f1", 3: "f3"})
    assert queue.records == {1: "f1"}
    queue.account([3], ["email"])  # no fingerprints at all
    assert queue.records == {1: "f1"}


def test_start_and_finish_add_to_what_is_already_in_flight() -> None:
    queue = Queue()
    queue.account([1, 2, 3], ["slack"])
    queue.start("slack", [1])
    queue.start("slack", [2])
    assert queue.inflight == {"slack": {1, 2}} and queue.owed("slack") == {3}
    queue.finish("slack", [1], retry=True)
    assert queue.inflight == {"slack": {2}} and queue.owed("slack") == {1, 3}
    queue.finish("slack", [2], retry=False)
    assert queue.inflight == {"slack": set()} and queue.owed("slack") == {1, 3}
    assert queue.stranded() == {}
    queue.finish("email", [5], retry=True)  # a channel never started: owes what failed
    assert queue.owed("email") == {5} and queue.owing() == {1, 3, 5}
    owed = queue.owed("slack")
    owed.add(99)  # a copy: the queue is not changed through it
    assert queue.owed("slack") == {1, 3}


def test_keep_records_keeps_waiting_owed_and_in_flight_issues() -> None:
    queue = Queue(records={1: "a", 2: "b", 3: "c", 4: "d", 5: "e"})
    queue.pending = {"slack": {2}}
    queue.inflight = {"email": {3}}
    queue.keep_records([1])
    assert queue.records == {1: "a", 2: "b", 3: "c"}


def test_pass_over_never_moves_back_and_drops_what_it_covers() -> None:
    queue = Queue(through=10, accounted={11, 12, 15})
    queue.pass_over(8)
    assert (queue.through, queue.accounted) == (10, {11, 12, 15})
    queue.pass_over(12)
    assert (queue.through, queue.accounted) == (12, {15})


def test_forget_and_tidy_drop_only_what_is_empty() -> None:
    queue = Queue(pending={"slack": {1, 2}, "email": {1}}, inflight={"x": set(), "y": {3}})
    queue.records = {1: "a", 2: "b"}
    queue.forget([1])
    assert queue.pending == {"slack": {2}} and queue.inflight == {"y": {3}}
    assert queue.records == {2: "b"}
    assert queue.settle_stranded() == {"y": {3}} and queue.inflight == {}


def test_the_snapshot_round_trip_and_its_exact_shape() -> None:
    queue = Queue(
        through=3,
        accounted={9, 5},
        pending={"slack": {7, 5}, "email": set()},
        inflight={"email": {9}},
        records={9: "f9", 5: "f5"},
    )
    data = queue.to_data()
    assert data == {
        "through": 3,
        "accounted": [5, 9],
        "pending": {"slack": [5, 7]},
        "inflight": {"email": [9]},
        "records": {"5": "f5", "9": "f9"},
    }
    assert list(data) == ["through", "accounted", "pending", "inflight", "records"]
    assert list(data["records"]) == ["5", "9"]
    again = Queue.from_data(data)
    assert again.to_data() == data and again.known(9) and not again.known(6)


def test_from_data_keeps_every_readable_part() -> None:
    queue = Queue.from_data(
        {
            "through": 4,
            "accounted": [6, True, "7", 8],
            "pending": {"slack": [6], 3: [8], "email": "x"},
            "inflight": {"email": [8, False]},
            "records": {"6": "f6", "x7": "f7", "8": 8, "09": "f9"},
        }
    )
    assert queue.through == 4 and queue.accounted == {6, 8}
    assert queue.pending == {"slack": {6}, "3": {8}, "email": set()}
    assert queue.inflight == {"email": {8}}
    assert queue.records == {6: "f6", 9: "f9"}
    empty = Queue.from_data({"pending": [1], "records": [1]})
    assert (empty.pending, empty.records) == ({}, {})
