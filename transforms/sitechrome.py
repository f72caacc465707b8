"""Site chrome: blocks that recur across distinct documents of one source."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SiteChromeConfig:
    """A block is site chrome when it appears in at least `min_documents` distinct documents of a source.

    Documents that are near-duplicates of each other count once, so that a site carrying the same
    article twice does not lose the article itself.

    Long lines need more pages: a paragraph shared by exactly two pages is more often one article
    shown twice (a post and the index page that carries it) than chrome.
    """

    min_documents: int = 2
    long_line_words: int = 15
    long_line_min_documents: int = 3
    max_words: int = 80

    def __post_init__(self) -> None:
        if self.min_documents < 2:
            raise ValueError("min_documents must be >= 2")
        if self.long_line_min_documents < self.min_documents:
            raise ValueError("long_line_min_documents must be >= min_documents")
        if self.long_line_words < 1 or self.max_words < 1:
            raise ValueError("long_line_words and max_words must be >= 1")


@dataclass(frozen=True)
class SiteStats:
    """Per source: in how many distinct pages its recurring lines occur, how many distinct pages there are, and the chrome.

    line_documents is a frame (source, key, documents) of the lines found in two or more distinct
    pages of a source; any other line of a source is in one page. (Most lines are: listing them
    made the content features' lookup table ten times larger, and the lookup 0.2 s slower per partition.)
    """

    line_documents: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"source": [], "key": [], "documents": []}))
    source_documents: dict[str, int] = field(default_factory=dict)
    chrome: dict[str, frozenset[str]] = field(default_factory=dict)


def block_document_counts(blocks: pd.DataFrame) -> pd.DataFrame:
    """Count, per (source, key), the distinct document groups a block appears in.

    `blocks` has columns source, key and group (the near-duplicate group of the block's document).
    Returns source, key, documents: counts that add up across partitions of the corpus when every
    partition holds whole groups.
    """
    useful = blocks[(blocks["source"] != "") & (blocks["key"] != "")]
    counts = useful.drop_duplicates(["source", "key", "group"]).groupby(["source", "key"], sort=True).size()
    return counts.rename("documents").reset_index()


def recurring_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """The rows of lines found in two or more distinct pages of their source: what SiteStats.line_documents lists."""
    return lines[lines["documents"].to_numpy() >= 2]


def site_stats(blocks: pd.DataFrame, config: SiteChromeConfig) -> SiteStats:
    """Line counts, page counts and chrome keys per source; `blocks` has source, key, group, n_words."""
    counts = block_document_counts(blocks)
    words = blocks.groupby(["source", "key"], sort=False)["n_words"].max().rename("n_words").reset_index()
    merged = counts.merge(words, on=["source", "key"], how="left")
    needed = merged["n_words"].gt(config.long_line_words).map({True: config.long_line_min_documents, False: config.min_documents})
    chrome = merged[(merged["documents"] >= needed) & (merged["n_words"] <= config.max_words)]
    sizes = blocks[blocks["source"] != ""].groupby("source", sort=True)["group"].nunique()
    return SiteStats(
        line_documents=recurring_lines(counts)[["source", "key", "documents"]].reset_index(drop=True),
        source_documents={str(s): int(c) for s, c in sizes.items()},
        chrome={str(src): frozenset(map(str, grp["key"])) for src, grp in chrome.groupby("source", sort=True)},
    )


# ---------------------------------------------------------------- counts merged across partitions


def line_groups(blocks: pd.DataFrame) -> pd.DataFrame:
    """Distinct (source, key, group) of a partition's blocks, with the longest n_words: the partition's share of the counts.

    Distinct groups, not counts, are what merge: a page group can span partitions.
    """
    useful = blocks[(blocks["source"] != "") & (blocks["key"] != "")]
    out = useful.groupby(["source", "key", "group"], sort=True)["n_words"].max().reset_index()
    return out[["source", "key", "group", "n_words"]]


def source_groups(blocks: pd.DataFrame) -> pd.DataFrame:
    """Distinct (source, group) of a partition's blocks."""
    return blocks.loc[blocks["source"] != "", ["source", "group"]].drop_duplicates().sort_values(["source", "group"]).reset_index(drop=True)


@dataclass(frozen=True)
class MergedCounts:
    lines: pd.DataFrame  # source, key, documents, n_words, chrome
    sizes: pd.DataFrame  # source, documents


def merge_line_groups(lines: pd.DataFrame, sizes: pd.DataFrame, config: SiteChromeConfig) -> MergedCounts:
    """Every partition's line_groups and source_groups merged into counts and the chrome decision."""
    grouped = lines.groupby(["source", "key"], sort=True)
    merged = pd.DataFrame({"documents": grouped["group"].nunique(), "n_words": grouped["n_words"].max()}).reset_index()
    merged["documents"] = merged["documents"].astype("int64")
    needed = np.where(merged["n_words"] > config.long_line_words, config.long_line_min_documents, config.min_documents)
    merged["chrome"] = (merged["documents"] >= needed) & (merged["n_words"] <= config.max_words)
    per_source = sizes.groupby("source", sort=True)["group"].nunique().rename("documents").reset_index()
    return MergedCounts(merged, per_source)


def stats_for_sources(lines: pd.DataFrame, sizes: pd.DataFrame, sources: set[str]) -> SiteStats:
    """The SiteStats the cleaner needs for some sources, from merged counts."""
    # Chrome lines recur too (min_documents >= 2): the recurring lines hold everything asked for.
    recurring = recurring_lines(lines)
    mine = recurring[recurring["source"].isin(sources)]
    return SiteStats(
        line_documents=mine[["source", "key", "documents"]].reset_index(drop=True),
        source_documents={str(s): int(c) for s, c in zip(sizes["source"], sizes["documents"], strict=True) if s in sources},
        chrome={str(src): frozenset(map(str, grp["key"])) for src, grp in mine[mine["chrome"]].groupby("source", sort=True)},
    )
