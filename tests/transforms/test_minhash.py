from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.minhash import (
    SCHEME,
    MinHashConfig,
    _word_hashes_of,
    datasketch_hashfunc,
    permutations,
    shingle_hashes,
    shingle_hashes_and_joined,
    shingles_as_bytes,
    signatures,
)

TEXTS = [
    "The quick brown fox jumps over the lazy dog near the river bank today.",
    "The quick brown fox jumps over the lazy cat near the river bank today.",
    "Two words",
    "",
    "Punctuation, only! And CASE differences; are ignored?",
    "北京 欢迎 你 and 😀 emoji",
]
CONFIG = MinHashConfig()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=20))
def test_word_hashes_equal_pandas_hash_array(words: list[str]) -> None:
    # Lengths around SipHash's 8-byte blocks, and multi-byte UTF-8.
    words = [*words, "abcdefg", "abcdefgh", "abcdefghi", "x" * 17, "é😀", "abcdefg"]
    expected = pd.util.hash_array(np.array(words, dtype=object), categorize=False)
    assert _word_hashes_of(pa.array(words, pa.large_string())).tolist() == expected.tolist()


def test_signatures_equal_datasketch_update_batch() -> None:
    sig = signatures(TEXTS, CONFIG)
    for text, row in zip(TEXTS, sig, strict=True):
        m = MinHash(num_perm=CONFIG.num_perm, seed=CONFIG.seed, hashfunc=datasketch_hashfunc)
        m.update_batch(shingles_as_bytes(text, CONFIG.shingle_size))
        assert np.array_equal(m.hashvalues, row), text


# ASCII punctuation and control bytes, letters that lowercase to longer strings, curly quotes and other
# non-ASCII punctuation and symbols (a cased one too: Ⓐ), digits.
_ALPHABET = st.sampled_from([*list("abcXYZ_09 ,.'\n\t\x00\x1f-"), "’", "“", "€", "é", "İ", "ß", "\xa0", "—", "½", "Ⓐ", "北"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(_ALPHABET, max_size=40), max_size=8))
def test_vectorised_words_equal_the_python_tokenizer(texts: list[str]) -> None:
    # Texts side by side in one buffer must not run into each other, and every path must give `\w+`.
    sig = signatures(texts, CONFIG)
    for text, row in zip(texts, sig, strict=True):
        m = MinHash(num_perm=CONFIG.num_perm, seed=CONFIG.seed, hashfunc=datasketch_hashfunc)
        m.update_batch(shingles_as_bytes(text, CONFIG.shingle_size))
        assert np.array_equal(m.hashvalues, row), text


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (1, 0), (7, 42), (256, 2**31 - 1)])
def test_permutations_are_datasketchs_own(num_perm: int, seed: int) -> None:
    a, b = permutations(num_perm, seed)
    expected_a, expected_b = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
    assert a.dtype == b.dtype == np.uint32
    assert a.tolist() == expected_a.tolist() and b.tolist() == expected_b.tolist()


def test_stored_signature_rebuilds_in_datasketch_and_jaccard_agrees() -> None:
    sig = signatures(TEXTS[:2], CONFIG)
    a = MinHash(hashvalues=sig[0], scheme=SCHEME, seed=CONFIG.seed)
    b = MinHash(hashvalues=sig[1], scheme=SCHEME, seed=CONFIG.seed)
    expected = float(np.mean(sig[0] == sig[1]))
    assert a.jaccard(b) == pytest.approx(expected)


def test_signatures_are_deterministic_and_order_free() -> None:
    first = signatures(TEXTS, CONFIG)
    again = signatures(list(reversed(TEXTS)), CONFIG)[::-1]
    assert np.array_equal(first, again)


def test_case_and_punctuation_do_not_change_a_signature() -> None:
    sig = signatures(["Hello, World! Again and again.", "hello world again and again"], CONFIG)
    assert np.array_equal(sig[0], sig[1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(_ALPHABET, max_size=60), max_size=8), st.integers(1, 7))
def test_shingle_hashes_equal_datasketch_hashfunc_of_each_shingle(texts: list[str], size: int) -> None:
    # Every shingle size, texts shorter and longer than it, and texts with no words at all.
    hashes, offsets = shingle_hashes(texts, size)
    folded = ((hashes >> np.uint64(32)) ^ (hashes & np.uint64(0xFFFFFFFF))).tolist()
    for t, text in enumerate(texts):
        expected = [datasketch_hashfunc(s) for s in shingles_as_bytes(text, size)]
        assert folded[offsets[t] : offsets[t + 1]] == expected, text


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.text(st.one_of(_ALPHABET, st.sampled_from(["Σ", "σ", "ς", "Α"])), max_size=40), st.integers(0, 3)), max_size=10)
)
def test_joined_texts_shingles_equal_the_shingles_of_the_joined_text(parts: list[tuple[str, int]]) -> None:
    # A document's text is its paragraphs joined by blank lines; final sigma is the one case-mapping that reads context.
    texts, group = [t for t, _ in parts], np.array([g for _, g in parts], dtype=np.int64)
    joined = ["\n\n".join(t for t, g in parts if g == k) for k in range(4)]
    (own, own_offsets), (whole, whole_offsets) = shingle_hashes_and_joined(texts, group, 4, 3)
    expected_own, expected_own_offsets = shingle_hashes(texts, 3)
    expected, expected_offsets = shingle_hashes(joined, 3)
    assert own.tolist() == expected_own.tolist() and own_offsets.tolist() == expected_own_offsets.tolist()
    assert whole.tolist() == expected.tolist() and whole_offsets.tolist() == expected_offsets.tolist()


def test_empty_text_has_no_shingles() -> None:
    hashes, offsets = shingle_hashes(["", "one"], 5)
    assert offsets.tolist() == [0, 0, 1]
    assert len(hashes) == 1


def test_a_text_signed_among_many_equals_it_signed_alone() -> None:
    texts = [f"paragraph {i} " + "word " * (i % 50) for i in range(3000)]
    sig = signatures(texts, CONFIG)
    for i in (0, 1, 1499, 2999):
        single = signatures([texts[i]], CONFIG)[0]
        assert np.array_equal(sig[i], single)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_perm": 0}, "num_perm must be in [1, 4096]"),
        ({"shingle_size": 0}, "shingle_size must be in [1, 32]"),
        ({"seed": -1}, "seed must be >= 0"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        MinHashConfig(**kwargs)
