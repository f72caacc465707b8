"""The flow: read -> clean -> deduplicate -> validate -> publish. Sequencing only."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger

from flows import io, report, tasks
from flows.config import make_settings, settings_fingerprint


@flow(name="newsclean", flow_run_name="clean {raw}", log_prints=False)
def clean_flow(raw: str = "raw", output: str = "output", rules: str | None = None) -> dict[str, Any]:
    """Clean what is new or changed under `raw` and publish the whole validated dataset to `output`."""
    started = time.perf_counter()
    settings = make_settings(Path(raw), Path(output), Path(rules) if rules else None)
    fingerprint = settings_fingerprint(settings)
    with io.run_lock(settings.output):
        previous = tasks.load_previous_run(settings.output, fingerprint)
        inputs = tasks.read_inputs(settings.raw, previous)
        affected = tasks.plan_sources(previous, inputs)
        if affected is None:
            assert previous is not None
            get_run_logger().info("nothing new: finished in %.1f s without publishing", time.perf_counter() - started)
            return {
                "version": previous.version,
                "documents_out": len(previous.tables["documents"]),
                "rejected": len(inputs.rejected),
                "changed": False,
            }
        blocks = tasks.split_blocks(inputs.docs)
        part = inputs.docs[inputs.docs["source"].isin(affected)]
        part_blocks = blocks[blocks["source"].isin(affected)]
        groups = tasks.group_raw_documents(part, settings.dedup)
        stats = tasks.count_site_lines(part_blocks, part, groups, settings.chrome)
        cleaned = tasks.clean_documents(part, part_blocks, stats, settings.clean)
        cleaned = tasks.select_main_content(part_blocks, cleaned, stats, settings.content)
        site_lines = tasks.merge_site_lines(stats, previous, affected, inputs.docs)
        cleaned = tasks.merge_with_previous(cleaned, previous, affected, inputs.docs)
        paragraphs, paragraph_sigs = tasks.cluster_paragraphs(cleaned.paragraphs, cleaned.documents, settings.dedup, previous)
        documents, document_sigs = tasks.find_duplicate_documents(cleaned.documents, settings.dedup, previous)
        results = tasks.validate(
            documents, paragraphs, cleaned.removed, inputs.rejected, blocks, settings.clean.rules, inputs.files, inputs.docs
        )
        manifest = {
            "raw": str(settings.raw),
            "files": len(inputs.files),
            "files_read": inputs.files_read,
            "documents": len(documents),
            "rejected": len(inputs.rejected),
            "sources_cleaned": sorted(affected),
            "fingerprint": fingerprint,
        }
        summary = report.run_summary(documents, paragraphs, cleaned.removed, inputs.rejected, results, None)
        try:
            state = {"signatures": pd.concat([paragraph_sigs, document_sigs], ignore_index=True), "site_lines": site_lines}
            summary["version"] = tasks.write_and_publish(
                settings.output, documents, paragraphs, cleaned.removed, inputs.rejected, results, manifest, inputs, state
            )
        finally:
            # The artifact is written for failed runs too: it names the failing expectation.
            tasks.publish_report(summary, len(inputs.docs) + len(inputs.rejected))
    summary["changed"] = True
    get_run_logger().info("finished in %.1f s", time.perf_counter() - started)
    return summary
