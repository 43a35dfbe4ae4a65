"""The notification channels this tool knows, in the order they are configured, built and
shown. Adding a channel: a declaration module (its settings dataclass and a `ChannelSpec`),
its adapter module, and one line below; everything else loops over `specs()`, and the
configuration gets its sections from here (`config.use_channels`): config knows no channel.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from match_staging import config
from match_staging.channels import (
    apprise_settings,
    email_settings,
    slack_settings,
    teams_settings,
    telegram_settings,
    whatsapp_settings,
)
from match_staging.channels.spec import ChannelSpec

_SPECS: dict[str, ChannelSpec] = {}


def specs() -> tuple[ChannelSpec, ...]:
    """Every registered channel, in registration order."""
    return tuple(_SPECS.values())


def get(name: str) -> ChannelSpec:
    """The channel called `name` (KeyError when there is none)."""
    return _SPECS[name]


def register(spec: ChannelSpec) -> None:
    """Add a channel; the configuration's sections follow (`config.use_channels`)."""
    if spec.name in _SPECS or spec.name == "gitlab_todo":
        raise ValueError(f"a channel called {spec.name!r} is already registered")
    _SPECS[spec.name] = spec
    _refresh()


def unregister(name: str) -> None:
    """Remove a channel registered by `register` (tests)."""
    del _SPECS[name]
    _refresh()


@contextmanager
def registered(spec: ChannelSpec) -> Iterator[ChannelSpec]:
    """`spec` registered for the duration of a `with` block (tests)."""
    register(spec)
    try:
        yield spec
    finally:
        unregister(spec.name)


def _refresh() -> None:
    config.use_channels(specs())


for _spec in (
    email_settings.SPEC,
    slack_settings.SPEC,
    whatsapp_settings.SPEC,
    telegram_settings.SPEC,
    teams_settings.SPEC,
    apprise_settings.SPEC,
):
    _SPECS[_spec.name] = _spec
_refresh()
