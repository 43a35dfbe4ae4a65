"""Apprise: one adapter for the ~170 services it knows (docs/platform-facts.md, "Apprise").

Each configured URL is its own channel (`each()`), so each gets its own entry in the
delivery queue and one URL that fails never repeats another's message. Apprise's `notify()`
answers only True or False: a False may come after the service received the message, so
a failed URL is never sent again (at-most-once, `maybe_delivered`); only a failure before
anything left (the extra not installed, a URL Apprise does not know) stays queued.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, ClassVar
from urllib.parse import urlsplit

from match_staging import render
from match_staging.channels.apprise_settings import AppriseChannel, split_urls
from match_staging.channels.base import Delivery, Rendered
from match_staging.clock import Clock, Sleep
from match_staging.errors import ConfigError
from match_staging.notices import Notice, Payload


class Apprise:
    """One Apprise URL (the settings may list several: `each()` makes one channel of each)."""

    name: ClassVar[str] = "apprise"
    max_lines = 40  # matches listed before "+N weitere", as in Slack
    # Apprise cuts or splits a body per service (each plugin's body_maxlen, overflow mode
    # "upstream" by default); the title is cut at 250 like NotifyBase.title_maxlen
    title_maxlen = 250
    body_maxlen = 4000

    def __init__(
        self,
        settings: AppriseChannel,
        templates_dir: str | None = None,
        *,
        url: str | None = None,
        index: int = 0,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        split_urls(settings)
        if not settings.urls:
            raise ConfigError(
                "notification.channels.apprise.urls: list at least one Apprise URL "
                "(set APPRISE_URLS as a masked CI/CD variable: urls: ['${APPRISE_URLS}'])"
            )
        for i, each in enumerate(settings.urls):
            if not urlsplit(each).scheme or "://" not in each:
                # never the value: it carries the service's token
                raise ConfigError(
                    f"notification.channels.apprise.urls[{i}]: not an Apprise URL "
                    "(schema://...; see https://github.com/caronc/apprise/wiki)"
                )
        self._settings = settings
        self._templates = templates_dir
        self._url = url or settings.urls[0]
        scheme = urlsplit(self._url).scheme.lower()
        digest = hashlib.sha256(self._url.encode()).hexdigest()[:8]
        # stable across runs and orderings, and says nothing of the secret: the queue's key
        self.name = f"apprise-{scheme}-{digest}"  # type: ignore[misc]
        self._scheme = scheme
        # outbox/ and preview name the files by position: the first URL's is apprise.txt
        self._file = "apprise.txt" if index == 0 else f"apprise-{index + 1}.txt"

    def each(self) -> list[Apprise]:
        """One channel per configured URL."""
        return [
            Apprise(dataclasses.replace(self._settings), self._templates, url=u, index=i)
            for i, u in enumerate(self._settings.urls)
        ]

    def message(self, payload: Payload) -> tuple[str, str]:
        """(title, body) as plain text: Apprise converts TEXT for each service (it escapes
        it for HTML services); @mentions and autolinks in posting text are broken.
        """
        shown = tuple(_disarmed(n) for n in payload.matches[: self.max_lines])
        body = render.render(
            "alert.txt.j2" if payload.alert else "apprise.txt.j2",
            self._templates,
            target="text",
            payload=dataclasses.replace(payload, alert=_disarmed_alert(payload.alert)),
            shown=shown,
            more=len(payload.matches) - len(shown),
        ).strip()
        title = render.truncate(render.neutralise_references(payload.summary), self.title_maxlen)
        return title, render.truncate(body, self.body_maxlen)

    def render(self, payload: Payload) -> list[Rendered]:
        """The title and body as Apprise would be handed them."""
        title, body = self.message(payload)
        return [Rendered(self._file, f"{title}\n\n{body}\n".encode())]

    def send(self, payload: Payload) -> Delivery:
        """One `notify()` for this URL; a False is never repeated (it may have arrived)."""
        try:
            import apprise
        except ImportError:
            return Delivery(
                self.name,
                False,
                "the Apprise library is not installed (pip install 'match-staging[apprise]'): "
                "nothing was sent",
                transient=True,
            )
        title, body = self.message(payload)
        service = apprise.Apprise()
        if not service.add(self._url):
            return Delivery(
                self.name,
                False,
                f"Apprise does not know this {self._scheme}:// URL (or it is malformed): "
                "nothing was sent; check notification.channels.apprise.urls",
            )
        try:
            # True or False (apprise 1.x), or a result whose bool() is that (2.x)
            ok = bool(service.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT))
        except Exception as exc:  # a plugin may raise; send() never does
            ok = False
            why = type(exc).__name__
        else:
            why = "it answered failure"
        if ok:
            return Delivery(self.name, True, "ok")
        return Delivery(
            self.name,
            False,
            f"Apprise ({self._scheme}://) reported a failure ({why}): it may have been sent "
            "(Apprise says only yes or no), so it is not repeated",
            maybe_delivered=True,
        )


def _disarmed(notice: Notice) -> Notice:
    """A posting's text with @mentions, #references and autolinks broken."""
    fix = render.neutralise_references
    return dataclasses.replace(
        notice,
        title=fix(notice.title),
        provider=fix(notice.provider),
        location=fix(notice.location) if notice.location else notice.location,
        duration=fix(notice.duration) if notice.duration else notice.duration,
        rate=fix(notice.rate) if notice.rate else notice.rate,
        start=fix(notice.start) if notice.start else notice.start,
    )


def _disarmed_alert(alert: Any) -> Any:
    """An alert's free text (a `notify` message) with mentions and autolinks broken."""
    if alert is None or not getattr(alert, "messages", ()):
        return alert
    fix = render.neutralise_references
    return dataclasses.replace(
        alert,
        messages=tuple(
            dataclasses.replace(m, title=fix(m.title), body=fix(m.body)) for m in alert.messages
        ),
    )
