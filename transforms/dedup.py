"""Near-duplicate paragraphs and documents across the corpus, with a deterministic canonical copy.

Canonical rule: within a cluster, the copy from the document published first wins (documents with
no `published` value come after those with one; ISO 8601 strings compare correctly), then the
smallest doc_id, then the smallest position. It depends only on the set of copies, never on the
order files were listed or processed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from transforms.minhash import MinHashConfig, shingle_hashes, signatures_from_shingles
from transforms.neardup import NearDupConfig, clusters, verified_pairs

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


def _ranks(*keys: pd.Series) -> npt.NDArray[np.int64]:
    """Rank of each row under lexicographic order of the keys (first key most significant)."""
    order = np.lexsort([k.to_numpy() for k in reversed(keys)])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def text_key(text: str) -> str:
    """The key a stored signature is found by: its text's hash."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def near_duplicate_canonical(
    texts: list[str],
    rank: npt.NDArray[np.int64],
    minhash: MinHashConfig,
    config: NearDupConfig,
    known: Mapping[str, npt.NDArray[np.uint32]] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint32]]:
    """For each text: index of its cluster's canonical text, cluster size, and its signature.

    Signatures found in `known` (by text_key) are reused; only candidate pairs are shingled again
    for the exact Jaccard check.
    """
    sig = np.empty((len(texts), minhash.num_perm), dtype=np.uint32)
    missing = []
    for i, text in enumerate(texts):
        found = known.get(text_key(text)) if known else None
        if found is None:
            missing.append(i)
        else:
            sig[i] = found
    if missing:
        hashes, offsets = shingle_hashes([texts[i] for i in missing], minhash.shingle_size)
        sig[missing] = signatures_from_shingles(hashes, offsets, minhash)
    edges, _ = verified_pairs(sig, lambda idx: shingle_hashes([texts[i] for i in idx], minhash.shingle_size), config)
    canonical, sizes = clusters(len(texts), edges, rank)
    return canonical, sizes, sig


def published_key(published: pd.Series) -> pd.Series:
    return published.astype(object).where(published.notna(), _LAST).astype(str)


def raw_document_groups(docs: pd.DataFrame, config: DedupConfig) -> pd.Series:
    """Group id per document (its group's canonical doc_id): raw pages of one source that are near-duplicates.

    Grouped within each source only, so a source's groups never depend on other sources' pages.
    """
    out = pd.Series("", index=docs.index, dtype="str")
    for _, part in docs.groupby("source", sort=True):
        rank = _ranks(part["doc_id"])
        canonical, _, _ = near_duplicate_canonical(part["text"].tolist(), rank, config.minhash, config.raw_documents)
        out.loc[part.index] = part["doc_id"].to_numpy()[canonical]
    return out


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
    rank = _ranks(pub, out["doc_id"], out["position"])
    canonical, sizes, sig = near_duplicate_canonical(out["text"].tolist(), rank, config.minhash, config.paragraphs, known)
    doc_ids = out["doc_id"].to_numpy()
    positions = out["position"].to_numpy()
    out["cluster_id"] = [cluster_id(str(doc_ids[c]), int(positions[c])) for c in canonical]
    out["cluster_size"] = sizes.astype("int32")
    out["is_canonical"] = canonical == np.arange(len(out))
    return out, sig


def document_duplicates(
    documents: pd.DataFrame, config: DedupConfig, known: Mapping[str, npt.NDArray[np.uint32]] | None = None
) -> tuple[pd.Series, npt.NDArray[np.uint32]]:
    """duplicate_of per document (doc_id, published, text): the canonical doc_id, or None; also the signatures."""
    if documents.empty:
        return pd.Series([], dtype="object", index=documents.index), np.zeros((0, config.minhash.num_perm), dtype=np.uint32)
    rank = _ranks(published_key(documents["published"]), documents["doc_id"])
    canonical, _, sig = near_duplicate_canonical(documents["text"].tolist(), rank, config.minhash, config.documents, known)
    doc_ids = documents["doc_id"].to_numpy()
    dup = [None if c == i else str(doc_ids[c]) for i, c in enumerate(canonical)]
    return pd.Series(dup, index=documents.index, dtype="object"), sig
