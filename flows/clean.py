"""The flow: read -> clean -> deduplicate -> validate -> publish. Sequencing only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from flows import report, tasks
from flows.config import make_settings


@flow(name="newsclean", flow_run_name="clean {raw}", log_prints=False)
def clean_flow(raw: str = "raw", output: str = "output", rules: str | None = None) -> dict[str, Any]:
    """Clean every document under `raw` and publish validated Parquet to `output`."""
    settings = make_settings(Path(raw), Path(output), Path(rules) if rules else None)
    paths = tasks.discover_inputs(settings.raw)
    docs, rejected = tasks.read_documents(settings.raw, paths)
    blocks = tasks.split_blocks(docs)
    groups = tasks.group_raw_documents(docs, settings.dedup)
    stats = tasks.count_site_lines(blocks, docs, groups, settings.chrome)
    cleaned = tasks.clean_documents(docs, blocks, stats, settings.clean)
    cleaned = tasks.select_main_content(blocks, cleaned, stats, settings.content)
    paragraphs = tasks.cluster_paragraphs(cleaned.paragraphs, cleaned.documents, settings.dedup)
    documents = tasks.find_duplicate_documents(cleaned.documents, settings.dedup)
    results = tasks.validate(documents, paragraphs, cleaned.removed, rejected, blocks, settings.clean.rules)
    manifest = {"raw": str(settings.raw), "inputs": len(paths), "documents": len(documents), "rejected": len(rejected)}
    summary = report.run_summary(documents, paragraphs, cleaned.removed, rejected, results, None)
    try:
        summary["version"] = tasks.write_and_publish(settings.output, documents, paragraphs, cleaned.removed, rejected, results, manifest)
    finally:
        # The artifact is written for failed runs too: it names the failing expectation.
        tasks.publish_report(summary, len(docs) + len(rejected))
    return summary
