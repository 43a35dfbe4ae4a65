"""The fake GitLab's old home: it lives in tests/fakes/gitlab/, one module per resource."""

from tests.fakes.gitlab import (
    FakeGitLab,
    LoggedRequest,
    extract_quick_actions,
    find_mentions,
    find_references,
)

__all__ = [
    "FakeGitLab",
    "LoggedRequest",
    "extract_quick_actions",
    "find_mentions",
    "find_references",
]
