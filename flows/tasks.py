"""One Prefect task per transform or piece of I/O; each logs its counts.

Per-partition tasks read and write parts in the run's work folder (flows/parts.py) and return
counts; global tasks read only band keys, ids and counts of every partition. So the flow, and any
one worker, never holds the whole corpus, and the tasks run the same in one process or on Dask.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import Task, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import faults, io, parts, processes, report, validation
from flows.config import Settings
from transforms import dedup, incremental, sitechrome, tables
from transforms.bulk import Texts, large_strings
from transforms.minhash import shingle_hashes
from transforms.schema import DOCUMENTS, PARAGRAPHS, REMOVED

P = ParamSpec("P")
R = TypeVar("R")


def stage(name: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A Prefect task for one stage, named after it and marking a fault-injection point at its start."""

    def wrap(fn: Callable[P, R]) -> Task[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            faults.point(f"before:{name}")
            return fn(*args, **kwargs)

        return task(name=name, cache_policy=NO_CACHE, persist_result=False)(run)

    return wrap


class ValidationFailed(RuntimeError):
    """An expectation failed; nothing was published."""


class NoInputFiles(RuntimeError):
    """The raw folder holds no file to read; nothing was published."""


# ---------------------------------------------------------------- previous run, reading, planning


@stage("load previous run")
def load_previous_run(output: Path, fingerprint: str) -> io.PreviousRun | None:
    log = get_run_logger()
    for name in io.clear_leftovers(output):
        log.warning("removed %s, left by a run that did not finish", name)
    try:
        previous = io.load_previous(output, fingerprint)
    except io.UnusableState as err:
        # The state is a cache of what raw/ already holds: without it the run is slower, not wrong.
        log.warning("cannot reuse the last version (%s): reading and cleaning everything", err)
        return None
    if previous is None:
        log.info("no previous version with state and these settings in %s: reading and cleaning everything", output)
    else:
        log.info("previous version %s: %d files", previous.version, len(previous.files))
    return previous


@dataclass(frozen=True)
class ReadPlan:
    files: pd.DataFrame  # input_path, size, mtime_ns
    batches: list[list[str]]
    reused: list[str]
    bytes_to_read: int = 0  # the files of the batches


@stage("scan inputs")
def scan_inputs(raw: Path, previous: io.PreviousRun | None, partition_bytes: int) -> ReadPlan:
    files = io.scan(raw)
    if files.empty:
        # An empty folder is more often a missing mount than a corpus deleted on purpose: publishing
        # an empty dataset would hide every document of the current version from its readers.
        raise NoInputFiles(f"no input files under {raw}: nothing was published (the current version, if any, stays)")
    to_read, reused = incremental.files_to_read(previous.files if previous else None, files)
    sizes = dict(zip(files["input_path"], files["size"], strict=True))
    batches = batch_by_size(to_read, sizes, partition_bytes)
    get_run_logger().info(
        "%d files: %d to read in %d batches, %d unchanged since the last run", len(files), len(to_read), len(batches), len(reused)
    )
    return ReadPlan(files, batches, reused, sum(max(int(sizes[p]), 0) for p in to_read))


def batch_by_size(paths: list[str], sizes: dict[str, int], limit: int) -> list[list[str]]:
    """Consecutive runs of the sorted paths holding about `limit` bytes each."""
    batches: list[list[str]] = []
    current: list[str] = []
    held = 0
    for path in paths:
        if current and held + max(sizes.get(path, 0), 0) > limit:
            batches.append(current)
            current, held = [], 0
        current.append(path)
        held += max(sizes.get(path, 0), 0)
    if current:
        batches.append(current)
    return batches


ID_COLUMNS = ["doc_id", "input_path", "input_file", "source", "raw_hash", "n_bytes"]


@dataclass(frozen=True)
class ReadResult:
    ids: pd.DataFrame  # ID_COLUMNS: one row per document read
    rejections: pd.DataFrame  # io.REJECTED_COLUMNS


def _ids(docs: pd.DataFrame) -> pd.DataFrame:
    out = docs[["doc_id", "input_path", "input_file", "source", "raw_hash"]].copy()
    out["n_bytes"] = docs["text"].str.len().fillna(0).astype("int64")
    return out


def _read_batch(raw: Path, batch: list[str], work: Path, index: int) -> ReadResult:
    ingested = io.read_raw_files(raw, batch)
    docs = io.documents_frame(ingested)
    parts.write_frame(work / "read" / f"{index:05d}.parquet", docs[io.DOC_COLUMNS], io.INPUTS_SCHEMA, ranged=True)
    return ReadResult(_ids(docs), io.rejected_frame(ingested))


@stage("read inputs")
def read_batch(raw: Path, batch: list[str], work: Path, index: int) -> ReadResult:
    result = processes.run(_read_batch, raw, batch, work, index)
    get_run_logger().info("read %d files: %d documents, %d rejected", len(batch), len(result.ids), len(result.rejections))
    return result


@stage("reuse unchanged inputs")
def reuse_inputs(previous: io.PreviousRun, reused: list[str], work: Path) -> ReadResult:
    """Documents and read rejections of files unchanged since the last run, from its state."""
    docs = io.previous_inputs(previous, reused)
    parts.write_frame(work / "read" / "reused.parquet", docs[io.DOC_COLUMNS], io.INPUTS_SCHEMA, ranged=True)
    rejections = previous.read_rejections[previous.read_rejections["input_file"].isin(set(reused))]
    get_run_logger().info("reused %d documents of %d unchanged files", len(docs), len(reused))
    return ReadResult(_ids(docs), rejections.reset_index(drop=True))


@dataclass(frozen=True)
class Plan:
    """What the run works on: partitions as doc_id ranges, and the ids of every document."""

    ranges: list[tuple[str, str | None]]
    affected: set[str] | None  # None: nothing changed since the last run
    ids: pd.DataFrame  # ID_COLUMNS of the documents kept (duplicate ids resolved)
    inputs: pd.DataFrame  # ID_COLUMNS of every document read, before duplicate ids are resolved
    rejected: pd.DataFrame
    read_rejections: pd.DataFrame
    partition_docs: list[int] = field(default_factory=list)


LOGGED_REJECTIONS = 20


@stage("plan partitions")
def plan_partitions(results: list[ReadResult], previous: io.PreviousRun | None, work: Path, partition_bytes: int) -> Plan:
    """Resolve duplicate ids, decide which sources to clean again, and cut the doc_ids into ranges of about partition_bytes."""
    log = get_run_logger()
    inputs = pd.concat([r.ids for r in results], ignore_index=True).sort_values(["doc_id", "input_path"], kind="stable")
    read_rejections = pd.concat([r.rejections for r in results], ignore_index=True)
    ids, duplicates = io.resolve_duplicate_ids(inputs)
    rejected = pd.concat([read_rejections, duplicates], ignore_index=True)
    # Every rejection is in rejected.parquet; the log names the first few and counts the rest by reason.
    for row in rejected.head(LOGGED_REJECTIONS).itertuples():
        log.warning("rejected %s: %s (%s)", row.input_path, row.reason, row.detail)
    if len(rejected) > LOGGED_REJECTIONS:
        by_reason = rejected["reason"].value_counts().sort_index()
        log.warning(
            "%d rejected inputs in all (%s); every one is listed in rejected.parquet",
            len(rejected),
            ", ".join(f"{n} {reason}" for reason, n in by_reason.items()),
        )
    parts.write_frame(work / "accepted.parquet", ids[["doc_id", "input_path"]], ranged=True)
    affected: set[str] | None
    if previous is None:
        affected = set(ids["source"])
    else:
        old_docs = io.previous_table(previous, "documents", ["doc_id", "source", "raw_hash"])
        affected = incremental.affected_sources(old_docs, ids)
        old_rejected = io.previous_table(previous, "rejected", ["input_path", "reason"])
        now = set(map(tuple, rejected[["input_path", "reason"]].itertuples(index=False, name=None)))
        before = set(map(tuple, old_rejected.itertuples(index=False, name=None)))
        if not affected and now == before:
            log.info("no new, changed or deleted input since version %s: nothing to publish", previous.version)
            affected = None
        else:
            log.info("%d of %d sources changed: %s", len(affected), ids["source"].nunique(), ", ".join(sorted(affected)[:10]))
    ranges, counts = doc_id_ranges(ids["doc_id"], ids["n_bytes"], partition_bytes)
    log.info("%d documents (%d rejected inputs) in %d partitions", len(ids), len(rejected), len(ranges))
    return Plan(ranges, affected, ids.reset_index(drop=True), inputs.reset_index(drop=True), rejected, read_rejections, counts)


def _greedy_starts(before: npt.NDArray[np.int64], cap: int) -> list[int]:
    """Where each range starts when ranges are filled in order to at most `cap` bytes (a larger document alone).

    `before[i]` is the bytes ahead of document i; its last entry is the total.
    """
    n = len(before) - 1
    starts = [0]
    while True:
        s = starts[-1]
        end = max(int(np.searchsorted(before, before[s] + cap, side="right")) - 1, s + 1)
        if end >= n:
            return starts
        starts.append(end)


def doc_id_ranges(doc_ids: pd.Series, n_bytes: pd.Series, limit: int) -> tuple[list[tuple[str, str | None]], list[int]]:
    """Half-open doc_id ranges [lo, hi) of sorted ids, and their document counts.

    As few ranges as hold at most `limit` bytes of text each (a larger document is a range of its
    own), cut so that the largest holds as little as it can: 20 MB at a limit of 16 is two of 10,
    not 16 and 4, where the run waited for the large one while the other worker idled.
    """
    if not len(doc_ids):
        return [("", None)], [0]
    order = np.argsort(doc_ids.to_numpy(dtype=object), kind="stable")
    ids = doc_ids.to_numpy(dtype=object)[order]
    before = np.concatenate(([0], np.cumsum(np.maximum(n_bytes.to_numpy(dtype=np.int64)[order], 0))))
    ranges_needed = len(_greedy_starts(before, limit))
    # The smallest cap that needs no more ranges than the limit does (bisection: the count of ranges
    # only falls as the cap grows).
    low, high = math.ceil(int(before[-1]) / ranges_needed), limit
    while low < high:
        mid = (low + high) // 2
        if len(_greedy_starts(before, mid)) <= ranges_needed:
            high = mid
        else:
            low = mid + 1
    starts = _greedy_starts(before, high)
    bounds = [str(ids[s]) for s in starts]
    ranges = [(("" if k == 0 else bounds[k]), (bounds[k + 1] if k + 1 < len(bounds) else None)) for k in range(len(bounds))]
    counts = [e - s for s, e in zip(starts, [*starts[1:], len(ids)], strict=True)]
    return ranges, counts


# ---------------------------------------------------------------- per partition: documents and blocks


@dataclass(frozen=True)
class PreparedCounts:
    documents: int
    blocks: int
    to_clean: int


def _prepare_partition(work: Path, index: int, bounds: tuple[str, str | None], affected: set[str], settings: Settings) -> PreparedCounts:
    folder = parts.partition_dir(work, index)
    lo, hi = bounds
    docs = parts.read_range(sorted((work / "read").glob("*.parquet")), lo, hi)
    accepted = parts.read_range([work / "accepted.parquet"], lo, hi)
    docs = docs.merge(accepted, on=["doc_id", "input_path"], how="inner").sort_values("doc_id", kind="stable").reset_index(drop=True)
    parts.write_frame(folder / "docs.parquet", docs, io.INPUTS_SCHEMA)
    blocks = tables.blocks_table(docs)
    parts.write_frame(folder / "blocks.parquet", blocks)
    fresh = docs[docs["source"].isin(affected)].reset_index(drop=True)
    sig = dedup.signatures_reusing(large_strings(fresh["text"]), settings.dedup.minhash)
    keys = dedup.keys_of(sig, settings.dedup.raw_documents, dedup.source_salt(fresh["source"].tolist()))
    parts.write_frame(folder / "raw_ids.parquet", fresh[["doc_id", "source"]])
    parts.write_frame(folder / "raw_texts.parquet", fresh[["text"]])
    parts.write_array(folder / "raw_text_ids.npy", dedup.text_ids(fresh["text"].tolist()))
    parts.write_array(folder / "raw_keys.npy", keys)
    return PreparedCounts(len(docs), len(blocks), len(fresh))


@stage("prepare partition")
def prepare_partition(work: Path, index: int, bounds: tuple[str, str | None], affected: set[str], settings: Settings) -> int:
    """The partition's documents (duplicate ids resolved), their blocks, and band keys of the pages to clean."""
    counts = processes.run(_prepare_partition, work, index, bounds, affected, settings)
    get_run_logger().info("partition %d: %d documents, %d blocks, %d to clean", index, counts.documents, counts.blocks, counts.to_clean)
    return counts.documents


def _texts_of(work: Path, owners: list[tuple[int, str]], table: str, column: str = "text") -> Callable[[npt.NDArray[np.int64]], list[str]]:
    """A lookup from global row numbers to texts, reading each partition's part only when asked."""
    offsets = np.cumsum([0, *[n for n, _ in owners]])

    def lookup(rows: npt.NDArray[np.int64]) -> list[str]:
        out: list[str] = [""] * len(rows)
        which = np.searchsorted(offsets, rows, side="right") - 1
        for p in np.unique(which).tolist():
            texts = pq.read_table(work / owners[p][1] / f"{table}.parquet", columns=[column]).column(column).to_pylist()
            for k in np.flatnonzero(which == p).tolist():
                out[k] = texts[int(rows[k] - offsets[p])]
        return out

    return lookup


def _partition_names(work: Path, count: int) -> list[str]:
    return [f"p{i:05d}" for i in range(count)]


def _group_pages(work: Path, count: int, settings: Settings) -> tuple[int, int]:
    names = _partition_names(work, count)
    ids = [parts.read_frame(work / n / "raw_ids.parquet") for n in names]
    keys = np.concatenate([parts.read_array(work / n / "raw_keys.npy") for n in names]) if names else np.zeros((0, 1), np.uint64)
    all_ids = pd.concat(ids, ignore_index=True)
    texts = _texts_of(work, [(len(i), n) for i, n in zip(ids, names, strict=True)], "raw_texts")
    shingle_size = settings.dedup.minhash.shingle_size
    text_ids = _text_ids(work, names, "raw_text_ids.npy", len(all_ids))
    canonical = dedup.group_canonical(
        keys.astype(np.uint64),
        all_ids["doc_id"],
        all_ids["source"],
        lambda rows: shingle_hashes(texts(rows), shingle_size),
        settings.dedup,
        text_ids,
    )
    groups = pd.DataFrame({"doc_id": all_ids["doc_id"], "group": all_ids["doc_id"].to_numpy()[canonical]})
    parts.write_frame(work / "groups.parquet", groups)
    return len(groups), int(groups["group"].nunique())


@stage("group near-identical pages")
def group_pages(work: Path, count: int, settings: Settings) -> int:
    """Near-identical raw pages of one source form a group that counts once for site chrome (all partitions)."""
    documents, pages = processes.run(_group_pages, work, count, settings)
    get_run_logger().info("%d documents form %d distinct pages for site-chrome counts", documents, pages)
    return pages


def _count_site_lines(work: Path, index: int) -> int:
    folder = work / f"p{index:05d}"
    raw_ids = parts.read_frame(folder / "raw_ids.parquet")
    blocks = parts.read_frame(folder / "blocks.parquet", ["doc_id", "source", "key", "n_words"])  # not the texts
    blocks = blocks[tables.rows_in(blocks["doc_id"], raw_ids["doc_id"])]
    groups = parts.read_doc_ids(work / "groups.parquet", raw_ids["doc_id"].tolist())
    with_groups = blocks.merge(groups, on="doc_id", how="left")
    lines = sitechrome.line_groups(with_groups)
    parts.write_frame(folder / "lines.parquet", lines)
    parts.write_frame(folder / "sizes.parquet", sitechrome.source_groups(with_groups))
    return len(lines)


@stage("count site lines")
def count_site_lines(work: Path, index: int) -> int:
    """Distinct (source, line, page group) of the partition: counts that add up across partitions."""
    return processes.run(_count_site_lines, work, index)


def _merge_site_stats(
    work: Path, count: int, settings: Settings, previous: io.PreviousRun | None, affected: set[str], present: set[str]
) -> tuple[int, int]:
    names = _partition_names(work, count)
    lines = pd.concat([parts.read_frame(work / n / "lines.parquet") for n in names], ignore_index=True)
    sizes = pd.concat([parts.read_frame(work / n / "sizes.parquet") for n in names], ignore_index=True)
    merged = sitechrome.merge_line_groups(lines, sizes, settings.chrome)
    # The cleaner reads only the recurring lines (a tenth of them on the bench input): each partition
    # read all 391k there, 0.2 s apiece. The state keeps every line, for the next run's merge.
    parts.write_frame(work / "site_lines.parquet", sitechrome.recurring_lines(merged.lines).reset_index(drop=True))
    parts.write_frame(work / "site_sizes.parquet", merged.sizes)
    fresh = merged.lines[["source", "key", "documents"]]
    if previous is not None:
        kept = io.previous_site_lines(previous)
        kept = kept[~kept["source"].isin(affected) & kept["source"].isin(present)]
        fresh = pd.concat([kept, fresh], ignore_index=True).sort_values(["source", "key"], kind="stable").reset_index(drop=True)
    parts.write_frame(work / "state_site_lines.parquet", fresh)
    return int(merged.lines["chrome"].sum()), int(merged.lines.loc[merged.lines["chrome"], "source"].nunique())


@stage("merge site statistics")
def merge_site_stats(
    work: Path, count: int, settings: Settings, previous: io.PreviousRun | None, affected: set[str], present: set[str]
) -> int:
    """Site line counts of every partition merged, the chrome they make, and the state's line counts."""
    chrome, sources = processes.run(_merge_site_stats, work, count, settings, previous, affected, present)
    get_run_logger().info("%d recurring lines are site chrome across %d sources", chrome, sources)
    return chrome


# ---------------------------------------------------------------- per partition: cleaning


@dataclass(frozen=True)
class CleanCounts:
    documents: int
    paragraphs: int
    removed_by_reason: dict[str, int]
    reused: int
    content_removed: int


def _clean_partition(work: Path, index: int, settings: Settings, previous: io.PreviousRun | None, affected: set[str]) -> CleanCounts:
    folder = work / f"p{index:05d}"
    # The documents' metadata only: their texts are in the blocks.
    docs = parts.read_frame(folder / "docs.parquet", [c for c in io.INPUTS_SCHEMA.names if c != "text"])
    blocks = parts.read_frame(folder / "blocks.parquet")
    fresh_docs = docs[docs["source"].isin(affected)].reset_index(drop=True)
    fresh_blocks = blocks[tables.rows_in(blocks["doc_id"], fresh_docs["doc_id"])].reset_index(drop=True)
    stats = sitechrome.stats_for_sources(
        parts.read_frame(work / "site_lines.parquet"), parts.read_frame(work / "site_sizes.parquet"), set(fresh_docs["source"])
    )
    # The block texts' Arrow form, made once for the cleaner and the content model.
    bulk = Texts.of(fresh_blocks["text"])
    cleaned = tables.clean_documents(fresh_docs, fresh_blocks, stats, settings.clean, bulk)
    content_removed = 0
    if settings.content is not None and len(cleaned.paragraphs):
        selected = tables.select_content(fresh_blocks, cleaned, stats, settings.content, bulk)
        content_removed = len(cleaned.paragraphs) - len(selected.paragraphs)
        cleaned = selected
    reused_ids = sorted(set(docs["doc_id"]) - set(fresh_docs["doc_id"]))
    if previous is not None and reused_ids:
        cleaned = tables.concat_corpora(io.previous_rows(previous, reused_ids), cleaned)
    else:
        cleaned = tables.concat_corpora(cleaned)
    parts.write_frame(folder / "documents.parquet", cleaned.documents)
    parts.write_frame(folder / "paragraphs.parquet", cleaned.paragraphs)
    parts.write_frame(folder / "removed.parquet", cleaned.removed)
    # Each paragraph's id as a cluster's canonical copy, hashed here where the partitions run side
    # by side: the global clustering then only picks the canonical copies' ids.
    parts.write_frame(folder / "own_cluster_ids.parquet", pd.DataFrame({"cluster_id": dedup.own_cluster_ids(cleaned.paragraphs)}))
    # Signatures: reused from the last run by text, computed for new texts; band keys for the global stages.
    minhash = settings.dedup.minhash
    para_texts, doc_texts = cleaned.paragraphs["text"].tolist(), cleaned.documents["text"].tolist()
    known = io.previous_signatures(previous, [dedup.text_key(t) for t in [*para_texts, *doc_texts]]) if previous else {}
    para_sig, doc_sig = dedup.paragraph_and_document_signatures(cleaned.paragraphs, cleaned.documents, minhash, known)
    parts.write_array(folder / "paragraph_keys.npy", dedup.keys_of(para_sig, settings.dedup.paragraphs))
    parts.write_array(folder / "document_keys.npy", dedup.keys_of(doc_sig, settings.dedup.documents))
    # Which texts are equal, across partitions: the global stages band and check one copy of each.
    parts.write_array(folder / "paragraph_text_ids.npy", dedup.text_ids(para_texts))
    parts.write_array(folder / "document_text_ids.npy", dedup.text_ids(doc_texts))
    stored = [io.signature_table("paragraph", para_texts, para_sig), io.signature_table("document", doc_texts, doc_sig)]
    parts.write_table(folder / "signatures.parquet", pa.concat_tables(stored))
    by_reason = {str(k): int(v) for k, v in cleaned.removed["reason"].value_counts().items()}
    return CleanCounts(len(cleaned.documents), len(cleaned.paragraphs), by_reason, len(reused_ids), content_removed)


@stage("clean partition")
def clean_partition(work: Path, index: int, settings: Settings, previous: io.PreviousRun | None, affected: set[str]) -> CleanCounts:
    """Rules, repeats, site chrome and the content model for the partition's changed sources; last run's rows for the rest."""
    counts = processes.run(_clean_partition, work, index, settings, previous, affected)
    get_run_logger().info(
        "partition %d: %d documents (%d reused), kept %d paragraphs, removed %d blocks",
        index,
        counts.documents,
        counts.reused,
        counts.paragraphs,
        sum(counts.removed_by_reason.values()),
    )
    return counts


# ---------------------------------------------------------------- global: near-duplicates


@dataclass(frozen=True)
class ClusterSummary:
    paragraphs: int
    duplicated: int
    largest_size: int
    largest: list[dict[str, Any]]


def _band_keys(work: Path, names: list[str], file: str, bands: int, items: int) -> npt.NDArray[np.uint64]:
    """The band keys of every partition, one row per item (none at all when no partition has items)."""
    keys = np.concatenate([parts.read_array(work / n / file).astype(np.uint64, copy=False).reshape(-1, bands) for n in names])
    if len(keys) != items:
        raise ValueError(f"{file}: {len(keys)} rows of band keys for {items} items")
    return keys


def _text_ids(work: Path, names: list[str], file: str, items: int) -> npt.NDArray[np.uint64]:
    """The `dedup.text_ids` of every partition's items, in order."""
    ids = [parts.read_array(work / n / file).astype(np.uint64, copy=False).reshape(-1, 2) for n in names]
    out = np.concatenate(ids) if ids else np.zeros((0, 2), dtype=np.uint64)
    if len(out) != items:
        raise ValueError(f"{file}: {len(out)} text ids for {items} items")
    return out


def _first_of_equal_texts(work: Path, names: list[str], file: str, items: int) -> npt.NDArray[np.int64]:
    """For each item of every partition, the first item whose text is equal to its own (`dedup.first_of_equal`)."""
    return dedup.first_of_equal(_text_ids(work, names, file, items))


def _cluster_paragraphs(work: Path, count: int, settings: Settings) -> ClusterSummary:
    names = _partition_names(work, count)
    ids = [parts.read_frame(work / n / "paragraphs.parquet", ["doc_id", "position"]) for n in names]
    published = pd.concat([parts.read_frame(work / n / "documents.parquet", ["doc_id", "published"]) for n in names], ignore_index=True)
    frame = pd.concat(ids, ignore_index=True)
    keys = _band_keys(work, names, "paragraph_keys.npy", settings.dedup.paragraphs.bands, len(frame))
    pub = dedup.published_key(frame["doc_id"].map(published.set_index("doc_id")["published"]))
    rank = dedup.ranks(pub, frame["doc_id"], frame["position"])
    texts = _texts_of(work, [(len(i), n) for i, n in zip(ids, names, strict=True)], "paragraphs")
    shingle_size = settings.dedup.minhash.shingle_size
    same = _first_of_equal_texts(work, names, "paragraph_text_ids.npy", len(frame))
    canonical, sizes = dedup.canonical_from_keys(
        keys, rank, lambda rows: shingle_hashes(texts(rows), shingle_size), settings.dedup.paragraphs, same=same
    )
    own_ids = pd.concat([parts.read_frame(work / n / "own_cluster_ids.parquet") for n in names], ignore_index=True)["cluster_id"]
    assigned = dedup.cluster_columns(frame, canonical, sizes, own_ids.to_numpy(dtype=object))
    start = 0
    for i, n in zip(ids, names, strict=True):
        parts.write_frame(work / n / "paragraph_clusters.parquet", assigned.iloc[start : start + len(i)].reset_index(drop=True))
        start += len(i)
    big = assigned.assign(row=np.arange(len(assigned)))[assigned["cluster_size"] > 1]
    top = big[big["is_canonical"]].sort_values(["cluster_size", "cluster_id"], ascending=[False, True]).head(5)
    top_texts = texts(top["row"].to_numpy()) if len(top) else []
    largest = [
        {"cluster_id": c, "size": int(s), "text": t[:100]}
        for c, s, t in zip(top["cluster_id"], top["cluster_size"], top_texts, strict=True)
    ]
    return ClusterSummary(len(assigned), len(big), int(sizes.max()) if len(sizes) else 0, largest)


@stage("cluster near-duplicate paragraphs")
def cluster_paragraphs(work: Path, count: int, settings: Settings) -> ClusterSummary:
    """Band keys of every partition grouped together, candidates checked by exact Jaccard, clusters by components."""
    summary = processes.run(_cluster_paragraphs, work, count, settings)
    get_run_logger().info(
        "%d of %d paragraphs have near-duplicates; largest cluster %d", summary.duplicated, summary.paragraphs, summary.largest_size
    )
    return summary


def _find_duplicate_documents(work: Path, count: int, settings: Settings) -> int:
    names = _partition_names(work, count)
    ids = [parts.read_frame(work / n / "documents.parquet", ["doc_id", "published"]) for n in names]
    frame = pd.concat(ids, ignore_index=True)
    keys = _band_keys(work, names, "document_keys.npy", settings.dedup.documents.bands, len(frame))
    rank = dedup.ranks(dedup.published_key(frame["published"]), frame["doc_id"])
    texts = _texts_of(work, [(len(i), n) for i, n in zip(ids, names, strict=True)], "documents")
    shingle_size = settings.dedup.minhash.shingle_size
    same = _first_of_equal_texts(work, names, "document_text_ids.npy", len(frame))
    canonical, _ = dedup.canonical_from_keys(
        keys, rank, lambda rows: shingle_hashes(texts(rows), shingle_size), settings.dedup.documents, same=same
    )
    doc_ids = frame["doc_id"].to_numpy()
    duplicate_of = [None if c == i else str(doc_ids[c]) for i, c in enumerate(canonical.tolist())]
    start = 0
    for i, n in zip(ids, names, strict=True):
        parts.write_frame(
            work / n / "document_duplicates.parquet", pd.DataFrame({"duplicate_of": duplicate_of[start : start + len(i)]}, dtype="object")
        )
        start += len(i)
    return sum(d is not None for d in duplicate_of)


@stage("find duplicate documents")
def find_duplicate_documents(work: Path, count: int, settings: Settings) -> int:
    """Document band keys of every partition grouped together; each near-duplicate names its canonical copy."""
    found = processes.run(_find_duplicate_documents, work, count, settings)
    get_run_logger().info("%d documents are near-duplicates of a canonical copy", found)
    return found


# ---------------------------------------------------------------- per partition: final tables and validation


def _finish_partition(work: Path, index: int, chrome_rules: list[dict[str, object]], documents_in: int) -> list[validation.TableValidation]:
    folder = work / f"p{index:05d}"
    documents = parts.read_frame(folder / "documents.parquet")
    documents["duplicate_of"] = parts.read_frame(folder / "document_duplicates.parquet")["duplicate_of"].to_numpy()
    paragraphs = pd.concat(
        [parts.read_frame(folder / "paragraphs.parquet"), parts.read_frame(folder / "paragraph_clusters.parquet")], axis=1
    )
    removed = parts.read_frame(folder / "removed.parquet")
    blocks = parts.read_frame(folder / "blocks.parquet", ["doc_id", "position"])
    frames = {
        "documents": documents,
        "paragraphs": paragraphs,
        "removed": removed,
        "conservation": tables.conservation(blocks, documents, paragraphs, removed),
    }
    results = validation.validate_tables(frames, {"chrome_rules": chrome_rules, "documents_in": documents_in})
    parts.write_table(folder / "final_documents.parquet", tables.documents_table(documents))
    parts.write_table(folder / "final_paragraphs.parquet", tables.paragraphs_table(paragraphs))
    parts.write_table(folder / "final_removed.parquet", tables.removed_table(removed))
    return results


@stage("validate partition")
def finish_partition(work: Path, index: int, chrome_rules: list[dict[str, object]], documents_in: int) -> list[validation.TableValidation]:
    """The partition's output rows in their schema, validated by the GX suites before anything is published."""
    results = processes.run(_finish_partition, work, index, chrome_rules, documents_in)
    log = get_run_logger()
    for r in results:
        (log.info if r.success else log.error)("partition %d %s: %s", index, r.table, "passed" if r.success else "; ".join(r.failed))
    return results


@stage("validate inputs")
def validate_inputs(files: pd.DataFrame, inputs: pd.DataFrame, rejected: pd.DataFrame) -> list[validation.TableValidation]:
    frames = {"rejected": rejected, "inputs": tables.input_accounting(files, inputs, rejected)}
    return validation.validate_tables(frames, {})


def combine_validations(
    per_part: list[list[validation.TableValidation]], rest: list[validation.TableValidation]
) -> list[validation.TableValidation]:
    """One result per table: passed only if every partition passed."""
    by_table: dict[str, list[validation.TableValidation]] = {}
    for results in [*per_part, rest]:
        for r in results:
            by_table.setdefault(r.table, []).append(r)
    return [
        validation.TableValidation(
            table=name,
            success=all(r.success for r in rs),
            failed=sorted({f for r in rs for f in r.failed}),
            result={"success": all(r.success for r in rs), "partitions": [r.result for r in rs]},
        )
        for name, rs in by_table.items()
    ]


# ---------------------------------------------------------------- publishing


def _stage_state(work: Path, count: int, read_rejections: pd.DataFrame, files: pd.DataFrame, fingerprint: str) -> Path:
    staging = io.new_staging(work)
    try:
        io.write_state(
            staging,
            files,
            sorted((work / "read").glob("*.parquet")),
            read_rejections,
            {"fingerprint": fingerprint},
            [work / n / "signatures.parquet" for n in _partition_names(work, count)],
            work / "state_site_lines.parquet",
        )
    except BaseException:
        io.discard(staging)
        raise
    return staging


@stage("stage state")
def stage_state(work: Path, count: int, plan: Plan, files: pd.DataFrame, fingerprint: str) -> Path:
    """A staging folder in the work folder, holding the state the next run reuses.

    The state needs no check, so the flow writes it while the global stages and validation run (in a
    forked worker where there are some). A run that fails removes it with the work folder; one that
    publishes moves it into the output.
    """
    return processes.run(_stage_state, work, count, plan.read_rejections, files, fingerprint)


@stage("write and publish")
def write_and_publish(
    output: Path,
    staging: Path,
    work: Path,
    count: int,
    plan: Plan,
    results: list[validation.TableValidation],
    manifest: dict[str, Any],
) -> str:
    """Concatenate the partitions' tables into the staging folder; publish it only if every suite passed."""
    names = _partition_names(work, count)

    def concat(name: str, schema: pa.Schema) -> None:
        faults.point(f"write:{name}")
        parts.stream_concat([work / n / f"final_{name}.parquet" for n in names], staging / f"{name}.parquet", schema)

    try:
        # The three tables at once: Arrow compresses and writes without the GIL, and the run waits for this.
        # Leaving the pool waits for every write, so a failed one never races the discard below.
        with ThreadPoolExecutor(3) as pool:
            writes = [
                pool.submit(concat, name, schema)
                for name, schema in (("documents", DOCUMENTS), ("paragraphs", PARAGRAPHS), ("removed", REMOVED))
            ]
            for write in writes:
                write.result()
        faults.point("write:rejected")
        io.write_table(staging, "rejected", tables.rejected_table(plan.rejected))
        payload = {r.table: r.result for r in results}
        io.write_json(staging / "validation.json", payload)
        io.write_json(output / "validation-latest.json", payload)
        failed = [f"{r.table}: {'; '.join(r.failed)}" for r in results if not r.success]
        if failed:
            raise ValidationFailed("validation failed, nothing published: " + " | ".join(failed))
        io.write_json(staging / "manifest.json", manifest)
        faults.point("publish:before-switch")
        version = io.publish(output, staging)
        faults.point("publish:after-switch")
    except BaseException:
        io.discard(staging)
        raise
    get_run_logger().info("published version %s to %s", version, output / io.CURRENT)
    return version


@stage("report")
def publish_report(summary: dict[str, Any], documents_in: int) -> None:
    report.publish_artifacts(summary, documents_in)


def summary_of(plan: Plan, cleaned: list[CleanCounts], clusters: ClusterSummary, duplicates: int, results: list[Any]) -> dict[str, Any]:
    removed: dict[str, int] = {}
    for c in cleaned:
        for k, v in c.removed_by_reason.items():
            removed[k] = removed.get(k, 0) + v
    return report.run_summary(
        documents=sum(c.documents for c in cleaned),
        paragraphs=sum(c.paragraphs for c in cleaned),
        removed_by_reason=dict(sorted(removed.items())),
        rejected=len(plan.rejected),
        duplicates=duplicates,
        largest_clusters=clusters.largest,
        validation=results,
        version=None,
    )
