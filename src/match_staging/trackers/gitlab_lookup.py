"""Staged matches looked up by key on GitLab (trackers/gitlab.py mixes this into
GitLabTracker): among the bot's own issues, by listing or by search, whichever is cheaper,
and only where nobody but the bot changed the description.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

from match_staging import record
from match_staging.model import IssueRef
from match_staging.trackers.gitlab_base import GitLabBase
from match_staging.trackers.gitlab_http import PER_PAGE, _translate
from match_staging.workflow import description_edit


class KeyLookup(GitLabBase):
    """`find_by_keys` of GitLabTracker, and what it says about its last lookup."""

    lookup_path: str  # how the last find_by_keys looked: "listing" or "search"
    lookups: int  # and how many requests that took

    @_translate("look up staged matches")
    def find_by_keys(
        self, keys: Sequence[str], *, label: str, expected: int, editors: Collection[str] = ()
    ) -> dict[str, IssueRef]:
        """Look keys up the cheaper of two exact ways, among the bot's own issues only
        (`author_id`: a key line in anybody else's issue counts for nothing) and whatever
        their labels (removing or renaming `label` hides nothing).

        `expected` issues carry `label` (about as many as the bot staged), K keys are wanted:

        - listing: every issue of the bot, ceil(expected / 100) pages, oldest first;
        - search: listing page 1 first, which settles the oldest 100 and shows whether search
          can be trusted (no issue there keeps its keys only in an HTML comment, as issues
          staged before the key line did: older GitLab does not index comments, and newer
          ones are newer than those), then one search per key still unknown: at most K + 1.

        Search is tried only when K + 1 < ceil(expected / 100); when page 1 shows an issue
        of the older kind, the listing simply goes on. Then every issue found holding a key
        that changed since its creation costs one request more (its system notes): it
        counts only if nobody but the bot changed its description
        (`workflow.description_edit`), since any Reporter can write a key line into one.
        `lookup_path` says which way the last lookup took, `lookups` what it cost.
        """
        wanted = set(keys)
        self.lookup_path, before = "none", self._counter.sent
        self.lookups = 0
        if not wanted:
            return {}
        bot_id, bot = self._bot_identity()
        found: dict[str, IssueRef] = {}
        try_search = len(wanted) + 1 < math.ceil(expected / PER_PAGE)
        new_kind = False  # page 1 holds an issue with the key line
        self.lookup_path = "listing"
        for index, issue in enumerate(self._bot_issues(bot_id)):
            ref = self._ref(issue)
            found.update({k: ref for k in ref.keys if k in wanted})
            if try_search:
                if record.old_key_marker(ref.description):
                    try_search = False  # keys in a comment: only a listing is exact
                new_kind = new_kind or bool(ref.keys)
                if index + 1 == PER_PAGE:
                    if new_kind:
                        break
                    try_search = False  # no issue of ours on page 1: cannot tell
        else:
            found = self._unedited(found, bot, editors)
            self.lookups = self._counter.sent - before
            return found  # listed to the end
        self.lookup_path = "search"
        for key in sorted(wanted - found.keys()):
            if key not in found:
                for ref in self._search(key, bot_id):
                    found.update({k: ref for k in ref.keys if k in wanted})
        found = self._unedited(found, bot, editors)
        self.lookups = self._counter.sent - before
        return found

    def _unedited(
        self, found: dict[str, IssueRef], bot: str, editors: Collection[str]
    ) -> dict[str, IssueRef]:
        """The keys whose issue nobody but the bot (or `editors`) edited: one request per
        issue changed since its creation. One never changed (`updated_at` still its
        `created_at`: any update, comment or edit moves it, as ActiveRecord's timestamps
        and the notes' `touch` do) was edited by nobody.
        """
        trusted: dict[int, bool] = {}
        for ref in found.values():
            if ref.iid not in trusted:
                untouched = bool(ref.created_at) and ref.updated_at == ref.created_at
                notes = [] if untouched else self._system_notes(ref.iid)
                trusted[ref.iid] = not description_edit(ref, notes, bot, editors)
        return {k: ref for k, ref in found.items() if trusted[ref.iid]}

    def _search(self, key: str, bot_id: int) -> list[IssueRef]:
        """GitLab's issue search is full-text (IssuableFinder#use_full_text_search?,
        PgFullTextSearchable): the key's word finds the key line. `author_id` narrows it
        like the listing (IssuableFinder#filter_items applies `by_search` and `by_author`
        to the same relation). Only that line counts: untrusted text elsewhere could quote
        a key.
        """
        query: dict[str, Any] = {
            "search": record.search_word(key),
            "in": "description",
            "author_id": bot_id,
            "state": "all",
            "per_page": PER_PAGE,
            "get_all": False,
        }
        issues = self._project.issues.list(iterator=False, **query)
        return [ref for ref in map(self._ref, issues) if key in ref.keys]
