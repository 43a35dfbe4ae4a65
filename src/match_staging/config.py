"""Configuration: YAML in the repository, `${VAR}` interpolation, `MATCH_STAGING__A__B`
overrides, validated into typed dataclasses. Errors name the key (and the variable it came
from) so a user can fix them without reading code."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from match_staging.errors import ConfigError

DEFAULT_PATH = "config/notification-channels.yml"  # docs/interface.md; cli.DEFAULT_CONFIG too
ENV_PREFIX = "MATCH_STAGING__"
MASK = "***"


def secret(default: str = "") -> Any:
    """A field whose value never appears in output (`config` masks it, logs redact it)."""
    return field(default=default, metadata={"secret": True})


def key(name: str, default: Any) -> Any:
    """A field whose YAML key is not a Python identifier (e.g. `from`)."""
    return field(default=default, metadata={"key": name})


@dataclass
class SmtpSettings:
    host: str = ""
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password: str = secret()
    timeout: float = 30.0


@dataclass
class GmailSettings:
    credentials_file: str = ""  # path of an authorized-user JSON (a CI/CD file variable)


@dataclass
class EmailChannel:
    enabled: bool = False
    recipients: list[str] = field(default_factory=list)
    template: str = "match_summary"
    transport: Literal["gmail", "smtp"] = "smtp"
    sender: str = key("from", "")
    subject_prefix: str = "[match-staging]"
    gmail: GmailSettings = field(default_factory=GmailSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    # why `from` has the value it has when the file left it unset (shown by `config`)
    sender_origin: str = field(default="", metadata={"internal": True})


@dataclass
class SlackChannel:
    enabled: bool = False
    webhook_url: str = secret()
    channel: str = ""  # informational: app webhooks post where they were installed


@dataclass
class WhatsAppChannel:
    enabled: bool = False
    provider: Literal["twilio"] = "twilio"
    account_sid: str = secret()
    auth_token: str = secret()
    from_number: str = ""
    to_number: str = ""
    content_sid: str = ""
    messaging_service_sid: str = ""


@dataclass
class GitLabTodoChannel:
    enabled: bool = False
    assignee_id: int | None = None


@dataclass
class Channels:
    email: EmailChannel = field(default_factory=EmailChannel)
    slack: SlackChannel = field(default_factory=SlackChannel)
    whatsapp: WhatsAppChannel = field(default_factory=WhatsAppChannel)
    gitlab_todo: GitLabTodoChannel = field(default_factory=GitLabTodoChannel)


@dataclass
class QuietHours:
    start: str = "22:00"
    end: str = "07:00"
    timezone: str = "Europe/Vienna"


@dataclass
class Preferences:
    threshold: float = 70
    quiet_hours: QuietHours | None = None
    batch_mode: bool = True
    batch_summary: bool = True
    reminder_after_hours: float = 24


@dataclass
class Notification:
    channels: Channels = field(default_factory=Channels)
    preferences: Preferences = field(default_factory=Preferences)


@dataclass
class GitLabSettings:
    url: str = ""       # default GITLAB_URL, then CI_SERVER_URL
    project: str = ""   # default GITLAB_PROJECT, then CI_PROJECT_ID
    timeout: float = 30.0
    bot_username: str = ""    # the token's user: its own webhook events are skipped
    ref: str = "main"         # the branch the webhook, trigger and schedule run on
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
class Labels:
    """Label names are configurable; the defaults are docs/interface.md's."""

    match: str = "job-match"
    pending: str = "job-match/pending"
    approved: str = "job-match/approved"
    rejected: str = "job-match/rejected"
    sent: str = "job-match/sent"
    score_high: str = "match-score/high"
    score_medium: str = "match-score/medium"
    score_low: str = "match-score/low"
    # the queue of notifications not yet delivered, one label per channel
    notify_email: str = "job-match/notify-email"
    notify_slack: str = "job-match/notify-slack"
    notify_whatsapp: str = "job-match/notify-whatsapp"


@dataclass
class Workflow:
    reviewers: list[str] = field(default_factory=list)
    auto_send: bool = False
    close_rejected: bool = True
    close_sent: bool = True
    reconcile_days: float = 7  # how far back `digest` looks for review events the webhook missed


@dataclass
class Staging:
    inbox: str = "matches-inbox"
    templates_dir: str = "templates"
    outbox: str = "outbox"
    state_dir: str = ".match-staging"
    max_attachment_mb: float = 10
    # On the embedded local tracker nothing leaves the machine, so every channel writes its
    # message to outbox/ (all), enabled or not; `configured`: only the enabled ones.
    local_channels: Literal["all", "configured"] = "all"


@dataclass
class Config:
    notification: Notification = field(default_factory=Notification)
    gitlab: GitLabSettings = field(default_factory=GitLabSettings)
    labels: Labels = field(default_factory=Labels)
    workflow: Workflow = field(default_factory=Workflow)
    staging: Staging = field(default_factory=Staging)
    source: str = field(default="(built-in defaults)", metadata={"internal": True})

    @property
    def threshold(self) -> float:
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
        return {k: _interpolate(v, env, f"{path}.{k}" if path else str(k))
                for k, v in value.items()}
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
        parts = [p.lower() for p in name[len(ENV_PREFIX):].split("__") if p]
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
                node[parts[-1]] = yaml.safe_load(raw_value)
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
            raise ConfigError(f"{path}: must be one of {', '.join(map(str, allowed))}, "
                              f"got {value!r}")
        return value
    if origin is list:
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConfigError(f"{path}: must be a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path)
    if isinstance(value, str) and tp is not str:
        value = _scalar(value)  # values interpolated from ${VAR} arrive as text
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
        return yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        return text


def _build(cls: Any, raw: Any, path: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path or 'configuration'}: must be a mapping, "
                          f"got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls)
              if not f.metadata.get("internal")}
    unknown = sorted(set(map(str, raw)) - set(fields))
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ConfigError(f"{where}: unknown key (known: {', '.join(sorted(fields))})")
    values = {f.name: _convert(hints[f.name], raw[k], f"{path}.{k}" if path else k)
              for k, f in fields.items() if k in raw}
    return cls(**values)


def _validate(cfg: Config) -> None:
    prefs = cfg.notification.preferences
    if not 0 <= prefs.threshold <= 100:
        raise ConfigError("notification.preferences.threshold: must be between 0 and 100, "
                          f"got {prefs.threshold:g}")
    if prefs.reminder_after_hours <= 0:
        raise ConfigError("notification.preferences.reminder_after_hours: must be positive")
    if prefs.quiet_hours is not None:
        qh = prefs.quiet_hours
        for name in ("start", "end"):
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", getattr(qh, name)):
                raise ConfigError(f"notification.preferences.quiet_hours.{name}: "
                                  f"must be HH:MM, got {getattr(qh, name)!r}")
        try:
            ZoneInfo(qh.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("notification.preferences.quiet_hours.timezone: unknown "
                              f"time zone {qh.timezone!r}") from None
    port = cfg.notification.channels.email.smtp.port
    if not 0 < port < 65536:
        raise ConfigError(f"notification.channels.email.smtp.port: no such port: {port}")
    if cfg.gitlab.digest_timezone:
        try:
            ZoneInfo(cfg.gitlab.digest_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("gitlab.digest_timezone: unknown time zone "
                              f"{cfg.gitlab.digest_timezone!r}") from None
    if cfg.staging.max_attachment_mb <= 0:
        raise ConfigError("staging.max_attachment_mb: must be positive")
    names = dataclasses.asdict(cfg.labels)
    for name, value in names.items():
        if not value or "," in value:
            raise ConfigError(f"labels.{name}: must be a non-empty label name without commas")
    if len(set(names.values())) != len(names):
        raise ConfigError("labels: every label name must be different")


def in_ci(env: Mapping[str, str]) -> bool:
    """A CI job: settings come from the repository, not the job's environment, because
    whoever may run a pipeline with variables controls the latter. A pipeline variable can
    set CI=false, but not remove GitLab's own GITLAB_CI and CI_JOB_ID."""
    return env.get("CI", "").lower() == "true" or "GITLAB_CI" in env or "CI_JOB_ID" in env


# Settings that decide who may approve an application, or where the GitLab token goes: in
# CI they must be written in the file, never `${NAME}`, since a pipeline variable can set
# NAME (issue 10). Secrets (passwords, tokens) keep coming from masked CI/CD variables.
CI_LITERAL = ("gitlab.url", "gitlab.project", "workflow.reviewers",
              "notification.channels.gitlab_todo.assignee_id")


def _ci_literals(raw: Any, file: Path) -> None:
    for key in CI_LITERAL:
        node = raw
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if _VAR.search(str(node if node is not None else "")):
            raise ConfigError(
                f"{file}: {key}: in CI write the value itself, not ${{NAME}}: a pipeline "
                "variable could set NAME and choose who may approve or where the token goes")


# Variables a pipeline run with variables (a trigger-token holder, say) could set to change
# what the tool does or where it sends its token; in CI they are ignored (issue 10).
CI_IGNORED = ("GITLAB_URL", "GITLAB_PROJECT", "MATCH_STAGING_CONFIG")
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
    print(f"note: in CI these variables are ignored, settings come from the repository's "
          f"configuration file (anyone who can run a pipeline with variables could set "
          f"them): {shown}", file=sys.stderr)


def load(path: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load the configuration the way every command does (docs/interface.md: --config, then
    MATCH_STAGING_CONFIG, then config/notification-channels.yml, else built-in defaults).

    In CI (`CI=true`) the environment cannot change settings: `MATCH_STAGING__*`,
    `MATCH_STAGING_CONFIG`, `GITLAB_URL` and `GITLAB_PROJECT` are ignored (said once on
    stderr), and GitLab is `CI_SERVER_URL` / `CI_PROJECT_ID` unless the file says otherwise.
    `${NAME}` values in the file still come from the environment: the file chose them."""
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
            raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
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
        raise ConfigError(f"{file if file.is_file() else 'configuration'}: {exc}"
                          + (f" (set by {via})" if via else "")) from None
    cfg.source = str(file) if file.is_file() else "(built-in defaults)"
    # (in CI, GITLAB_URL and GITLAB_PROJECT were dropped from env above)
    cfg.gitlab.url = (cfg.gitlab.url or env.get("GITLAB_URL") or env.get("CI_SERVER_URL")
                      or "").rstrip("/")
    cfg.gitlab.project = (cfg.gitlab.project or env.get("GITLAB_PROJECT")
                          or env.get("CI_PROJECT_ID") or "")
    default_sender(cfg.notification.channels.email)
    return cfg


def default_sender(email: EmailChannel) -> None:
    """The email settings may omit `from`: choose one rather than refuse every command.
    The SMTP user when it is an address (the server accepts it as sender), else the first
    recipient (with Gmail the authenticated account is not known without a request)."""
    if email.sender.strip():
        return
    username = email.smtp.username.strip()
    if email.transport == "smtp" and "@" in username:
        email.sender, email.sender_origin = username, "the SMTP user (smtp.username)"
    elif email.recipients and email.recipients[0].strip():
        email.sender = email.recipients[0].strip()
        email.sender_origin = "the first recipient" + (
            " (the authenticated Gmail account cannot be known offline: set `from` to send "
            "as another address)" if email.transport == "gmail" else "")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _yaml_problem(exc: Exception) -> str:
    """The parser's problem and where, in one line: without the source excerpt and its
    caret drawing, which make no sense on one line."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        context = f" ({exc.context})" if exc.context else ""
        return f"{where}{exc.problem}{context}"
    return _one_line(exc)


# --------------------------------------------------------------------------- secrets

def _walk(obj: Any, path: str) -> typing.Iterator[tuple[str, dataclasses.Field[Any], Any]]:
    for f in dataclasses.fields(obj):
        if f.metadata.get("internal"):
            continue
        value = getattr(obj, f.name)
        name = f.metadata.get("key", f.name)
        here = f"{path}.{name}" if path else name
        yield here, f, value
        if dataclasses.is_dataclass(value):
            yield from _walk(value, here)


def secret_fields(cfg: Config | None) -> typing.Iterator[tuple[str, str]]:
    """(key, value) of every secret setting that holds a value (redaction.secrets_of adds
    the environment's tokens to these)."""
    if cfg is not None:
        yield from ((key, v) for key, f, v in _walk(cfg, "")
                    if f.metadata.get("secret") and isinstance(v, str) and v)


def masked(cfg: Config) -> dict[str, Any]:
    """The effective configuration as plain data, secrets replaced by ***."""

    def dump(obj: Any) -> Any:
        if not dataclasses.is_dataclass(obj):
            return list(obj) if isinstance(obj, list) else obj
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            if f.metadata.get("internal"):
                continue
            value = getattr(obj, f.name)
            if f.metadata.get("secret"):
                value = MASK if value else ""
            out[f.metadata.get("key", f.name)] = dump(value)
        return out

    return typing.cast(dict[str, Any], dump(cfg))
