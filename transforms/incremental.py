"""Planning an incremental run: which inputs to read again, which sources to clean again.

A document's cleaning depends only on itself and on the other documents of its source (site
chrome, site-level features), so a source whose set of documents is unchanged keeps its previous
rows exactly, and a run over several batches publishes the same rows as one run over everything.
Near-duplicate clusters span sources and are recomputed for the whole corpus on every run.
"""

from __future__ import annotations

import pandas as pd


def files_to_read(previous: pd.DataFrame | None, scan: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Split scanned files (input_path, size, mtime_ns) into those to read and those whose last reading stands."""
    if previous is None or previous.empty:
        return sorted(scan["input_path"]), []
    merged = scan.merge(previous, on="input_path", how="left", suffixes=("", "_prev"))
    same = (merged["size"] == merged["size_prev"]) & (merged["mtime_ns"] == merged["mtime_ns_prev"])
    return sorted(merged.loc[~same, "input_path"]), sorted(merged.loc[same, "input_path"])


def affected_sources(previous_docs: pd.DataFrame | None, docs: pd.DataFrame) -> set[str]:
    """Sources whose set of (doc_id, raw_hash) differs from the previous run's."""
    if previous_docs is None:
        return set(docs["source"])
    cols = ["doc_id", "source", "raw_hash"]
    old = set(map(tuple, previous_docs[cols].itertuples(index=False, name=None)))
    new = set(map(tuple, docs[cols].itertuples(index=False, name=None)))
    return {src for _, src, _ in old ^ new}
