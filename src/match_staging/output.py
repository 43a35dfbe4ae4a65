"""Everything the tool prints goes through here, so no secret can reach a CI log: every
known secret value is replaced before a line is written."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO


class Output:
    def __init__(self, secrets: Iterable[str] = (), out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        self._secrets = sorted(set(secrets), key=len, reverse=True)
        self._out = out or sys.stdout
        self._err = err or sys.stderr

    def add_secrets(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted(set(self._secrets) | set(secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for value in self._secrets:
            text = text.replace(value, "***")
        return text

    def result(self, text: str = "") -> None:
        """Results: standard output."""
        print(self.redact(text), file=self._out)

    def notice(self, text: str) -> None:
        """Notices and errors: standard error."""
        print(self.redact(text), file=self._err)
