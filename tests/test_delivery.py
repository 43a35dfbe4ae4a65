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
