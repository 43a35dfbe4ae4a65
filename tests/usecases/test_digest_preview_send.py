"""The digest, preview and send use cases called as library functions with a Context (local
tracker, recording channel and mailer, a fixed clock): what a user would notice."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from match_staging import config
from match_staging.channels import registry
from match_staging.channels.base import Delivery, Rendered
from match_staging.context import Context, Parts, build
from match_staging.errors import InputError
from match_staging.keys import match_keys
from match_staging.matches import Batch, read_batch
from match_staging.model import Match, State
from match_staging.notices import Payload
from match_staging.trackers.local import LocalTracker
from match_staging.usecases.digest import digest
from match_staging.usecases.gate import Gate
from match_staging.usecases.preview import preview
from match_staging.usecases.stage import stage
from tests.conftest import match, write
from tests.fakes.mailbox import ACCEPTED, Mailbox

MONDAY = datetime(2026, 2, 9, 9, 0, tzinfo=UTC)  # 10:00 in Vienna, outside quiet hours


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Recorder:
    """A channel that keeps what it is asked to send."""

    name: ClassVar[str] = "slack"
    sent: list[Payload] = field(default_factory=list)

    def render(self, payload: Payload) -> list[Rendered]:
        return [Rendered("slack.txt", payload.summary.encode())]

    def send(self, payload: Payload) -> Delivery:
        self.sent.append(payload)
        return Delivery(self.name, True, "posted")


def context(repo: Path, clock: Clock, **parts: object) -> Context:
    cfg = config.load(None, {})
    cfg.notification.preferences.quiet_hours = None
    cfg.workflow.reviewers = ["reviewer"]
    ctx = Context(
        cfg,
        LocalTracker(repo / ".match-staging", clock=clock),
        clock=clock,
        sleep=lambda _: pytest.fail("nothing here may sleep"),
        root=repo,
    )
    for name, value in parts.items():
        setattr(ctx, name, value)
    return ctx


def staged(ctx: Context, name: str, *items: dict[str, object]) -> list[int]:
    write(ctx.root / name, list(items))
    report = stage(ctx, read_batch([name], {}, "matches-inbox"))
    assert not report.rejected and not report.failed
    return [issue.iid for _, issue in report.staged]


# --------------------------------------------------------------------------- digest


def test_digest_reminds_of_an_untouched_pending_match_once_a_day(repo: Path) -> None:
    clock = Clock(MONDAY)
    channel = Recorder()
    ctx = context(repo, clock, channels=[channel])
    [iid] = staged(ctx, "one.json", match())
    clock.now = MONDAY + timedelta(hours=25)
    report = digest(ctx)
    assert report.ok and report.reminded == [iid]
    sent = [(p.kind, [n.iid for n in p.matches]) for p in channel.sent]
    assert sent == [("new", [iid]), ("reminder", [iid])]
    clock.now += timedelta(hours=2)
    assert digest(ctx).reminded == [] and len(channel.sent) == 2  # not again the same day
    clock.now += timedelta(days=1)
    assert digest(ctx).reminded == [iid]


def test_digest_in_quiet_hours_sends_nothing_and_says_until_when(repo: Path) -> None:
    clock = Clock(MONDAY)
    ctx = context(repo, clock)
    staged(ctx, "one.json", match())
    ctx.channels = [channel := Recorder()]
    ctx.cfg.notification.preferences.quiet_hours = config.QuietHours()
    clock.now = datetime(2026, 2, 10, 22, 30, tzinfo=UTC)  # 23:30 in Vienna
    report = digest(ctx)
    assert report.quiet_until == datetime(2026, 2, 11, 6, 0, tzinfo=UTC)
    assert channel.sent == [] and report.reminded == []


def test_digest_repairs_an_approval_the_webhook_never_delivered(repo: Path) -> None:
    clock = Clock(MONDAY)
    ctx = context(repo, clock)
    [iid] = staged(ctx, "one.json", match())
    labels = ctx.cfg.labels
    ctx.tracker.add_note(iid, "a comment")  # someone looked at it
    ctx.tracker.update_issue(iid, add=[labels.approved])  # moved on the board
    clock.now += timedelta(minutes=5)
    report = digest(ctx)
    [result] = report.reconciled.results
    assert (result.outcome, result.iid, result.after) == ("applied", iid, State.APPROVED)
    issue = ctx.tracker.get_issue(iid)
    assert issue is not None and labels.pending not in issue.labels
    assert "the scheduled run applied it" in ctx.tracker.notes(iid)[-1].body


# --------------------------------------------------------------------------- preview


def test_preview_renders_issues_and_messages_and_creates_nothing(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITLAB_TOKEN", raising=False)
    clock = Clock(MONDAY)
    cfg = config.load(None, {})
    ctx = build(cfg, {}, Parts(tracker=False, channels=True), clock=clock)
    write(
        repo / "two.json",
        [
            match(title="Platform Engineer"),
            match(title="Too low", score=10, url="https://jobs.example.com/p/2"),
        ],
    )
    report = preview(
        ctx, read_batch(["two.json"], {}, "matches-inbox"), "https://gitlab.example.com/me/jobs"
    )
    assert report.folder == Path("outbox/preview/2026-02-09T09-00-00Z")
    [issue] = report.issues  # the one above the threshold
    text = issue.read_text(encoding="utf-8")
    assert text.startswith("# [JOB-MATCH] 92% — Platform Engineer")
    # every channel; Apprise's placeholder URL is one channel named by its scheme and hash
    assert {d.channel.partition("-")[0] for d in report.messages} == {
        s.name for s in registry.specs()
    }
    assert all(d.ok for d in report.messages)
    assert not (repo / ".match-staging").exists()  # no tracker was opened


@pytest.mark.parametrize(
    ("threshold", "shown"),
    [
        (70, ["70 at", "70.01 above"]),
        (70.01, ["70.01 above"]),
        (69.99, ["69.99 below", "70 at", "70.01 above"]),
    ],
)
def test_preview_shows_a_match_exactly_at_the_threshold(
    tmp_path: Path, threshold: float, shown: list[str]
) -> None:
    """The same rule as `stage` (issue 26): at the threshold is in, just below is out."""
    cfg = config.Config()
    cfg.staging.outbox = str(tmp_path / "outbox")
    cfg.notification.preferences.threshold = threshold
    recorder = Recorder()
    clock = Clock(MONDAY)
    tracker = LocalTracker(tmp_path / "state", clock=clock)
    ctx = Context(cfg, tracker, channels=[recorder], clock=clock)
    items = [
        match(title=title, score=float(title.split()[0]), url=f"https://jobs.example/{n}")
        for n, title in enumerate(["69.99 below", "70 at", "70.01 above"])
    ]
    batch = read_batch([str(write(tmp_path / "m.json", items))], {}, "unused")
    report = preview(ctx, batch, "https://gitlab.example.com/me/jobs")
    titles = [p.read_text(encoding="utf-8").split("\n", 1)[0] for p in report.issues]
    assert [t.split(" — ", 1)[1] for t in titles] == shown
    assert [p.name for p in report.issues] == [f"issue-{n}.md" for n in range(1, len(shown) + 1)]
    assert recorder.sent == []  # rendered, never sent
    assert not (tmp_path / "state").exists()


def test_preview_writes_each_issue_and_message_where_it_says(tmp_path: Path) -> None:
    cfg = config.Config()
    cfg.staging.outbox = str(tmp_path / "outbox")
    clock = Clock(MONDAY)
    recorder = Recorder()
    ctx = Context(
        cfg, LocalTracker(tmp_path / "state", clock=clock), channels=[recorder], clock=clock
    )
    items = [
        match(title="First", url="https://jobs.example/1"),
        match(title="Third", score=75, url="https://jobs.example/3"),
    ]
    document = {"cycle_id": "c/../7", "matches": items}
    batch = read_batch([str(write(tmp_path / "m.json", document))], {}, "unused")
    assert batch.errors == []
    report = preview(ctx, batch, "https://gitlab.example.com/me/jobs")
    assert report.folder == tmp_path / "outbox" / "preview" / "c-..-7"  # one folder, no "/"
    assert [p.name for p in report.issues] == ["issue-1.md", "issue-2.md"]
    assert report.rejected == []
    first = report.issues[0].read_text(encoding="utf-8")
    assert first.startswith(
        "# [JOB-MATCH] 92% — First\n\nLabels: job-match, job-match/pending, "
        "match-score/high\n\n<sub>match-staging keys: msk"
    )
    third = report.issues[1].read_text(encoding="utf-8")
    assert "Labels: job-match, job-match/pending, match-score/medium" in third
    (message,) = report.messages
    assert message.channel == "slack" and message.ok
    written = report.folder / "new-slack.txt"
    assert message.detail == f"written to {written}"
    assert written.read_text(encoding="utf-8").startswith("2 neue")  # the summary of both
    assert recorder.sent == []


# --------------------------------------------------------------------------- send


def approved(ctx: Context, **fields: object) -> int:
    [iid] = staged(ctx, "one.json", match(**fields))
    Gate(ctx).review(iid, State.APPROVED, "reviewer", "")
    return iid


def test_send_mails_the_application_with_its_attachment_and_marks_it_sent(repo: Path) -> None:
    mailbox = Mailbox()
    ctx = context(repo, Clock(MONDAY), mailer=mailbox)
    iid = approved(
        ctx,
        apply="jobs@acme.example",
        draft="Dear Acme,",
        attachments=["cv/Profil_Laube_w_Summary_DE.pdf"],
    )
    result = Gate(ctx).send(iid, "me")
    assert (result.outcome, result.after) == ("sent", State.SENT)
    assert "jobs@acme.example" in result.message
    [msg] = mailbox.messages
    assert msg["To"] == "jobs@acme.example" and msg["Date"] == "Mon, 09 Feb 2026 09:00:00 +0000"
    assert [a.get_filename() for a in msg.iter_attachments()] == ["Profil_Laube_w_Summary_DE.pdf"]
    issue = ctx.tracker.get_issue(iid)
    assert issue is not None and issue.state == "closed"
    assert ctx.cfg.labels.sent in issue.labels
    bodies = [n.body for n in ctx.tracker.notes(iid)]
    assert "**Sending:**" in bodies[-2] and "**Sent:**" in bodies[-1]
    with pytest.raises(InputError, match="only approved matches are sent"):
        Gate(ctx).send(iid, "me")  # never twice


def test_a_refused_send_stays_approved_and_may_be_sent_again(repo: Path) -> None:
    mailbox = Mailbox(answer=Delivery("email", False, "550 mailbox unavailable"))
    ctx = context(repo, Clock(MONDAY), mailer=mailbox)
    iid = approved(ctx, apply="jobs@acme.example")
    result = Gate(ctx).send(iid, "me")
    assert (result.outcome, result.message) == ("failed", f"#{iid}: 550 mailbox unavailable")
    assert "**Not sent:**" in ctx.tracker.notes(iid)[-1].body
    mailbox.answer = ACCEPTED
    assert Gate(ctx).send(iid, "me").outcome == "sent"  # no --force needed: nothing went out


def test_a_send_that_may_have_gone_out_is_not_repeated_without_force(repo: Path) -> None:
    mailbox = Mailbox(answer=Delivery("email", False, "timed out", maybe_delivered=True))
    ctx = context(repo, Clock(MONDAY), mailer=mailbox)
    iid = approved(ctx, apply="jobs@acme.example")
    assert "it may have gone out" in Gate(ctx).send(iid, "me").message
    with pytest.raises(InputError, match="may have gone out"):
        Gate(ctx).send(iid, "me")
    mailbox.answer = ACCEPTED
    assert Gate(ctx).send(iid, "me", force=True).outcome == "sent"
    assert len(mailbox.messages) == 2


def test_a_match_without_an_address_is_applied_for_on_the_portal(repo: Path) -> None:
    ctx = context(repo, Clock(MONDAY), mailer=(mailbox := Mailbox()))
    iid = approved(ctx, apply="https://jobs.example.com/apply/1")
    result = Gate(ctx).send(iid, "me")
    assert result.outcome == "portal" and "https://jobs.example.com/apply/1" in result.message
    assert mailbox.messages == []


def test_auto_send_sends_an_approval_only_when_configured(repo: Path) -> None:
    mailbox = Mailbox()
    ctx = context(repo, Clock(MONDAY), mailer=mailbox)
    [first, second] = staged(
        ctx,
        "two.json",
        match(apply="a@acme.example"),
        match(apply="b@acme.example", url="https://jobs.example.com/p/2"),
    )
    gate = Gate(ctx)
    approval = gate.review(first, State.APPROVED, "reviewer", "").step
    assert gate.auto_send(approval, "reviewer") is None  # workflow.auto_send is off
    ctx.cfg.workflow.auto_send = True
    sent = gate.auto_send(approval, "reviewer")
    assert sent is not None and sent.outcome == "sent"
    rejection = gate.review(second, State.REJECTED, "reviewer", "too far").step
    assert gate.auto_send(rejection, "reviewer") is None
    assert [str(m["To"]) for m in mailbox.messages] == ["a@acme.example"]


@dataclass
class Renders:
    """A channel that keeps what it is asked to render (preview only renders)."""

    name: ClassVar[str] = "slack"
    rendered: list[Payload] = field(default_factory=list)

    def render(self, payload: Payload) -> list[Rendered]:
        self.rendered.append(payload)
        return [Rendered("slack.txt", payload.summary.encode())]

    def send(self, payload: Payload) -> Delivery:
        raise AssertionError("preview sends nothing")


def a_match(n: int, **fields: object) -> Match:
    url = f"https://jobs.example/{n}"
    return Match(
        score=90,
        title=f"Match {n}",
        provider="Acme",
        url=url,
        source="in.json",
        position=n,
        keys=match_keys(None, url),
        **fields,  # type: ignore[arg-type]
    )


def test_preview_again_shows_the_rest_of_a_batch_one_match_of_which_cannot_be_staged(
    tmp_path: Path,
) -> None:
    """A match too large for GitLab is reported and the matches after it are still shown,
    each under its number, its attachments linked by name, each message naming its issue;
    a second preview of the same cycle writes over the first (issue 26)."""
    cfg = config.Config()
    cfg.staging.outbox = str(tmp_path / "outbox")
    clock = Clock(MONDAY)
    seen = Renders()
    ctx = Context(cfg, LocalTracker(tmp_path / "state", clock=clock), channels=[seen], clock=clock)
    huge = a_match(1, draft="😀" * 300_000)  # 1.2 MB: more than a description may hold
    batch = Batch(matches=[huge, a_match(2, attachments=("cv/Lebenslauf.pdf",)), a_match(3)])
    project = "https://gitlab.example.com/me/jobs"
    for _ in range(2):
        report = preview(ctx, batch, project)
        [refused] = report.rejected
        assert isinstance(refused, InputError) and "more than GitLab's 1,048,576" in str(refused)
        assert [p.name for p in report.issues] == ["issue-2.md", "issue-3.md"]
        second = report.issues[0].read_text(encoding="utf-8")
        assert "[Lebenslauf.pdf](</uploads/%28preview%29/Lebenslauf.pdf>)" in second
        shown = [(n.iid, n.issue_url) for n in seen.rendered[-1].matches]
        assert shown == [(2, f"{project}/-/issues/2"), (3, f"{project}/-/issues/3")]
    assert report.folder == tmp_path / "outbox" / "preview" / "2026-02-09T09-00-00Z"


def test_a_preview_without_a_cycle_id_is_named_by_the_time_in_utc(tmp_path: Path) -> None:
    """The folder's name ends in Z: it is UTC on any machine, whatever its time zone."""
    cfg = config.Config()
    cfg.staging.outbox = str(tmp_path / "outbox")
    clock = Clock(MONDAY)
    ctx = Context(cfg, LocalTracker(tmp_path / "state", clock=clock), channels=[], clock=clock)
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"  # a machine 9 hours east of UTC
    time.tzset()
    try:
        report = preview(ctx, Batch(matches=[a_match(1)]), "https://gitlab.example.com/me/jobs")
    finally:
        if zone is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = zone
        time.tzset()
    assert report.folder.name == "2026-02-09T09-00-00Z"
