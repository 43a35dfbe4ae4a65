"""The webhook's side of the review gate: which issue an Issue Hook payload names, and
nothing else (issue 10). Anyone with the trigger token can post a payload, so the gate
(usecases/gate.py) reads who changed what from GitLab; an event that is not ours ends here,
before GitLab is asked anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from match_staging.config import Config
from match_staging.errors import ConfigError


@dataclass(frozen=True)
class Event:
    """The part of an Issue Hook payload the gate uses: which issue to look at. Nothing
    else in a payload is believed (anyone with the trigger token can post one).
    """

    iid: int


def webhook_event(path: str | None, env: Mapping[str, str], cfg: Config) -> Event | str:
    """The event in the payload file (`--payload`, else $TRIGGER_PAYLOAD), or the line that
    says why it is ignored (exit 0: a payload that is no event of ours is not an error).
    ConfigError when there is no payload or it cannot be read.
    """
    from match_staging.limits import TooDeep, load_json

    path = path or env.get("TRIGGER_PAYLOAD")
    if not path:
        raise ConfigError("no payload: pass --payload FILE or set TRIGGER_PAYLOAD")
    try:
        with open(path, "rb") as file:
            payload = load_json(file.read())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except TooDeep as exc:  # not ours, like any payload that is no webhook event: exit 0
        return f"{path}: not a webhook payload: {exc}"
    except ValueError:
        return f"{path} is not JSON: not a webhook event"
    # An event that is not ours ends here, before the wiring asks GitLab anything (the
    # label-id check lists labels); check_reviewers runs before the first change (in
    # is_reviewer), so such an event is ignored even before reviewers are configured
    event = parse_event(payload, cfg)
    return f"{event} · 0 GitLab requests" if isinstance(event, str) else event


def parse_event(payload: Any, cfg: Config) -> Event | str:
    """The event, or the one-line reason it is not one the gate handles."""
    if not isinstance(payload, dict):
        return "the payload is not a JSON object"
    kind = payload.get("object_kind")
    if kind != "issue":
        shown = " ".join(kind.split())[:40] if isinstance(kind, str) else ""  # one line
        return (
            f"a {shown} event: only issue events change a match's state"
            if isinstance(kind, str)
            else "no object_kind: not a GitLab webhook payload"
        )
    attrs, user = payload.get("object_attributes"), payload.get("user")
    if not isinstance(attrs, dict) or not isinstance(user, dict):
        return "the issue event has no object_attributes or user"
    # Tasks and other work items fire Issue Hooks too: object_kind "work_item", or "issue"
    # with `type` naming the work item type since 17.2 (gitlab MR 156760, 180959)
    kind_of = attrs.get("type")
    if kind_of is not None and kind_of != "Issue":
        shown = " ".join(str(kind_of).split())[:40]
        return f"a work item of type {shown}, never a job match"
    iid, actor = attrs.get("iid"), user.get("username")
    if (
        isinstance(iid, bool)
        or not isinstance(iid, int)
        or iid <= 0
        or not isinstance(actor, str)
        or not actor
    ):
        return "the issue event has no usable iid or user.username"
    changes = payload.get("changes")
    diff = changes.get("labels") if isinstance(changes, dict) else None
    # closing and reopening are gate events too: GitLab sends them as their own event,
    # `action` close or reopen, without a label change (gitlabhq spec/support/
    # shared_examples/services/issuable/issuable_update_service_shared_examples.rb)
    if not isinstance(diff, dict) and attrs.get("action") not in ("close", "reopen"):
        return f"issue #{iid}: no label change in this event"
    diff = diff if isinstance(diff, dict) else {}
    titles = _titles(payload.get("labels")) | _titles(attrs.get("labels"))
    titles |= _titles(diff.get("previous")) | _titles(diff.get("current"))
    if cfg.labels.match not in titles:
        return f"issue #{iid} is not a job match"
    if cfg.gitlab.bot_username and actor == cfg.gitlab.bot_username:
        # skipping costs nothing; a forged skip only leaves the change to `digest`
        return f"issue #{iid}: the tool's own change"
    return Event(iid=iid)


def _titles(labels: Any) -> set[str]:
    if not isinstance(labels, list):
        return set()
    return {str(lb["title"]) for lb in labels if isinstance(lb, dict) and "title" in lb}
