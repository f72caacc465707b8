"""One Prefect task per transform or piece of I/O; each logs its counts."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pandas as pd
from prefect import Task, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from flows import faults, io, report, validation
from transforms import dedup, incremental, sitechrome, tables
from transforms.clean import CleanConfig
from transforms.content import ContentModel
from transforms.rules import RuleSet

P = ParamSpec("P")
R = TypeVar("R")


def stage(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A Prefect task for one stage, named after it and marking a fault-injection point at its start.

    Arguments reach the task quoted: Prefect would otherwise walk every element of each argument
    (whole DataFrames, dicts of 300k line counts) to record task inputs, which cost more than some
    stages themselves (measured: 11 s of a 12 s task on the corpus).
    """

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            faults.point(f"before:{name}")
            return fn(*args, **kwargs)

        prefect_task: Task[P, R] = task(name=name, cache_policy=NO_CACHE, persist_result=False)(run)

        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            quoted_args = [quote(a) for a in args]
            quoted_kwargs = {k: quote(v) for k, v in kwargs.items()}
            return prefect_task(*quoted_args, **quoted_kwargs)  # type: ignore[arg-type]

        return call

    return wrap


class ValidationFailed(RuntimeError):
    """An expectation failed; nothing was published."""


@stage("load previous run")
def load_previous_run(output: Path, fingerprint: str) -> io.PreviousRun | None:
    log = get_run_logger()
    for name in io.clear_leftovers(output):
        log.warning("removed %s, left by a run that did not finish", name)
    previous = io.load_previous(output, fingerprint)
    if previous is None:
        log.info("no previous version with state and these settings in %s: reading and cleaning everything", output)
    else:
        log.info("previous version %s: %d documents from %d files", previous.version, len(previous.inputs), len(previous.files))
    return previous


@dataclass(frozen=True)
class Inputs:
    """Documents and rejections of this run, and what becomes the next run's state."""

    docs: pd.DataFrame
    rejected: pd.DataFrame
    files: pd.DataFrame
    inputs: pd.DataFrame
    read_rejections: pd.DataFrame
    files_read: int


@stage("read new and changed inputs")
def read_inputs(raw: Path, previous: io.PreviousRun | None) -> Inputs:
    files = io.scan(raw)
    log = get_run_logger()
    to_read, to_reuse = incremental.files_to_read(previous.files if previous else None, files)
    ingested = io.read_raw_files(raw, to_read)
    fresh_docs, fresh_rejections = io.documents_frame(ingested), io.rejected_frame(ingested)
    if previous is not None:
        kept_files = set(to_reuse)
        reused_docs = previous.inputs[previous.inputs["input_file"].isin(kept_files)]
        reused_rejections = previous.read_rejections[previous.read_rejections["input_file"].isin(kept_files)]
        fresh_docs = pd.concat([reused_docs, fresh_docs], ignore_index=True)
        fresh_rejections = pd.concat([reused_rejections, fresh_rejections], ignore_index=True)
    inputs = fresh_docs.sort_values(["doc_id", "input_path"], kind="stable").reset_index(drop=True)
    docs, duplicates = io.resolve_duplicate_ids(inputs)
    rejected = pd.concat([fresh_rejections, duplicates], ignore_index=True)
    log.info("%d files: %d read, %d unchanged since the last run", len(files), len(to_read), len(to_reuse))
    log.info("%d documents, %d inputs rejected", len(docs), len(rejected))
    for row in rejected.itertuples():
        log.warning("rejected %s: %s (%s)", row.input_path, row.reason, row.detail)
    return Inputs(docs, rejected, files, inputs, fresh_rejections, len(to_read))


@stage("plan sources to clean")
def plan_sources(previous: io.PreviousRun | None, inputs: Inputs) -> set[str] | None:
    """Sources to clean again; None when nothing changed at all (nothing to publish)."""
    log = get_run_logger()
    if previous is None:
        return set(inputs.docs["source"])
    affected = incremental.affected_sources(previous.tables["documents"], inputs.docs)
    rejected_now = set(map(tuple, inputs.rejected[["input_path", "reason"]].itertuples(index=False, name=None)))
    rejected_before = set(map(tuple, previous.tables["rejected"][["input_path", "reason"]].itertuples(index=False, name=None)))
    if not affected and rejected_now == rejected_before:
        log.info("no new, changed or deleted input since version %s: nothing to publish", previous.version)
        return None
    log.info("%d of %d sources changed: %s", len(affected), inputs.docs["source"].nunique(), ", ".join(sorted(affected)[:10]))
    return affected


@stage("split blocks")
def split_blocks(docs: pd.DataFrame) -> pd.DataFrame:
    blocks = tables.blocks_table(docs)
    get_run_logger().info("split %d documents into %d blocks", len(docs), len(blocks))
    return blocks


@stage("group near-identical pages")
def group_raw_documents(docs: pd.DataFrame, config: dedup.DedupConfig) -> pd.Series:
    groups = dedup.raw_document_groups(docs, config)
    get_run_logger().info("%d documents form %d distinct pages for site-chrome counts", len(docs), groups.nunique())
    return groups


@stage("count site lines")
def count_site_lines(
    blocks: pd.DataFrame, docs: pd.DataFrame, groups: pd.Series, config: sitechrome.SiteChromeConfig
) -> sitechrome.SiteStats:
    with_groups = blocks.merge(pd.DataFrame({"doc_id": docs["doc_id"], "group": groups}), on="doc_id", how="left")
    stats = sitechrome.site_stats(with_groups, config)
    get_run_logger().info("%d recurring lines are site chrome across %d sources", sum(map(len, stats.chrome.values())), len(stats.chrome))
    return stats


@stage("clean documents")
def clean_documents(docs: pd.DataFrame, blocks: pd.DataFrame, stats: sitechrome.SiteStats, config: CleanConfig) -> tables.CleanedCorpus:
    cleaned = tables.clean_documents(docs, blocks, stats, config)
    get_run_logger().info(
        "kept %d paragraphs, removed %d blocks (%s)",
        len(cleaned.paragraphs),
        len(cleaned.removed),
        ", ".join(f"{k}={v}" for k, v in cleaned.removed["reason"].value_counts().sort_index().items()),
    )
    return cleaned


@stage("select main content")
def select_main_content(
    blocks: pd.DataFrame, cleaned: tables.CleanedCorpus, stats: sitechrome.SiteStats, model: ContentModel | None
) -> tables.CleanedCorpus:
    if model is None:
        get_run_logger().info("no content model: every block the rules kept stays")
        return cleaned
    selected = tables.select_content(blocks, cleaned, stats, model)
    get_run_logger().info(
        "content model (threshold %.2f) moved %d of %d paragraphs to the audit",
        model.threshold,
        len(cleaned.paragraphs) - len(selected.paragraphs),
        len(cleaned.paragraphs),
    )
    return selected


@stage("merge site statistics")
def merge_site_lines(stats: sitechrome.SiteStats, previous: io.PreviousRun | None, affected: set[str], docs: pd.DataFrame) -> pd.DataFrame:
    """Line counts per source for the state: new counts for the sources cleaned, kept counts for the rest."""
    fresh = pd.DataFrame([(s, k, c) for (s, k), c in stats.line_documents.items()], columns=["source", "key", "documents"])
    if previous is None or previous.site_lines.empty:
        return fresh
    present = set(docs["source"])
    kept = previous.site_lines[~previous.site_lines["source"].isin(affected) & previous.site_lines["source"].isin(present)]
    return pd.concat([kept, fresh], ignore_index=True).sort_values(["source", "key"], kind="stable").reset_index(drop=True)


@stage("reuse unchanged sources")
def merge_with_previous(
    cleaned: tables.CleanedCorpus, previous: io.PreviousRun | None, affected: set[str], docs: pd.DataFrame
) -> tables.CleanedCorpus:
    """Rows of sources that did not change, as the previous version published them, plus the new rows."""
    if previous is None:
        return cleaned
    old_docs = previous.tables["documents"]
    keep_ids = set(old_docs.loc[~old_docs["source"].isin(affected), "doc_id"]) & set(docs["doc_id"])
    reused = tables.CleanedCorpus(
        documents=old_docs[old_docs["doc_id"].isin(keep_ids)].drop(columns=["duplicate_of"]),
        paragraphs=previous.tables["paragraphs"].loc[lambda f: f["doc_id"].isin(keep_ids), ["doc_id", "position", "text", "role"]],
        removed=previous.tables["removed"][previous.tables["removed"]["doc_id"].isin(keep_ids)],
    )
    get_run_logger().info("reused %d unchanged documents, cleaned %d", len(keep_ids), len(cleaned.documents))
    return tables.concat_corpora(reused, cleaned)


@stage("cluster near-duplicate paragraphs")
def cluster_paragraphs(
    paragraphs: pd.DataFrame, documents: pd.DataFrame, config: dedup.DedupConfig, previous: io.PreviousRun | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    published = documents.set_index("doc_id")["published"]
    known = previous.signatures.get("paragraph") if previous else None
    out, sig = dedup.paragraph_clusters(paragraphs, published, config, known)
    dup = int((out["cluster_size"] > 1).sum())
    biggest = int(out["cluster_size"].max()) if len(out) else 0
    get_run_logger().info(
        "%d of %d paragraphs have near-duplicates; largest cluster %d; %d signatures reused",
        dup,
        len(out),
        biggest,
        sum(1 for t in out["text"] if known and dedup.text_key(t) in known),
    )
    return out, io.signature_frame("paragraph", out["text"].tolist(), sig)


@stage("find duplicate documents")
def find_duplicate_documents(
    documents: pd.DataFrame, config: dedup.DedupConfig, previous: io.PreviousRun | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = documents.copy()
    known = previous.signatures.get("document") if previous else None
    out["duplicate_of"], sig = dedup.document_duplicates(documents, config, known)
    get_run_logger().info("%d documents are near-duplicates of a canonical copy", int(out["duplicate_of"].notna().sum()))
    return out, io.signature_frame("document", out["text"].tolist(), sig)


@stage("validate")
def validate(
    documents: pd.DataFrame,
    paragraphs: pd.DataFrame,
    removed: pd.DataFrame,
    rejected: pd.DataFrame,
    blocks: pd.DataFrame,
    rules: RuleSet,
    files: pd.DataFrame,
    docs: pd.DataFrame,
) -> list[validation.TableValidation]:
    frames = {
        "documents": documents,
        "paragraphs": paragraphs,
        "removed": removed,
        "rejected": rejected,
        "conservation": tables.conservation(blocks, documents, paragraphs, removed),
        "inputs": tables.input_accounting(files, docs, rejected),
    }
    params = {"chrome_patterns": rules.validation_patterns(), "documents_in": len(documents)}
    results = validation.validate_tables(frames, params)
    log = get_run_logger()
    for r in results:
        (log.info if r.success else log.error)("%s: %s", r.table, "passed" if r.success else "; ".join(r.failed))
    return results


@stage("write and publish")
def write_and_publish(
    output: Path,
    documents: pd.DataFrame,
    paragraphs: pd.DataFrame,
    removed: pd.DataFrame,
    rejected: pd.DataFrame,
    results: list[Any],
    manifest: dict[str, Any],
    inputs: Inputs,
    extra: dict[str, pd.DataFrame],
) -> str:
    """Write the tables to a staging folder; publish it only if every suite passed."""
    staging = io.new_staging(output)
    try:
        for name, table in (
            ("documents", tables.documents_table(documents)),
            ("paragraphs", tables.paragraphs_table(paragraphs)),
            ("removed", tables.removed_table(removed)),
            ("rejected", tables.rejected_table(rejected)),
        ):
            faults.point(f"write:{name}")
            io.write_table(staging, name, table)
        payload = {r.table: r.result for r in results}
        io.write_json(staging / "validation.json", payload)
        io.write_json(output / "validation-latest.json", payload)
        failed = [f"{r.table}: {'; '.join(r.failed)}" for r in results if not r.success]
        if failed:
            raise ValidationFailed("validation failed, nothing published: " + " | ".join(failed))
        io.write_json(staging / "manifest.json", manifest)
        io.write_state(staging, inputs.files, inputs.inputs, inputs.read_rejections, {"fingerprint": manifest["fingerprint"]}, extra)
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
