"""The review gate's test world: the fake GitLab with five staged matches, an SMTP sink,
the CLI run as the pipeline runs it, and people acting on the board through the API."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import gitlab
import pytest

from match_staging.cli import main
from tests.conftest import deployment, patch_time
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.smtp_sink import SmtpSink

FIXTURES = Path(__file__).parent / "fixtures" / "gitlab"
NOW = "2026-02-08T14:30:00+01:00"
REVIEWER, MALLORY, BOT = 2, 3, 1


@dataclass
class Gate:
    fake: FakeGitLab
    smtp: SmtpSink
    repo: Path
    capsys: pytest.CaptureFixture[str]

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "GITLAB_URL": self.fake.url,
            "GITLAB_TOKEN": self.fake.token,
            "GITLAB_PROJECT": "1",
            "MATCH_STAGING_NOW": NOW,
            "MATCH_STAGING__WORKFLOW__REVIEWERS": "[reviewer]",
            "MATCH_STAGING__GITLAB__BOT_USERNAME": "bot",
            "MATCH_STAGING__NOTIFICATION__CHANNELS__EMAIL__SMTP__PORT": str(self.smtp.port),
            "MATCH_STAGING__NOTIFICATION__CHANNELS__EMAIL__SMTP__SECURITY": "none",
            "SMTP_HOST": "127.0.0.1",
            "CI_PIPELINE_URL": "https://gl.example/p/-/pipelines/77",
            "CI_PIPELINE_ID": "77",
            **extra,
        }

    def run(self, *argv: str, **extra: str) -> tuple[int, str]:
        self.capsys.readouterr()
        code = main(list(argv), self.env(**extra))
        captured = self.capsys.readouterr()
        assert "Traceback" not in captured.out + captured.err
        return code, captured.out + captured.err

    def move(self, iid: int, user: int, add: str = "", remove: str = "") -> dict[str, Any]:
        """A person changes labels on the board; returns the webhook GitLab would send."""
        before = copy.deepcopy(self.fake.issues[iid])
        self.fake.acting_user_id = user
        try:
            client = gitlab.Gitlab(self.fake.url, private_token=self.fake.token)
            data = {k: v for k, v in (("add_labels", add), ("remove_labels", remove)) if v}
            client.projects.get(1, lazy=True).issues.update(iid, data)
        finally:
            self.fake.acting_user_id = BOT
        return hook(self.fake, iid, user, before["labels"])

    def payload(self, data: dict[str, Any]) -> str:
        path = self.repo / "payload.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return str(path)

    def note(self, iid: int, username: str, body: str) -> None:
        """`username` writes a note, through the API."""
        with self.fake.act_as(username):
            client = gitlab.Gitlab(self.fake.url, private_token=self.fake.token)
            client.projects.get(1, lazy=True).issues.get(iid, lazy=True).notes.create(
                {"body": body}
            )

    def edit(self, iid: int, username: str, description: str) -> None:
        """`username` (a Reporter may) rewrites the description, through the API."""
        with self.fake.act_as(username):
            client = gitlab.Gitlab(self.fake.url, private_token=self.fake.token)
            client.projects.get(1, lazy=True).issues.update(iid, {"description": description})

    def labels(self, iid: int) -> list[str]:
        return sorted(lb for lb in self.fake.issues[iid]["labels"] if lb.startswith("job-match/"))

    def notes(self, iid: int) -> list[str]:
        return [n["body"] for n in self.fake.user_notes(iid)]


def hook(fake: FakeGitLab, iid: int, user: int, previous: list[str]) -> dict[str, Any]:
    """GitLab's documented Issue Hook example, made to describe this change."""
    data: dict[str, Any] = json.loads((FIXTURES / "issue_hook_example.json").read_text())
    person = fake.users[user]
    data["user"].update(id=person["id"], username=person["username"], name=person["name"])
    current = fake.issues[iid]["labels"]
    data["object_attributes"].update(iid=iid, action="update", labels=label_objects(current))
    data["labels"] = label_objects(current)
    data["changes"]["labels"] = {
        "previous": label_objects(previous),
        "current": label_objects(current),
    }
    return data


def label_objects(names: list[str]) -> list[dict[str, Any]]:
    return [
        {"id": n, "title": name, "color": "#ffffff", "type": "ProjectLabel"}
        for n, name in enumerate(names)
    ]


# ------------------------------------------------------------- one staging per module

SINK_LIVE = frozenset({"_controller"})  # the sink's server: not state


@dataclass
class Staged:
    """A project staged once (`staged_once`), its fake GitLab and SMTP sink kept serving;
    `gate()` puts both back to the state right after staging, puts the configuration the
    commands left (bootstrap writes ids into it) into the test's repository, and hands a
    test its world: the same state a test staging on fresh fakes gets, without running
    `stage` again."""

    fake: FakeGitLab
    smtp: SmtpSink
    state: dict[str, Any]
    mail: dict[str, Any]
    config: dict[str, str]  # the files of config/ after the commands, by name

    def gate(self, repo: Path, capsys: pytest.CaptureFixture[str]) -> Gate:
        for name, text in self.config.items():
            (repo / "config" / name).write_text(text, encoding="utf-8")
        self.fake.restore(self.state)
        for name in [k for k in vars(self.smtp) if k not in SINK_LIVE and k not in self.mail]:
            delattr(self.smtp, name)
        vars(self.smtp).update(copy.deepcopy(self.mail))
        return Gate(self.fake, self.smtp, repo, capsys)


class Environment(Protocol):
    """What `staged_once` needs of a module's world: the environment its commands run in."""

    def env(self) -> dict[str, str]: ...


World = Callable[[FakeGitLab, SmtpSink, Path, pytest.CaptureFixture[str]], Environment]


def printed(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """`main(argv, env)` and what it printed on each stream, for a fixture wider than a test
    (capsys is a test's)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv, env)
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def staged_once(
    where: Path,
    *commands: tuple[str, ...],
    sink: type[SmtpSink] = SmtpSink,
    world: World = Gate,
) -> Iterator[Staged]:
    """Run `commands` (each must succeed) as the pipeline would, in a copy of the deployment
    layout at `where`, on a fresh fake GitLab and SMTP sink, with conftest's repo and
    fake_time set for them and the environment of `world` (a Gate, or a module's own);
    keep both fakes serving for a module's tests (a module-scoped fixture): staging five
    matches per test was most of what a gate test cost."""
    with FakeGitLab() as fake, sink() as smtp, pytest.MonkeyPatch.context() as patch:
        deployment(where, patch)
        patch_time(patch)
        gate = world(fake, smtp, where, cast(pytest.CaptureFixture[str], None))
        for argv in commands:
            code, out, err = printed(list(argv), gate.env())
            assert code == 0 and "Traceback" not in err, out + err
        patch.undo()
        mail = copy.deepcopy({k: v for k, v in vars(smtp).items() if k not in SINK_LIVE})
        config = {p.name: p.read_text(encoding="utf-8") for p in (where / "config").iterdir()}
        yield Staged(fake, smtp, fake.snapshot(), mail, config)


def staged_in(where: Path, env: dict[str, str]) -> str:
    """`stage` as a job runs it, in a copy of the deployment layout at `where`, with
    conftest's repo and fake_time set for the run only (a module's world, staged once); it
    must succeed. What it printed."""
    with pytest.MonkeyPatch.context() as patch:
        deployment(where, patch)
        patch_time(patch)
        patch.setattr("match_staging.trackers.gitlab.RETRY_PAUSE_SECONDS", 0)
        code, out, err = printed(["stage"], env)
    assert code == 0 and "Traceback" not in err, out + err
    return out


def nothing_sent(fake: FakeGitLab, state: dict[str, Any], slack: Any, smtp: SmtpSink) -> None:
    """Back to right after a `stage` in quiet hours (`staged_in`): the fake GitLab's state
    restored; the Slack webhook and the SMTP sink empty, as nothing was sent then."""
    fake.restore(state)
    slack.posts.clear()
    slack.answers.clear()
    smtp.messages.clear()
    smtp.fail_next = 0
