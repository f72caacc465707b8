"""Prefect artifacts that summarise a run for the people watching it in the UI."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact


def run_summary(
    *,
    documents: int,
    paragraphs: int,
    removed_by_reason: dict[str, int],
    rejected: int,
    duplicates: int,
    largest_clusters: list[dict[str, Any]],
    validation: list[Any],
    version: str | None,
) -> dict[str, Any]:
    """The run's counts (what the flow holds), for the artifacts and the CLI."""
    return {
        "documents_out": documents,
        "rejected": rejected,
        "duplicates": duplicates,
        "paragraphs": paragraphs,
        "removed": sum(removed_by_reason.values()),
        "removed_by_reason": removed_by_reason,
        "largest_clusters": largest_clusters,
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
