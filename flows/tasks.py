"""One Prefect task per transform or piece of I/O; each logs its counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import io, report, validation
from transforms import dedup, sitechrome, tables
from transforms.clean import CleanConfig
from transforms.content import ContentModel
from transforms.rules import RuleSet

# Inputs are whole DataFrames: hashing them for a cache key would cost more than the stage.
stage = task(cache_policy=NO_CACHE, persist_result=False)


class ValidationFailed(RuntimeError):
    """An expectation failed; nothing was published."""


@stage(name="discover inputs")
def discover_inputs(raw: Path) -> list[str]:
    paths = io.discover(raw)
    get_run_logger().info("found %d files under %s", len(paths), raw)
    return paths


@stage(name="read documents")
def read_documents(raw: Path, paths: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    ingested = io.read_raw_files(raw, paths)
    docs, rejected = io.documents_frame(ingested), io.rejected_frame(ingested)
    log = get_run_logger()
    log.info("read %d documents, rejected %d inputs", len(docs), len(rejected))
    for row in rejected.itertuples():
        log.warning("rejected %s: %s (%s)", row.input_path, row.reason, row.detail)
    return docs, rejected


@stage(name="split blocks")
def split_blocks(docs: pd.DataFrame) -> pd.DataFrame:
    blocks = tables.blocks_table(docs)
    get_run_logger().info("split %d documents into %d blocks", len(docs), len(blocks))
    return blocks


@stage(name="group near-identical pages")
def group_raw_documents(docs: pd.DataFrame, config: dedup.DedupConfig) -> pd.Series:
    groups = dedup.raw_document_groups(docs, config)
    get_run_logger().info("%d documents form %d distinct pages for site-chrome counts", len(docs), groups.nunique())
    return groups


@stage(name="count site lines")
def count_site_lines(
    blocks: pd.DataFrame, docs: pd.DataFrame, groups: pd.Series, config: sitechrome.SiteChromeConfig
) -> sitechrome.SiteStats:
    with_groups = blocks.merge(pd.DataFrame({"doc_id": docs["doc_id"], "group": groups}), on="doc_id", how="left")
    stats = sitechrome.site_stats(with_groups, config)
    get_run_logger().info("%d recurring lines are site chrome across %d sources", sum(map(len, stats.chrome.values())), len(stats.chrome))
    return stats


@stage(name="clean documents")
def clean_documents(docs: pd.DataFrame, blocks: pd.DataFrame, stats: sitechrome.SiteStats, config: CleanConfig) -> tables.CleanedCorpus:
    cleaned = tables.clean_documents(docs, blocks, stats, config)
    get_run_logger().info(
        "kept %d paragraphs, removed %d blocks (%s)",
        len(cleaned.paragraphs),
        len(cleaned.removed),
        ", ".join(f"{k}={v}" for k, v in cleaned.removed["reason"].value_counts().sort_index().items()),
    )
    return cleaned


@stage(name="select main content")
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


@stage(name="cluster near-duplicate paragraphs")
def cluster_paragraphs(paragraphs: pd.DataFrame, documents: pd.DataFrame, config: dedup.DedupConfig) -> pd.DataFrame:
    published = documents.set_index("doc_id")["published"]
    out = dedup.paragraph_clusters(paragraphs, published, config)
    dup = int((out["cluster_size"] > 1).sum())
    biggest = int(out["cluster_size"].max()) if len(out) else 0
    get_run_logger().info("%d of %d paragraphs have near-duplicates; largest cluster %d", dup, len(out), biggest)
    return out


@stage(name="find duplicate documents")
def find_duplicate_documents(documents: pd.DataFrame, config: dedup.DedupConfig) -> pd.DataFrame:
    out = documents.copy()
    out["duplicate_of"] = dedup.document_duplicates(documents, config)
    get_run_logger().info("%d documents are near-duplicates of a canonical copy", int(out["duplicate_of"].notna().sum()))
    return out


@stage(name="validate")
def validate(
    documents: pd.DataFrame, paragraphs: pd.DataFrame, removed: pd.DataFrame, rejected: pd.DataFrame, blocks: pd.DataFrame, rules: RuleSet
) -> list[validation.TableValidation]:
    frames = {
        "documents": documents,
        "paragraphs": paragraphs,
        "removed": removed,
        "rejected": rejected,
        "conservation": tables.conservation(blocks, documents, paragraphs, removed),
    }
    params = {"chrome_patterns": rules.validation_patterns(), "documents_in": len(documents)}
    results = validation.validate_tables(frames, params)
    log = get_run_logger()
    for r in results:
        (log.info if r.success else log.error)("%s: %s", r.table, "passed" if r.success else "; ".join(r.failed))
    return results


@stage(name="write and publish")
def write_and_publish(
    output: Path,
    documents: pd.DataFrame,
    paragraphs: pd.DataFrame,
    removed: pd.DataFrame,
    rejected: pd.DataFrame,
    results: list[Any],
    manifest: dict[str, Any],
) -> str:
    """Write the tables to a staging folder; publish it only if every suite passed."""
    staging = io.new_staging(output)
    try:
        io.write_table(staging, "documents", tables.documents_table(documents))
        io.write_table(staging, "paragraphs", tables.paragraphs_table(paragraphs))
        io.write_table(staging, "removed", tables.removed_table(removed))
        io.write_table(staging, "rejected", tables.rejected_table(rejected))
        payload = {r.table: r.result for r in results}
        io.write_json(staging / "validation.json", payload)
        io.write_json(output / "validation-latest.json", payload)
        failed = [f"{r.table}: {'; '.join(r.failed)}" for r in results if not r.success]
        if failed:
            raise ValidationFailed("validation failed, nothing published: " + " | ".join(failed))
        io.write_json(staging / "manifest.json", manifest)
        version = io.publish(output, staging)
    except BaseException:
        io.discard(staging)
        raise
    get_run_logger().info("published version %s to %s", version, output / io.CURRENT)
    return version


@stage(name="report")
def publish_report(summary: dict[str, Any], documents_in: int) -> None:
    report.publish_artifacts(summary, documents_in)
