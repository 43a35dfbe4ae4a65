"""The secret values a run can see, and how to find them in a text: whole, percent-encoded,
or cut short (a server that echoes what it was sent may truncate or encode it).

Two users: `Output` masks every line the tool prints, and `matches.read_batch` scrubs every
text of a match document before anything is built from it (issue 15, "defence in depth").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, quote_plus

from match_staging.config import Config, channel_sections, secret_fields

PLACEHOLDER = "[secret removed]"
MIN_SCRUB_LENGTH = 6  # shorter values would mangle ordinary text ("main", "1234")
CUT_LENGTH = 20  # an echo of a secret's first 20 characters still gives most of it away

# Variables whose values are secrets whether or not the configuration names them: the
# tool's own tokens, and what GitLab puts into every job (docs: predefined CI/CD variables).
# Each channel adds the variables of its own secrets (`ChannelSection.env_secrets`).
ENV_SECRETS = (
    "GITLAB_TOKEN",
    "CI_JOB_TOKEN",
    "CI_REGISTRY_PASSWORD",
    "CI_DEPENDENCY_PROXY_PASSWORD",
    "CI_DEPLOY_PASSWORD",
    "MATCH_STAGING_TRIGGER_TOKEN",
    "TRIGGER_TOKEN",
)
ENV_SECRET_PREFIXES = ("CI_JOB_JWT",)  # CI_JOB_JWT, CI_JOB_JWT_V1, CI_JOB_JWT_V2


@dataclass(frozen=True)
class Secret:
    """A secret value and the name a report may show for it."""

    name: str  # what a report may say: a variable or a configuration key, never the value
    value: str


def secrets_of(cfg: Config | None, env: Mapping[str, str]) -> list[Secret]:
    """Every secret in force: the configuration's secret fields (they hold the values of the
    variables the configuration names, `${SMTP_PASSWORD}`) and the variables above. The one
    list both users (and `Output`, which masks what is printed) work from.
    """
    found: dict[str, str] = {}  # value -> name; a variable's name reads best in a report
    names = {*ENV_SECRETS, *(n for channel in channel_sections() for n in channel.env_secrets)}
    for name in sorted(env):
        if name in names or name.startswith(ENV_SECRET_PREFIXES):
            found.setdefault(env[name], name)
    for name, value in secret_fields(cfg):
        found.setdefault(value, name)
    return [Secret(name, value) for value, name in found.items() if value.strip()]


@lru_cache(maxsize=256)
def forms(value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(whole forms, longest first; the forms whose cut echoes count too). A URL's first
    characters are its public host, so only tokens and passwords are matched when cut.
    """
    whole = tuple(
        sorted(
            {value, quote(value, safe=""), quote(value), quote_plus(value)}, key=len, reverse=True
        )
    )
    cuttable = () if "://" in value else tuple(f for f in whole if len(f) > CUT_LENGTH)
    return whole, cuttable


def mask(text: str, value: str, replacement: str) -> tuple[str, bool]:
    """`text` with every whole, encoded or cut echo of `value` replaced; and whether any was.
    Linear: one `str.find` scan per form.
    """
    found = False
    whole, cuttable = forms(value)
    for form in whole:
        if form in text:
            text, found = text.replace(form, replacement), True
    for form in cuttable:
        head = form[:CUT_LENGTH]
        if head not in text:
            continue
        parts, start = [], 0
        while (at := text.find(head, start)) >= 0:
            end = at + CUT_LENGTH
            while end < len(text) and end - at < len(form) and text[end] == form[end - at]:
                end += 1
            parts += [text[start:at], replacement]
            start = end
        text, found = "".join(parts) + text[start:], True
    return text, found


class Scrubber:
    """Replaces secret values in outgoing text by a placeholder, saying which secrets it
    found. Values shorter than MIN_SCRUB_LENGTH are left alone.
    """

    def __init__(self, secrets: Iterable[Secret | str] = ()) -> None:
        named = [s if isinstance(s, Secret) else Secret("a secret", s) for s in secrets]
        usable = {s.value: s for s in named if len(s.value) >= MIN_SCRUB_LENGTH}
        self._secrets = sorted(usable.values(), key=lambda s: len(s.value), reverse=True)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def scrub(self, text: str) -> tuple[str, list[str]]:
        """`text` scrubbed, and the names of the secrets that were in it."""
        names: list[str] = []
        for secret in self._secrets:
            text, found = mask(text, secret.value, PLACEHOLDER)
            if found and secret.name not in names:
                names.append(secret.name)
        return text, names
