"""Quick actions in descriptions and notes: extracted with GitLab's regex, then interpreted."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.fakes.gitlab.hooks import (
    HooksMixin,
)
from tests.fakes.gitlab.text import (
    RUBY_WHITESPACE,
)
from tests.fakes.gitlab.wire import (
    Json,
)

NEEDS_EXISTING_ISSUE = frozenset(
    ("close", "reopen", "open", "title", "unlabel", "remove_label", "relabel")
)

# Every command name GitLab's extractor knows (issue and MR commands alike:
# the extractor strips all of them, availability is only checked afterwards).
QUICK_ACTION_NAMES: tuple[str, ...] = (
    "close",
    "reopen",
    "open",
    "title",
    "label",
    "labels",
    "unlabel",
    "remove_label",
    "relabel",
    "assign",
    "reassign",
    "unassign",
    "milestone",
    "remove_milestone",
    "due",
    "remove_due_date",
    "estimate",
    "estimate_time",
    "remove_estimate",
    "remove_time_estimate",
    "spend",
    "spent",
    "spend_time",
    "remove_time_spent",
    "todo",
    "done",
    "subscribe",
    "unsubscribe",
    "award",
    "react",
    "weight",
    "clear_weight",
    "confidential",
    "duplicate",
    "move",
    "clone",
    "copy_metadata",
    "lock",
    "unlock",
    "board_move",
    "create_merge_request",
    "relate",
    "unrelate",
    "zoom",
    "remove_zoom",
    "epic",
    "remove_epic",
    "iteration",
    "remove_iteration",
    "health_status",
    "clear_health_status",
    "promote",
    "promote_to",
    "promote_to_incident",
    "parent",
    "set_parent",
    "remove_parent",
    "add_child",
    "remove_child",
    "page",
    "severity",
    "blocks",
    "blocked_by",
    "unlink",
    "timeline",
    "invite_email",
    "remove_email",
    "add_email",
    "type",
    "status",
    "merge",
    "approve",
    "unapprove",
    "draft",
    "ready",
    "wip",
    "rebase",
    "target_branch",
    "submit_review",
    "assign_reviewer",
    "reviewer",
    "request_review",
    "unassign_reviewer",
    "remove_reviewer",
    "add_contacts",
    "remove_contacts",
    "checkin_reminder",
    "publish",
)

_COMMANDS_RE = re.compile(
    r"(?P<code>^```.+?\n```$)"
    r"|(?:^/(?P<cmd>" + "|".join(map(re.escape, QUICK_ACTION_NAMES)) + r")"
    r"(?:[ ](?P<arg>[^\n]*))?(?:\s*\n|$))",
    re.MULTILINE | re.DOTALL | re.IGNORECASE,
)
_LABEL_REF_RE = re.compile(r'~(?:(\d+)\b|"([^"]+)"|([A-Za-z0-9_\-?.&]+))')


def extract_quick_actions(text: str) -> tuple[str, list[tuple[str, str, str]]]:
    """Return (text without commands, [(name, argument, line), ...])."""
    found: list[tuple[str, str, str]] = []

    def replace(match: re.Match[str]) -> str:
        if match.group("cmd") is None:
            return match.group(0)
        arg = (match.group("arg") or "").strip()
        found.append((match.group("cmd").lower(), arg, match.group(0).strip()))
        return ""

    content = _COMMANDS_RE.sub(replace, text.replace("\r", ""))
    return content.rstrip(RUBY_WHITESPACE), found


@dataclass
class _Changes:
    """A declarative change to an issue (from request params or quick actions)."""

    labels: list[str] | None = None  # replace all
    add_labels: list[str] = field(default_factory=list)
    remove_labels: list[str] = field(default_factory=list)
    create_labels: bool = False
    title: str | None = None
    state_event: str | None = None
    assignee_ids: list[int] | None = None  # replace all
    add_assignees: list[int] = field(default_factory=list)
    remove_assignees: list[int] = field(default_factory=list)


class QuickActionsMixin(HooksMixin):
    """Turns extracted quick actions into changes to an issue."""

    def _find_labels(self, arg: str) -> list[str]:
        """Existing labels referenced by a quick-action argument."""
        if "~" in arg:
            found: list[str] = []
            for by_id, quoted, bare in _LABEL_REF_RE.findall(arg):
                if by_id:
                    found += [lb["name"] for lb in self.labels.values() if lb["id"] == int(by_id)]
                else:
                    found.append(quoted or bare.rstrip(".?"))
        else:
            found = [a or b for a, b in re.findall(r'"([^"]+)"|([^ ]+)', arg)]
        return [n for n in dict.fromkeys(found) if n in self.labels]

    def _find_users(self, arg: str) -> list[int]:
        users = (self._user_by_name(t) for t in re.split(r"[\s,]+", arg) if t)
        return [u["id"] for u in users if u is not None]

    def _interpret(
        self, commands: list[tuple[str, str, str]], *, persisted: bool = True
    ) -> tuple[_Changes, list[str], Json]:
        """Turn extracted commands into changes, a summary and ``commands_changes``.

        As in GitLab, every known command is stripped from the text, but only the
        applicable ones act: /close, /reopen, /title, /unlabel and /relabel need an
        existing issue, so they do nothing in the description of a new one.
        """
        ch = _Changes()
        summary: list[str] = []
        for name, arg, _ in commands:
            if not persisted and name in NEEDS_EXISTING_ISSUE:
                continue
            if name in ("label", "labels", "relabel", "unlabel", "remove_label"):
                said = self._label_command(ch, name, arg)
            else:
                said = self._issue_command(ch, name, arg)
            if said:
                summary.append(said)
        return ch, summary, self._commands_changes(ch)

    def _label_command(self, ch: _Changes, name: str, arg: str) -> str:
        """/label, /labels, /relabel, /unlabel, /remove_label: the change, and its summary."""
        if name in ("unlabel", "remove_label"):
            if arg:
                ch.remove_labels += self._find_labels(arg)
            else:
                ch.labels = []
            return "Removed label(s)."
        found = self._find_labels(arg)
        if name == "relabel":
            ch.labels = found
        else:
            ch.add_labels += found
        return f"Added {' '.join(f'~{n}' for n in found)} label(s)."

    def _issue_command(self, ch: _Changes, name: str, arg: str) -> str:
        """State, assignee and title commands; "" for those that change nothing here."""
        if name in ("close", "reopen", "open"):
            ch.state_event = "close" if name == "close" else "reopen"
            return "Closed this issue." if name == "close" else "Reopened this issue."
        if name in ("assign", "reassign"):
            ids = self._find_users(arg) if arg else [self.acting_user_id]
            if name == "reassign":
                ch.assignee_ids = ids
            else:
                ch.add_assignees += ids
            return "Assigned user(s)."
        if name == "unassign":
            if arg:
                ch.remove_assignees += self._find_users(arg)
            else:
                ch.assignee_ids = []
            return "Removed assignee(s)."
        if name == "title" and arg:
            ch.title = arg
            return f'Changed the title to "{arg}".'
        return ""

    def _commands_changes(self, ch: _Changes) -> Json:
        """The ``commands_changes`` GitLab reports for a commands-only note."""
        changes: Json = {}
        if ch.labels is not None:
            changes["label_ids"] = [self.labels[n]["id"] for n in ch.labels]
        if ch.add_labels:
            changes["add_label_ids"] = [self.labels[n]["id"] for n in ch.add_labels]
        if ch.remove_labels:
            changes["remove_label_ids"] = [self.labels[n]["id"] for n in ch.remove_labels]
        if ch.state_event is not None:
            changes["state_event"] = ch.state_event
        if ch.title is not None:
            changes["title"] = ch.title
        if ch.assignee_ids is not None or ch.add_assignees:
            changes["assignee_ids"] = (ch.assignee_ids or []) + ch.add_assignees
        return changes
