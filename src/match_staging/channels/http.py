"""Posting to a channel's HTTP endpoint (a webhook or an API): the URL check, the pacing, the
attempts and what a failure without an answer means, in one place. Each channel keeps what
is its own: its body, and how it reads an answer (`Judge`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from match_staging import clock as clocks
from match_staging.channels.base import MAX_RETRY_AFTER_SECONDS, Delivery, request_never_sent
from match_staging.clock import Clock, Sleep
from match_staging.errors import ConfigError

if TYPE_CHECKING:
    import requests


def http_url(url: str, key: str, must: str) -> SplitResult:
    """`url` split, when it is an http(s) URL with a host; else a ConfigError naming `key`."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigError(f"{key}: {must}")
    return parts


@dataclass(frozen=True)
class Retry:
    """An answer that took nothing (a rate limit, a busy server): post again after `wait`
    seconds within this run; `detail` is the outcome when no attempt is left.
    """

    detail: str
    wait: float


# how a channel reads an answer: its Delivery, or Retry
Judge = Callable[["requests.Response"], Delivery | Retry]


class Poster:
    """One endpoint a channel posts to, paced on the run's clock and sleep."""

    def __init__(  # noqa: PLR0913 - the endpoint's facts, then the run's session, clock, sleep
        self,
        channel: str,
        url: str,
        *,
        interval: float,
        secrets: Sequence[str],
        session: requests.Session | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        posted: str = "posted",
    ) -> None:
        self.channel = channel
        self.url = url
        self.host = urlsplit(url).netloc
        self.interval = interval
        self._secrets = sorted(secrets, key=len, reverse=True)  # a longer one holds a shorter
        self._posted = posted  # the word for "it may have been ..." ("posted", "sent")
        self._session = session  # made at the first post: writing outbox/ needs no requests
        self._clock = clock or clocks.system_now
        self._sleep = sleep or clocks.system_sleep
        self._last_sent: float | None = None  # when the last request went out (seconds)

    def mask(self, text: str) -> str:
        """`text` with every secret (an answer or an error page may echo the request) as ***."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _now(self) -> float:
        return self._clock().timestamp()

    def _pace(self) -> None:
        """At most one message per `interval` (a clock set back never waits longer)."""
        if self._last_sent is None:
            return
        wait = min(self.interval - (self._now() - self._last_sent), self.interval)
        if wait > 0:
            self._sleep(wait)

    def post(
        self,
        judge: Judge,
        *,
        attempts: int,
        timeout: float,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Delivery:
        """Post, paced, up to `attempts` times while nothing was sent or the answer is a
        `Retry` (waited out when it is at most MAX_RETRY_AFTER_SECONDS). Never raises.
        """
        import requests

        if self._session is None:
            self._session = requests.Session()
        detail = "not sent"
        for attempt in range(1, attempts + 1):
            self._pace()
            try:
                response = self._session.post(
                    self.url, json=json, data=data, headers=headers, timeout=timeout
                )
            except requests.RequestException as exc:
                # never the exception text: it carries the URL, which holds the secret
                if request_never_sent(exc):
                    detail = (
                        f"could not connect to {self.host} ({type(exc).__name__}): nothing was sent"
                    )
                    continue
                # the request went out and no answer came: the platform may have taken it,
                # and posting again could repeat it
                return Delivery(
                    self.channel,
                    False,
                    f"no answer from {self.host} ({type(exc).__name__}): "
                    f"it may have been {self._posted}",
                    transient=True,
                    maybe_delivered=True,
                )
            finally:
                self._last_sent = self._now()
            outcome = judge(response)
            if isinstance(outcome, Delivery):
                return outcome
            detail = outcome.detail
            if attempt < attempts:
                if outcome.wait > MAX_RETRY_AFTER_SECONDS:
                    break  # longer than a run waits: the next run sends it
                self._sleep(outcome.wait)
        return Delivery(self.channel, False, detail, transient=True)
