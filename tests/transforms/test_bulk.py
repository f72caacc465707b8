"""RE2 over many texts at once must give exactly Python's answers, text by text."""

from __future__ import annotations

import re
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from transforms import content
from transforms.bulk import NOT_PLAIN, NOT_PLAIN_WORDS, Texts, large_strings
from transforms.clean import CleanConfig, _facts_of_one, block_facts
from transforms.repeats import HEADLINE_END, LETTER, repeat_key
from transforms.rules import CREDIT_TAIL, DEFAULT_RULES, RuleSet

# Words the patterns look for, so that random texts hit them often; the rest is noise around them.
VOCABULARY = [
    *"by By BY share Share home Home you are here sign up for our newsletter subscribe join the conversation".split(),
    *"Photo photo AP Reuters Getty Images AFP / > » › | © (c) Copyright all rights reserved comments Comments (3)".split(),
    *"related stories read more follow us on twitter tags: menu search advertisement log in register via for".split(),
    *"I'm I've i my me you your lol thanks thank the of and de la der não 12:30 3pm 9 am Jan 5 2024 01/02/2023".split(),
    *"www. http:// .com .co.uk PREM OPEC Andre Agassi (US) NEW YORK naïve café Zürich ’ “ ” — … • € £ ½ ٣".split(),
    *"Ⓐ Ⅻ K ſ İ ß \u00a0 \u2009 \x0b \x1c \x85 _ __init__ a_b A1 1st".split(),
]
SEPARATORS = ["", " ", " ", " ", "  ", "\t", ". ", ", ", ": ", "\n", " - ", " / "]
word = st.one_of(st.sampled_from(VOCABULARY), st.text(alphabet=st.characters(codec="utf-8"), max_size=4))
text = st.lists(st.tuples(word, st.sampled_from(SEPARATORS)), max_size=14).map(lambda parts: "".join(w + s for w, s in parts))
texts = st.lists(text, min_size=1, max_size=25)

SEARCHED = [
    (content._SENTENCE_END.pattern, False),
    (content._URL.pattern, True),
    (content._TIME.pattern, True),
    (content._DATE.pattern, True),
    (r"^[a-z]", False),
    (r"[A-Z]", False),
    (r"[a-z]", False),
    (LETTER.pattern, False),
    (HEADLINE_END.pattern, False),
    (CREDIT_TAIL.pattern, False),
    *[(r.pattern, r.ignore_case) for r in DEFAULT_RULES],
]
COUNTED = [
    (r"\w+", False),
    (r"\w", False),
    (r"\S+", False),
    (r"\b[A-Z]\w*", False),
    (content._DIGIT.pattern, False),
    (content._SYMBOLS.pattern, False),
    (content._FIRST_PERSON.pattern, True),
    (content._N_SENTENCES, False),
]


def test_plain_characters_mean_the_same_to_re2_and_python() -> None:
    """Every code point RE2 calls plain is, to Python, no word character, digit or space, and has no case."""
    chars = [chr(c) for c in range(0x80, sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    plain = ~pc.match_substring_regex(pa.array(chars, pa.large_string()), NOT_PLAIN).to_numpy(zero_copy_only=False)
    wrong = [
        c
        for c, ok in zip(chars, plain, strict=True)
        if ok and (re.match(r"[\w\s\d]", c) or c.lower() != c or c.upper() != c or c.casefold() != c or c.isupper() or c.islower())
    ]
    assert wrong == []
    # The pattern for word splitting differs only in ASCII (controls and line breaks are word breaks to both).
    plain_for_words = ~pc.match_substring_regex(pa.array(chars, pa.large_string()), NOT_PLAIN_WORDS).to_numpy(zero_copy_only=False)
    assert np.array_equal(plain_for_words, plain)
    ascii_chars = pa.array([chr(c) for c in range(0x80)], pa.large_string())
    assert not pc.any(pc.match_substring_regex(ascii_chars, NOT_PLAIN_WORDS)).as_py()
    assert Texts.of(["plain text, ‘quoted’ — €5 • ok\t", "café", "a\nb", "Ⓐ", "a\u00a0b"]).python_rows.tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize(("pattern", "ignore_case"), SEARCHED)
@settings(max_examples=40, deadline=None)
@given(texts=texts)
def test_search_equals_python(pattern: str, ignore_case: bool, texts: list[str]) -> None:
    compiled = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    assert Texts.of(texts).search(pattern, ignore_case).tolist() == [compiled.search(t) is not None for t in texts]


@pytest.mark.parametrize(("pattern", "ignore_case"), COUNTED)
@settings(max_examples=40, deadline=None)
@given(texts=texts)
def test_count_equals_python(pattern: str, ignore_case: bool, texts: list[str]) -> None:
    compiled = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    assert Texts.of(texts).count(pattern, ignore_case).tolist() == [len(compiled.findall(t)) for t in texts]


def test_a_count_that_looks_behind_its_start_is_wrong_in_re2() -> None:
    """Why count patterns are checked: RE2 restarts after each match as if the text began there."""
    assert pc.count_substring_regex(pa.array(["PREM"]), r"\b[A-Z]").to_pylist() == [4]
    assert Texts.of(["PREM"]).count(r"\b[A-Z]\w*").tolist() == [1]


@settings(max_examples=80, deadline=None)
@given(texts=texts)
def test_words_and_word_counts_equal_python(texts: list[str]) -> None:
    bulk = Texts.of(texts)
    assert bulk.words_joined().to_pylist() == [repeat_key(t) for t in texts]
    assert bulk.token_counts().tolist() == [len(t.split()) for t in texts]
    assert bulk.lengths().tolist() == [len(t) for t in texts]
    counts = bulk.word_counts()
    assert counts.words.tolist() == [len(re.findall(r"\w+", t)) for t in texts]
    assert counts.word_chars.tolist() == [len(re.sub(r"\W+", "", t)) for t in texts]
    assert counts.capitalised.tolist() == [len(re.findall(r"\b[A-Z]\w*", t)) for t in texts]
    assert counts.digits.tolist() == [len(re.findall(r"\d", t)) for t in texts]


@settings(max_examples=80, deadline=None)
@given(texts=texts)
@example(texts=["Ends here. And here!", "What? No", "ALL CAPS.", "all caps.", "...", "x.\ty!", "¿Qué? SÍ.", ""])
def test_case_counts_equal_python(texts: list[str]) -> None:
    bulk = Texts.of(texts)
    bulk.word_counts()  # the counts share one pass: asking for another first changes nothing
    case = bulk.case_counts()
    assert case.upper.tolist() == [len(re.findall(r"[A-Z]", t)) for t in texts]
    assert case.lower.tolist() == [len(re.findall(r"[a-z]", t)) for t in texts]
    assert case.sentence_ends.tolist() == [len(re.findall(r"[.!?](?:\s|$)", t)) for t in texts]
    assert case.starts_lower.tolist() == [re.match(r"[a-z]", t) is not None for t in texts]
    assert bulk.word_counts().words.tolist() == [len(re.findall(r"\w+", t)) for t in texts]


WORD_COUNT_CASES = [
    # (text, words, word characters, capitalised words, digits, tokens)
    ("Zebra crossing at 10:45", 5, 19, 1, 4, 4),
    ("“Quoted” — said A_B\tin 2024…", 5, 19, 2, 4, 6),
    ("", 0, 0, 0, 0, 0),
    ("---", 0, 0, 0, 0, 1),
    ("naïve Zürich", 2, 11, 1, 0, 2),  # not plain: Python's engine
]


def test_word_and_token_counts_on_cases() -> None:
    bulk = Texts.of([case[0] for case in WORD_COUNT_CASES])
    counts = bulk.word_counts()
    got = zip(counts.words, counts.word_chars, counts.capitalised, counts.digits, bulk.token_counts(), strict=True)
    assert [tuple(int(v) for v in row) for row in got] == [case[1:] for case in WORD_COUNT_CASES]


@settings(max_examples=80, deadline=None)
@given(texts=texts)
def test_take_keeps_the_python_rows(texts: list[str]) -> None:
    bulk = Texts.of(texts)
    rows = np.arange(len(texts))[::-2]
    taken = bulk.take(rows)
    assert taken.array.to_pylist() == [texts[i] for i in rows]
    assert taken.python_rows.tolist() == Texts.of([texts[i] for i in rows]).python_rows.tolist()


@settings(max_examples=80, deadline=None)
@given(texts=texts, count=st.integers(0, 12))
def test_head_keeps_the_python_rows(texts: list[str], count: int) -> None:
    head = Texts.of(texts).head(count)
    assert head.array.to_pylist() == texts[:count]
    assert head.python_rows.tolist() == Texts.of(texts[:count]).python_rows.tolist()


@settings(max_examples=80, deadline=None)
@given(texts=texts)
def test_text_features_equal_one_by_one(texts: list[str]) -> None:
    fast, slow = content._text_features(texts), content.text_features_one_by_one(texts)
    for name in slow:
        np.testing.assert_allclose(fast[name], slow[name], err_msg=name)


# Texts longer than every rule's word limit are never searched: the rows searched are a subset.
_LONG_THEN_CHROME = ["Sign up for our newsletter " + "word " * 100, "Sign up for our newsletter", "word " * 90, "Follow us on Twitter"]
# Rules are searched over the texts shortest first: matches of rules with any word limit, in texts
# of any length order, some in Python's engine (not plain).
_MIXED_CHROME = [
    "Share this " + "word " * 20,  # over share_prompt's limit of 12 words
    "Copyright © 2024 Ünïcode Média. All rights reserved. " + "word " * 30,
    "Share this " + "word " * 10,  # at share_prompt's limit
    "Share this",
    "Home > News > Wörld",
    "Photo: Jane Doe / AP Photo",
    "Sign up for our newsletter",
    "Advertisement",
]


@settings(max_examples=80, deadline=None)
@given(texts=texts)
@example(texts=_LONG_THEN_CHROME)
@example(texts=_MIXED_CHROME)
def test_rule_matches_equal_one_by_one(texts: list[str]) -> None:
    rules = RuleSet()
    n_words = np.array([len(t.split()) for t in texts])
    expected = [rules.match(t, n) for t, n in zip(texts, n_words.tolist(), strict=True)]
    assert rules.match_all(texts, n_words) == expected
    assert rules.match_all(texts, n_words, Texts.of(pa.array(texts, pa.string()))) == expected  # the flow's Arrow column


@settings(max_examples=80, deadline=None)
@given(texts=texts)
@example(texts=_LONG_THEN_CHROME)
def test_block_facts_equal_one_by_one(texts: list[str]) -> None:
    config = CleanConfig()
    expected = _facts_of_one(texts, config)
    assert block_facts(texts, config) == expected
    assert block_facts(texts, config, bulk=Texts.of(pa.array(texts, pa.string()))) == expected


@pytest.mark.parametrize(
    "values",
    [
        ["a", "", "ü"],
        pd.Series(["a", "", "ü"]),
        pd.Series(["a", "", "ü"], dtype=object),
        pd.concat([pd.Series(["a"]), pd.Series(["", "ü"])], ignore_index=True),
        pa.chunked_array([pa.array(["a"]), pa.array(["", "ü"])]),
    ],
)
def test_large_strings_of_any_column(values: object) -> None:
    out = large_strings(values)
    assert isinstance(out, pa.LargeStringArray)
    assert out.to_pylist() == ["a", "", "ü"]


def test_large_strings_of_an_empty_column_of_no_type() -> None:
    # pandas gives an empty column float64, and pyarrow makes it a chunked array of another string type.
    out = large_strings(pd.DataFrame({"key": []})["key"])
    assert isinstance(out, pa.LargeStringArray) and len(out) == 0
