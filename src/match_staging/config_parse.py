"""How the configuration's text becomes typed settings, knowing no section: YAML read
(sooner with libyaml, with the same values and errors), `${VAR}` interpolation,
`MATCH_STAGING__A__B` overrides, and each value checked and converted by its dataclass
field's type hint. A field marked `handed` holds keys handed in at run time (the channels'
sections, `config.use_channels`). Errors name the key, without the value.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

import yaml

from match_staging.errors import ConfigError
from match_staging.limits import collection_paused, depth

ENV_PREFIX = "MATCH_STAGING__"

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str], path: str) -> Any:
    """Replace `${NAME}` / `${NAME:-default}` in every string; an unset variable is empty.
    Every mapping and list of the result is new (`load_file_text`'s value is shared).
    """
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):
        # like the shell: ${NAME:-default} also when NAME is set but empty (CI often is)
        return VAR.sub(lambda m: env.get(m.group(1)) or m.group(2) or "", value)
    return value


def apply_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
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
        return build(tp, value, path)
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
    (what `build` reads for every section of every load: resolved once per process).
    The handed-in keys (`handed_field`) are not among them: they change with the registry.
    """
    fields = {
        f.metadata.get("key", f.name): f
        for f in dataclasses.fields(cls)
        if not f.metadata.get("internal") and "handed" not in f.metadata
    }
    return typing.get_type_hints(cls), fields


@functools.cache
def handed_field(cls: Any) -> dataclasses.Field[Any] | None:
    """The field of `cls` that holds the keys handed in by `use_channels`, if any."""
    return next((f for f in dataclasses.fields(cls) if "handed" in f.metadata), None)


def _handed(cls: Any) -> dict[str, tuple[Any, Callable[[], Any]]]:
    """The handed-in keys of `cls` now: key -> (type, default factory)."""
    handed = handed_field(cls)
    return {k: (tp, make) for k, tp, make in handed.metadata["handed"]()} if handed else {}


def build(cls: Any, raw: Any, path: str) -> Any:
    """The settings class `cls` from the mapping `raw` found at `path`, every key known and
    every value of its type (ConfigError naming the key otherwise).
    """
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
    if handed_in := handed_field(cls):
        values[handed_in.name] = {
            k: _convert(tp, raw[k], f"{path}.{k}" if path else k) if k in raw else make()
            for k, (tp, make) in handed.items()
        }
    return cls(**values)


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
    """`yaml.safe_load(text)`, sooner: the same value, the same errors (a RecursionError
    for deep nesting, without a collection while the parser is deep: `collection_paused`).
    """
    with collection_paused():
        return _safe_load(text)


def _safe_load(text: str) -> Any:
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


def load_file_text(text: str) -> Any:
    """A configuration file's text as YAML, parsed once per process and text. The value is
    shared by every load of that text, so it is read, never changed: `interpolate`, which
    `config.load` applies to it first, builds new mappings and lists for what follows.
    """
    return _parsed(text)


def yaml_problem(exc: Exception) -> str:
    """The parser's problem and where, in one line: without the source excerpt and its
    caret drawing, which make no sense on one line.
    """
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        context = f" ({exc.context})" if exc.context else ""
        return f"{where}{exc.problem}{context}"
    return _one_line(exc)


def items(obj: Any) -> Iterator[tuple[str, Mapping[str, Any], Any]]:
    """(key, field metadata, value) of each setting of a section, in the file's order: the
    handed-in keys where their field is declared.
    """
    for f in dataclasses.fields(obj):
        if "handed" in f.metadata:
            yield from ((k, {}, v) for k, v in getattr(obj, f.name).items())
        elif not f.metadata.get("internal"):
            yield f.metadata.get("key", f.name), f.metadata, getattr(obj, f.name)


def walk(obj: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any], Any]]:
    """`items` of a section and of every section inside it, keyed by their dotted path."""
    for name, meta, value in items(obj):
        here = f"{path}.{name}" if path else name
        yield here, meta, value
        if dataclasses.is_dataclass(value):
            yield from walk(value, here)
