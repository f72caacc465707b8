"""Near-duplicate paragraphs and documents across the corpus, with a deterministic canonical copy.

Canonical rule: within a cluster, the copy from the document published first wins (documents with
no `published` value come after those with one; ISO 8601 strings compare correctly), then the
smallest doc_id, then the smallest position. It depends only on the set of copies, never on the
order files were listed or processed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from transforms.bulk import large_strings
from transforms.minhash import MinHashConfig, shingle_hashes, shingle_hashes_and_joined, signatures_from_shingles
from transforms.neardup import NearDupConfig, band_keys, clusters, nonempty_rows, pairs_from_band_keys, verify_pairs

_LAST = "\uffff"


@dataclass(frozen=True)
class DedupConfig:
    """Signatures and thresholds for paragraphs, whole documents, and the site-chrome document groups."""

    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    paragraphs: NearDupConfig = field(default_factory=NearDupConfig)
    documents: NearDupConfig = field(default_factory=NearDupConfig)
    # Raw pages of one article share their chrome too, so grouping them for site-chrome counts asks
    # for more overlap than the syndication threshold does.
    raw_documents: NearDupConfig = field(default_factory=lambda: NearDupConfig(threshold=0.9))

    def __post_init__(self) -> None:
        for nd in (self.paragraphs, self.documents, self.raw_documents):
            nd.check_num_perm(self.minhash.num_perm)


def cluster_id(doc_id: str, position: int | None = None) -> str:
    """A stable id named after the canonical member."""
    raw = doc_id if position is None else f"{doc_id}\x00{position}"
    return hashlib.blake2b(raw.encode("utf-8"), digest_size=8).hexdigest()


def ranks(*keys: pd.Series) -> npt.NDArray[np.int64]:
    """Rank of each row under lexicographic order of the keys (first key most significant); ties keep row order.

    Arrow's stable sort, not numpy's lexsort of Python strings (which holds the GIL): UTF-8 bytes
    sort as Python compares strings, by code point.
    """
    table = pa.table({str(i): pa.Array.from_pandas(k) for i, k in enumerate(keys)})
    order = pc.sort_indices(table, sort_keys=[(str(i), "ascending") for i in range(len(keys))]).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def text_key(text: str) -> str:
    """The key a stored signature is found by: its text's 128-bit XXH3 (a quarter of blake2b's time per text, all of it GIL)."""
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8"))


def text_ids(texts: Sequence[str]) -> npt.NDArray[np.uint64]:
    """Each text's 128-bit XXH3 as a row of two uint64: equal rows are equal texts (a collision is a 2**-128 event)."""
    digests = b"".join(xxhash.xxh3_128_digest(t.encode("utf-8")) for t in texts)
    return np.frombuffer(digests, dtype=">u8").reshape(-1, 2).astype(np.uint64)


def first_of_equal(ids: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """For each row of `ids` (n x k: `text_ids`, with a group's code beside them to stay within groups), the first row equal to it."""
    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(ids.T[::-1])  # stable: equal rows keep their order, the first leads
    ordered = ids[order]
    starts = np.r_[True, (ordered[1:] != ordered[:-1]).any(axis=1)]
    first = np.empty(len(ids), dtype=np.int64)
    first[order] = order[np.flatnonzero(starts)][np.cumsum(starts) - 1]
    return first


ShingleLookup = Callable[[npt.NDArray[np.int64]], tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]]


def signatures_reusing(
    texts: Sequence[str] | pa.Array, minhash: MinHashConfig, known: Mapping[str, npt.NDArray[np.uint32]] | None = None
) -> npt.NDArray[np.uint32]:
    """Signatures of the texts (strings, or an Arrow string array); those found in `known` (by text_key) are reused, not computed."""
    if not known:
        hashes, offsets = shingle_hashes(texts, minhash.shingle_size)
        return signatures_from_shingles(hashes, offsets, minhash)
    if isinstance(texts, pa.Array):
        texts = texts.to_pylist()
    sig = np.empty((len(texts), minhash.num_perm), dtype=np.uint32)
    missing = []
    for i, text in enumerate(texts):
        found = known.get(text_key(text))
        if found is None:
            missing.append(i)
        else:
            sig[i] = found
    if missing:
        hashes, offsets = shingle_hashes([texts[i] for i in missing], minhash.shingle_size)
        sig[missing] = signatures_from_shingles(hashes, offsets, minhash)
    return sig


def paragraph_and_document_signatures(
    paragraphs: pd.DataFrame,
    documents: pd.DataFrame,
    minhash: MinHashConfig,
    known: Mapping[str, Mapping[str, npt.NDArray[np.uint32]]] | None = None,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """Signatures of the kept paragraphs (doc_id, position, text) and of the documents' texts (doc_id, text), row for row.

    A document's text is its paragraphs in position order joined by blank lines (tables.with_bodies),
    so both come from one pass over the paragraphs' words. A document whose text is not as long as
    that join is signed from its own text. `known` (by kind, then text_key) is reused, as in
    `signatures_reusing`.
    """
    # The texts stay Arrow arrays: a list of Python strings cost more than the signatures' GIL-free work.
    para_texts, doc_texts = large_strings(paragraphs["text"]), large_strings(documents["text"])
    ids = pd.Index(documents["doc_id"])
    group = ids.get_indexer(paragraphs["doc_id"]).astype(np.int64) if ids.is_unique else None
    if known or group is None or (group < 0).any():
        known = known or {}
        para_sig = signatures_reusing(para_texts, minhash, known.get("paragraph"))
        return para_sig, signatures_reusing(doc_texts, minhash, known.get("document"))
    order = np.lexsort((paragraphs["position"].to_numpy(), group))
    (own, own_offsets), (joined, joined_offsets) = shingle_hashes_and_joined(
        para_texts.take(pa.array(order, pa.int64())), group[order], len(doc_texts), minhash.shingle_size
    )
    para_sig = np.empty((len(para_texts), minhash.num_perm), dtype=np.uint32)
    para_sig[order] = signatures_from_shingles(own, own_offsets, minhash)
    doc_sig = signatures_from_shingles(joined, joined_offsets, minhash)
    lengths = pc.utf8_length(para_texts).to_numpy(zero_copy_only=False).astype(np.int64)  # characters, as len()
    parts = np.bincount(group, minlength=len(doc_texts))
    expected = np.bincount(group, weights=lengths, minlength=len(doc_texts)).astype(np.int64) + 2 * np.maximum(parts - 1, 0)
    other = np.flatnonzero(pc.utf8_length(doc_texts).to_numpy(zero_copy_only=False) != expected)
    if len(other):
        doc_sig[other] = signatures_reusing(doc_texts.take(pa.array(other, pa.int64())), minhash)
    return para_sig, doc_sig


def keys_of(sig: npt.NDArray[np.uint32], config: NearDupConfig, salt: npt.NDArray[np.uint64] | None = None) -> npt.NDArray[np.uint64]:
    """LSH band keys (rows x bands); a row with no shingles gets all-zero keys. `salt` (one value per
    row) keeps rows of different salts out of each other's buckets: grouping within a source."""
    keys = band_keys(sig, config.bands, config.rows)
    if salt is not None:
        keys ^= salt[:, None]
    empty = np.ones(len(sig), dtype=bool)
    empty[nonempty_rows(sig)] = False
    keys[empty] = 0
    return keys


def source_salt(sources: Sequence[str]) -> npt.NDArray[np.uint64]:
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little") for s in sources),
        dtype=np.uint64,
        count=len(sources),
    )


def canonical_from_keys(
    keys: npt.NDArray[np.uint64],
    rank: npt.NDArray[np.int64],
    shingle: ShingleLookup,
    config: NearDupConfig,
    group: npt.NDArray[np.int64] | None = None,
    same: npt.NDArray[np.int64] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each item's canonical item and cluster size, from band keys gathered from any number of partitions.

    Rows whose keys are all zero (no shingles) stay alone; with `group`, only items of one group pair.
    `same[i]`, when given, is a row whose text equals row i's (`first_of_equal`): only the first of
    equal texts is banded and checked, and the others join it by an edge of Jaccard 1. A wire story
    reprinted a hundred times is then one item to the banding, not 4,950 pairs to check.
    """
    if same is not None and group is not None and not (group[same] == group).all():
        # A copy whose first equal text is in another group would be joined to nothing and never banded.
        raise ValueError("same must point within each group: find the first equal text per group")
    items = np.flatnonzero(keys.any(axis=1))
    copies = np.zeros(0, dtype=np.int64)
    if same is not None:
        copies = items[same[items] != items]
        items = items[same[items] == items]
    pairs = pairs_from_band_keys(keys[items], items, config)
    copy_edges = np.stack([same[copies], copies], axis=1) if same is not None else np.zeros((0, 2), dtype=np.int64)
    if group is not None:
        pairs = pairs[group[pairs[:, 0]] == group[pairs[:, 1]]]
        copy_edges = copy_edges[group[copy_edges[:, 0]] == group[copy_edges[:, 1]]]
    edges, _ = verify_pairs(pairs, shingle, config)
    return clusters(len(keys), np.concatenate([edges, copy_edges]), rank)


def near_duplicate_canonical(
    texts: list[str],
    rank: npt.NDArray[np.int64],
    minhash: MinHashConfig,
    config: NearDupConfig,
    known: Mapping[str, npt.NDArray[np.uint32]] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint32]]:
    """For each text: index of its cluster's canonical text, cluster size, and its signature (all texts in one process)."""
    sig = signatures_reusing(texts, minhash, known)
    canonical, sizes = canonical_from_keys(
        keys_of(sig, config),
        rank,
        lambda idx: shingle_hashes([texts[i] for i in idx], minhash.shingle_size),
        config,
        same=first_of_equal(text_ids(texts)),
    )
    return canonical, sizes, sig


def published_instant(value: str) -> str | None:
    """An ISO 8601 date or time as a sortable UTC instant (`YYYY-MM-DDTHH:MM:SS.ffffff`); None if it is not one.

    A time without an offset is taken as UTC, a date alone as its midnight.
    """
    try:
        moment = datetime.fromisoformat(value.strip())
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # OverflowError: an offset that moves year 1 or 9999 out of range
        return None
    return moment.isoformat(timespec="microseconds")


def published_key(published: pd.Series) -> pd.Series:
    """Sort key of `published` values: their UTC instants, compared as instants (offsets count);
    a missing value or one that is not ISO 8601 sorts after every date."""
    codes, distinct = pd.factorize(published.astype(object))  # missing values: code -1
    instants = [(published_instant(v) if isinstance(v, str) else None) or _LAST for v in distinct]
    return pd.Series(np.array([*instants, _LAST], dtype=object)[codes], index=published.index, dtype="str")


def raw_document_groups(docs: pd.DataFrame, config: DedupConfig) -> pd.Series:
    """Group id per document (its group's canonical doc_id): raw pages of one source that are near-duplicates.

    Grouped within each source only, so a source's groups never depend on other sources' pages.
    """
    texts = docs["text"].tolist()
    sig = signatures_reusing(texts, config.minhash)
    keys = keys_of(sig, config.raw_documents, source_salt(docs["source"].tolist()))
    canonical = group_canonical(
        keys,
        docs["doc_id"],
        docs["source"],
        lambda idx: shingle_hashes([texts[i] for i in idx], config.minhash.shingle_size),
        config,
        text_ids(texts),
    )
    return pd.Series(docs["doc_id"].to_numpy()[canonical], index=docs.index, dtype="str")


def group_canonical(
    keys: npt.NDArray[np.uint64],
    doc_ids: pd.Series,
    sources: pd.Series,
    shingle: ShingleLookup,
    config: DedupConfig,
    ids: npt.NDArray[np.uint64] | None = None,
) -> npt.NDArray[np.int64]:
    """Canonical row of each raw page's group: the smallest doc_id among its near-duplicates of the same source.

    `ids`, the pages' `text_ids` when known: equal pages of one source (a page crawled under two URLs)
    are then banded and checked once.
    """
    codes = pd.factorize(sources)[0].astype(np.int64)
    same = None if ids is None else first_of_equal(np.column_stack([codes.astype(np.uint64), ids]))
    canonical, _ = canonical_from_keys(keys, ranks(doc_ids), shingle, config.raw_documents, group=codes, same=same)
    return canonical


def paragraph_clusters(
    paragraphs: pd.DataFrame, published: pd.Series, config: DedupConfig, known: Mapping[str, npt.NDArray[np.uint32]] | None = None
) -> tuple[pd.DataFrame, npt.NDArray[np.uint32]]:
    """Add cluster_id, cluster_size and is_canonical to kept paragraphs (doc_id, position, text); also their signatures.

    `published` maps doc_id to its published value (or NaN).
    """
    out = paragraphs.copy()
    if out.empty:
        out["cluster_id"] = pd.Series([], dtype="str")
        out["cluster_size"] = pd.Series([], dtype="int32")
        out["is_canonical"] = pd.Series([], dtype="bool")
        return out, np.zeros((0, config.minhash.num_perm), dtype=np.uint32)
    pub = published_key(out["doc_id"].map(published))
    rank = ranks(pub, out["doc_id"], out["position"])
    canonical, sizes, sig = near_duplicate_canonical(out["text"].tolist(), rank, config.minhash, config.paragraphs, known)
    columns = cluster_columns(out, canonical, sizes)
    for name in columns.columns:
        out[name] = columns[name].to_numpy()
    return out, sig


def own_cluster_ids(paragraphs: pd.DataFrame) -> list[str]:
    """The cluster_id each paragraph (doc_id, position) would give a cluster it is the canonical copy of."""
    # From Python lists: indexing numpy arrays item by item costs more than the hashing.
    doc_ids, positions = paragraphs["doc_id"].tolist(), paragraphs["position"].tolist()
    return [cluster_id(str(d), int(p)) for d, p in zip(doc_ids, positions, strict=True)]


def cluster_columns(
    paragraphs: pd.DataFrame,
    canonical: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
    own_ids: Sequence[str] | npt.NDArray[np.object_] | None = None,
) -> pd.DataFrame:
    """cluster_id (named after the canonical copy), cluster_size and is_canonical per paragraph (doc_id, position).

    `own_ids`, each paragraph's `own_cluster_ids`, may come precomputed (the flow hashes them per
    partition, in parallel); otherwise the distinct canonical copies are hashed here.
    """
    heads, inverse = np.unique(canonical, return_inverse=True)
    if own_ids is not None:
        if len(own_ids) != len(paragraphs):
            raise ValueError(f"own_ids has {len(own_ids)} ids for {len(paragraphs)} paragraphs")
        ids = np.asarray(own_ids, dtype=object)[heads]
    else:
        ids = np.array(own_cluster_ids(paragraphs.iloc[heads]), dtype=object)
    return pd.DataFrame(
        {
            "cluster_id": pd.Series(ids[inverse.reshape(-1)], dtype="str"),
            "cluster_size": sizes.astype("int32"),
            "is_canonical": canonical == np.arange(len(paragraphs)),
        }
    )


def document_duplicates(
    documents: pd.DataFrame, config: DedupConfig, known: Mapping[str, npt.NDArray[np.uint32]] | None = None
) -> tuple[pd.Series, npt.NDArray[np.uint32]]:
    """duplicate_of per document (doc_id, published, text): the canonical doc_id, or None; also the signatures."""
    if documents.empty:
        return pd.Series([], dtype="object", index=documents.index), np.zeros((0, config.minhash.num_perm), dtype=np.uint32)
    rank = ranks(published_key(documents["published"]), documents["doc_id"])
    canonical, _, sig = near_duplicate_canonical(documents["text"].tolist(), rank, config.minhash, config.documents, known)
    doc_ids = documents["doc_id"].to_numpy()
    dup = [None if c == i else str(doc_ids[c]) for i, c in enumerate(canonical)]
    return pd.Series(dup, index=documents.index, dtype="object"), sig
