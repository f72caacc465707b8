from __future__ import annotations

import re
import sys
import unicodedata

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.blocks import Block, collapse_whitespace, normalize_text, normalize_texts, split_blocks
from transforms.tables import blocks_table

NORMALIZE_CASES = [
    # (id, input, expected, why)
    ("crlf", "a\r\nb\rc", "a\nb\nc", "CRLF and CR-only line endings become LF"),
    ("nbsp", "Kurdish\u00a0peshmerga", "Kurdish peshmerga", "NBSP is a plain space"),
    ("thin-space", "10\u2009000", "10 000", "odd spaces are plain spaces"),
    ("trailing", "text   \n  more", "text\nmore", "no leading or trailing spaces on a line"),
    ("zero-width", "zero\u200bwidth\u200e", "zerowidth", "zero-width and bidi marks carry no words"),
    ("nfc", "cafe\u0301", "caf\u00e9", "combining marks compose (NFC)"),
    ("runs", "a    b", "a b", "runs of spaces fold to one"),
    ("unchanged", "Plain text, kept.\n\nSecond line.", "Plain text, kept.\n\nSecond line.", "clean text does not change"),
    ("rtl-cjk", "שלום עולם\n北京欢迎你 😀", "שלום עולם\n北京欢迎你 😀", "right-to-left, CJK and emoji are kept"),
]


@pytest.mark.parametrize(("case_id", "raw", "expected", "why"), NORMALIZE_CASES, ids=[c[0] for c in NORMALIZE_CASES])
def test_normalize_text(case_id: str, raw: str, expected: str, why: str) -> None:
    assert normalize_text(raw) == expected, why


def test_normalize_is_idempotent_on_cases() -> None:
    for _, raw, _, _ in NORMALIZE_CASES:
        once = normalize_text(raw)
        assert normalize_text(once) == once


# Every character str.strip() strips, and the invisible and control ones normalize_text drops.
WHITE_SPACE = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
ODD = ["\u200b", "\u200e", "\u00ad", "\x00", "\x1b", "\x7f", "e", "\u0301"]


def normalize_line_by_line(text: str) -> str:
    """normalize_text's definition: every line stripped and its runs of spaces folded, one by one."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"\r\n|\r|\u2028|\u2029|\x85", "\n", text)
    text = re.sub(r"[\u200b-\u200d\u2060\ufeff\u200e\u200f\u202a-\u202e\u2066-\u2069\u00ad]", "", text)
    text = re.sub(r"[\x00-\x08\x0e-\x1f\x7f]", "", text)
    text = re.sub(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\f\v]", " ", text)
    return "\n".join(re.sub(r" {2,}", " ", line).strip() for line in text.split("\n"))


@given(st.text(alphabet=st.sampled_from([*WHITE_SPACE, *ODD, "a", "B", "."]), max_size=40))
def test_normalize_text_equals_its_line_by_line_definition(text: str) -> None:
    assert normalize_text(text) == normalize_line_by_line(text)


@given(st.lists(st.text(alphabet=st.sampled_from([*WHITE_SPACE, *ODD, "a", "B", "."]), max_size=12) | st.text("ab .\n", max_size=12)))
def test_normalize_texts_equals_the_definition_text_by_text(texts: list[str]) -> None:
    # Some passes rewrite only the texts they can change: the others must come out all the same.
    assert normalize_texts(texts) == [normalize_line_by_line(t) for t in texts]


def test_normalize_texts_keeps_a_missing_text_missing() -> None:
    assert normalize_texts([None, "caf\u0065\u0301 \r\n", "x  y"]) == [None, "caf\u00e9\n", "x y"]  # type: ignore[list-item]


def test_split_blocks_keeps_line_numbers() -> None:
    assert split_blocks("Title\n\nFirst para.\n\n\nSecond para.") == [
        Block(0, "Title"),
        Block(2, "First para."),
        Block(5, "Second para."),
    ]


def test_split_blocks_of_blank_text_is_empty() -> None:
    assert split_blocks("\n\n\n") == []


def test_collapse_whitespace() -> None:
    assert collapse_whitespace("  a \n b\t c ") == "a b c"


@settings(deadline=None)  # the first example loads the compiled word counter
@given(st.lists(st.text(alphabet=st.sampled_from(["\n", " ", "a", "B", "é", "\u2028", "."]), max_size=30), max_size=8))
def test_blocks_table_rows_are_split_blocks_of_each_document(texts: list[str]) -> None:
    docs = pd.DataFrame({"doc_id": [f"d{i:02d}" for i in range(len(texts))], "source": "s", "text": pd.Series(texts, dtype="str")})
    table = blocks_table(docs)
    expected = [(f"d{i:02d}", b.position, b.text) for i, t in enumerate(texts) for b in split_blocks(t)]
    assert list(zip(table["doc_id"], table["position"].tolist(), table["text"], strict=True)) == expected
    assert table["n_words"].tolist() == [len(t.split()) for _, _, t in expected]
