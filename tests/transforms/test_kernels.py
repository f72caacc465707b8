"""The numba loops against their numpy or Python definitions."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.config import load_content_model
from transforms import kernels
from transforms.bulk import Texts
from transforms.clean import CleanConfig
from transforms.content import block_features
from transforms.kernels import best_spans, min_permuted, shared_key_pairs, split_words
from transforms.minhash import MinHashConfig, permutations, shingle_hashes, signatures
from transforms.neardup import NearDupConfig, candidate_pairs, exact_jaccard
from transforms.sitechrome import SiteStats
from transforms.tables import blocks_table, clean_documents


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


def _best_span(score: list[float]) -> tuple[int, int]:
    """The definition: the first (start, end) of largest sum, over every span, by brute force; (0, -1) if empty."""
    best, span = -np.inf, (0, -1)
    for end in range(len(score)):
        for start in range(end + 1):
            total = sum(score[start : end + 1])
            if total > best or (total == best and (end, start) < (span[1], span[0])):
                best, span = total, (start, end)
    return span


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.integers(-20, 20).map(float), max_size=7), max_size=5))
def test_best_spans_equal_brute_force_largest_sums(segments: list[list[float]]) -> None:
    score = np.array([x for seg in segments for x in seg], dtype=np.float64)
    starts = np.cumsum([0, *map(len, segments)]).astype(np.int64)
    first, last = best_spans(score, starts)
    for p, seg in enumerate(segments):
        a, b = int(first[p]), int(last[p])
        start, end = _best_span(seg)
        # Kadane drops a prefix that sums to 0, so the start may differ; the end (the first reaching the largest sum) and the sum may not.
        assert b == end
        assert sum(seg[a : b + 1]) == sum(seg[start : end + 1])


def _windowed_pairs(keys: np.ndarray, window: int) -> set[tuple[int, int]]:
    """The definition: in each column, positions with equal keys in ascending order, each with its next `window`."""
    found = set()
    for column in keys:
        runs: dict[int, list[int]] = {}
        for i, key in enumerate(column.tolist()):
            runs.setdefault(key, []).append(i)
        for run in runs.values():
            found |= {(run[a], run[b]) for a in range(len(run)) for b in range(a + 1, min(len(run), a + 1 + window))}
    return found


def _spread(small: np.ndarray) -> np.ndarray:
    # Small integers times an odd constant: equal stays equal, and the top bits (the radix) vary.
    return small.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 60), st.integers(1, 4), st.integers(1, 8), st.integers(1, 5), st.integers(0, 2**16))
def test_shared_key_pairs_equal_the_windowed_definition(n: int, columns: int, distinct: int, window: int, seed: int) -> None:
    keys = _spread(np.random.default_rng(seed).integers(0, distinct, size=(columns, n)))
    pairs = shared_key_pairs(keys, window)
    assert (pairs[:, 0] < pairs[:, 1]).all()
    assert set(map(tuple, pairs.tolist())) == _windowed_pairs(keys, window)


def test_shared_key_pairs_across_radix_partitions_and_one_huge_run() -> None:
    # 20,000 positions: 16 radix partitions; key 0 recurs 12,000 times (one partition outgrows the first table).
    rng = np.random.default_rng(3)
    small = rng.integers(1, 8000, size=(3, 20000))
    small[0, rng.choice(20000, size=12000, replace=False)] = 0
    keys = _spread(small)
    pairs = shared_key_pairs(keys, 4)
    assert set(map(tuple, pairs.tolist())) == _windowed_pairs(keys, 4)


NO_LINES = pd.DataFrame({"source": [], "key": [], "documents": []})


def test_precompile_covers_the_argument_types_a_run_uses() -> None:
    # `make install` calls precompile so that runs only load the loops: a run must need no other specialisation.
    loops = [
        kernels.min_permuted,
        kernels.split_words,
        kernels.sorted_sets,
        kernels.pair_jaccard,
        kernels.title_jaccard,
        kernels.shared_key_pairs,
        kernels.best_spans,
        kernels.byte_counts,
        kernels.siphash24,
        kernels.join_words,
        kernels.fold_shingles,
        kernels.clean_decisions,
        kernels.tree_ensemble_scores,
    ]
    kernels.precompile()
    compiled = [len(loop.signatures) for loop in loops]
    texts = [
        "The ferry resumed service on Thursday after storms.",
        "the ferry resumed service on thursday after storms",
        "Café au lait",
        "",
    ]
    sig = signatures(texts, MinHashConfig())
    pairs = candidate_pairs(sig, NearDupConfig(threshold=0.5))
    hashes, offsets = shingle_hashes(texts, 5)
    assert len(pairs) and exact_jaccard(pairs, hashes, offsets).tolist()
    bulk = Texts.of(texts)
    assert bulk.word_counts().words.tolist() == [8, 8, 3, 0] and bulk.token_counts().tolist() == [8, 8, 3, 0]
    assert bulk.words_joined().to_pylist()[1] == texts[1]
    assert bulk.case_counts().sentence_ends.tolist() == [1, 0, 0, 0]
    model = load_content_model()
    assert model.classifier.predict(np.zeros((1, len(model.classifier.feature_name())))).shape == (1,)
    page = pd.DataFrame({"doc_id": "d", "source": "s", "position": range(4), "text": texts, "key": texts})
    assert block_features(page, np.zeros(4, dtype=np.int64), {"d": 0}, {"d": texts[0]}, NO_LINES, {"s": 1})["title_sim"].iloc[0] == 1.0
    docs = pd.DataFrame({"doc_id": ["s/a", "s/b"], "source": "s", "title": [None, "Given"], "text": ["Ferry Resumes\n" + texts[0], ""]})
    assert clean_documents(docs, blocks_table(docs), SiteStats(), CleanConfig()).paragraphs["text"].tolist() == texts[:1]
    assert [len(loop.signatures) for loop in loops] == compiled


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(st.tuples(st.integers(0, 2), st.lists(st.integers(0, 6), max_size=6)), max_size=12),
    titles=st.lists(st.lists(st.integers(0, 6), max_size=4), min_size=3, max_size=3),
)
def test_title_jaccard_is_the_jaccard_of_word_sets_in_any_page_order(texts: list[tuple[int, list[int]]], titles: list[list[int]]) -> None:
    # Pages in any order, revisited too: a text is compared with its own page's title only.
    ids = np.array([w for _, words in texts for w in words], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum([len(words) for _, words in texts]))).astype(np.int64)
    title_ids = np.array([w for words in titles for w in words], dtype=np.int64)
    title_offsets = np.concatenate(([0], np.cumsum([len(words) for words in titles]))).astype(np.int64)
    page = np.array([p for p, _ in texts], dtype=np.int64)
    out = kernels.title_jaccard(ids, offsets, page, title_ids, title_offsets, 7).tolist()
    for (p, words), got in zip(texts, out, strict=True):
        a, b = set(words), set(titles[p])
        assert got == (len(a & b) / len(a | b) if a | b else 0.0)


@settings(max_examples=80, deadline=None)
@given(
    pages=st.lists(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=30), min_size=1, max_size=6),
    w=st.integers(0, 9),
)
def test_window_means_are_each_windows_sum_left_to_right_over_its_size(pages: list[list[float]], w: int) -> None:
    values = np.array([v for page in pages for v in page])
    sizes = np.array([len(p) for p in pages])
    page_start = np.repeat(np.cumsum(sizes) - sizes, sizes).astype(np.int64)
    page_end = page_start + np.repeat(sizes, sizes) - 1
    at = np.arange(len(values), dtype=np.int64)[::2].copy()
    expected = []
    for i in at.tolist():
        lo, hi = max(i - w, int(page_start[i])), min(i + w, int(page_end[i]))
        total = 0.0
        for v in values[lo : hi + 1].tolist():  # the definition: Python's float sum, in order
            total += v
        expected.append(total / (hi - lo + 1))
    assert kernels.window_means(values, page_start, page_end, w, at).tolist() == expected
