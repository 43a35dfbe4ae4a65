"""`rotate-token` through the CLI on the fake GitLab: the bot's token is replaced and the new
one written into GITLAB_TOKEN; nothing is rotated unless that write can work; a write that
fails after the rotation says how to recover; no token is ever printed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import gitlab
import pytest

from match_staging.cli import main
from tests.fakes.gitlab import FakeGitLab

NOW = "2026-03-01T09:05:00+01:00"


@pytest.fixture
def fake(repo: Path) -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        server.clock = lambda: datetime(2026, 3, 1, 8, 5, tzinfo=UTC)  # GitLab's clock: NOW
        server.token_expires_at[server.token] = date(2026, 3, 21)
        server.variables["GITLAB_TOKEN"] = {
            "key": "GITLAB_TOKEN",
            "value": server.token,
            "variable_type": "env_var",
            "protected": True,
            "masked": True,
            "raw": False,
            "environment_scope": "*",
        }
        yield server


def run(fake: FakeGitLab, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    env = {
        "GITLAB_URL": fake.url,
        "GITLAB_TOKEN": fake.token,
        "GITLAB_PROJECT": "1",
        "MATCH_STAGING_NOW": NOW,
    }
    code = main(["rotate-token", *argv], env)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    for token in [fake.token, *fake.tokens]:
        assert token not in text
    return code, text


def works(fake: FakeGitLab, token: str) -> bool:
    try:
        gitlab.Gitlab(fake.url, private_token=token).http_get("/user")
    except gitlab.exceptions.GitlabAuthenticationError:
        return False
    return True


def test_the_token_is_rotated_into_the_variable_and_never_shown(
    fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    old = fake.token
    code, out = run(fake, capsys, "--days", "200")
    assert code == 0, out
    new = fake.variables["GITLAB_TOKEN"]["value"]
    assert new != old and works(fake, new) and not works(fake, old)
    assert fake.token_expires_at[new] == date(2026, 9, 17)
    assert "now holds a new token that expires on 2026-09-17" in out
    assert fake.variables["GITLAB_TOKEN"]["masked"] is True


def test_a_dry_run_checks_and_changes_nothing(
    fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(fake, capsys, "--dry-run")
    assert code == 0 and "would rotate" in out and "2027-03-01" in out
    assert fake.variables["GITLAB_TOKEN"]["value"] == fake.token and works(fake, fake.token)


@pytest.mark.parametrize(
    ("setup", "said"),
    [
        ("developer", "needs the Maintainer role"),
        ("no-variable", "no CI/CD variable GITLAB_TOKEN"),
        ("other-token", "holds another token"),
        ("old-gitlab", "only a personal access token"),
        ("hidden", "is hidden"),
    ],
)
def test_nothing_is_rotated_unless_the_variable_can_be_written(
    fake: FakeGitLab, capsys: pytest.CaptureFixture[str], setup: str, said: str
) -> None:
    if setup == "developer":
        fake.roles[1] = "developer"
    elif setup == "no-variable":
        fake.variables.clear()
    elif setup == "other-token":
        fake.variables["GITLAB_TOKEN"]["value"] = "glpat-someone-else"
    elif setup == "hidden":  # lib/api/entities/ci/variable.rb: no value for a hidden one
        fake.variables["GITLAB_TOKEN"]["hidden"] = True
    else:
        fake.token_self_status = 404
    code, out = run(fake, capsys)
    assert code == 2 and said in out, out
    assert works(fake, fake.token) and fake.count("POST", "/rotate$") == 0


def test_a_write_that_fails_after_the_rotation_says_how_to_recover(
    fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    # the first PUT writes the old value back before the rotation (it works); then 3 fail
    fake.fail_next("PUT", r"/variables/GITLAB_TOKEN$", status=500, times=3, skip=1)
    code, out = run(fake, capsys)
    assert code == 1
    (line,) = [x for x in out.splitlines() if x.strip()]
    assert "rotated, but GITLAB_TOKEN could not be updated" in line
    assert "revoke the token rotated just now, add a new one" in line
    assert "Settings > CI/CD > Variables > GITLAB_TOKEN" in line


def test_a_write_that_fails_once_is_repeated(
    fake: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.fail_next("PUT", r"/variables/GITLAB_TOKEN$", status=502, skip=1)
    code, out = run(fake, capsys)
    assert code == 0, out
    assert works(fake, fake.variables["GITLAB_TOKEN"]["value"])


@pytest.mark.parametrize("status", [403, 500])
def test_a_variable_that_cannot_be_written_before_the_rotation_leaves_the_token_working(
    fake: FakeGitLab, capsys: pytest.CaptureFixture[str], status: int
) -> None:
    """The write is tried with the old value first (issue 19: the old token keeps working
    when the variable cannot be updated)."""
    fake.fail_next("PUT", r"/variables/GITLAB_TOKEN$", status=status)
    code, out = run(fake, capsys)
    assert code == 2 and "nothing was rotated, the token still works" in out, out
    assert works(fake, fake.token) and fake.count("POST", "/rotate$") == 0
    assert fake.variables["GITLAB_TOKEN"]["value"] == fake.token
