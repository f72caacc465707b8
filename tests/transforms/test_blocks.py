from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from transforms.blocks import Block, collapse_whitespace, normalize_text, split_blocks
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


@given(st.lists(st.text(alphabet=st.sampled_from(["\n", " ", "a", "B", "é", "\u2028", "."]), max_size=30), max_size=8))
def test_blocks_table_rows_are_split_blocks_of_each_document(texts: list[str]) -> None:
    docs = pd.DataFrame({"doc_id": [f"d{i:02d}" for i in range(len(texts))], "source": "s", "text": pd.Series(texts, dtype="str")})
    table = blocks_table(docs)
    expected = [(f"d{i:02d}", b.position, b.text) for i, t in enumerate(texts) for b in split_blocks(t)]
    assert list(zip(table["doc_id"], table["position"].tolist(), table["text"], strict=True)) == expected
    assert table["n_words"].tolist() == [len(t.split()) for _, _, t in expected]
