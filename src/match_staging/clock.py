"""The one place that reads the clock: MATCH_STAGING_NOW replaces it (interface.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from match_staging.errors import ConfigError


def now(env: Mapping[str, str]) -> datetime:
    value = env.get("MATCH_STAGING_NOW")
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"MATCH_STAGING_NOW: not an ISO-8601 timestamp: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
