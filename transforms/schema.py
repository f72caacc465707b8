"""Column names and the Parquet schema of every table newsclean writes, in one place."""

from __future__ import annotations

import pyarrow as pa

DOCUMENTS = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("published", pa.string()),
        pa.field("title", pa.string()),
        pa.field("title_position", pa.int32()),
        pa.field("byline", pa.string()),
        pa.field("byline_position", pa.int32()),
        pa.field("captions", pa.list_(pa.string()), nullable=False),
        pa.field("caption_positions", pa.list_(pa.int32()), nullable=False),
        pa.field("credits", pa.list_(pa.string()), nullable=False),
        pa.field("credit_positions", pa.list_(pa.int32()), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("paragraph_count", pa.int32(), nullable=False),
        pa.field("block_count", pa.int32(), nullable=False),
        pa.field("duplicate_of", pa.string()),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("raw_hash", pa.string(), nullable=False),
        pa.field("warnings", pa.list_(pa.string()), nullable=False),
    ]
)

PARAGRAPHS = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("position", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("cluster_size", pa.int32(), nullable=False),
        pa.field("is_canonical", pa.bool_(), nullable=False),
    ]
)

REMOVED = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("position", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("matched", pa.string()),
    ]
)

REJECTED = pa.schema(
    [
        pa.field("input_path", pa.string(), nullable=False),
        pa.field("doc_id", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "documents": DOCUMENTS,
    "paragraphs": PARAGRAPHS,
    "removed": REMOVED,
    "rejected": REJECTED,
}

# Roles a kept paragraph can have.
ROLE_BODY = "body"
ROLE_HEADING = "heading"
