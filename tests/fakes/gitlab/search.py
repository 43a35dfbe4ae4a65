"""Issue search (`GET /issues?search=`) as GitLab runs it: PostgreSQL full-text search."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

from tests.fakes.gitlab.labels import LabelsMixin
from tests.fakes.gitlab.wire import (
    Json,
    _parse_time,
)

# app/finders/issuable_finder.rb: FULL_TEXT_SEARCH_TERM_REGEX
_FULL_TEXT_TERM_RE = re.compile(r"[\x00-\x7f\u00c0-\u024f]+")
# app/models/concerns/pg_full_text_searchable.rb
_LONG_WORDS_RE = re.compile(r"[A-Za-z0-9+/@]{50,}")
_XML_TAG_RE = re.compile(r"</?([^>]+)>")
_URL_SCHEME_RE = re.compile(r"(?:^|(?<=\W))\w+://(?=\w)")
_TSQUERY_DISALLOWED_RE = re.compile(r"[^a-zA-Z0-9 .@/\-_\"]")
# PostgreSQL's default parser: a comment or an HTML/XML tag is one "tag" token
_PG_TAG_RE = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]*>", re.DOTALL)
_LEXEME_RE = re.compile(r"[a-z0-9]+")


def _transliterate(text: str) -> str:
    """ActiveSupport::Inflector.transliterate, near enough: accents dropped."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _lexemes(text: str, comments_indexed: bool) -> set[str]:
    """The words of an issue's text as its search vector holds them (lower case; a
    hyphenated word also as its parts, which is all a prefix query needs here)."""
    text = _LONG_WORDS_RE.sub(" ", text)[:1_048_576]
    text = _transliterate(text)
    text = _XML_TAG_RE.sub(r" \1 ", text) if comments_indexed else _PG_TAG_RE.sub(" ", text)
    return set(_LEXEME_RE.findall(text.lower()))


def _tsquery_terms(query: str) -> list[str]:
    """Every word of the query, each a prefix that some word of the issue must start with
    (`term:*`, joined with `&`)."""
    query = _URL_SCHEME_RE.sub("", query)
    query = _TSQUERY_DISALLOWED_RE.sub(" ", _transliterate(query))
    return _LEXEME_RE.findall(query.replace('"', " ").lower())


class SearchMixin(LabelsMixin):
    """The full-text search of issues, with GitLab's versions' differences as switches."""

    def _init_search(self) -> None:
        """Issue search as GitLab does it (IssuableFinder#use_full_text_search?,
        PgFullTextSearchable): whole words and word prefixes, every word of the query
        required. `search_indexes_comments`: True as newer GitLab (XML tags replaced by
        their text before indexing, so words in `<!-- ... -->` are found); False as older
        versions, where PostgreSQL's parser reads a comment or tag as one "tag" token that
        the english configuration drops. `search_lag_seconds`: issues created that recently
        are not found yet (the search data is written after the commit)."""
        self.search_indexes_comments = False
        self.search_lag_seconds = 0.0

    def _search_issues(self, issues: list[Json], query: str, fields: list[str]) -> list[Json]:
        fields = [f for f in fields if f in ("title", "description")] or ["title", "description"]
        horizon = datetime.now(UTC) - timedelta(seconds=self.search_lag_seconds)
        if self.search_lag_seconds:
            issues = [i for i in issues if _parse_time(i["created_at"]) <= horizon]
        if not _FULL_TEXT_TERM_RE.fullmatch(query):
            # not ASCII or Latin: GitLab falls back to ILIKE on each word (3+ characters)
            words = [w.lower() for w in query.split() if len(w) >= 3] or [query.lower()]
            return [
                i
                for i in issues
                if all(any(w in (i.get(f) or "").lower() for f in fields) for w in words)
            ]
        terms = _tsquery_terms(query)
        if not terms:
            return issues
        found = []
        for issue in issues:
            lexemes: set[str] = set()
            for name in fields:
                lexemes |= _lexemes(issue.get(name) or "", self.search_indexes_comments)
            if all(any(lex.startswith(t) for lex in lexemes) for t in terms):
                found.append(issue)
        return found
