"""Texts as a person may see them: NFC, no control or invisible characters (a match's
texts are cleaned before anything shows or stores them).
"""

from __future__ import annotations

import re
import unicodedata

# Bidi controls can make a title read differently than it is; zero-width, filler and tag
# characters hide text from a reviewer's eye ("ASCII smuggling"). None belongs in a job
# posting we show to a person. (Format characters in general are dropped in clean_text,
# except the zero-width joiner that emoji sequences need.)
_INVISIBLE = re.compile("[\u034f\u115f\u1160\u3164\uffa0\U000e0000-\U000e007f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# the zero-width joiner stays only between two symbols, as in an emoji sequence (👨‍💻)
_LONE_JOINER = re.compile("(?<![^\\x00-\\x7f\\s])\u200d|\u200d(?![^\\x00-\\x7f\\s])")
_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON can escape them; UTF-8 cannot encode them


def clean_text(value: str, *, single_line: bool = False) -> str:
    """NFC, no control or invisible characters; single-line fields lose their breaks."""
    if single_line and value.isascii() and value.isprintable():
        return " ".join(value.split())  # nothing to clean: the common case, made cheap
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SURROGATE.sub("\ufffd", _INVISIBLE.sub("", text))
    # the distinct characters are few even in a long text: look each up once, drop in C
    drop = {ord(c): None for c in set(text) if c != "\u200d" and unicodedata.category(c) == "Cf"}
    text = text.translate(drop) if drop else text
    text = _LONE_JOINER.sub("", text)
    if single_line:
        return " ".join(_CONTROL.sub(" ", text.replace("\t", " ")).split())
    return _CONTROL.sub("", text.replace("\t", "    ")).strip("\n")
