"""The fake GitLab is as strict as GitLab where the tool depends on it: roles and tokens,
full-text issue search (both index variants, and its lag), descriptions measured in bytes,
and project paths URL-decoded exactly once (docs/platform-facts.md, "Realities found after the
first release")."""

from __future__ import annotations

from collections.abc import Iterator

import gitlab
import pytest
import requests

from tests.fakes.gitlab import FakeGitLab


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with FakeGitLab() as server:
        yield server


def client(fake: FakeGitLab, user: str = "bot") -> gitlab.Gitlab:
    return gitlab.Gitlab(fake.url, private_token=fake.token_for(user))


def project(fake: FakeGitLab, user: str = "bot") -> gitlab.v4.objects.Project:
    return client(fake, user).projects.get(1, lazy=True)


# --------------------------------------------------------------------------- roles


def test_a_developer_may_not_list_hooks_a_maintainer_may(fake: FakeGitLab) -> None:
    with pytest.raises(gitlab.exceptions.GitlabListError) as refused:
        project(fake, "reviewer").hooks.list(get_all=True)
    assert refused.value.response_code == 403
    assert project(fake, "bot").hooks.list(get_all=True) == []


def test_triggers_hooks_and_schedules_need_a_maintainer() -> None:
    with FakeGitLab(bot_role="developer") as fake:
        bot = project(fake)
        for create in (
            lambda: bot.triggers.create({"description": "x"}),
            lambda: bot.hooks.create({"url": "https://example.com/h"}),
            lambda: bot.pipelineschedules.create(
                {"description": "d", "ref": "main", "cron": "0 8 * * *"}
            ),
        ):
            with pytest.raises(gitlab.exceptions.GitlabCreateError) as refused:
                create()
            assert refused.value.response_code == 403
        assert fake.triggers == fake.hooks == fake.schedules == []
        # what a Developer may: issues, labels
        bot.labels.create({"name": "x", "color": "#ffffff"})
        bot.issues.create({"title": "t"})


def test_a_reporter_may_edit_issues_and_write_notes(fake: FakeGitLab) -> None:
    fake.add_issue("t", "by the bot", labels=["job-match/pending"])
    mallory = project(fake, "mallory")
    mallory.issues.update(
        1, {"description": "changed", "add_labels": "job-match/approved", "state_event": "close"}
    )
    assert fake.issues[1]["description"] == "changed" and fake.issues[1]["state"] == "closed"
    assert "job-match/approved" in fake.issues[1]["labels"]
    mallory.issues.get(1, lazy=True).notes.create({"body": "a note"})
    assert fake.notes[1][-1]["author"]["username"] == "mallory"


def test_only_a_notes_author_may_edit_it(fake: FakeGitLab) -> None:
    fake.add_issue("t", "x")
    note = project(fake, "bot").issues.get(1, lazy=True).notes.create({"body": "audit"})
    for user in ("mallory", "reviewer"):
        with pytest.raises(gitlab.exceptions.GitlabUpdateError) as refused:
            project(fake, user).issues.get(1, lazy=True).notes.update(note.id, {"body": "x"})
        assert refused.value.response_code == 403
    assert fake.notes[1][0]["body"] == "audit"
    project(fake, "bot").issues.get(1, lazy=True).notes.update(note.id, {"body": "fixed"})
    assert fake.notes[1][0]["body"] == "fixed"


def test_tokens_act_as_their_user_and_unknown_tokens_are_refused(fake: FakeGitLab) -> None:
    for name in ("bot", "reviewer", "mallory"):
        gl = client(fake, name)
        gl.auth()
        assert gl.user is not None and gl.user.username == name
    with pytest.raises(gitlab.exceptions.GitlabAuthenticationError):
        gitlab.Gitlab(fake.url, private_token="glpat-unknown").auth()


def test_the_variables_setting_is_shown_to_maintainers_only(fake: FakeGitLab) -> None:
    fake.project["ci_pipeline_variables_minimum_override_role"] = "no_one_allowed"
    seen = client(fake, "bot").projects.get(1).attributes
    assert seen["ci_pipeline_variables_minimum_override_role"] == "no_one_allowed"
    assert seen["permissions"]["project_access"]["access_level"] == 40
    hidden = client(fake, "reviewer").projects.get(1).attributes
    assert "ci_pipeline_variables_minimum_override_role" not in hidden
    assert hidden["permissions"]["project_access"]["access_level"] == 30


# --------------------------------------------------------------------------- search


def search(fake: FakeGitLab, query: str) -> list[int]:
    issues = project(fake).issues.list(search=query, state="all", get_all=True)
    return [int(i.iid) for i in issues]


def test_search_finds_words_and_word_prefixes_not_substrings(fake: FakeGitLab) -> None:
    fake.add_issue("Platform role", "Kubernetes operator work, key msk0a1b2c3d")
    assert search(fake, "kube") == [1]  # a word's prefix
    assert search(fake, "Kubernetes operator") == [1]  # every word
    assert search(fake, "msk0a1b2c3d") == [1]
    assert search(fake, "netes") == []  # not a substring
    assert search(fake, "kubernetes helm") == []  # not any word
    assert search(fake, "0a1b2c3d") == []


@pytest.mark.parametrize("indexed", [False, True])
def test_words_in_an_html_comment_are_found_only_where_gitlab_indexes_them(
    fake: FakeGitLab, indexed: bool
) -> None:
    fake.search_indexes_comments = indexed
    fake.add_issue("t", "<!-- match-staging v1 keys: msk-abc123 -->\n<sub>visible</sub>")
    assert search(fake, "visible") == [1]
    assert search(fake, "abc123") == ([1] if indexed else [])


def test_search_misses_an_issue_created_a_moment_ago(fake: FakeGitLab) -> None:
    fake.search_lag_seconds = 60
    project(fake).issues.create({"title": "t", "description": "fresh words"})
    assert search(fake, "fresh") == []
    assert [i.iid for i in project(fake).issues.list(get_all=True)] == [1]  # listed at once


# --------------------------------------------------------------------------- bytes


def test_the_description_limit_counts_bytes(fake: FakeGitLab) -> None:
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as refused:
        project(fake).issues.create({"title": "t", "description": "ä" * 600_000})
    assert refused.value.response_code == 400
    assert "is too long (1.14 MB). The maximum size is 1 MB." in str(refused.value)
    project(fake).issues.create({"title": "t", "description": "a" * 1_048_576})


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize("path", ["group/name", "group/sub/name"])
def test_a_project_path_is_decoded_exactly_once(path: str) -> None:
    with FakeGitLab(project_path=path) as fake:
        headers = {"PRIVATE-TOKEN": fake.token}
        once = path.replace("/", "%2F")
        twice = path.replace("/", "%252F")
        assert (
            requests.get(
                f"{fake.url}/api/v4/projects/{once}/issues", headers=headers, timeout=5
            ).status_code
            == 200
        )
        assert (
            requests.get(
                f"{fake.url}/api/v4/projects/{twice}/issues", headers=headers, timeout=5
            ).status_code
            == 404
        )
        assert (
            requests.get(
                f"{fake.url}/api/v4/projects/1/issues", headers=headers, timeout=5
            ).status_code
            == 200
        )
        assert client(fake).projects.get(path).attributes["path_with_namespace"] == path
