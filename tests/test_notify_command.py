"""`match-staging notify` through the CLI against the fake GitLab and a local Slack webhook:
exactly once per key (the run log's `notifications` record), quiet hours defer all but
`critical` to `digest`, which sends them batched, and the text is escaped as a posting's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from match_staging.channels.registry import specs
from match_staging.cli import main
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.slack_server import SlackWebhook

DAY = "2026-02-09T14:30:00+01:00"
NIGHT = "2026-02-09T23:30:00+01:00"  # the shipped quiet hours: 22:00-07:00 Europe/Vienna
MORNING = "2026-02-10T07:30:00+01:00"


@pytest.fixture
def hook() -> Iterator[SlackWebhook]:
    with SlackWebhook() as server:
        yield server


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        yield server


class Cli:
    def __init__(self, gitlab: FakeGitLab, hook: SlackWebhook, capsys: pytest.CaptureFixture[str]):
        self.gitlab, self.hook, self.capsys = gitlab, hook, capsys

    def __call__(self, *argv: str, now: str = DAY) -> tuple[int, str]:
        env = {
            "GITLAB_URL": self.gitlab.url,
            "GITLAB_TOKEN": self.gitlab.token,
            "GITLAB_PROJECT": "1",
            "MATCH_STAGING_NOW": now,
            "MATCH_STAGING__NOTIFICATION__CHANNELS__SLACK__ENABLED": "true",
            "SLACK_WEBHOOK_URL": self.hook.url,
        }
        self.capsys.readouterr()
        code = main(list(argv), env)
        captured = self.capsys.readouterr()
        out = captured.out + captured.err
        assert "Traceback" not in out and "CANARYSLACKSECRET" not in out, out
        return code, out

    def texts(self) -> list[str]:
        return [post["blocks"][0]["text"]["text"] for post in self.hook.posts]


@pytest.fixture
def cli(
    repo: Path, gitlab: FakeGitLab, hook: SlackWebhook, capsys: pytest.CaptureFixture[str]
) -> Cli:
    return Cli(gitlab, hook, capsys)


def test_a_second_notify_with_the_same_key_sends_nothing(cli: Cli) -> None:
    argv = ["notify", "--title", "Nightly build failed", "--key", "build-41", "--level", "warning"]
    code, out = cli(*argv, "--body", "job test: exit 1", "--link", "https://ci.example/p/41")
    assert code == 0, out
    assert out.startswith("sent      slack     key build-41: ok"), out
    (post,) = cli.hook.posts
    assert post["text"] == "Warnung: Nightly build failed"  # the fallback mobile shows
    assert cli.texts() == [
        "⚠️ *Nightly build failed*\njob test: exit 1\n<https://ci.example/p/41|Details>"
    ]
    code, out = cli(*argv, "--body", "another text, same key")
    assert code == 0 and "sent before  key build-41: nothing is sent again" in out, out
    assert len(cli.hook.posts) == 1
    # without --key the key is the text's: the same message twice is sent once
    assert cli("notify", "--title", "Invoice overdue")[0] == 0
    code, out = cli("notify", "--title", "Invoice overdue")
    assert "sent before" in out and len(cli.hook.posts) == 2


def test_quiet_hours_defer_to_digest_which_batches_them_and_critical_goes_through(
    cli: Cli,
) -> None:
    code, out = cli("notify", "--title", "Disk 91% full", "--key", "disk", now=NIGHT)
    assert code == 0, out
    assert "deferred  slack  key disk: quiet hours until 2026-02-10 07:00" in out, out
    cli("notify", "--title", "Budget 80% used", "--key", "budget", "--level", "warning", now=NIGHT)
    assert cli.hook.posts == []
    code, out = cli("notify", "--title", "Prod is down", "--level", "critical", now=NIGHT)
    assert code == 0 and "sent      slack" in out, out
    assert cli.texts() == ["🚨 *Prod is down*"]
    code, out = cli("notify", "--title", "Disk 91% full", "--key", "disk", now=NIGHT)
    assert "deferred" in out and len(cli.hook.posts) == 1  # still waiting, not twice

    code, out = cli("digest", now="2026-02-10T05:00:00+01:00")
    assert "quiet hours" in out and len(cli.hook.posts) == 1
    code, out = cli("digest", now=MORNING)
    assert code == 0, out
    assert "sent      slack" in out, out
    assert len(cli.hook.posts) == 2  # one message for both
    # in the order they were asked for (the same minute here: by key)
    assert cli.texts()[1] == "⚠️ *Budget 80% used*\nℹ️ *Disk 91% full*"
    assert cli.hook.posts[1]["text"] == "Warnung: Budget 80% used (+1 weitere)"
    cli("digest", now="2026-02-10T08:30:00+01:00")
    cli("notify", "--title", "Disk 91% full", "--key", "disk", now="2026-02-10T09:00:00+01:00")
    assert len(cli.hook.posts) == 2


def test_hostile_text_is_escaped_and_only_http_links_pass(cli: Cli) -> None:
    code, out = cli(
        "notify", "--title", "<!channel> <https://evil.example|pay here> & co", "--body", "<@U123>"
    )
    assert code == 0, out
    (text,) = cli.texts()
    assert "<!channel>" not in text and "<@U123>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text and "&amp; co" in text
    code, out = cli("notify", "--title", "x", "--link", "javascript:alert(1)")
    assert (
        code == 2 and out.strip() == "match-staging: error: notify: --link must be an http(s) URL"
    )
    code, out = cli("notify", "--title", "x", "--key", "a b`c")
    assert code == 2 and out.count("\n") == 1 and "--key must be" in out
    code, out = cli("notify", "--title", "x", "--body-file", "missing.txt")
    assert code == 2 and "--body-file missing.txt: No such file or directory" in out
    code, out = cli("notify", "--title", "x", "--channel", "telegraph")
    assert code == 2 and "--channel telegraph: no such channel is enabled (slack)" in out
    assert len(cli.hook.posts) == 1


def test_a_channel_that_sent_nothing_is_sent_by_the_next_notify_once(cli: Cli) -> None:
    cli.hook.answer(500, "server_error", times=3)
    code, out = cli("notify", "--title", "Deploy failed", "--key", "deploy-7")
    assert code == 1 and "failed    slack     key deploy-7: Slack answered HTTP 500" in out, out
    assert "(sent by the next notify or digest)" in out
    assert cli.hook.posts == []
    code, out = cli("notify", "--title", "Deploy failed", "--key", "deploy-7")
    assert code == 0 and "sent      slack" in out, out
    cli("notify", "--title", "Deploy failed", "--key", "deploy-7")
    cli("digest", now="2026-02-09T16:00:00+01:00")
    assert len(cli.hook.posts) == 1


def test_the_ci_include_runs_notify() -> None:
    import yaml

    root = Path(__file__).resolve().parent.parent
    spec, jobs = yaml.safe_load_all((root / "ci" / "notify.yml").read_text(encoding="utf-8"))
    assert set(spec["spec"]["inputs"]) == {"config", "install", "stage", "on_failure"}
    (script,) = jobs[".match-staging-notify"]["script"]
    assert script.startswith("/tmp/match-staging/bin/match-staging notify --title")
    assert script.endswith('--key "$NOTIFY_KEY"')  # one line: the key makes a retry harmless
    failure = jobs["match-staging-ci-failure"]
    assert failure["rules"][0]["when"] == "on_failure"
    assert "$CI_PIPELINE_ID" in failure["variables"]["NOTIFY_KEY"]


def test_a_run_that_stopped_while_sending_is_never_repeated_and_old_keys_go() -> None:
    from datetime import UTC, datetime, timedelta

    from match_staging.usecases.message import Book

    at = datetime(2026, 2, 9, 13, 30, tzinfo=UTC)
    book = Book.from_data(
        {
            "keys": {
                "k": {
                    "at": at.isoformat(),
                    "inflight": ["slack"],
                    "owed": ["email"],
                    "message": {"title": "t", "level": "loud", "link": "javascript:alert(1)"},
                },
                "junk": "not a record",
            }
        }
    )
    assert book.settle_stranded() == {"k": ["slack"]}  # maybe delivered: not owed again
    entry = book.entries["k"]
    assert entry.owed == {"email"} and entry.message is not None
    assert entry.message.level == "info" and entry.message.link == ""
    entry.owed.clear()
    book.prune(at + timedelta(days=89))
    assert book.to_data() == {"keys": {"k": {"at": at.isoformat()}}}  # the key, no text
    book.prune(at + timedelta(days=91))
    assert book.to_data() == {"keys": {}}


def test_on_the_local_tracker_notify_writes_every_channel_to_the_outbox(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["notify", "--title", "Build <b>failed</b> @here", "--body", "see @devs", "--key", "b1"]
    assert main(argv, {}) == 0
    folder = repo / "outbox" / "notify-b1"
    files = sorted(p.name for p in folder.iterdir())
    assert {"alert-email.eml", "alert-email.html"} <= set(files)  # email: both parts
    assert sorted({f.split(".")[0] for f in files}) == sorted(f"alert-{s.name}" for s in specs())
    for name in files:  # every channel shows the message, escaped its own way
        text = (folder / name).read_text(encoding="utf-8")
        assert "failed" in text and "see" in text, name
        if name.endswith((".html", ".json")):  # markup: the sender's tags stay text
            assert "<b>failed</b>" not in text, name
    assert main(argv, {}) == 0
    assert "sent before" in capsys.readouterr().out
