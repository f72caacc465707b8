"""Prefect artifacts that summarise a run for the people watching it in the UI."""

from __future__ import annotations

from typing import Any

import pandas as pd
from prefect.artifacts import create_markdown_artifact, create_table_artifact


def run_summary(
    documents: pd.DataFrame,
    paragraphs: pd.DataFrame,
    removed: pd.DataFrame,
    rejected: pd.DataFrame,
    validation: list[Any],
    version: str | None,
) -> dict[str, Any]:
    by_reason = removed["reason"].value_counts().sort_index()
    clusters = (
        paragraphs[paragraphs["cluster_size"] > 1]
        .drop_duplicates("cluster_id")
        .sort_values(["cluster_size", "cluster_id"], ascending=[False, True])
        .head(5)
    )
    return {
        "documents_out": len(documents),
        "rejected": len(rejected),
        "duplicates": int(documents["duplicate_of"].notna().sum()) if len(documents) else 0,
        "paragraphs": len(paragraphs),
        "removed": len(removed),
        "removed_by_reason": {str(k): int(v) for k, v in by_reason.items()},
        "largest_clusters": [
            {"cluster_id": r.cluster_id, "size": int(r.cluster_size), "text": str(r.text)[:100]} for r in clusters.itertuples()
        ],
        "validation": {v.table: ("passed" if v.success else "FAILED: " + "; ".join(v.failed)) for v in validation},
        "version": version,
    }


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def publish_artifacts(summary: dict[str, Any], documents_in: int) -> None:
    lines = [
        "# newsclean run",
        "",
        f"- documents in: **{documents_in}**, documents out: **{summary['documents_out']}**, rejected: **{summary['rejected']}**",
        f"- near-duplicate documents (duplicate_of set): **{summary['duplicates']}**",
        f"- paragraphs kept: **{summary['paragraphs']}**, blocks removed: **{summary['removed']}**",
        f"- published version: `{summary['version'] or 'not published'}`",
        "",
        "## Blocks removed, by reason",
        "",
        "| reason | blocks |",
        "|---|---|",
        *(f"| {_cell(k)} | {v} |" for k, v in summary["removed_by_reason"].items()),
        "",
        "## Largest near-duplicate paragraph clusters",
        "",
        "| cluster | size | canonical text |",
        "|---|---|---|",
        *(f"| {c['cluster_id']} | {c['size']} | {_cell(c['text'])} |" for c in summary["largest_clusters"]),
        "",
        "## Validation",
        "",
        *(f"- {table}: {_cell(outcome)}" for table, outcome in summary["validation"].items()),
    ]
    create_markdown_artifact(key="newsclean-summary", markdown="\n".join(lines), description="What came in, what was removed and why")
    create_table_artifact(
        key="newsclean-removed-by-reason",
        table=[{"reason": k, "blocks": v} for k, v in summary["removed_by_reason"].items()],
        description="Blocks removed per reason",
    )
