"""Regex work over many texts at once, with exactly Python's answers.

A Python loop over half a million blocks costs seconds per pattern; RE2 (through pyarrow) runs one
pattern over all of them in milliseconds. The two engines agree only where RE2's ASCII classes
(\\w \\d \\s \\b) and case folding mean what Python's Unicode ones mean: on text made of printable
ASCII, tabs, and punctuation or symbols that have no case. Such texts ("plain", 99.5% of the
corpus's blocks) go to RE2; the others go to Python's `re` with the same pattern (or to the
compiled `regex` pattern a caller passes). Only patterns
written in this package go through here (each is tested against `re` on arbitrary text); users'
rules keep Python's engine.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

# A character outside the plain set: not printable ASCII or tab, not punctuation or a symbol, or one
# of the few symbols that Python treats as cased or as part of an identifier (circled letters, ...).
# tests/transforms/test_bulk.py checks every code point against Python's own view.
_WORDLIKE_SYMBOLS = r"[\x{2118}\x{212e}\x{24b6}-\x{24e9}\x{1f130}-\x{1f149}\x{1f150}-\x{1f169}\x{1f170}-\x{1f189}]"
NOT_PLAIN = r"[^\t\x20-\x7e\p{P}\p{S}]|" + _WORDLIKE_SYMBOLS
# For splitting into words only, every ASCII character is plain: a line break or a control character
# is a word break to Python's `\w+` and a space in WORD_BYTES alike. (With NOT_PLAIN, a document of
# many lines with one curly quote went to Python's regex whole.)
NOT_PLAIN_WORDS = r"[^\x00-\x7f\p{P}\p{S}]|" + _WORDLIKE_SYMBOLS


@cache
def _byte_classes() -> npt.NDArray[np.uint8]:
    """What `\\w`, `[A-Z]`, `[a-z]`, `\\d`, `\\S` and `[.!?]` match in a plain text, byte by byte, as `kernels.byte_counts` class bits.

    Every non-ASCII character of a plain text is punctuation or a symbol (no UTF-8 byte of one is
    below 0x80), and a plain text holds no white space but spaces and tabs.
    """
    from transforms.kernels import DIGIT_BIT, LOWER_BIT, STOP_BIT, TOKEN_BIT, UPPER_BIT, WORD_BIT

    table = np.full(256, TOKEN_BIT, dtype=np.uint8)
    table[list(b" \t")] = 0
    for chars, bit in (
        (string.ascii_letters + string.digits + "_", WORD_BIT),
        (string.ascii_uppercase, UPPER_BIT),
        (string.ascii_lowercase, LOWER_BIT),
        (string.digits, DIGIT_BIT),
        (".!?", STOP_BIT),
    ):
        table[list(chars.encode("ascii"))] |= bit
    return table


# Byte -> byte for plain texts: ASCII letters lowercased, digits and "_" kept, every other byte a space
# (in a plain text every non-ASCII character is punctuation or a symbol: never part of a word).
SPACE = 0x20
WORD_BYTES = np.array([ord(chr(c).lower()) if c < 0x80 and (chr(c).isalnum() or c == 0x5F) else SPACE for c in range(256)], dtype=np.uint8)


def large_strings(values: Any) -> pa.LargeStringArray:
    """A column (pandas Series of strings, list, Arrow array) as one Arrow large-string array; an Arrow column is not copied to Python."""
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, pa.large_string())
    if isinstance(array, pa.ChunkedArray):  # what pyarrow makes of some pandas columns, in chunks of any string type
        return pa.chunked_array([c.cast(pa.large_string()) for c in array.chunks], pa.large_string()).combine_chunks()
    return array.cast(pa.large_string())


def utf8_buffer(array: pa.Array) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """A string array's UTF-8 bytes, concatenated, and each text's byte offset into them (n + 1 offsets)."""
    arr = array.cast(pa.large_string()).fill_null("")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    return raw[offsets[0] : offsets[-1]], offsets - offsets[0]


@dataclass(frozen=True)
class WordCounts:
    r"""Per text: `\w+` words, the characters in them, words that start with A-Z, and `\d` digits."""

    words: npt.NDArray[np.int64]
    word_chars: npt.NDArray[np.int64]
    capitalised: npt.NDArray[np.int64]
    digits: npt.NDArray[np.int64]


@dataclass(frozen=True)
class CaseCounts:
    r"""Per text: `[A-Z]` and `[a-z]` matches, `[.!?](?:\s|$)` matches, and whether it starts with `[a-z]`."""

    upper: npt.NDArray[np.int64]
    lower: npt.NDArray[np.int64]
    sentence_ends: npt.NDArray[np.int64]
    starts_lower: npt.NDArray[np.bool_]


class Searcher(Protocol):
    """A compiled pattern of `re` or `regex`."""

    def search(self, string: str, /) -> Any: ...


@dataclass(frozen=True)
class Texts:
    """Texts as one Arrow array, and the rows that need Python's engine."""

    array: pa.LargeStringArray
    python_rows: npt.NDArray[np.int64]

    @classmethod
    def of(cls, texts: Any) -> Texts:
        """Texts of any column `large_strings` reads (a list, a pandas Series, an Arrow array)."""
        array = large_strings(texts)
        not_plain = pc.match_substring_regex(array, NOT_PLAIN).to_numpy(zero_copy_only=False)
        return cls(array, np.flatnonzero(not_plain))

    def take(self, rows: npt.NDArray[np.int64]) -> Texts:
        """The texts at `rows`, in that order."""
        position = np.full(len(self.array), -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        moved = position[self.python_rows]
        return Texts(self.array.take(pa.array(rows, pa.int64())), np.sort(moved[moved >= 0]))

    def head(self, count: int) -> Texts:
        """The first `count` texts (a slice of the same array, not a copy)."""
        return Texts(self.array.slice(0, count), self.python_rows[: int(np.searchsorted(self.python_rows, count))])

    def python_texts(self) -> list[str]:
        return self.array.take(pa.array(self.python_rows, pa.int64())).to_pylist()  # type: ignore[no-any-return]

    def search(self, pattern: str, ignore_case: bool = False, python: Searcher | None = None) -> npt.NDArray[np.bool_]:
        """For each text, whether `pattern` is found in it (Python's `re.search`, or `python.search` when given)."""
        found = pc.match_substring_regex(self.array, pattern, ignore_case=ignore_case).to_numpy(zero_copy_only=False).copy()
        if len(self.python_rows):
            compiled = python or re.compile(pattern, re.IGNORECASE if ignore_case else 0)
            found[self.python_rows] = [compiled.search(t) is not None for t in self.python_texts()]
        return found  # type: ignore[no-any-return]

    def count(self, pattern: str, ignore_case: bool = False) -> npt.NDArray[np.int64]:
        """How many matches `re.findall` finds in each text.

        RE2 counts by searching again from the end of each match as if the text began there, so a
        pattern must not look behind its start (`\\b[A-Z]` counts every capital of "PREM"; `\\b[A-Z]\\w*` is
        right) and must not match empty text. tests/transforms/test_bulk.py checks each pattern used.
        """
        found = pc.count_substring_regex(self.array, pattern, ignore_case=ignore_case)
        counts: npt.NDArray[np.int64] = found.to_numpy(zero_copy_only=False).astype(np.int64)
        if len(self.python_rows):
            compiled = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
            counts[self.python_rows] = [len(compiled.findall(t)) for t in self.python_texts()]
        return counts

    def word_counts(self) -> WordCounts:
        """`len(re.findall(p, t))` for p in `\\w+`, `\\b[A-Z]\\w*` and `\\d`, and `len(re.sub(r"\\W+", "", t))`, per text."""
        table = self._byte_counts
        counts = WordCounts(*(table[:, k].copy() for k in range(4)))  # copies: the table is kept for the other counts
        for row, text in zip(self.python_rows.tolist(), self.python_texts(), strict=True):
            counts.words[row] = len(_WORD.findall(text))
            counts.word_chars[row] = len(_NOT_WORD.sub("", text))
            counts.capitalised[row] = len(_CAPITALISED.findall(text))
            counts.digits[row] = len(_DIGIT.findall(text))
        return counts

    def token_counts(self) -> npt.NDArray[np.int64]:
        """How many white-space separated tokens each text has (`len(re.findall(r"\\S+", t))`, `len(t.split())`)."""
        out = self._byte_counts[:, 4].copy()
        for row, text in zip(self.python_rows.tolist(), self.python_texts(), strict=True):
            out[row] = len(_TOKEN.findall(text))
        return out

    def case_counts(self) -> CaseCounts:
        """`len(re.findall(p, t))` for p in `[A-Z]`, `[a-z]` and `[.!?](?:\\s|$)`, and `re.match("[a-z]", t)`, per text."""
        table = self._byte_counts
        counts = CaseCounts(table[:, 5].copy(), table[:, 6].copy(), table[:, 7].copy(), table[:, 8] == 1)
        for row, text in zip(self.python_rows.tolist(), self.python_texts(), strict=True):
            counts.upper[row] = len(_UPPER.findall(text))
            counts.lower[row] = len(_LOWER.findall(text))
            counts.sentence_ends[row] = len(_SENTENCE_STOP.findall(text))
            counts.starts_lower[row] = _LOWER.match(text) is not None
        return counts

    @cached_property
    def _byte_counts(self) -> npt.NDArray[np.int64]:
        # One compiled pass over the UTF-8 buffer for every count above, made once per Texts: a numpy
        # pass per byte class cost 0.5 s per partition.
        from transforms.kernels import byte_counts

        raw, offsets = utf8_buffer(self.array)
        return byte_counts(raw, np.ascontiguousarray(offsets, dtype=np.int64), _byte_classes())

    def lengths(self) -> npt.NDArray[np.int64]:
        """Length of each text in characters, as `len`."""
        return pc.utf8_length(self.array).to_numpy(zero_copy_only=False).astype(np.int64)  # type: ignore[no-any-return]

    def words_joined(self) -> pa.LargeStringArray:
        """Each text casefolded, its `\\w+` words joined by one space (`" ".join(re.findall(r"\\w+", t.casefold()))`)."""
        # A compiled byte map over the UTF-8 buffer: RE2 replacing every run of non-word bytes cost 0.5 s per partition.
        from transforms.kernels import join_words

        raw, offsets = utf8_buffer(self.array)
        chars, joined_offsets = join_words(raw, np.ascontiguousarray(offsets, dtype=np.int64), WORD_BYTES, np.uint8(SPACE))
        joined = pa.LargeStringArray.from_buffers(len(self.array), pa.py_buffer(joined_offsets), pa.py_buffer(chars))
        if not len(self.python_rows):
            return joined
        mask = np.zeros(len(joined), dtype=bool)
        mask[self.python_rows] = True
        exact = [" ".join(_WORD.findall(text.casefold())) for text in self.python_texts()]
        return pc.replace_with_mask(joined, pa.array(mask), pa.array(exact, pa.large_string()))


_WORD = re.compile(r"\w+")
_NOT_WORD = re.compile(r"\W+")
_CAPITALISED = re.compile(r"\b[A-Z]\w*")
_DIGIT = re.compile(r"\d")
_TOKEN = re.compile(r"\S+")
_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")
_SENTENCE_STOP = re.compile(r"[.!?](?:\s|$)")
