"""Near-duplicate clusters: LSH banding for candidates, exact Jaccard to verify, components to cluster.

Banding at 16 bands x 8 rows finds a pair of Jaccard s with probability 1 - (1 - s**8)**16: 0.99
at s = 0.8, so candidates are found at a lower similarity than the threshold and every candidate
is then checked by the exact Jaccard of its shingle sets. Clusters are the connected components of
verified edges; the canonical member is the one with the smallest sort key the caller gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

I64 = npt.NDArray[np.int64]
_EMPTY = np.uint32(0xFFFFFFFF)
BAND_CHUNK = 8192


@dataclass(frozen=True)
class NearDupConfig:
    """Similarity threshold (exact word-shingle Jaccard) and the banding that proposes candidates."""

    threshold: float = 0.8
    bands: int = 16
    rows: int = 8
    bucket_window: int = 64

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be in [0.0, 1.0]")
        if self.bands < 1 or self.rows < 1:
            raise ValueError("bands and rows must be >= 1")
        if self.bucket_window < 1:
            raise ValueError("bucket_window must be >= 1")

    def check_num_perm(self, num_perm: int) -> None:
        if self.bands * self.rows > num_perm:
            raise ValueError(f"bands * rows must be <= num_perm ({num_perm})")

    @property
    def candidate_miss_rate(self) -> float:
        """Expected share of pairs at or above the threshold that banding misses (datasketch's integral)."""
        from datasketch.lsh import _false_negative_probability  # imports scipy.integrate: only where asked

        width = 1.0 - self.threshold
        return float(_false_negative_probability(self.threshold, self.bands, self.rows)) / width if width else 0.0


def band_keys(signatures: npt.NDArray[np.uint32], bands: int, rows: int) -> npt.NDArray[np.uint64]:
    """One 64-bit key per (item, band): the band's rows folded polynomially."""
    n = signatures.shape[0]
    keys = np.zeros((n, bands), dtype=np.uint64)
    # Band b folds columns b*rows .. b*rows+rows-1. In chunks of items, so the arrays stay in cache.
    with np.errstate(over="ignore"):
        for lo in range(0, n, BAND_CHUNK):
            chunk = signatures[lo : lo + BAND_CHUNK, : bands * rows].reshape(-1, bands, rows).astype(np.uint64)
            acc = np.zeros(chunk.shape[:2], dtype=np.uint64)
            for r in range(rows):
                acc = acc * np.uint64(0x100000001B3) + chunk[:, :, r] + np.uint64(r + 1)
            keys[lo : lo + BAND_CHUNK] = acc
    return keys


def nonempty_rows(signatures: npt.NDArray[np.uint32]) -> I64:
    """Rows that have at least one shingle (an empty text's signature is all 0xFFFFFFFF)."""
    empty = signatures[:, 0] == _EMPTY
    empty[empty] = np.all(signatures[empty] == _EMPTY, axis=1)
    return np.flatnonzero(~empty)


def pairs_from_band_keys(keys: npt.NDArray[np.uint64], items: I64, config: NearDupConfig) -> I64:
    """Unique (i, j), i < j, of `items` whose rows of `keys` (items x bands) share a band.

    Keys can come from several partitions: only their order matters, so the pairs are the same
    whichever process computed them.
    """
    if len(items) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    from transforms.kernels import shared_key_pairs  # numba's import is paid where pairs are found

    # Band-major, so each band's keys are read in order.
    positions = shared_key_pairs(np.ascontiguousarray(keys.T), config.bucket_window)
    if not len(positions):
        return np.zeros((0, 2), dtype=np.int64)
    # One int64 per pair (np.unique over rows sorts a void view and takes seconds), made unique by
    # hashing before anything is sorted: a pair comes out once per band it shares, 16 times as many
    # positions as pairs on the bench corpus, and sorting them all cost 3-5x more.
    n = np.int64(len(items))
    found = pd.unique(positions[:, 0] * n + positions[:, 1])
    first, second = items[found // n], items[found % n]
    span = np.int64(int(items.max()) + 1)
    packed = np.sort(np.minimum(first, second) * span + np.maximum(first, second))
    return np.stack([packed // span, packed % span], axis=1)


def candidate_pairs(signatures: npt.NDArray[np.uint32], config: NearDupConfig) -> I64:
    """Unique (i, j), i < j, that share at least one band; items with no shingles never pair."""
    config.check_num_perm(signatures.shape[1])
    nonempty = nonempty_rows(signatures)
    if len(nonempty) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    # Index only when some rows are empty: a fancy index copies the whole matrix.
    keys = band_keys(signatures if len(nonempty) == len(signatures) else signatures[nonempty], config.bands, config.rows)
    return pairs_from_band_keys(keys, nonempty, config)


def exact_jaccard(pairs: I64, hashes: npt.NDArray[np.uint64], offsets: I64) -> npt.NDArray[np.float64]:
    """Exact Jaccard of the shingle sets of each pair (0.0 for two empty sets)."""
    from transforms.kernels import pair_jaccard, sorted_sets  # numba's import is paid where pairs are checked

    sets, set_offsets = sorted_sets(np.ascontiguousarray(hashes, dtype=np.uint64), np.ascontiguousarray(offsets, dtype=np.int64))
    out: npt.NDArray[np.float64] = pair_jaccard(sets, set_offsets, np.ascontiguousarray(pairs, dtype=np.int64).reshape(-1, 2))
    return out


def verified_pairs(
    signatures: npt.NDArray[np.uint32], shingle: Callable[[I64], tuple[npt.NDArray[np.uint64], I64]], config: NearDupConfig
) -> tuple[I64, npt.NDArray[np.float64]]:
    """Candidate pairs whose exact Jaccard is at least the threshold, with that Jaccard.

    `shingle(indices)` gives the shingle hashes and offsets of those items; only items that appear
    in a candidate pair are shingled again.
    """
    return verify_pairs(candidate_pairs(signatures, config), shingle, config)


def verify_pairs(
    pairs: I64, shingle: Callable[[I64], tuple[npt.NDArray[np.uint64], I64]], config: NearDupConfig
) -> tuple[I64, npt.NDArray[np.float64]]:
    """The pairs whose exact shingle-set Jaccard is at least the threshold, with that Jaccard."""
    involved = np.unique(pairs) if len(pairs) else np.zeros(0, dtype=np.int64)
    hashes, offsets = shingle(involved)
    sims = exact_jaccard(np.searchsorted(involved, pairs), hashes, offsets)
    keep = sims >= config.threshold
    return pairs[keep], sims[keep]


def clusters(n: int, edges: I64, sort_rank: I64) -> tuple[I64, I64]:
    """Connected components of the edges: each item's canonical item and its cluster size.

    `sort_rank[i]` orders items (smallest first); the canonical item of a component is its member
    of smallest rank, so the choice does not depend on input order.
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])) if len(edges) else ([], ([], [])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    order = np.lexsort((sort_rank, labels))
    first_of_label = np.full(labels.max() + 1, -1, dtype=np.int64)
    # Walk members sorted by (label, rank) backwards so the smallest rank is written last.
    first_of_label[labels[order[::-1]]] = order[::-1]
    canonical = first_of_label[labels]
    sizes = np.bincount(labels)[labels]
    return canonical.astype(np.int64), sizes.astype(np.int64)
