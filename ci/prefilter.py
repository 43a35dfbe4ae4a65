#!/usr/bin/env python3
"""Decide from TRIGGER_PAYLOAD alone, before anything is installed, whether an issue-webhook
event can concern match-staging (issue 11: every Issue Hook event starts a pipeline, the
tool's own ones included; on GitLab.com Free each costs CI minutes).

Exit 0 with one line saying why: not ours (the bot's own change, a note, a work item or any
event that is not an issue event, an issue without the job-match label, an event without a
label change).
Exit 4: a trigger-API call that carries a match document (in its body, as
scripts/submit-matches sends it, or in inputs an older GitLab ignored) but reached this job:
the job stages it (`match-staging stage` reads the document from the payload).
Exit 3 with one line: it may be ours, the job goes on to install the tool and run
`match-staging transition`, which checks everything again against GitLab. These are the
checks of `usecases/review.parse_event`, nothing more: when in doubt, go on.

The payload is untrusted: its size is bounded, it is parsed without recursion trouble, and
what is printed of it is cut short and stripped of control characters. Standard library
only (the job image's python3). Settings from the repository's configuration file
(gitlab.bot_username, labels.match), never from variables: a pipeline variable could set
those. The file is the first argument (the review-gate component passes its `config`
input, written in the repository), else config/notification-channels.yml.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
from typing import Any

# a trigger request with the largest match document (10 MiB, sent as base64) fits, as in
# match_staging.matches.MAX_PAYLOAD_BYTES; an issue event (a description may be 1 MiB)
# is far smaller
MAX_PAYLOAD_BYTES = 20 * 1024 * 1024
CONFIG = "config/notification-channels.yml"  # the repository's file (MATCH_STAGING_CONFIG
# is ignored in CI by the tool, so here too)
DEFAULT_MATCH_LABEL = "job-match"
NOT_OURS, MAYBE_OURS, A_DOCUMENT = 0, 3, 4
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(value: Any, limit: int = 80) -> str:
    """Payload text fit for the job log: no control or bidi characters, at most `limit`."""
    text = _CONTROL.sub("", str(value))
    return text if len(text) <= limit else text[:limit] + "…"


def config_value(text: str, section: str, key: str) -> str:
    """`section: {key: value}` from a YAML file, for plain scalars only (no YAML parser in
    the standard library). "" when absent, or when the value is not a literal (a ${VAR}).
    """
    current, indent = None, ""
    for line in text.splitlines():
        stripped = line.split(" #", 1)[0].rstrip()
        if not stripped or stripped.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            current = stripped[:-1] if stripped.endswith(":") else None
            indent = ""
            continue
        if current != section:
            continue
        here = line[: len(line) - len(line.lstrip())]
        indent = indent or here  # the section's keys are at its first indentation
        match = re.fullmatch(re.escape(key) + r":\s*(.*)", stripped.lstrip())
        if match and here == indent:
            value = match.group(1).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            return "" if "$" in value or value in ("~", "null") else value
    return ""


def settings(path: str = CONFIG) -> tuple[str, str]:
    """(bot username or "", the match label) from the repository's configuration file."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read(1024 * 1024)
    except (OSError, UnicodeDecodeError):
        return "", DEFAULT_MATCH_LABEL
    return (
        config_value(text, "gitlab", "bot_username"),
        config_value(text, "labels", "match") or DEFAULT_MATCH_LABEL,
    )


def titles(labels: Any) -> set[str]:
    """The titles of a payload's label objects (anything else counts for none)."""
    if not isinstance(labels, list):
        return set()
    return {str(lb["title"]) for lb in labels if isinstance(lb, dict) and "title" in lb}


def carries_document(payload: dict[str, Any]) -> bool:
    """A trigger-API body (GitLab hands it over as TRIGGER_PAYLOAD, unexpanded) that holds a
    match document: in the body itself (scripts/submit-matches), or in inputs. GitLab before
    17.10 ignores `inputs` (job=stage too), so the pipeline ran with the defaults and reached
    this job instead of `stage`.
    """
    # the same forms match_staging.matches reads from a trigger payload
    if isinstance(payload.get("matches"), list):
        return True
    if isinstance(payload.get("matches_b64"), str) and payload["matches_b64"].strip():
        return True
    for holder, names in (
        (payload.get("inputs"), ("matches_b64", "matches_json")),
        (payload.get("variables"), ("MATCHES_JSON_B64", "MATCHES_JSON")),
    ):
        if isinstance(holder, dict) and any(
            isinstance(holder.get(n), str) and holder[n].strip() for n in names
        ):
            return True
    return False


def decide(payload: Any, bot: str, match_label: str) -> tuple[int, str]:
    """(exit code, reason) for one parsed payload."""
    if not isinstance(payload, dict):
        return NOT_OURS, "the payload is not a JSON object"
    kind = payload.get("object_kind")
    if kind is None and carries_document(payload):
        return A_DOCUMENT, (
            "a trigger call that carries a match document (in its body, or in "
            "inputs an instance without pipeline inputs ignored): staging it"
        )
    if kind != "issue":
        if isinstance(kind, str):
            return NOT_OURS, f"a {clean(kind, 40)} event: only issue events change a match"
        return MAYBE_OURS, "no object_kind: not a webhook event, left to the full check"
    attrs = payload.get("object_attributes")
    user = payload.get("user")
    iid = attrs.get("iid") if isinstance(attrs, dict) else None
    where = f"issue #{iid}" if isinstance(iid, int) and not isinstance(iid, bool) else "issue"
    # Since 17.2 `type` names the work item type (gitlab MR 156760): incidents, and tasks
    # or other work items edited in the legacy issue view, come as object_kind "issue"
    kind_of = attrs.get("type") if isinstance(attrs, dict) else None
    if kind_of is not None and kind_of != "Issue":
        return NOT_OURS, f"{where}: a work item of type {clean(kind_of, 40)}, never a job match"
    changes = payload.get("changes")
    diff = changes.get("labels") if isinstance(changes, dict) else None
    action = attrs.get("action") if isinstance(attrs, dict) else None
    if not isinstance(diff, dict) and action not in ("close", "reopen"):  # closing is a move
        return NOT_OURS, f"{where}: no label change in this event"
    diff = diff if isinstance(diff, dict) else {}
    found = (
        titles(payload.get("labels")) | titles(diff.get("previous")) | titles(diff.get("current"))
    )
    if isinstance(attrs, dict):
        found |= titles(attrs.get("labels"))
    if match_label not in found:
        return NOT_OURS, f"{where} is not a job match (no {clean(match_label, 60)} label)"
    actor = user.get("username") if isinstance(user, dict) else None
    if bot and actor == bot:
        return NOT_OURS, f"{where}: the tool's own change"
    return MAYBE_OURS, f"{where}: a label change on a job match, checking it against GitLab"


def main() -> int:
    """Exit 0 (not ours: end the job before the install), 3 (maybe ours) or 4 (a document)."""
    path = os.environ.get("TRIGGER_PAYLOAD", "")
    if not path:
        print("prefilter: no TRIGGER_PAYLOAD, left to the full check")
        return MAYBE_OURS
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_PAYLOAD_BYTES + 1)
    except OSError:
        print("prefilter: TRIGGER_PAYLOAD cannot be read, left to the full check")
        return MAYBE_OURS
    if len(raw) > MAX_PAYLOAD_BYTES:
        print(f"prefilter: the payload is over {MAX_PAYLOAD_BYTES:,} bytes, left to the full check")
        return MAYBE_OURS
    gc.disable()  # no finalizer run a thousand calls deep (src/match_staging/limits.py)
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        print("prefilter: the payload is not JSON (or nested too deep), left to the full check")
        return MAYBE_OURS
    finally:
        gc.enable()
    bot, match_label = settings(sys.argv[1] if len(sys.argv) > 1 else CONFIG)
    code, reason = decide(payload, bot, match_label)
    print(("not ours, nothing to do: " if code == NOT_OURS else "prefilter: ") + reason)
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # never a traceback: the full check decides
        print(f"prefilter: {clean(type(exc).__name__)}, left to the full check")
        sys.exit(MAYBE_OURS)
