"""Configuration: YAML in the repository, `${VAR}` interpolation, `MATCH_STAGING__A__B`
overrides, validated into typed dataclasses. Errors name the key (and the variable it came
from) so a user can fix them without reading code. Here: the sections, what CI allows, and
`load`; how text becomes typed values is `config_parse`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from match_staging.config_ids import validate_ids
from match_staging.config_parse import (
    ENV_PREFIX,
    VAR,
    apply_overrides,
    build,
    handed_field,
    interpolate,
    items,
    load_file_text,
    walk,
    yaml_problem,
)
from match_staging.config_parse import safe_load as safe_load
from match_staging.environment import in_ci as in_ci
from match_staging.errors import ConfigError, StagingError
from match_staging.stats_settings import StatsSettings

DEFAULT_PATH = "config/notification-channels.yml"  # docs/interface.md; cli.DEFAULT_CONFIG too
MASK = "***"


@dataclass
class TodoAssignee:
    """`notification.channels.gitlab_todo`: not a notification channel (nothing is sent,
    it is not in the channel registry) but the GitLab user every staged issue is assigned
    to, which makes GitLab give them a To-Do; and, when `workflow.reviewers` is empty, the
    one user who may review. The key stays where users configured it.
    """

    enabled: bool = False
    assignee_id: int | None = None

    @property
    def assignee(self) -> int | None:
        """Who a staged issue is assigned to: nobody unless enabled."""
        return self.assignee_id if self.enabled else None


class ChannelSection(Protocol):
    """What the configuration needs to know of a notification channel, handed in by the
    channel registry (`channels.registry`; `channels.spec.ChannelSpec` is one): config
    itself knows no channel.
    """

    @property
    def name(self) -> str:
        """Its key under `notification.channels`."""

    @property
    def settings(self) -> type[Any]:
        """Its settings dataclass: the section, built and checked by type like any other."""

    @property
    def check(self) -> Callable[[Any], None]:
        """What loading checks beyond the types (ConfigError naming the key)."""

    @property
    def ci_literals(self) -> Callable[[Mapping[str, Any]], tuple[str, ...]]:
        """The keys of its section (as the file has it) that CI wants written, not `${NAME}`."""

    @property
    def env_secrets(self) -> tuple[str, ...]:
        """The variables that hold its secrets."""

    @property
    def label_field(self) -> str:
        """The `labels` key of the queue label the first release wrote for it."""

    @property
    def queue_label(self) -> str:
        """That label's default name."""


_CHANNELS: tuple[ChannelSection, ...] = ()


def use_channels(sections: Sequence[ChannelSection]) -> None:
    """The channels the configuration has a section for, in their order: the channel
    registry calls this whenever it changes (at its import, and when a test registers one).
    """
    global _CHANNELS
    _CHANNELS = tuple(sections)


def channel_sections() -> tuple[ChannelSection, ...]:
    """The channels handed in by `use_channels`."""
    return _CHANNELS


class _Handed:
    """A section whose keys are partly handed in (`use_channels`): those live in the one
    field marked `handed`, by key, and read as attributes (`channels.email`).
    """

    def __getattr__(self, name: str) -> Any:
        # only reached when `name` is no real attribute; never for dunders (copy, pickle)
        cls: Any = type(self)
        handed = handed_field(cls) if not name.startswith("__") else None
        values = self.__dict__.get(handed.name) if handed else None
        if values is None or name not in values:
            raise AttributeError(f"{type(self).__name__} has no section {name!r}")
        return values[name]


@dataclass
class Channels(_Handed):
    """`notification.channels`: one section per channel the registry handed in (each
    channel's own settings dataclass, by its name), then `gitlab_todo` (a TodoAssignee,
    kept under this key since users configured it there).
    """

    by_name: dict[str, Any] = field(
        default_factory=lambda: {c.name: c.settings() for c in _CHANNELS},
        metadata={"handed": lambda: [(c.name, c.settings, c.settings) for c in _CHANNELS]},
    )
    gitlab_todo: TodoAssignee = field(default_factory=TodoAssignee)


@dataclass
class QuietHours:
    """When no notification goes out; they wait for the next run after."""

    start: str = "22:00"
    end: str = "07:00"
    timezone: str = "Europe/Vienna"


@dataclass
class Preferences:
    """`notification.preferences`."""

    threshold: float = 70
    quiet_hours: QuietHours | None = None
    batch_mode: bool = True
    batch_summary: bool = True
    reminder_after_hours: float = 24


@dataclass
class Notification:
    """`notification`: the channels and when they notify."""

    channels: Channels = field(default_factory=Channels)
    preferences: Preferences = field(default_factory=Preferences)


@dataclass
class GitLabSettings:
    """`gitlab`: where the project is and how fast the tool may write to it."""

    url: str = ""  # default GITLAB_URL, then CI_SERVER_URL
    project: str = ""  # default GITLAB_PROJECT, then CI_PROJECT_ID
    timeout: float = 30.0
    bot_username: str = ""  # the token's user: its own webhook events are skipped
    ref: str = "main"  # the branch the webhook, trigger and schedule run on
    board: str = "Job matches"
    # three runs a day, the first after the default quiet hours: hourly cost ~6 h of CI a
    # month on GitLab.com Free (400 minutes); README "Pipelines and CI minutes"
    digest_cron: str = "5 7,12,17 * * *"
    digest_timezone: str = ""  # default: the quiet-hours time zone, else UTC
    # GitLab.com's per-user limits; self-managed defaults to 300 creates. 0: no pacing
    issue_creates_per_minute: int = 200
    notes_per_minute: int = 60
    # Every issue create or update fires the issue webhook, and every webhook call creates a
    # pipeline: GitLab.com allows 25 a minute per project, and a webhook refused too often
    # is disabled. 20 leaves room for the reviewer's own moves. 0: no pacing (no webhook,
    # or no such limit on a self-managed instance).
    issue_writes_per_minute: int = 20


@dataclass
class Labels(_Handed):
    """Label names are configurable; the defaults are docs/interface.md's. Then each
    channel's queue label, under which the first release queued the notifications not yet
    delivered (`labels.notify_<channel>`, read by `labels.queue_label`).
    """

    match: str = "job-match"
    pending: str = "job-match/pending"
    approved: str = "job-match/approved"
    rejected: str = "job-match/rejected"
    sent: str = "job-match/sent"
    expired: str = "job-match/expired"
    interview: str = "job-match/interview"
    offer: str = "job-match/offer"
    declined: str = "job-match/declined"
    ghosted: str = "job-match/ghosted"
    score_high: str = "match-score/high"
    score_medium: str = "match-score/medium"
    score_low: str = "match-score/low"
    queues: dict[str, str] = field(
        default_factory=lambda: {c.label_field: c.queue_label for c in _CHANNELS},
        metadata={
            "handed": lambda: [(c.label_field, str, lambda c=c: c.queue_label) for c in _CHANNELS]
        },
    )


@dataclass
class Workflow:
    """`workflow`: who may review and what happens after a decision."""

    reviewers: list[str] = field(default_factory=list)
    # Written by `bootstrap` (docs/interface.md, "Reviewers"): each reviewer's GitLab user id
    # when the name was resolved, and each state label's id (pending, approved, rejected,
    # sent) when the bot created or adopted it. GitLab names users and labels by their
    # current name everywhere, and a Reporter may rename a label, anyone their own account:
    # only the ids say who and which label it was.
    reviewer_ids: dict[str, int] = field(default_factory=dict)
    label_ids: dict[str, int] = field(default_factory=dict)
    auto_send: bool = False
    close_rejected: bool = True
    close_sent: bool = True
    reconcile_days: float = 7  # how far back `digest` looks for review events the webhook missed
    # After the gate (issue 23): a pending match expires at its apply_by, else this long after
    # it was staged; a reviewer may revive it within revive_days; a sent one gets one
    # follow-up reminder, and is ghosted when no outcome was recorded in time.
    pending_ttl_days: float = 14
    close_expired: bool = True
    revive_days: float = 7
    follow_up_days: float = 7
    ghosted_after_days: float = 21


@dataclass
class Staging:
    """`staging`: where drafts, templates, outbox and state live."""

    inbox: str = "matches-inbox"
    templates_dir: str = "templates"
    outbox: str = "outbox"
    state_dir: str = ".match-staging"
    max_attachment_mb: float = 10
    # On the embedded local tracker nothing leaves the machine, so every channel writes its
    # message to outbox/ (all), enabled or not; `configured`: only the enabled ones.
    local_channels: Literal["all", "configured"] = "all"

    @property
    def max_attachment_bytes(self) -> int:
        """max_attachment_mb counts MiB."""
        return int(self.max_attachment_mb * 1024 * 1024)


@dataclass
class Config:
    """The whole configuration, as `load` validated it."""

    notification: Notification = field(default_factory=Notification)
    gitlab: GitLabSettings = field(default_factory=GitLabSettings)
    labels: Labels = field(default_factory=Labels)
    workflow: Workflow = field(default_factory=Workflow)
    staging: Staging = field(default_factory=Staging)
    stats: StatsSettings = field(default_factory=StatsSettings)
    source: str = field(default="(built-in defaults)", metadata={"internal": True})

    @property
    def threshold(self) -> float:
        """The score from which a match is staged."""
        return self.notification.preferences.threshold

    @property
    def timezone(self) -> str:
        """The zone times are shown in: the schedule's, else the quiet hours', else UTC."""
        quiet = self.notification.preferences.quiet_hours
        return self.gitlab.digest_timezone or (quiet.timezone if quiet else "") or "UTC"


def _validate(cfg: Config) -> None:
    """What the types alone do not say, checked when the configuration loads."""
    _validate_preferences(cfg.notification.preferences)
    for section in _CHANNELS:
        section.check(cfg.notification.channels.by_name[section.name])
    if cfg.gitlab.digest_timezone:
        _zone(cfg.gitlab.digest_timezone, "gitlab.digest_timezone")
    if cfg.staging.max_attachment_mb <= 0:
        raise ConfigError("staging.max_attachment_mb: must be positive")
    names = {key: value for key, _, value in items(cfg.labels)}
    for name, value in names.items():
        if not value or "," in value:
            raise ConfigError(f"labels.{name}: must be a non-empty label name without commas")
    if len(set(names.values())) != len(names):
        raise ConfigError("labels: every label name must be different")
    wf = cfg.workflow
    validate_ids(wf.label_ids, wf.reviewer_ids, wf.reviewers)
    for key in ("pending_ttl_days", "revive_days", "follow_up_days", "ghosted_after_days"):
        if not 0 < getattr(wf, key) <= 3650:  # NaN, infinity, past any date: no crash later
            raise ConfigError(f"workflow.{key}: must be a positive number of days, at most 3650")
    if wf.follow_up_days >= wf.ghosted_after_days:  # else ghosted first: no follow-up, ever
        raise ConfigError(
            "workflow.follow_up_days: must be fewer than workflow.ghosted_after_days "
            f"({wf.follow_up_days:g} >= {wf.ghosted_after_days:g}): ghosted before followed up"
        )


def _validate_preferences(prefs: Preferences) -> None:
    if not 0 <= prefs.threshold <= 100:
        raise ConfigError(
            "notification.preferences.threshold: must be between 0 and 100, "
            f"got {prefs.threshold:g}"
        )
    if prefs.reminder_after_hours <= 0:
        raise ConfigError("notification.preferences.reminder_after_hours: must be positive")
    if prefs.quiet_hours is not None:
        qh = prefs.quiet_hours
        for name in ("start", "end"):
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", getattr(qh, name)):
                raise ConfigError(
                    f"notification.preferences.quiet_hours.{name}: "
                    f"must be HH:MM, got {getattr(qh, name)!r}"
                )
        _zone(qh.timezone, "notification.preferences.quiet_hours.timezone")


def _zone(name: str, key: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{key}: unknown time zone {name!r}") from None


# Settings that decide who may approve an application, or where the GitLab token and the
# mail (with the SMTP login) go: in CI they must be written in the file, never `${NAME}`,
# since a pipeline variable can set NAME (issues 10 and 20). Secrets (passwords, tokens)
# keep coming from masked CI/CD variables.
CI_LITERAL = (
    "gitlab.url",
    "gitlab.project",
    "workflow.reviewers",
    "workflow.reviewer_ids",
    "workflow.label_ids",
    "notification.channels.gitlab_todo.assignee_id",
)
# ... and each channel's own (`ChannelSection.ci_literals`: where email goes out over SMTP,
# the server it goes to)


def _node(raw: Any, key: str) -> Any:
    node = raw
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _ci_literals(raw: Any, file: Path) -> None:
    keys = list(CI_LITERAL)
    for section in _CHANNELS:
        prefix = f"notification.channels.{section.name}"
        settings = _node(raw, prefix)
        keys += [
            f"{prefix}.{k}"
            for k in section.ci_literals(settings if isinstance(settings, dict) else {})
        ]
    for key in keys:
        node = _node(raw, key)
        if VAR.search(str(node if node is not None else "")):
            raise ConfigError(
                f"{file}: {key}: in CI write the value itself, not ${{NAME}}: a pipeline "
                "variable could set NAME and choose who may approve, where the token goes "
                "or where the mail and the SMTP login go"
            )


# Variables a pipeline run with variables (a trigger-token holder, say) could set to change
# what the tool does or where it sends its token; in CI they are ignored (issue 10).
CI_IGNORED = ("GITLAB_URL", "GITLAB_PROJECT", "MATCH_STAGING_CONFIG", "MATCH_STAGING_NOW")
_warned: set[str] = set()


def ci_ignored(env: Mapping[str, str]) -> list[str]:
    """Names of the variables set in this CI job that `load` ignores there."""
    if not in_ci(env):
        return []
    return sorted(n for n in env if n.startswith(ENV_PREFIX) or (n in CI_IGNORED and env[n]))


def _say_ignored(names: list[str]) -> None:
    """Once per process: which settings from the environment CI ignores, and why."""
    fresh = [n for n in names if n not in _warned]
    if not fresh:
        return
    _warned.update(fresh)
    shown = ", ".join(fresh[:8]) + (f" and {len(fresh) - 8} more" if len(fresh) > 8 else "")
    print(
        f"note: in CI these variables are ignored, settings come from the repository's "
        f"configuration file (anyone who can run a pipeline with variables could set "
        f"them): {shown}",
        file=sys.stderr,
    )


def load(path: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load the configuration the way every command does (docs/interface.md: --config, then
    MATCH_STAGING_CONFIG, then config/notification-channels.yml, else built-in defaults).

    In CI (`CI=true`) the environment cannot change settings: `MATCH_STAGING__*`,
    `MATCH_STAGING_CONFIG`, `MATCH_STAGING_NOW`, `GITLAB_URL` and `GITLAB_PROJECT` are
    ignored (said once on stderr); the GitLab URL is the file's `gitlab.url` only (a
    pipeline variable outranks `CI_SERVER_URL`; the tracker refuses to run without it) and
    the project `CI_PROJECT_ID` unless the file says otherwise.
    `${NAME}` values in the file still come from the environment: the file chose them.
    """
    if not _CHANNELS:  # a composition root that forgot the registry: say so, not "unknown key"
        raise StagingError(
            "internal: no channel sections were handed to the configuration "
            "(import match_staging.channels.registry before loading it)"
        )
    env = os.environ if env is None else env
    ignored = ci_ignored(env)
    if ignored:
        _say_ignored(ignored)
        env = {k: v for k, v in env.items() if k not in ignored}
    explicit = path or env.get("MATCH_STAGING_CONFIG")
    file = Path(explicit or DEFAULT_PATH)
    raw: Any = {}
    if file.is_file():
        try:
            raw = load_file_text(file.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: not valid YAML: {yaml_problem(exc)}") from None
        except RecursionError:
            raise ConfigError(f"{file}: nested too deeply") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{file}: must hold a mapping of sections")
    elif explicit:
        raise ConfigError(f"{file}: configuration file not found")
    if in_ci(env):
        _ci_literals(raw, file)
    raw = interpolate(raw, env, "")
    origin = apply_overrides(raw, env)
    try:
        cfg: Config = build(Config, raw, "")
        _validate(cfg)
    except ConfigError as exc:
        keypath = str(exc).split(":", 1)[0]
        via = origin.get(keypath)
        raise ConfigError(
            f"{file if file.is_file() else 'configuration'}: {exc}"
            + (f" (set by {via})" if via else "")
        ) from None
    cfg.source = str(file) if file.is_file() else "(built-in defaults)"
    # (in CI, GITLAB_URL and GITLAB_PROJECT were dropped from env above, and CI_SERVER_URL
    # is not used: a pipeline variable outranks GitLab's predefined ones)
    server = "" if in_ci(env) else env.get("CI_SERVER_URL")
    cfg.gitlab.url = (cfg.gitlab.url or env.get("GITLAB_URL") or server or "").rstrip("/")
    cfg.gitlab.project = (
        cfg.gitlab.project or env.get("GITLAB_PROJECT") or env.get("CI_PROJECT_ID") or ""
    )
    return cfg


def secret_fields(cfg: Config | None) -> Iterator[tuple[str, str]]:
    """(key, value) of every secret setting that holds a value (redaction.secrets_of adds
    the environment's tokens to these).
    """
    if cfg is not None:
        for key, meta, v in walk(cfg, ""):
            if not meta.get("secret"):
                continue
            if isinstance(v, str) and v:
                yield key, v
            elif isinstance(v, list):  # a list of secrets (Apprise's URLs): each one
                yield from ((f"{key}[{i}]", x) for i, x in enumerate(v) if isinstance(x, str) and x)


def masked(cfg: Config) -> dict[str, Any]:
    """The effective configuration as plain data, secrets replaced by ***."""

    def dump(obj: Any) -> Any:
        if not dataclasses.is_dataclass(obj):
            return list(obj) if isinstance(obj, list) else obj
        out: dict[str, Any] = {}
        for key, meta, value in items(obj):
            if meta.get("secret"):
                value = MASK if value else ([] if isinstance(value, list) else "")
            out[key] = dump(value)
        return out

    return typing.cast(dict[str, Any], dump(cfg))
