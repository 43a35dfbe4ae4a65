"""`bootstrap` records ids in the user's configuration file: only those lines, and only
where the file reads back as before plus the ids (config_write)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from match_staging.config_write import record, write
from match_staging.errors import ConfigError


def test_ids_are_recorded_only_where_the_file_reads_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("# mine\nworkflow:\n  reviewers: [rita]  # who\nstaging: {}\n")
    record(path, {"reviewer_ids": {"rita": 2}})
    assert path.read_text() == (
        "# mine\nworkflow:\n  reviewer_ids: {rita: 2}\n  reviewers: [rita]  # who\nstaging: {}\n"
    )
    record(path, {"reviewer_ids": {"rita": 5}})  # replaced, not added twice
    assert path.read_text().count("reviewer_ids") == 1 and "rita: 5" in path.read_text()
    odd = tmp_path / "odd.yml"
    odd.write_text("workflow: {reviewers: [rita]}\n")
    with pytest.raises(ConfigError, match=re.escape("add under workflow: reviewer_ids: {rita: 2}")):
        record(odd, {"reviewer_ids": {"rita": 2}})
    assert odd.read_text() == "workflow: {reviewers: [rita]}\n"


def test_a_scalar_keeps_its_place_and_comment_and_a_missing_file_is_not_made(
    tmp_path: Path,
) -> None:
    """gitlab.url (issue 20, item 10) through the same writer as the ids."""
    path = tmp_path / "c.yml"
    path.write_text('gitlab:\n  project: "1"\n  url: ""  # bootstrap writes it\nlabels: {}\n')
    write(path, "gitlab", {"url": "https://gitlab.example.com"})
    assert path.read_text() == (
        'gitlab:\n  project: "1"\n  url: "https://gitlab.example.com"  # bootstrap writes it\n'
        "labels: {}\n"
    )
    missing = tmp_path / "none.yml"
    with pytest.raises(ConfigError, match="does not exist"):
        write(missing, "gitlab", {"url": "https://gitlab.example.com"}, create=False)
    assert not missing.exists()
