"""Normalising raw text and splitting a document into blocks (one block per non-empty line)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Every space-like character that is not a plain space or a line break.
_ODD_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\f\v]")
# Zero-width and bidi control characters carry no words and break equality of repeated blocks.
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u200e\u200f\u202a-\u202e\u2066-\u2069\u00ad]")
_LINE_BREAKS = re.compile(r"\r\n|\r|\u2028|\u2029|\x85")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_RUNS_OF_SPACES = re.compile(r" {2,}")


@dataclass(frozen=True)
class Block:
    """One non-empty line of a normalised document; position is its 0-based line number."""

    position: int
    text: str


def normalize_text(text: str) -> str:
    """NFC, plain spaces, LF line endings, no invisible or control characters, no trailing spaces."""
    text = unicodedata.normalize("NFC", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub("", text)
    text = _ODD_SPACES.sub(" ", text)
    lines = (_RUNS_OF_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(lines)


def split_blocks(text: str) -> list[Block]:
    """Split normalised text into blocks; line numbers count every line, blank or not."""
    return [Block(i, line) for i, line in enumerate(text.split("\n")) if line]


def collapse_whitespace(text: str) -> str:
    """Single spaces, no leading or trailing space: the form gold text is compared in."""
    return " ".join(text.split())
