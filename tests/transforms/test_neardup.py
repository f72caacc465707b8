from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.minhash import MinHashConfig, shingle_hashes, signatures_from_shingles
from transforms.neardup import BAND_CHUNK, NearDupConfig, band_keys, clusters, exact_jaccard, pairs_from_band_keys, verified_pairs


def _fixture(seed: int = 7) -> list[str]:
    """Base paragraphs and edited copies: some just above, some just below the threshold."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(400)]
    texts = []
    for _ in range(120):
        base = [rng.choice(vocab) for _ in range(rng.randint(20, 60))]
        texts.append(" ".join(base))
        for edits in (0, 1, 2, 4, 8):
            copy = list(base)
            for _ in range(edits):
                copy[rng.randrange(len(copy))] = rng.choice(vocab)
            texts.append(" ".join(copy))
    return texts


def _exact_pairs(hashes: np.ndarray, offsets: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    n = len(offsets) - 1
    pairs = np.array(list(itertools.combinations(range(n), 2)), dtype=np.int64)
    sims = exact_jaccard(pairs, hashes, offsets)
    return {tuple(p) for p, s in zip(pairs.tolist(), sims, strict=True) if s >= threshold}


def test_near_duplicate_pairs_equal_exact_jaccard_pairs() -> None:
    texts = _fixture()
    cfg = MinHashConfig()
    hashes, offsets = shingle_hashes(texts, cfg.shingle_size)
    sig = signatures_from_shingles(hashes, offsets, cfg)
    nd = NearDupConfig(threshold=0.8)
    found, sims = verified_pairs(sig, lambda idx: shingle_hashes([texts[i] for i in idx], cfg.shingle_size), nd)
    truth = _exact_pairs(hashes, offsets, nd.threshold)
    found_set = {tuple(p) for p in found.tolist()}
    assert len(truth) > 150
    # Every reported pair is a true pair (verified exactly); banding may miss a few right at 0.8.
    assert found_set <= truth
    assert len(found_set) / len(truth) >= 0.98
    assert (sims >= 0.8).all()


def test_pairs_clear_of_the_threshold_are_all_found() -> None:
    texts = [t for i, t in enumerate(_fixture(seed=11)) if i % 6 in (0, 1, 2)]  # copies with 0 or 1 edit
    cfg = MinHashConfig()
    hashes, offsets = shingle_hashes(texts, cfg.shingle_size)
    sig = signatures_from_shingles(hashes, offsets, cfg)
    found, _ = verified_pairs(sig, lambda idx: shingle_hashes([texts[i] for i in idx], cfg.shingle_size), NearDupConfig(threshold=0.8))
    assert {tuple(p) for p in found.tolist()} == _exact_pairs(hashes, offsets, 0.8)


def test_clusters_pick_smallest_rank_whatever_the_order() -> None:
    edges = np.array([[0, 1], [1, 2], [3, 4]], dtype=np.int64)
    rank = np.array([5, 1, 3, 0, 9], dtype=np.int64)
    canonical, sizes = clusters(5, edges, rank)
    assert canonical.tolist() == [1, 1, 1, 3, 3]
    assert sizes.tolist() == [3, 3, 3, 2, 2]


def test_singletons_are_their_own_canonical() -> None:
    canonical, sizes = clusters(3, np.zeros((0, 2), dtype=np.int64), np.arange(3))
    assert canonical.tolist() == [0, 1, 2] and sizes.tolist() == [1, 1, 1]


def test_candidate_miss_rate_is_small_at_16x8() -> None:
    assert NearDupConfig().candidate_miss_rate < 0.01


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 1.5}, "threshold must be in [0.0, 1.0]"),
        ({"bands": 0}, "bands and rows must be >= 1"),
        ({"bucket_window": 0}, "bucket_window must be >= 1"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        NearDupConfig(**kwargs)  # type: ignore[arg-type]


def test_bands_times_rows_must_fit_num_perm() -> None:
    with pytest.raises(ValueError, match=r"bands \* rows must be <= num_perm \(64\)"):
        NearDupConfig(bands=16, rows=8).check_num_perm(64)


def _set_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = set(a.tolist()), set(b.tolist())
    union = len(sa | sb)
    return len(sa & sb) / union if union else 0.0


def test_exact_jaccard_equals_set_jaccard_for_copies_edits_and_empty_texts() -> None:
    texts = [*_fixture(seed=3)[:60], "", "", "one two", "a b c d e a b c d e a b c d e"]
    cfg = MinHashConfig()
    hashes, offsets = shingle_hashes(texts, cfg.shingle_size)
    pairs = np.array(list(itertools.combinations(range(len(texts)), 2)), dtype=np.int64)
    sims = exact_jaccard(pairs, hashes, offsets)
    expected = [_set_jaccard(hashes[offsets[i] : offsets[i + 1]], hashes[offsets[j] : offsets[j + 1]]) for i, j in pairs.tolist()]
    assert sims.tolist() == expected
    assert (sims == 1.0).sum() >= 10  # the fixture's unedited copies


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 9), max_size=12), min_size=2, max_size=8))
def test_exact_jaccard_of_any_multisets_equals_set_jaccard(segments: list[list[int]]) -> None:
    # Few distinct values: repeats inside a text, empty texts and equal sets in any order all occur.
    hashes = np.array([h for segment in segments for h in segment], dtype=np.uint64)
    offsets = np.cumsum([0, *map(len, segments)]).astype(np.int64)
    pairs = np.array(list(itertools.combinations(range(len(segments)), 2)), dtype=np.int64)
    expected = [_set_jaccard(np.array(segments[i]), np.array(segments[j])) for i, j in pairs.tolist()]
    assert exact_jaccard(pairs, hashes, offsets).tolist() == expected


@pytest.mark.parametrize("ascending", [True, False])
def test_band_pairs_are_exactly_the_pairs_sharing_a_band(ascending: bool) -> None:
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 6, size=(300, 4)).astype(np.uint64)  # small key range: many shared buckets
    items = np.arange(10, 310, dtype=np.int64) if ascending else rng.permutation(np.arange(10, 910, 3, dtype=np.int64))
    found = pairs_from_band_keys(keys, items, NearDupConfig(bands=4, rows=1, bucket_window=400))
    expected = sorted(
        tuple(sorted((int(items[i]), int(items[j])))) for i, j in itertools.combinations(range(len(items)), 2) if (keys[i] == keys[j]).any()
    )
    assert [tuple(p) for p in found.tolist()] == expected


def test_band_keys_fold_each_bands_rows_in_chunks_and_across_them() -> None:
    rng = np.random.default_rng(9)
    sig = rng.integers(0, 2**32, size=(BAND_CHUNK + 37, 128), dtype=np.uint64).astype(np.uint32)
    keys = band_keys(sig, 16, 8)
    for i in (0, BAND_CHUNK - 1, BAND_CHUNK, BAND_CHUNK + 36):
        for b in (0, 7, 15):
            expected = 0
            for r in range(8):
                expected = (expected * 0x100000001B3 + int(sig[i, b * 8 + r]) + r + 1) % 2**64
            assert int(keys[i, b]) == expected
