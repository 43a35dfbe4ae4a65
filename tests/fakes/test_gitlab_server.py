"""The fake GitLab behaves like GitLab for python-gitlab (real HTTP, unmodified client)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import gitlab
import pytest
import requests
from gitlab.v4.objects import Project

from tests.conftest import FakeTime
from tests.fakes.gitlab import FakeGitLab, extract_quick_actions, find_mentions


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        yield server


@pytest.fixture
def gl(fake: FakeGitLab) -> gitlab.Gitlab:
    return gitlab.Gitlab(fake.url, private_token=fake.token)


@pytest.fixture
def project(gl: gitlab.Gitlab) -> Project:
    return gl.projects.get(1, lazy=True)


# --------------------------------------------------------------- basics


def test_project_users_and_auth(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    gl.auth()
    assert gl.user is not None and gl.user.username == "bot"
    by_path = gl.projects.get("freelancer/backoffice")
    assert by_path.id == 1 and by_path.default_branch == "main"
    assert by_path.web_url == f"{fake.url}/freelancer/backoffice"
    assert fake.requests[-1].path == "/api/v4/projects/freelancer%2Fbackoffice"
    assert [u.id for u in gl.users.list(username="reviewer")] == [2]
    assert gl.users.get(3).username == "mallory"

    with pytest.raises(gitlab.GitlabAuthenticationError):
        gitlab.Gitlab(fake.url, private_token="wrong").projects.get(1)
    with pytest.raises(gitlab.GitlabGetError) as missing:
        gl.projects.get(2)
    assert missing.value.response_code == 404
    with pytest.raises(gitlab.GitlabHttpError) as unknown:
        gl.http_get("/no/such/route")
    assert unknown.value.response_code == 404
    assert [r.status for r in fake.requests[-3:]] == [401, 404, 404]


def test_no_two_routes_answer_one_request(fake: FakeGitLab) -> None:
    """Each part of the fake lists its own routes and the server joins them in any order:
    safe while a request's method and path match one route at most."""
    samples = [  # a value for each kind of path parameter
        (r"\(\?P<\w+>\\d\+\)", "7"),
        (r"\(\?P<\w+>\[\^/\]\+\)", "x1"),
        (r"\(\?P<\w+>\[a-z_\]\+\)", "a_b"),
    ]
    for method, pattern, _ in fake._routes:
        path = pattern.pattern
        for group, value in samples:
            path = re.sub(group, value, path)
        assert "(" not in path, path
        matching = [p.pattern for m, p, _ in fake._routes if m == method and p.fullmatch(path)]
        assert matching == [pattern.pattern], (method, path)


def test_request_log_count_and_seeding(fake: FakeGitLab, project: Project) -> None:
    seeded = fake.add_issue("Seeded", labels=["a"], state="closed")
    assert seeded["iid"] == 1 and fake.requests == []
    project.issues.create({"title": "Logged", "labels": ["x", "y"]})
    project.issues.list(state="opened", get_all=False)
    entry = fake.requests[0]
    assert (entry.method, entry.path, entry.status) == ("POST", "/api/v4/projects/1/issues", 201)
    assert entry.json == {"title": "Logged", "labels": ["x", "y"]}
    assert fake.requests[1].query["state"] == ["opened"]
    assert fake.count("POST") == 1 and fake.count("GET", r"/issues$") == 1
    assert fake.count(path_regex="/projects/1/") == 2
    fake.reset_log()
    assert fake.count() == 0


def test_restore_puts_back_exactly_the_snapshot(fake: FakeGitLab, project: Project) -> None:
    """tests/gate.py stages once per module and restores the fake before each test: what a
    test did (issues, notes, label events, ids, the log, a setting, an added attribute) must
    not reach the next one, and the next ids must be those after the snapshot."""
    project.issues.create({"title": "Staged", "labels": ["job-match"]})
    state = fake.snapshot()
    issue = project.issues.create({"title": "Later", "labels": ["x"]})
    issue.notes.create({"body": "a note"})
    project.issues.update(1, {"add_labels": "y"})
    fake.acting_user_id, fake.latency = 3, 0.5
    fake.fail_next("GET", ".", status=500)
    fake.extra = "set by a test"  # type: ignore[attr-defined]
    fake.restore(state)
    assert {k: v for k, v in vars(fake).items() if k in state} == state
    assert not hasattr(fake, "extra") and sorted(fake.issues) == [1]
    assert project.issues.create({"title": "Next"}).iid == 2  # served, ids go on from the state
    assert [r.method for r in fake.requests] == ["POST", "POST"]


# ----------------------------------------------------------- pagination


def test_pagination_headers_and_link_following(
    fake: FakeGitLab, gl: gitlab.Gitlab, project: Project
) -> None:
    for n in range(45):
        fake.add_issue(f"issue {n}", labels=["bulk"])
    fake.add_issue("other")

    response = gl.http_request(
        "get", "/projects/1/issues", query_data={"labels": "bulk", "per_page": 20, "page": 2}
    )
    headers = response.headers
    assert (headers["X-Total"], headers["X-Total-Pages"], headers["X-Page"]) == ("45", "3", "2")
    assert (headers["X-Per-Page"], headers["X-Next-Page"], headers["X-Prev-Page"]) == (
        "20",
        "3",
        "1",
    )
    links = response.links
    assert set(links) == {"next", "prev", "first", "last"}
    assert links["next"]["url"].startswith(f"{fake.url}/api/v4/projects/1/issues?")
    assert "labels=bulk" in links["next"]["url"] and "page=3" in links["next"]["url"]

    last = gl.http_request("get", "/projects/1/issues", query_data={"page": 3, "per_page": 20})
    assert last.headers["X-Next-Page"] == "" and "next" not in last.links
    clamped = gl.http_request("get", "/projects/1/issues", query_data={"per_page": 500})
    assert clamped.headers["X-Per-Page"] == "100" and len(clamped.json()) == 46

    fake.reset_log()
    everything = project.issues.list(labels=["bulk"], per_page=20, get_all=True)
    assert len(everything) == 45 and fake.count("GET") == 3
    assert all(r.query["labels"] == ["bulk"] for r in fake.requests)
    lazy = project.issues.list(iterator=True, per_page=10)
    assert (lazy.total, lazy.total_pages, lazy.next_page) == (46, 5, 2)
    assert len(list(lazy)) == 46


# -------------------------------------------------------------- labels


def test_label_crud_semantics(fake: FakeGitLab, gl: gitlab.Gitlab, project: Project) -> None:
    label = project.labels.create({"name": "triage", "color": "#FF0000", "description": "new"})
    assert label.text_color == "#FFFFFF" and isinstance(label.id, int)
    with pytest.raises(gitlab.GitlabCreateError) as duplicate:
        project.labels.create({"name": "triage", "color": "#00FF00"})
    assert duplicate.value.response_code == 409
    assert duplicate.value.error_message == "Label already exists"
    with pytest.raises(gitlab.GitlabHttpError) as no_color:
        gl.http_post("/projects/1/labels", post_data={"name": "x"})
    assert no_color.value.response_code == 400

    fake.add_issue("open one", labels=["triage"])
    fake.add_issue("closed one", labels=["triage"], state="closed")
    counted = project.labels.list(with_counts=True, search="tria")
    assert [(lb.name, lb.open_issues_count, lb.closed_issues_count) for lb in counted] == [
        ("triage", 1, 1)
    ]

    label.new_name = "needs review"
    label.save()  # PUT /labels with name in the body
    gl.http_put(f"/projects/1/labels/{label.id}", post_data={"color": "#eeeeee"})
    assert fake.labels["needs review"]["color"] == "#eeeeee"
    assert fake.labels["needs review"]["text_color"] == "#1F1E24"
    assert all(i["labels"] == ["needs review"] for i in fake.issues.values())
    project.labels.get("needs review").delete()
    assert fake.requests[-1].path == "/api/v4/projects/1/labels/needs%20review"
    assert fake.labels == {} and all(i["labels"] == [] for i in fake.issues.values())


# -------------------------------------------------------------- issues


def test_issue_create_validates_and_autocreates_labels(fake: FakeGitLab, project: Project) -> None:
    project.labels.create({"name": "existing", "color": "#123456"})
    issue = project.issues.create(
        {
            "title": "Senior DevOps",
            "description": "Body",
            "labels": "existing, brand new",
            "assignee_ids": [2, 99],
        }
    )
    assert fake.requests[-1].status == 201
    assert issue.iid == 1 and issue.id != issue.iid and issue.state == "opened"
    assert issue.labels == ["brand new", "existing"]
    assert fake.labels["brand new"]["color"] == "#6699cc"
    assert [a["username"] for a in issue.assignees] == ["reviewer"]
    assert issue.author["username"] == "bot"
    assert issue.web_url == f"{fake.url}/freelancer/backoffice/-/issues/1"
    assert issue.references["full"] == "freelancer/backoffice#1"
    events = fake.label_events[1]
    assert sorted((e["action"], e["label"]["name"]) for e in events) == [
        ("add", "brand new"),
        ("add", "existing"),
    ]
    assert all(e["user"]["username"] == "bot" for e in events)

    with pytest.raises(gitlab.GitlabCreateError) as too_long:
        project.issues.create({"title": "x" * 256})
    assert too_long.value.response_code == 400
    message: object = too_long.value.error_message  # GitLab sends a dict for validation errors
    assert message == {"title": ["is too long (maximum is 255 characters)"]}
    with pytest.raises(gitlab.GitlabCreateError):
        project.issues.create({"title": "ok", "description": "d" * 1_048_577})
    assert len(fake.issues) == 1


def test_issue_list_filters_and_ordering(fake: FakeGitLab, project: Project) -> None:
    first = fake.add_issue("Python backend", "remote, Berlin", labels=["match", "new"])
    second = fake.add_issue("Go platform", "python tooling", labels=["match"])
    fake.add_issue("Closed python", labels=["match", "new"], state="closed")

    def titles(**filters: Any) -> list[str]:
        return [i.title for i in project.issues.list(get_all=True, **filters)]

    assert titles(labels=["match", "new"]) == ["Closed python", "Python backend"]
    assert titles(labels="match,new", state="opened") == ["Python backend"]
    assert titles(search="PYTHON") == ["Closed python", "Go platform", "Python backend"]
    assert titles(search="python", **{"in": "title"}) == ["Closed python", "Python backend"]
    assert titles(iids=[1, 2], sort="asc") == ["Python backend", "Go platform"]

    time.sleep(0.002)
    project.issues.update(second["iid"], {"title": "Go platform (edited)"})
    assert titles(order_by="updated_at")[0] == "Go platform (edited)"
    assert titles(updated_after=second["updated_at"]) == ["Go platform (edited)"]
    assert first["updated_at"] < second["updated_at"]


def test_issue_update_labels_state_and_events(fake: FakeGitLab, project: Project) -> None:
    fake.add_issue("Match", labels=["new", "stale"])
    issue = project.issues.get(1)
    before = issue.updated_at
    project.issues.update(1, {"add_labels": "approved,extra", "remove_labels": ["stale", "nope"]})
    assert fake.issues[1]["labels"] == ["approved", "extra", "new"]
    assert fake.issues[1]["updated_at"] > before
    fake.acting_user_id = 2
    issue = project.issues.get(1)
    issue.labels = ["approved"]
    issue.state_event = "close"
    issue.save()
    assert issue.state == "closed" and issue.labels == ["approved"]
    assert issue.attributes["closed_by"]["username"] == "reviewer"

    events = [
        (e.action, e.label["name"], e.user["username"])
        for e in issue.resourcelabelevents.list(get_all=True)
    ]
    assert events == [
        ("add", "approved", "bot"),
        ("add", "extra", "bot"),
        ("remove", "stale", "bot"),
        ("remove", "extra", "reviewer"),
        ("remove", "new", "reviewer"),
    ]
    page = issue.resourcelabelevents.list(per_page=2, page=3)
    assert [e.label["name"] for e in page] == ["new"]
    project.issues.update(1, {"state_event": "reopen"})
    assert fake.issues[1]["state"] == "opened" and fake.issues[1]["closed_at"] is None


# ------------------------------------------------------- quick actions


def test_a_renamed_label_keeps_its_id_and_shows_its_new_name_everywhere(
    fake: FakeGitLab, project: Project
) -> None:
    """GitLab: issues and label events refer to the label by id (ResourceLabelEvent
    belongs_to :label, shown through LabelBasic); a rename (Labels::UpdateService) changes
    the label alone: no issue update, no label event, no Issue Hook."""
    project.issues.create({"title": "a", "labels": "job-match/pending,match-score/high"})
    high = fake.labels["match-score/high"]["id"]
    hooks, updated = len(fake.issue_hook_events), fake.issues[1]["updated_at"]
    with fake.act_as("mallory"):  # a Reporter may rename labels
        project.labels.update(str(high), {"new_name": "job-match/approved"})
    assert fake.issues[1]["labels"] == ["job-match/approved", "job-match/pending"]
    assert (len(fake.issue_hook_events), fake.issues[1]["updated_at"]) == (hooks, updated)
    events = project.issues.get(1).resourcelabelevents.list(get_all=True)
    shown = {(e.label["id"], e.label["name"]) for e in events}
    assert (high, "job-match/approved") in shown and len(events) == 2
    # by id first, then by title, as GitLab looks a label up
    assert project.labels.get(str(high)).name == "job-match/approved"
    project.labels.delete(str(high))
    events = project.issues.get(1).resourcelabelevents.list(get_all=True)
    assert sorted(str(e.label and e.label["name"]) for e in events) == [
        "None",
        "job-match/pending",
    ]


def test_a_renamed_user_shows_the_new_name_and_frees_the_old(
    fake: FakeGitLab, project: Project
) -> None:
    with fake.act_as("reviewer"):
        project.issues.create({"title": "a", "labels": "x"}).notes.create({"body": "hi"})
    fake.rename_user(2, "rita")
    with pytest.raises(ValueError, match="taken"):
        fake.rename_user(3, "RITA")
    fake.rename_user(3, "reviewer")  # the freed name, taken by someone else
    issue = project.issues.get(1)
    assert issue.author["username"] == "rita"
    assert issue.notes.list(get_all=True)[0].author == {**issue.author}
    (event,) = issue.resourcelabelevents.list(get_all=True)
    assert (event.user["id"], event.user["username"]) == (2, "rita")


def test_quick_action_extractor_mimics_gitlab() -> None:
    text, commands = extract_quick_actions(
        'Intro\r\n/label ~a ~"b c"\n/CLOSE\n\n\nkept\n /close\n/closed\n/unknown x\n'
        "```\n/close\n```\n```python\n/reopen\n```\n/title New  \n"
    )
    assert text == (
        "Intro\nkept\n /close\n/closed\n/unknown x\n```\n/close\n```\n```python\n/reopen\n```"
    )
    assert [(name, arg) for name, arg, _ in commands] == [
        ("label", '~a ~"b c"'),
        ("close", ""),
        ("title", "New"),
    ]
    # An unterminated fence does not protect what follows (GitLab's regex needs the closing line).
    assert extract_quick_actions("```\n/close")[1] == [("close", "", "/close")]


def test_quick_actions_in_description_and_notes(fake: FakeGitLab, project: Project) -> None:
    for name in ("a", "b c", "keep"):
        fake.add_label(name)
    issue = project.issues.create(
        {
            "title": "t",
            "labels": ["keep"],
            "description": 'Hello\n/label ~a ~"b c" ~missing\n/assign @reviewer\n/close\n'
            "/spend 1h\n```\n/close\n```\n/shrug text",
        }
    )
    assert issue.description == "Hello\n```\n/close\n```\n/shrug text"
    # /close is stripped but inert on a new issue (GitLab: the issue must already exist)
    assert issue.labels == ["a", "b c", "keep"] and issue.state == "opened"
    assert [a["username"] for a in issue.assignees] == ["reviewer"]
    assert [line for _, line in fake.executed_quick_actions] == [
        '/label ~a ~"b c" ~missing',
        "/assign @reviewer",
        "/close",
        "/spend 1h",
    ]
    assert "missing" not in fake.labels

    only_commands = issue.notes.create({"body": "/unlabel ~a\n/close"})
    assert fake.requests[-1].status == 202
    assert only_commands.attributes["commands_changes"]["state_event"] == "close"
    assert fake.notes.get(1, []) == []
    note = issue.notes.create({"body": "Looks good\n/title Renamed\n/unassign\n/unlabel"})
    assert note.body == "Looks good" and fake.requests[-1].status == 201
    stored = fake.issues[1]
    assert (stored["title"], stored["state"], stored["labels"], stored["assignees"]) == (
        "Renamed",
        "closed",
        [],
        [],
    )

    fake.executed_quick_actions.clear()
    project.issues.create({"title": "safe", "description": "```\n/close\n```\n\\/close\n`/close`"})
    issue.notes.create({"body": "text /close\n> /label ~a"})
    assert fake.executed_quick_actions == []


def test_mentions_and_references_are_recorded(fake: FakeGitLab, project: Project) -> None:
    issue = project.issues.create(
        {
            "title": "Ping @Reviewer",
            "description": "mail me@mallory.dev, `@mallory`, ``@mallory``\n```\n@mallory #7\n```\n"
            "see #12, a#3, &#39; and @nobody @all",
        }
    )
    stored = fake.issues[issue.iid]
    assert stored["_mentions"] == ["reviewer", "all"]
    assert stored["_references"] == ["#12"]
    issue.notes.create({"body": "cc @mallory, freelancer/backoffice#4"})
    assert stored["_mentions"] == ["reviewer", "all", "mallory"]
    assert stored["_references"] == ["#12", "freelancer/backoffice#4"]
    assert sorted(t["_user_id"] for t in fake.todos) == [2, 3]
    assert "_mentions" not in project.issues.get(issue.iid).attributes
    assert find_mentions("x@bot y", ["bot"]) == []


# ----------------------------------------------------- notes, uploads


def test_notes_sorting_pagination_and_limits(fake: FakeGitLab, project: Project) -> None:
    fake.add_issue("t")
    issue = project.issues.get(1)
    for n in range(3):
        issue.notes.create({"body": f"note {n}"})
    assert [n.body for n in issue.notes.list(get_all=True)] == ["note 2", "note 1", "note 0"]
    assert [n.body for n in issue.notes.list(sort="asc", per_page=2, page=1)] == [
        "note 0",
        "note 1",
    ]
    assert fake.notes[1][0]["noteable_iid"] == 1 and fake.notes[1][0]["system"] is False
    with pytest.raises(gitlab.GitlabCreateError) as too_long:
        issue.notes.create({"body": "x" * 1_000_001})
    assert too_long.value.response_code == 400 and len(fake.notes[1]) == 3


def test_uploads(fake: FakeGitLab, project: Project) -> None:
    content = b"\x89PNG\r\n\x1a\n\x00\xff--binary\r\n"
    image = project.upload("screen shot.png", filedata=content)
    secret = image["url"].split("/")[2]
    assert len(secret) == 32 and fake.requests[-1].status == 201
    assert image["url"] == f"/uploads/{secret}/screen_shot.png"
    assert image["markdown"] == f"![screen_shot](/uploads/{secret}/screen_shot.png)"
    assert image["full_path"] == f"/-/project/1/uploads/{secret}/screen_shot.png"
    assert fake.uploads[0]["content"] == content
    pdf = project.upload("cv.pdf", filedata=b"%PDF")
    assert pdf["markdown"].startswith("[cv.pdf](/uploads/") and pdf["alt"] == "cv.pdf"

    fake.max_upload_bytes = 10
    with pytest.raises(gitlab.GitlabUploadError) as too_big:
        project.upload("big.bin", filedata=b"x" * 11)
    assert too_big.value.response_code == 413 and len(fake.uploads) == 2


# ------------------------------------------------------ fault injection


def test_429_retry_after_is_honoured(
    fake: FakeGitLab, project: Project, fake_time: FakeTime
) -> None:
    fake.fail_next("POST", r"/projects/1/issues$", status=429, retry_after=1)
    issue = project.issues.create({"title": "after backoff"})
    assert fake_time.waits == [1]  # python-gitlab waited as told (recorded, not slept)
    assert issue.iid == 1 and len(fake.issues) == 1
    assert [(r.status, r.fault) for r in fake.requests] == [(429, "fail"), (201, None)]


def test_fail_next_has_no_side_effects(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    fake.fail_next("POST", "/issues", status=502, times=2, body='{"message":"bad gateway"}')
    project = gl.projects.get(1, lazy=True)
    with pytest.raises(gitlab.GitlabCreateError) as failed:
        project.issues.create({"title": "x"})
    assert failed.value.response_code == 502 and failed.value.error_message == "bad gateway"
    assert fake.issues == {}
    retrying = gitlab.Gitlab(fake.url, private_token=fake.token, retry_transient_errors=True)
    retrying.projects.get(1, lazy=True).issues.create({"title": "x"})
    assert [r.status for r in fake.requests] == [502, 502, 201] and len(fake.issues) == 1


def test_dropped_connections(fake: FakeGitLab, project: Project) -> None:
    fake.drop_next("POST", r"/issues$")
    with pytest.raises(requests.exceptions.ConnectionError):
        project.issues.create({"title": "lost"})
    assert fake.issues == {}

    fake.drop_next("POST", r"/issues$", after_commit=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        project.issues.create({"title": "created but unanswered"})
    assert [i["title"] for i in fake.issues.values()] == ["created but unanswered"]
    assert [(r.status, r.fault) for r in fake.requests] == [(0, "drop"), (0, "drop_after_commit")]
    assert project.issues.create({"title": "next one works"}).iid == 2


def test_concurrent_requests_and_latency() -> None:
    with FakeGitLab(latency=0.05) as fake:
        project = gitlab.Gitlab(fake.url, private_token=fake.token).projects.get(1, lazy=True)
        started = time.monotonic()
        workers = [
            threading.Thread(target=project.issues.create, args=({"title": f"t{n}"},))
            for n in range(8)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert time.monotonic() - started < 0.4  # latency is slept outside the lock
        assert sorted(fake.issues) == list(range(1, 9))


# ------------------------------------------------------------- to-dos


def test_todos_are_per_acting_user(fake: FakeGitLab, gl: gitlab.Gitlab, project: Project) -> None:
    fake.add_issue("t")
    issue = project.issues.get(1)
    issue.todo()
    assert fake.requests[-1].status == 201
    with pytest.raises(gitlab.GitlabTodoError) as again:
        issue.todo()
    assert again.value.response_code == 304
    fake.acting_user_id = 2
    issue.todo()
    assert [t["_user_id"] for t in fake.todos] == [1, 2]
    todos = gl.todos.list()
    assert len(todos) == 1 and todos[0].target["iid"] == 1 and todos[0].action_name == "marked"
    todos[0].mark_as_done()
    assert gl.todos.list() == [] and fake.todos[1]["state"] == "done"


# --------------------------------------- boards, triggers, hooks, schedules


def test_boards_triggers_hooks_and_schedules(fake: FakeGitLab, project: Project) -> None:
    fake.project["ci_pipeline_variables_minimum_override_role"] = "developer"  # variables ok
    label = project.labels.create({"name": "Review", "color": "#428BCA"})
    board = project.boards.create({"name": "Staging"})
    board.lists.create({"label_id": label.id})
    assert [bl.label["name"] for bl in board.lists.list()] == ["Review"]
    assert project.boards.get(board.id).name == "Staging"

    trigger = project.triggers.create({"description": "match feed"})
    assert trigger.token and fake.triggers[0]["description"] == "match feed"

    hook = project.hooks.create(
        {
            "url": "https://hooks.example/x",
            "issues_events": True,
            "note_events": True,
            "push_events": False,
            "token": "s3cret",
        }
    )
    assert (hook.alert_status, hook.disabled_until, hook.push_events) == ("executable", None, False)
    assert "token" not in hook.attributes and fake.hooks[0]["token"] == "s3cret"
    hook.enable_ssl_verification = False
    hook.save()
    assert fake.hooks[0]["enable_ssl_verification"] is False
    assert len(project.hooks.list()) == 1

    schedule = project.pipelineschedules.create(
        {"description": "nightly", "ref": "main", "cron": "0 6 * * *"}
    )
    schedule.variables.create({"key": "MODE", "value": "digest"})
    schedule.active = False
    schedule.save()
    stored = fake.schedules[0]
    assert (stored["active"], stored["cron_timezone"], stored["variables"][0]["key"]) == (
        False,
        "UTC",
        "MODE",
    )
    fetched = project.pipelineschedules.get(schedule.id)
    assert fetched.attributes["variables"][0]["value"] == "digest"


# ------------------------------- tokens that expire, hooks that come back (issue 19)


def test_an_expired_token_is_refused_on_every_request_from_its_expiry_date(
    fake: FakeGitLab, gl: gitlab.Gitlab
) -> None:
    """lib/api/api_guard.rb: 401 invalid_token; app/models/concerns/expirable.rb: from the
    first moment of the `expires_at` date, on GitLab's clock."""
    fake.token_expires_at[fake.token] = date(2026, 3, 21)
    fake.clock = lambda: datetime(2026, 3, 20, 23, 59, tzinfo=UTC)
    assert token_self(gl)["expires_at"] == "2026-03-21"
    fake.clock = lambda: datetime(2026, 3, 21, 0, 0, tzinfo=UTC)
    for call in (lambda: gl.http_get("/user"), lambda: gl.projects.get(1).issues.list()):
        with pytest.raises(gitlab.exceptions.GitlabAuthenticationError) as caught:
            call()
        assert caught.value.response_code == 401
        assert b'"error": "invalid_token"' in (caught.value.response_body or b"")
        assert b"Token is expired" in (caught.value.response_body or b"")


def test_token_self_shows_the_requests_own_token_or_what_an_older_gitlab_answers(
    fake: FakeGitLab, gl: gitlab.Gitlab
) -> None:
    assert token_self(gl)["expires_at"] is None
    other = gitlab.Gitlab(fake.url, private_token=fake.token_for("reviewer"))
    assert token_self(other)["user_id"] == 2
    fake.token_self_status = 404
    with pytest.raises(gitlab.exceptions.GitlabHttpError) as caught:
        gl.http_get("/personal_access_tokens/self")
    assert caught.value.response_code == 404


def test_a_hook_edit_does_not_re_enable_it_a_test_delivery_does(
    fake: FakeGitLab, project: Project
) -> None:
    """lib/api/helpers/web_hooks_helpers.rb (save only) against lib/api/hooks/
    trigger_test.rb + app/services/test_hooks/base_service.rb (force: true, enable! on 2xx)."""
    project.triggers.create({"description": "t"})
    url = f"{fake.url}/api/v4/projects/1/ref/main/trigger/pipeline?token=x"
    hook = project.hooks.create({"url": url, "issues_events": True})
    fake.hooks[0].update(alert_status="disabled", _failures=40)
    hook.issues_events = True
    hook.save()
    assert fake.hooks[0]["alert_status"] == "disabled"
    path = f"/projects/1/hooks/{hook.id}/test/issues_events"
    with pytest.raises(gitlab.exceptions.GitlabHttpError) as caught:
        project.manager.gitlab.http_post(path)  # no issue to send yet
    assert caught.value.response_code == 422
    fake.add_issue("one")
    project.manager.gitlab.http_post(path)
    assert fake.hooks[0]["alert_status"] == "executable"
    assert fake.deliveries == [(hook.id, "test:issues_events", 0)]


def test_a_confidential_issue_reaches_only_confidential_issue_hooks(
    fake: FakeGitLab, project: Project
) -> None:
    """app/services/issues/base_service.rb#execute_hooks: hooks_scope by issue.confidential?"""
    base = f"{fake.url}/api/v4/projects/1/ref/main/trigger/pipeline?token="
    plain = project.hooks.create({"url": base + "a", "issues_events": True})
    both = project.hooks.create(
        {"url": base + "b", "issues_events": True, "confidential_issues_events": True}
    )
    issue = project.issues.create({"title": "open one"})
    secret = project.issues.create({"title": "hidden", "confidential": True})
    issue.confidential = True  # made confidential by the same update that changes it
    issue.labels = ["x"]
    issue.save()
    assert fake.deliveries == [
        (plain.id, "issue", issue.iid),
        (both.id, "issue", issue.iid),
        (both.id, "confidential_issue", secret.iid),
        (both.id, "confidential_issue", issue.iid),
    ]


def token_self(gl: gitlab.Gitlab) -> dict[str, Any]:
    answer = gl.http_get("/personal_access_tokens/self")
    assert isinstance(answer, dict)
    return answer


def test_issue_search_and_author_filter_combine_and_notes_filter_by_activity(
    fake: FakeGitLab, project: Project
) -> None:
    """author_id narrows a search like a listing (IssuableFinder#filter_items); the notes
    API's activity_filter keeps comments or system notes only (lib/api/notes.rb)."""
    mine = project.issues.create({"title": "one", "description": "mskabc line"})
    with fake.act_as("mallory"):
        project.issues.create({"title": "two", "description": "mskabc line"})
    found = project.issues.list(search="mskabc", author_id=1, get_all=True)
    assert [i.iid for i in found] == [mine.iid]
    assert project.issues.list(search="mskabc", get_all=True)  # both without the filter
    mine.description = "changed"
    mine.save()
    mine.notes.create({"body": "a comment"})
    kinds = {
        f: [n.system for n in mine.notes.list(activity_filter=f, get_all=True)]
        for f in ("all_notes", "only_comments", "only_activity")
    }
    assert kinds == {
        "all_notes": [False, True],
        "only_comments": [False],
        "only_activity": [True],
    }
    with pytest.raises(gitlab.exceptions.GitlabListError):
        mine.notes.list(activity_filter="everything", get_all=True)


def test_moving_and_deleting_an_issue(fake: FakeGitLab, project: Project) -> None:
    """A Reporter moves an issue to a project of theirs: the original stays, closed, with
    moved_to_id (Issues::MoveService); only an Owner deletes one (destroy_issue)."""
    issue = project.issues.create({"title": "log", "confidential": True})
    assert project.issues.list(confidential=True, get_all=True)[0].iid == issue.iid
    assert project.issues.list(confidential=False, get_all=True) == []
    with fake.act_as("mallory"):
        project.issues.get(issue.iid, lazy=True).move(2)
        with pytest.raises(gitlab.exceptions.GitlabDeleteError):
            project.issues.delete(issue.iid)
    moved = project.issues.get(issue.iid)
    assert moved.state == "closed" and moved.moved_to_id
    fake.roles[1] = "owner"
    project.issues.delete(issue.iid)
    assert issue.iid not in fake.issues
