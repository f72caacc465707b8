"""Normalising raw text and splitting a document into blocks (one block per non-empty line)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from transforms.bulk import large_strings

# Patterns in the syntax RE2 (Arrow) reads: ASCII as \xhh escapes, other characters literally.
_LINE_BREAKS = r"\r\n|\r|" + "|".join(("\u2028", "\u2029", "\x85"))
# Zero-width and bidi marks carry no words and break equality of repeated blocks; control characters too.
_INVISIBLE = "[" + "\u200b-\u200d\u2060\ufeff\u200e\u200f\u202a-\u202e\u2066-\u2069\u00ad" + r"\x00-\x08\x0e-\x1f\x7f]"
# Runs of space-like characters other than line breaks that are not one plain space: each becomes
# one space. (Matching every single space too, to replace it by itself, costs 7x the time.)
_ODD_SPACE = "\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000" + r"\t\x0c\x0b"
_SPACES = f"[ {_ODD_SPACE}]*[{_ODD_SPACE}][ {_ODD_SPACE}]*|  +"
# A space beside a line break (only where there is one: every line break would be matched otherwise).
_SPACE_AT_BREAK = r" \n ?|\n "
# Texts with anything the rare fixes change.
_RARE = f"{_LINE_BREAKS}|{_INVISIBLE}"


class Block(NamedTuple):
    """One non-empty line of a normalised document; position is its 0-based line number.

    A named tuple, not a dataclass: a corpus makes one per line, and a tuple is made 3x faster.
    """

    position: int
    text: str


def normalize_texts(texts: Sequence[str]) -> list[str]:
    """NFC, plain spaces, LF line endings, no invisible or control characters, no spaces at line ends."""
    out: list[str] = normalized_array(texts).to_pylist()
    return out


def normalized_array(texts: Any) -> pa.LargeStringArray:
    """`normalize_texts` of any column `large_strings` reads, as Arrow (an Arrow column is not copied to Python).

    Whole-text passes in Arrow: after the first three, the only white space left is " " and "\n", so
    stripping every line is dropping the one space beside each line break and at the ends. Texts must
    be encodable as UTF-8 (no lone surrogates; the JSONL reader replaces them).
    """
    array = large_strings(texts)
    # NFC and the two rare fixes rewrite only the texts they can change (ASCII is always NFC; line
    # breaks other than LF and invisible characters are in a few texts): on the bench corpus a
    # fifteenth and 31 of 24,619 texts, where passing every text through them cost 0.4 s.
    array = _on_rows(array, pc.invert(pc.string_is_ascii(array)), lambda a: pc.utf8_normalize(a, "NFC"))
    array = _on_rows(array, pc.match_substring_regex(array, _RARE), _rare_fixes)
    array = pc.replace_substring_regex(array, _SPACES, " ")
    array = pc.replace_substring_regex(array, _SPACE_AT_BREAK, "\n")
    return pc.utf8_trim(array, " ")


def _rare_fixes(array: pa.LargeStringArray) -> pa.LargeStringArray:
    array = pc.replace_substring_regex(array, _LINE_BREAKS, "\n")
    return pc.replace_substring_regex(array, _INVISIBLE, "")


def _on_rows(
    array: pa.LargeStringArray, rows: pa.BooleanArray, change: Callable[[pa.LargeStringArray], pa.LargeStringArray]
) -> pa.LargeStringArray:
    """`array` with `change` applied to the texts at `rows` (a mask; null: not changed) and no others."""
    rows = rows.fill_null(False)
    count = pc.sum(rows).as_py() or 0
    if count == 0:
        return array
    if count == len(array):
        return change(array)
    return pc.replace_with_mask(array, rows, change(array.filter(rows)))


def normalize_text(text: str) -> str:
    """`normalize_texts` of one text."""
    return normalize_texts([text])[0]


def split_blocks(text: str) -> list[Block]:
    """Split normalised text into blocks; line numbers count every line, blank or not."""
    return [Block(i, line) for i, line in enumerate(text.split("\n")) if line]


def collapse_whitespace(text: str) -> str:
    """Single spaces, no leading or trailing space: the form gold text is compared in."""
    return " ".join(text.split())
