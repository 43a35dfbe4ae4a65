"""The channel registry: a new channel is one declaration (settings and a ChannelSpec), one
adapter and one registry line; building, config loading and masking, preview placeholders,
secret redaction and the legacy queue label then know it without another edit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from match_staging import channels, config, labels, redaction
from match_staging.channels import registry
from match_staging.channels.base import Delivery, Rendered
from match_staging.channels.email import Email
from match_staging.channels.spec import ChannelSpec, secret
from match_staging.errors import ConfigError
from match_staging.notices import Notice, Payload
from match_staging.notices import build as build_payload

# --- a channel that exists only in this test: the whole of what adding one takes -----------


@dataclass
class PagerSettings:
    enabled: bool = False
    api_key: str = secret()
    room: str = ""


class Pager:
    name: ClassVar[str] = "pager"
    max_length = 160  # a limit, as a named class attribute

    def __init__(
        self,
        settings: PagerSettings,
        templates_dir: str | None = None,
        *,
        urgent: bool = False,
        **wiring: Any,
    ) -> None:
        if not settings.api_key:
            raise ConfigError("notification.channels.pager.api_key: must be set (PAGER_KEY)")
        self.settings, self.urgent, self.wiring = settings, urgent, wiring

    def render(self, payload: Payload) -> list[Rendered]:
        return [Rendered("pager.txt", payload.summary[: self.max_length].encode())]

    def send(self, payload: Payload) -> Delivery:
        return Delivery(self.name, True, "paged")


PAGER = ChannelSpec(
    name="pager",
    settings=PagerSettings,
    adapter=f"{__name__}:Pager",
    placeholders={"api_key": "preview-key"},
    env_secrets=("PAGER_KEY",),
    options=lambda cfg: {"urgent": cfg.notification.preferences.threshold > 90},
)


@pytest.fixture
def pager() -> Iterator[ChannelSpec]:
    with registry.registered(PAGER) as spec:  # the one registry line
        yield spec


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> config.Config:
    file = tmp_path / "c.yml"
    file.write_text(text, encoding="utf-8")
    return config.load(str(file), env or {})


PAGER_YAML = """
notification:
  channels:
    pager: {enabled: true, api_key: "${PAGER_KEY}", room: ops}
"""


# --- the built-in registry --------------------------------------------------------------------


def test_built_in_channels_keep_their_keys_labels_and_order() -> None:
    assert [s.name for s in registry.specs()] == ["email", "slack", "whatsapp", "apprise"]
    shown = config.masked(config.Config())
    assert list(shown["notification"]["channels"]) == [
        "email",
        "slack",
        "whatsapp",
        "apprise",
        "gitlab_todo",
    ]
    assert list(shown["labels"])[-4:] == [
        "notify_email",
        "notify_slack",
        "notify_whatsapp",
        "notify_apprise",
    ]
    names = config.Config().labels
    assert labels.queue_labels(names) == {
        "email": "job-match/notify-email",
        "slack": "job-match/notify-slack",
        "whatsapp": "job-match/notify-whatsapp",
        "apprise": "job-match/notify-apprise",
    }


def test_importing_config_loads_no_channel_adapter_or_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, match_staging.config, match_staging.channels; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('twilio', 'googleapiclient', 'requests', 'jinja2', 'smtplib') or m in "
        "('match_staging.channels.email', 'match_staging.channels.slack', "
        "'match_staging.channels.whatsapp')]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_gitlab_todo_is_not_a_channel() -> None:
    assert "gitlab_todo" not in [s.name for s in registry.specs()]
    with pytest.raises(ValueError, match="already registered"):
        registry.register(
            ChannelSpec(name="gitlab_todo", settings=PagerSettings, adapter=f"{__name__}:Pager")
        )


# --- a channel added by one registration --------------------------------------------------------


def test_a_registered_channel_is_configured_built_masked_and_labelled(
    tmp_path: Path, pager: ChannelSpec
) -> None:
    cfg = load(
        tmp_path,
        PAGER_YAML + "  preferences: {threshold: 95}\n",
        {"PAGER_KEY": "pk-0123456789abcdef"},
    )
    assert cfg.notification.channels.pager.room == "ops"
    built = channels.build(cfg)
    assert [c.name for c in built] == ["pager"]
    assert isinstance(built[0], Pager) and built[0].urgent  # its options from the config
    # masked by `config`, found by the redaction of output and of match documents
    assert config.masked(cfg)["notification"]["channels"]["pager"] == {
        "enabled": True,
        "api_key": "***",
        "room": "ops",
    }
    assert ("notification.channels.pager.api_key", "pk-0123456789abcdef") in list(
        config.secret_fields(cfg)
    )
    found = redaction.secrets_of(cfg, {"PAGER_KEY": "pk-0123456789abcdef"})
    assert [s.name for s in found] == ["PAGER_KEY"]
    # its legacy queue label, configurable like the others
    assert labels.queue_label(cfg.labels, "pager") == "job-match/notify-pager"
    assert config.masked(cfg)["labels"]["notify_pager"] == "job-match/notify-pager"


def test_a_registered_channel_previews_with_its_placeholders(
    tmp_path: Path, pager: ChannelSpec
) -> None:
    cfg = load(tmp_path, PAGER_YAML)  # PAGER_KEY unset: no secret
    with pytest.raises(ConfigError, match=r"pager\.api_key"):
        channels.build(cfg)
    (built,) = channels.build(cfg, sending=False)
    assert isinstance(built, Pager) and built.settings.api_key == "preview-key"


def test_a_registered_channel_gets_the_runs_clock_and_sleep(
    tmp_path: Path, pager: ChannelSpec
) -> None:
    cfg = load(tmp_path, PAGER_YAML, {"PAGER_KEY": "pk-0123456789abcdef"})
    waits: list[float] = []
    (built,) = channels.build(cfg, clock=frozen, sleep=waits.append)
    assert isinstance(built, Pager)
    assert built.wiring == {"clock": frozen, "sleep": waits.append}


def test_build_hands_the_runs_clock_to_the_built_in_channels(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        "notification:\n  channels:\n"
        "    email: {enabled: true, recipients: [max@example.org]}\n"
        "    slack: {enabled: true}\n    whatsapp: {enabled: true}\n",
    )
    built = channels.build(cfg, sending=False, clock=frozen, sleep=lambda _: None)
    assert [c.name for c in built] == ["email", "slack", "whatsapp"]
    email = built[0]
    assert isinstance(email, Email)
    payload = build_payload(
        "new",
        "c1",
        [
            Notice(
                iid=1,
                score=90,
                title="T",
                provider="P",
                issue_url="https://g.example/1",
                source_url="",
            )
        ],
        "job-match/pending",
        summary="1 Match",
    )
    assert email.message(payload)["Date"] == "Sun, 08 Feb 2026 13:30:00 +0000"


def frozen() -> datetime:
    return datetime(2026, 2, 8, 13, 30, tzinfo=UTC)


def test_unregistered_the_section_is_unknown_again(tmp_path: Path) -> None:
    with registry.registered(PAGER):
        load(tmp_path, PAGER_YAML)
    with pytest.raises(ConfigError, match=r"notification\.channels\.pager: unknown key"):
        load(tmp_path, PAGER_YAML)


def test_gitlab_todo_stays_configured_where_users_put_it(tmp_path: Path) -> None:
    cfg = load(
        tmp_path, "notification:\n  channels:\n    gitlab_todo: {enabled: true, assignee_id: 7}\n"
    )
    todo = cfg.notification.channels.gitlab_todo
    assert isinstance(todo, config.TodoAssignee) and todo.assignee == 7
    assert config.masked(cfg)["notification"]["channels"]["gitlab_todo"] == {
        "enabled": True,
        "assignee_id": 7,
    }
    assert config.TodoAssignee(enabled=False, assignee_id=7).assignee is None
    assert channels.build(cfg) == []
