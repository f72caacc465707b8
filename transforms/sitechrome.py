"""Site chrome: blocks that recur across distinct documents of one source."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class SiteChromeConfig:
    """A block is site chrome when it appears in at least `min_documents` distinct documents of a source.

    Documents that are near-duplicates of each other count once, so that a site carrying the same
    article twice does not lose the article itself.
    """

    min_documents: int = 2
    max_words: int = 80

    def __post_init__(self) -> None:
        if self.min_documents < 2:
            raise ValueError("min_documents must be >= 2")
        if self.max_words < 1:
            raise ValueError("max_words must be >= 1")


def block_document_counts(blocks: pd.DataFrame) -> pd.DataFrame:
    """Count, per (source, key), the distinct document groups a block appears in.

    `blocks` has columns source, key, group (the near-duplicate group of the block's document) and
    n_words. Returns source, key, documents: counts that add up across partitions of the corpus
    when every partition holds whole groups.
    """
    useful = blocks[(blocks["source"] != "") & (blocks["key"] != "")]
    counts = useful.drop_duplicates(["source", "key", "group"]).groupby(["source", "key"], sort=True).size()
    return counts.rename("documents").reset_index()


def chrome_keys_by_source(counts: pd.DataFrame, blocks: pd.DataFrame, config: SiteChromeConfig) -> dict[str, frozenset[str]]:
    """The keys that are chrome for each source, given per-key document counts."""
    words = blocks.groupby(["source", "key"], sort=False)["n_words"].max().rename("n_words").reset_index()
    merged = counts.merge(words, on=["source", "key"], how="left")
    chrome = merged[(merged["documents"] >= config.min_documents) & (merged["n_words"] <= config.max_words)]
    return {str(src): frozenset(map(str, grp["key"])) for src, grp in chrome.groupby("source", sort=True)}
