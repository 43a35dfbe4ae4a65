"""Where shipped files live: inside the wheel (force-included by pyproject.toml) or, in a
source checkout, at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parents[1]  # src/match_staging -> repository root


def templates_dir() -> Path:
    """The shipped templates: in the wheel, else the checkout's."""
    shipped = _PACKAGE / "templates"
    return shipped if shipped.is_dir() else _CHECKOUT / "templates"


def schema_path() -> Path:
    """The match JSON Schema: in the wheel, else the checkout's."""
    shipped = _PACKAGE / "match.schema.json"
    return shipped if shipped.is_file() else _CHECKOUT / "matches-inbox" / "match.schema.json"


def scaffold_dir() -> Path:
    """The files `match-staging init` writes into a user's repository (inside the package
    in both: hatch ships every file of src/match_staging).
    """
    return _PACKAGE / "scaffold"
