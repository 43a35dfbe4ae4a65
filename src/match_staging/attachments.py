"""Attachment paths come from untrusted match text: only regular, visible files inside the
repository, below the size limit, may leave the machine as uploads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath

from match_staging.errors import InputError
from match_staging.model import Match


def resolve(root: Path, relative: str, max_bytes: int) -> Path | str:
    """The file to upload, or why it may not be."""
    posix = PurePosixPath(relative.replace("\\", "/"))
    if posix.is_absolute() or PureWindowsPath(relative).drive:
        return "must be a path inside the repository, not an absolute path"
    if ".." in posix.parts:
        return "must not leave the repository ('..')"
    if any(part.startswith(".") for part in posix.parts):
        return "hidden files and folders (such as .git) are never attached"
    candidate = root / posix
    if not candidate.exists():
        return (
            "no such file in the repository"
            if not candidate.is_symlink()
            else "is a broken symbolic link"
        )
    real = candidate.resolve()
    if not real.is_relative_to(root.resolve()):
        return "leads outside the repository through a symbolic link"
    if any(part.startswith(".") for part in real.relative_to(root.resolve()).parts):
        return "leads to a hidden file or folder through a symbolic link"
    if not real.is_file():
        return "is not a regular file"
    size = real.stat().st_size
    if size > max_bytes:
        mb = 1024 * 1024  # staging.max_attachment_mb counts MiB (Staging.max_attachment_bytes)
        return (
            f"is {size / mb:.1f} MB, more than the {max_bytes / mb:g} MB limit "
            "(staging.max_attachment_mb)"
        )
    return real


def check(
    root: Path, paths: Sequence[str], max_bytes: int, *, source: str, match: Match | None = None
) -> tuple[list[Path], list[InputError]]:
    """The files of `paths` that may be attached, and an InputError for each that may not:
    the one check of `validate`, staging and `send`.
    """
    files: list[Path] = []
    errors: list[InputError] = []
    for index, rel in enumerate(paths):
        found = resolve(root, rel, max_bytes)
        if isinstance(found, str):
            errors.append(
                InputError(
                    source,
                    f"{rel!r} {found}",
                    field=f"attachments[{index}]",
                    match=match.label if match else None,
                    position=match.position if match else 0,
                )
            )
        else:
            files.append(found)
    return files, errors
