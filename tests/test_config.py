from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
import yaml

from match_staging import config, config_parse
from match_staging.errors import ConfigError
from match_staging.redaction import secrets_of


def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> config.Config:
    file = tmp_path / "c.yml"
    file.write_text(text, encoding="utf-8")
    return config.load(str(file), env or {})


def test_repository_config_loads_with_ops004_keys(repo: Path) -> None:
    cfg = config.load(None, {})
    assert cfg.source == "config/notification-channels.yml"
    assert cfg.notification.channels.email.recipients == ["wolfram.laube@blauweiss-edv.at"]
    assert cfg.notification.preferences.threshold == 70
    assert cfg.notification.preferences.quiet_hours is not None
    assert cfg.notification.preferences.quiet_hours.timezone == "Europe/Vienna"
    assert cfg.notification.channels.email.subject_prefix == "[Blauweiss]"


def test_missing_default_file_gives_built_in_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = config.load(None, {})
    assert cfg.source == "(built-in defaults)"
    assert cfg.labels.pending == "job-match/pending"


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        config.load(str(tmp_path / "nope.yml"), {})


def test_variables_are_interpolated_and_typed(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        "notification:\n  channels:\n    gitlab_todo:\n"
        "      assignee_id: ${REVIEWER}\n    slack:\n"
        "      webhook_url: ${HOOK}\n",
        {"REVIEWER": "42", "HOOK": "https://h/x"},
    )
    assert cfg.notification.channels.gitlab_todo.assignee_id == 42
    assert cfg.notification.channels.slack.webhook_url == "https://h/x"


def test_unset_variable_leaves_optional_key_unset(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path, "notification:\n  channels:\n    gitlab_todo:\n      assignee_id: ${REVIEWER}\n"
    )
    assert cfg.notification.channels.gitlab_todo.assignee_id is None


def test_environment_overrides_any_key(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        "notification:\n  preferences:\n    threshold: 70\n",
        {
            "MATCH_STAGING__NOTIFICATION__PREFERENCES__THRESHOLD": "85",
            "MATCH_STAGING__WORKFLOW__REVIEWERS": "[alice, bob]",
            "MATCH_STAGING__NOTIFICATION__CHANNELS__SLACK__ENABLED": "true",
        },
    )
    assert cfg.threshold == 85
    assert cfg.workflow.reviewers == ["alice", "bob"]
    assert cfg.notification.channels.slack.enabled is True


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        (
            "notification:\n  preferences:\n    threshold: 150\n",
            {},
            "notification.preferences.threshold: must be between 0 and 100",
        ),
        (
            "notification:\n  preferences:\n    treshold: 80\n",
            {},
            "notification.preferences.treshold: unknown key",
        ),
        (
            "notification:\n  channels:\n    email:\n      enabled: yes please\n",
            {},
            "notification.channels.email.enabled: must be true or false",
        ),
        (
            "notification:\n  channels:\n    email:\n      smtp:\n        security: tls\n",
            {},
            "notification.channels.email.smtp.security: must be one of starttls, ssl, none",
        ),
        (
            "notification:\n  preferences:\n    quiet_hours:\n      start: '25:00'\n",
            {},
            "quiet_hours.start: must be HH:MM",
        ),
        (
            "notification:\n  preferences:\n    quiet_hours:\n      timezone: Mars/Base\n",
            {},
            "unknown time zone",
        ),
        ("labels:\n  pending: job-match\n", {}, "every label name must be different"),
        (
            "",
            {"MATCH_STAGING__NOTIFICATION__PREFERENCES__THRESHOLD": "high"},
            "threshold: must be a number, got 'high' (set by "
            "MATCH_STAGING__NOTIFICATION__PREFERENCES__THRESHOLD)",
        ),
        ("notification: [1, 2]\n", {}, "notification: must be a mapping"),
        ("a: [unclosed\n", {}, "not valid YAML"),
        # issue 23: the clocks after the gate, and label ids of a project bootstrapped before
        ("workflow:\n  pending_ttl_days: 0\n", {}, "workflow.pending_ttl_days: must be a positive"),
        ("workflow:\n  ghosted_after_days: -1\n", {}, "workflow.ghosted_after_days: must be a"),
        (
            "workflow:\n  follow_up_days: 21\n  ghosted_after_days: 21\n",
            {},
            "workflow.follow_up_days: must be fewer than workflow.ghosted_after_days (21 >= 21)",
        ),
        # a clock beyond any date (infinity, a million days) is a line naming it, no crash
        ("workflow:\n  pending_ttl_days: .inf\n", {}, "workflow.pending_ttl_days: must be a"),
        ("workflow:\n  revive_days: 3000000\n", {}, "workflow.revive_days: must be a positive"),
        (
            "workflow:\n  label_ids: {pending: 1, approved: 2, rejected: 3, sent: 4, lost: 5}\n",
            {},
            "workflow.label_ids: must give the id of each state label",
        ),
    ],
)
def test_bad_configuration_names_the_key(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text, env)
    assert message in str(info.value)
    assert info.value.exit_code == 2


def test_masked_hides_every_secret_and_secrets_lists_them(tmp_path: Path) -> None:
    env = {
        "HOOK": "https://hooks.slack.com/services/T0/B0/SECRETSECRET",
        "PW": "smtp-pass-123",
        "GITLAB_TOKEN": "glpat-abcdefgh",
    }
    cfg = load_text(
        tmp_path,
        "notification:\n  channels:\n    slack:\n"
        "      webhook_url: ${HOOK}\n    email:\n      smtp:\n"
        "        password: ${PW}\n",
        env,
    )
    dumped = str(config.masked(cfg))
    assert "SECRETSECRET" not in dumped and "smtp-pass-123" not in dumped
    assert config.masked(cfg)["notification"]["channels"]["slack"]["webhook_url"] == "***"
    assert {s.value for s in secrets_of(cfg, env)} >= {env["HOOK"], env["PW"], env["GITLAB_TOKEN"]}


def test_overrides_keep_text_as_text(tmp_path: Path) -> None:
    prefix = "MATCH_STAGING__NOTIFICATION__"
    cfg = load_text(
        tmp_path,
        "",
        {
            f"{prefix}PREFERENCES__QUIET_HOURS__START": "22:00",
            f"{prefix}CHANNELS__EMAIL__SMTP__PASSWORD": "0123456",
            f"{prefix}CHANNELS__WHATSAPP__TO_NUMBER": "+436644011521",
            f"{prefix}CHANNELS__SLACK__CHANNEL": "yes",
            f"{prefix}PREFERENCES__THRESHOLD": "85",
            f"{prefix}PREFERENCES__BATCH_MODE": "false",
        },
    )
    prefs = cfg.notification.preferences
    assert prefs.quiet_hours is not None and prefs.quiet_hours.start == "22:00"
    assert cfg.notification.channels.email.smtp.password == "0123456"
    assert cfg.notification.channels.whatsapp.to_number == "+436644011521"
    assert cfg.notification.channels.slack.channel == "yes"
    assert prefs.threshold == 85 and prefs.batch_mode is False


def test_default_applies_when_the_variable_is_set_but_empty(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, "staging:\n  inbox: ${INBOX:-matches-inbox}\n", {"INBOX": ""})
    assert cfg.staging.inbox == "matches-inbox"


def test_label_ids_of_a_project_bootstrapped_before_the_later_states_load(
    tmp_path: Path,
) -> None:
    """The four first states' ids alone are what every project bootstrapped before issue 23
    has committed: they load (the digest asks for bootstrap; nothing breaks)."""
    ids = "{pending: 1, approved: 2, rejected: 3, sent: 4}"
    cfg = load_text(tmp_path, f"workflow:\n  label_ids: {ids}\n")
    assert cfg.workflow.label_ids == {"pending": 1, "approved": 2, "rejected": 3, "sent": 4}
    assert (cfg.workflow.pending_ttl_days, cfg.workflow.revive_days) == (14, 7)
    assert (cfg.workflow.follow_up_days, cfg.workflow.ghosted_after_days) == (7, 21)
    assert cfg.workflow.close_expired is True
    assert cfg.labels.expired == "job-match/expired" and cfg.labels.ghosted == "job-match/ghosted"


def test_yaml_is_parsed_with_no_collection_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """A setting from the environment is read as YAML, a pipeline variable's too: as for
    JSON (test_matches, `test_deep_json_leaves_no_finalizer_without_stack`), no garbage
    collection may start while the parser is deep, and it runs again after."""
    seen: list[bool] = []

    def loader(text: str, Loader: Any) -> Any:  # yaml.load's own name
        seen.append(gc.isenabled())
        raise yaml.YAMLError("refused, so the pure parser runs too")

    def pure(text: str) -> Any:
        seen.append(gc.isenabled())
        raise RecursionError

    monkeypatch.setattr(yaml, "load", loader)
    monkeypatch.setattr(yaml, "safe_load", pure)
    with pytest.raises(RecursionError):
        config_parse.safe_load("[" * 2000 + "]" * 2000)
    assert seen and not any(seen)  # libyaml's parser, where built, and the pure one
    assert gc.isenabled()
