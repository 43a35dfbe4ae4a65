"""Configuration: YAML in the repository, `${VAR}` interpolation, `MATCH_STAGING__A__B`
overrides, validated into typed dataclasses. Errors name the key (and the variable it came
from) so a user can fix them without reading code.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from match_staging.environment import in_ci as in_ci
from match_staging.errors import ConfigError
from match_staging.limits import depth

DEFAULT_PATH = "config/notification-channels.yml"  # docs/interface.md; cli.DEFAULT_CONFIG too
ENV_PREFIX = "MATCH_STAGING__"
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
        handed = _handed_field(cls) if not name.startswith("__") else None
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


# --------------------------------------------------------------------------- loading

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(value: Any, env: Mapping[str, str], path: str) -> Any:
    """Replace `${NAME}` / `${NAME:-default}` in every string; an unset variable is empty."""
    if isinstance(value, dict):
        return {
            k: _interpolate(v, env, f"{path}.{k}" if path else str(k)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, env, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):
        # like the shell: ${NAME:-default} also when NAME is set but empty (CI often is)
        return _VAR.sub(lambda m: env.get(m.group(1)) or m.group(2) or "", value)
    return value


def _apply_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """`MATCH_STAGING__A__B=v` sets raw[a][b] = v (a YAML scalar). Returns key -> variable."""
    origin: dict[str, str] = {}
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            raise ConfigError(f"{name}: names no configuration key")
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: '{part}' is not a section")
            node = child
        # Text stays text ("22:00", a password "0123"); _convert reads numbers and booleans
        # where the key wants one. Only a list or mapping is read as YAML.
        raw_value = env[name]
        node[parts[-1]] = raw_value
        if raw_value.lstrip()[:1] in ("[", "{"):
            with contextlib.suppress(yaml.YAMLError, RecursionError):  # deep: stays text
                node[parts[-1]] = safe_load(raw_value)
        origin[".".join(parts)] = name
    return origin


def _convert(tp: Any, value: Any, path: str) -> Any:
    """Check `value` against the type hint `tp`, converting where YAML is loose."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or value == "":  # an unset ${VAR} leaves an optional key unset
            return None
        return _convert(options[0], value, path)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(
                f"{path}: must be one of {', '.join(map(str, allowed))}, got {value!r}"
            )
        return value
    if origin in (list, dict):
        return _convert_collection(tp, value, path)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path)
    if isinstance(value, str) and tp is not str:
        value = _scalar(value)  # values interpolated from ${VAR} arrive as text
    return _convert_scalar(tp, value, path)


def _convert_collection(tp: Any, value: Any, path: str) -> list[Any] | dict[Any, Any]:
    """A list, or a mapping such as workflow.reviewer_ids (name: id), each item checked."""
    if typing.get_origin(tp) is list:
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConfigError(f"{path}: must be a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: must be a mapping, got {type(value).__name__}")
    key_type, value_type = typing.get_args(tp)
    return {
        _convert(key_type, k, f"{path}.{k}"): _convert(value_type, v, f"{path}.{k}")
        for k, v in value.items()
    }


def _convert_scalar(tp: Any, value: Any, path: str) -> Any:
    """`value` as the scalar type `tp` (bool, int, float, str), or a ConfigError."""
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: must be true or false, got {value!r}")
        return value
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: must be a number, got {value!r}")
        if tp is int and not float(value).is_integer():
            raise ConfigError(f"{path}: must be a whole number, got {value!r}")
        return tp(value)
    if tp is str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(f"{path}: must be text, got {type(value).__name__}")
        return str(value)
    raise AssertionError(f"unsupported config type {tp!r}")  # pragma: no cover


def _scalar(text: str) -> Any:
    try:
        return safe_load(text)
    except (yaml.YAMLError, RecursionError):
        return text


@functools.cache
def _shape(cls: Any) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """A settings class's resolved field types, and its fields by their key in the file
    (what `_build` reads for every section of every load: resolved once per process).
    The handed-in keys (`_handed_field`) are not among them: they change with the registry.
    """
    fields = {
        f.metadata.get("key", f.name): f
        for f in dataclasses.fields(cls)
        if not f.metadata.get("internal") and "handed" not in f.metadata
    }
    return typing.get_type_hints(cls), fields


@functools.cache
def _handed_field(cls: Any) -> dataclasses.Field[Any] | None:
    """The field of `cls` that holds the keys handed in by `use_channels`, if any."""
    return next((f for f in dataclasses.fields(cls) if "handed" in f.metadata), None)


def _handed(cls: Any) -> dict[str, tuple[Any, Callable[[], Any]]]:
    """The handed-in keys of `cls` now: key -> (type, default factory)."""
    handed = _handed_field(cls)
    return {k: (tp, make) for k, tp, make in handed.metadata["handed"]()} if handed else {}


def _build(cls: Any, raw: Any, path: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path or 'configuration'}: must be a mapping, got {type(raw).__name__}")
    hints, fields = _shape(cls)
    handed = _handed(cls)
    unknown = sorted(set(map(str, raw)) - set(fields) - set(handed))
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        known = ", ".join(sorted([*fields, *handed]))
        raise ConfigError(f"{where}: unknown key (known: {known})")
    values = {
        f.name: _convert(hints[f.name], raw[k], f"{path}.{k}" if path else k)
        for k, f in fields.items()
        if k in raw
    }
    if handed_field := _handed_field(cls):
        values[handed_field.name] = {
            k: _convert(tp, raw[k], f"{path}.{k}" if path else k) if k in raw else make()
            for k, (tp, make) in handed.items()
        }
    return cls(**values)


def _validate(cfg: Config) -> None:
    """What the types alone do not say, checked when the configuration loads."""
    _validate_preferences(cfg.notification.preferences)
    for section in _CHANNELS:
        section.check(cfg.notification.channels.by_name[section.name])
    if cfg.gitlab.digest_timezone:
        _zone(cfg.gitlab.digest_timezone, "gitlab.digest_timezone")
    if cfg.staging.max_attachment_mb <= 0:
        raise ConfigError("staging.max_attachment_mb: must be positive")
    names = {key: value for key, _, value in _items(cfg.labels)}
    for name, value in names.items():
        if not value or "," in value:
            raise ConfigError(f"labels.{name}: must be a non-empty label name without commas")
    if len(set(names.values())) != len(names):
        raise ConfigError("labels: every label name must be different")
    _validate_ids(cfg.workflow)


STATE_NAMES = ("pending", "approved", "rejected", "sent")  # model.State, without importing it


def _validate_ids(wf: Workflow) -> None:
    """The ids `bootstrap` records: positive, for the four states, for named reviewers."""
    if wf.label_ids and sorted(wf.label_ids) != sorted(STATE_NAMES):
        raise ConfigError(
            "workflow.label_ids: must give the id of each state label (pending, approved, "
            f"rejected, sent), as bootstrap writes it; got {', '.join(sorted(wf.label_ids))}"
        )
    for key, ids in (("label_ids", wf.label_ids), ("reviewer_ids", wf.reviewer_ids)):
        for name, value in ids.items():
            if value <= 0:
                raise ConfigError(f"workflow.{key}.{name}: must be a GitLab id, got {value}")
    for name in wf.reviewer_ids:
        if name not in wf.reviewers:
            raise ConfigError(
                f"workflow.reviewer_ids.{name}: not in workflow.reviewers (remove the entry, "
                "or add the name; bootstrap records the ids of the reviewers)"
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
        if _VAR.search(str(node if node is not None else "")):
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
            raw = _load_file_text(file.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: not valid YAML: {_yaml_problem(exc)}") from None
        except RecursionError:
            raise ConfigError(f"{file}: nested too deeply") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{file}: must hold a mapping of sections")
    elif explicit:
        raise ConfigError(f"{file}: configuration file not found")
    if in_ci(env):
        _ci_literals(raw, file)
    raw = _interpolate(raw, env, "")
    origin = _apply_overrides(raw, env)
    try:
        cfg: Config = _build(Config, raw, "")
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


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


# libyaml's parser, where PyYAML was built with it, is about ten times faster than the pure
# Python one: every command loads the configuration, and a settings value from the
# environment is read as YAML too. Its errors are worded differently and it stops at 1,000
# levels of nesting where the pure parser runs out of recursion: whatever libyaml refuses,
# and anything nested deeper than a configuration ever is, is parsed again by the pure
# parser, so what is accepted and every message stay those of `yaml.safe_load`.
_FastLoader: Any = getattr(yaml, "CSafeLoader", None)
_SHALLOW = 32


def safe_load(text: str) -> Any:
    """`yaml.safe_load(text)`, sooner: the same value, the same errors."""
    if _FastLoader is not None:
        try:
            value = yaml.load(text, Loader=_FastLoader)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            pass
        else:
            if depth(value, _SHALLOW) < _SHALLOW:
                return value
    return yaml.safe_load(text)


@functools.lru_cache(maxsize=8)
def _parsed(text: str) -> Any:
    return safe_load(text)


def _load_file_text(text: str) -> Any:
    """A configuration file's text as YAML: parsed once per process and text, a copy each
    time (what follows changes it).
    """
    return copy.deepcopy(_parsed(text))


def _yaml_problem(exc: Exception) -> str:
    """The parser's problem and where, in one line: without the source excerpt and its
    caret drawing, which make no sense on one line.
    """
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        context = f" ({exc.context})" if exc.context else ""
        return f"{where}{exc.problem}{context}"
    return _one_line(exc)


# --------------------------------------------------------------------------- secrets


def _items(obj: Any) -> Iterator[tuple[str, Mapping[str, Any], Any]]:
    """(key, field metadata, value) of each setting of a section, in the file's order: the
    handed-in keys where their field is declared.
    """
    for f in dataclasses.fields(obj):
        if "handed" in f.metadata:
            yield from ((k, {}, v) for k, v in getattr(obj, f.name).items())
        elif not f.metadata.get("internal"):
            yield f.metadata.get("key", f.name), f.metadata, getattr(obj, f.name)


def _walk(obj: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any], Any]]:
    for name, meta, value in _items(obj):
        here = f"{path}.{name}" if path else name
        yield here, meta, value
        if dataclasses.is_dataclass(value):
            yield from _walk(value, here)


def secret_fields(cfg: Config | None) -> Iterator[tuple[str, str]]:
    """(key, value) of every secret setting that holds a value (redaction.secrets_of adds
    the environment's tokens to these).
    """
    if cfg is not None:
        yield from (
            (key, v)
            for key, meta, v in _walk(cfg, "")
            if meta.get("secret") and isinstance(v, str) and v
        )


def masked(cfg: Config) -> dict[str, Any]:
    """The effective configuration as plain data, secrets replaced by ***."""

    def dump(obj: Any) -> Any:
        if not dataclasses.is_dataclass(obj):
            return list(obj) if isinstance(obj, list) else obj
        out: dict[str, Any] = {}
        for key, meta, value in _items(obj):
            if meta.get("secret"):
                value = MASK if value else ""
            out[key] = dump(value)
        return out

    return typing.cast(dict[str, Any], dump(cfg))
