"""What a channel declares about itself, in one place, so that building it, masking its
secrets, previewing it without them and reading its legacy queue label are generic loops
over the registry (`channels.registry`), which hands the declarations to `config`. Light on
purpose: importing the registry must load no channel library.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


def secret(default: str = "") -> Any:
    """A field whose value never appears in output (`config` masks it, logs redact it)."""
    return field(default=default, metadata={"secret": True})


def key(name: str, default: Any) -> Any:
    """A field whose YAML key is not a Python identifier (e.g. `from`)."""
    return field(default=default, metadata={"key": name})


def _no_check(settings: Any) -> None:
    """Most channels check their settings only when they are built."""


def _no_options(cfg: Any) -> dict[str, Any]:
    return {}


def _no_literals(section: Mapping[str, Any]) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class ChannelSpec:
    """One notification channel's declaration.

    `name` is the key under `notification.channels`, the adapter's `Channel.name` and the
    suffix of its legacy queue label (`labels.notify_<name>`). Secrets are the settings'
    fields made with `secret()`; limits are named class attributes of the adapter.
    """

    name: str
    settings: type[Any]  # its dataclass: the `notification.channels.<name>` section
    adapter: str  # "module:Class", imported only when the channel is built
    placeholders: Mapping[str, str] = field(default_factory=dict)  # field name -> preview value
    env_secrets: tuple[str, ...] = ()  # variables holding its secrets, masked in any case
    # a check run when the configuration loads (ConfigError naming the key), which may also
    # fill a default a user left out; most checks wait until the adapter is built
    check: Callable[[Any], None] = _no_check
    # keyword arguments the adapter takes from elsewhere in the configuration
    options: Callable[[Any], dict[str, Any]] = _no_options
    # the keys of its section (as the file has them) that in CI must be written in the file,
    # never `${NAME}`: where its messages and their login go (`config.CI_LITERAL`)
    ci_literals: Callable[[Mapping[str, Any]], tuple[str, ...]] = _no_literals

    @property
    def label_field(self) -> str:
        """The `labels` key of the queue label the first release wrote."""
        return f"notify_{self.name}"

    @property
    def queue_label(self) -> str:
        """The default name of that label."""
        return f"job-match/notify-{self.name}"

    def load_adapter(self) -> type[Any]:
        """The adapter class; this is where a channel's libraries get imported."""
        import importlib

        module, _, name = self.adapter.partition(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def with_placeholders(settings: Any, values: Mapping[str, str]) -> Any:
    """`settings` with every empty field named in `values` filled (nested sections too), so
    a channel can render without its secrets (preview, the local tracker).
    """
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes[f.name] = with_placeholders(value, values)
        elif value == "" and f.name in values:
            changes[f.name] = values[f.name]
        elif value == [] and f.name in values:  # a list of secrets (Apprise's URLs)
            changes[f.name] = [values[f.name]]
    return dataclasses.replace(settings, **changes)
