"""The numba loops against their numpy or Python definitions."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.kernels import min_permuted, split_words
from transforms.minhash import permutations


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 2**32 - 1), max_size=6), max_size=6),
    st.integers(1, 9),
    st.integers(0, 3),
)
def test_compiled_minimum_equals_its_numpy_definition(shingles: list[list[int]], num_perm: int, seed: int) -> None:
    a, b = permutations(num_perm, seed)
    mixed = np.array([h for text in shingles for h in text], dtype=np.uint32)
    offsets = np.cumsum([0, *map(len, shingles)]).astype(np.int64)
    out = np.zeros((len(shingles), num_perm), dtype=np.uint32)
    min_permuted(mixed, offsets, a, b, out)
    for t, text in enumerate(shingles):
        h = np.array(text, dtype=np.uint64)
        permuted = (a.astype(np.uint64)[:, None] * h[None, :] + b.astype(np.uint64)[:, None]) % 2**32
        expected = permuted.min(axis=1) if len(text) else np.full(num_perm, 0xFFFFFFFF)
        assert out[t].tolist() == expected.tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ab ", max_size=12), max_size=8))
def test_split_words_equals_str_split(texts: list[str]) -> None:
    # Texts side by side in one buffer: a word at the end of one must not run into the next.
    chars = np.frombuffer("".join(texts).encode(), dtype=np.uint8)
    offsets = np.cumsum([0, *map(len, texts)]).astype(np.int64)
    words, word_offsets, counts = split_words(chars, offsets, np.uint8(ord(" ")))
    found = [words[a:b].tobytes().decode() for a, b in itertools.pairwise(word_offsets.tolist())]
    assert found == [w for t in texts for w in t.split()]
    assert counts.tolist() == [len(t.split()) for t in texts]
