"""Everything the tool prints goes through here, so no secret can reach a CI log: every
known secret value is replaced before a line is written, also when a server echoed it
percent-encoded or cut short. Text from payloads and documents can carry terminal escapes
and bidirectional controls; they are shown as visible escapes, never sent to the terminal.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import TextIO

from match_staging.redaction import Secret, mask

MASK = "***"
MIN_MASK_LENGTH = 4  # a one-letter password would mask every "a"
# C0 and C1 controls except tab and line feed; bidi, zero-width and other invisible format
# characters (U+2060, the word joiner the tool puts into GitLab text itself, is just dropped)
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2061-\u2064\u2066-\u2069\ufeff]"
)


def _visible(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    r"""Control and invisible characters as visible escapes (`\x1b`, `\u202e`)."""
    return _UNPRINTABLE.sub(_visible, text.replace("\u2060", ""))


class Output:
    """Where the CLI writes: every line redacted of secrets and made printable."""

    def __init__(
        self,
        secrets: Iterable[str | Secret] = (),
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self._secrets: list[str] = []
        self.add_secrets(secrets)
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._advice: list[str] = []

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values masked in every line."""
        return tuple(self._secrets)

    def add_secrets(self, secrets: Iterable[str | Secret]) -> None:
        """Mask these too; values too short to mask safely are left out."""
        values = {
            v
            for v in (s.value if isinstance(s, Secret) else s for s in secrets)
            if len(v) >= MIN_MASK_LENGTH
        }
        self._secrets = sorted((set(self._secrets) | values) - {""}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every secret masked and control characters made visible."""
        for value in self._secrets:
            text, _ = mask(text, value, MASK)
        return printable(text)

    def result(self, text: str = "") -> None:
        """Results: standard output."""
        print(self.redact(text), file=self._out)

    def notice(self, text: str) -> None:
        """Notices and errors: standard error."""
        print(self.redact(text), file=self._err)

    def advise(self, text: str) -> None:
        """A notice for the end of a run that got that far (`flush_advice`): advice
        about the setup is noise beside an error that stopped the run (a refused token
        is one line).
        """
        self._advice.append(text)

    def flush_advice(self) -> None:
        """Print the advice held back so far, once."""
        for text in self._advice:
            self.notice(text)
        self._advice = []
