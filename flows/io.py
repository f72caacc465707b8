"""Reading raw trees and JSONL files, and publishing output as atomic, versioned snapshots.

Published layout (see README): output/current -> .versions/<version>/ holding documents.parquet,
paragraphs.parquet, removed.parquet, rejected.parquet, validation.json and manifest.json. The
`current` link is switched with one rename, so a reader sees the old or the new snapshot, never a mix.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.blocks import normalize_text
from transforms.decoding import Decoded, decode_bytes

TEXT_SUFFIX = ".txt"
JSONL_SUFFIX = ".jsonl"
CURRENT = "current"
VERSIONS = ".versions"
KEEP_VERSIONS = 3


@dataclass
class Ingested:
    """Documents read from a raw tree, and the inputs that could not be read."""

    documents: list[dict[str, object]] = field(default_factory=list)
    rejected: list[dict[str, object]] = field(default_factory=list)

    def reject(self, input_path: str, doc_id: str | None, reason: str, detail: str) -> None:
        self.rejected.append({"input_path": input_path, "doc_id": doc_id, "reason": reason, "detail": detail})


def discover(raw_root: Path) -> list[str]:
    """Relative POSIX paths of every non-hidden file under raw_root, sorted."""
    if not raw_root.is_dir():
        raise FileNotFoundError(f"raw folder not found: {raw_root}")
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(raw_root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith("."):
                found.append(Path(dirpath, name).relative_to(raw_root).as_posix())
    return sorted(found)


def _source_of(rel_path: str) -> str:
    parts = rel_path.split("/")
    return parts[0] if len(parts) > 1 else ""


def _document(
    doc_id: str, source: str, input_path: str, text: str, raw_hash: str, warnings: list[str], **meta: object
) -> dict[str, object]:
    return {
        "doc_id": doc_id,
        "source": source,
        "input_path": input_path,
        "url": meta.get("url"),
        "published": meta.get("published"),
        "title": meta.get("title"),
        "text": normalize_text(text),
        "raw_hash": raw_hash,
        "warnings": warnings,
    }


def read_raw_files(raw_root: Path, rel_paths: list[str]) -> Ingested:
    """Read text and JSONL files; anything unreadable becomes a rejected row with its reason."""
    out = Ingested()
    for rel in rel_paths:
        path = raw_root / rel
        suffix = path.suffix.lower()
        if suffix not in (TEXT_SUFFIX, JSONL_SUFFIX):
            out.reject(rel, None, "unsupported_type", f"only {TEXT_SUFFIX} and {JSONL_SUFFIX} files are read")
            continue
        try:
            data = path.read_bytes()
        except OSError as err:
            out.reject(rel, None, "unreadable", f"{type(err).__name__}: {err.strerror or err}")
            continue
        stem = rel[: -len(suffix)]
        if suffix == TEXT_SUFFIX:
            decoded = decode_bytes(data)
            if not isinstance(decoded, Decoded):
                out.reject(rel, stem, decoded.reason, decoded.detail)
                continue
            raw_hash = hashlib.sha256(data).hexdigest()
            out.documents.append(_document(stem, _source_of(rel), rel, decoded.text, raw_hash, list(decoded.warnings)))
        else:
            _read_jsonl(rel, stem, data, out)
    _reject_duplicate_ids(out)
    return out


def _read_jsonl(rel: str, stem: str, data: bytes, out: Ingested) -> None:
    decoded = decode_bytes(data)
    if not isinstance(decoded, Decoded):
        out.reject(rel, None, decoded.reason, decoded.detail)
        return
    seen: set[str] = set()
    for n, line in enumerate(decoded.text.splitlines(), start=1):
        where = f"{rel}:{n}"
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            out.reject(where, None, "invalid_json", err.msg)
            continue
        if not isinstance(rec, dict):
            out.reject(where, None, "invalid_record", f"a line must hold a JSON object, not {type(rec).__name__}")
            continue
        rec_id, text = rec.get("id"), rec.get("text")
        if rec_id is None or (isinstance(rec_id, str) and not rec_id.strip()) or isinstance(rec_id, (dict, list, bool)):
            out.reject(where, None, "missing_id", "the record has no usable `id`")
            continue
        doc_id = f"{stem}/{rec_id}"
        if not isinstance(text, str):
            got = "missing" if "text" not in rec else f"a {type(text).__name__}"
            out.reject(where, doc_id, "missing_text", f"`text` must be a string; it is {got}")
            continue
        if not text.strip():
            out.reject(where, doc_id, "empty", "`text` holds only white space")
            continue
        if doc_id in seen:
            out.reject(where, doc_id, "duplicate_id", f"id {rec_id!r} appears earlier in {rel}")
            continue
        seen.add(doc_id)
        url = rec.get("url") if isinstance(rec.get("url"), str) else None
        source = rec.get("source") if isinstance(rec.get("source"), str) and rec.get("source") else None
        if source is None and url:
            source = urlsplit(url).hostname or None
        raw_hash = hashlib.sha256(line.encode("utf-8")).hexdigest()
        title = rec.get("title") if isinstance(rec.get("title"), str) else None
        published = rec.get("published") if isinstance(rec.get("published"), str) else None
        out.documents.append(
            _document(
                doc_id, source or _source_of(rel), where, text, raw_hash, list(decoded.warnings), url=url, title=title, published=published
            )
        )


def _reject_duplicate_ids(out: Ingested) -> None:
    """A doc_id made by two inputs (a.txt beside a.jsonl's record) keeps the first input path."""
    first: dict[str, dict[str, object]] = {}
    kept = []
    for doc in sorted(out.documents, key=lambda d: (str(d["doc_id"]), str(d["input_path"]))):
        other = first.get(str(doc["doc_id"]))
        if other is None:
            first[str(doc["doc_id"])] = doc
            kept.append(doc)
        else:
            out.reject(str(doc["input_path"]), str(doc["doc_id"]), "duplicate_id", f"doc_id also made by {other['input_path']}")
    out.documents = kept


def documents_frame(ingested: Ingested) -> pd.DataFrame:
    cols = ["doc_id", "source", "input_path", "url", "published", "title", "text", "raw_hash", "warnings"]
    frame = pd.DataFrame(ingested.documents, columns=cols)
    return frame.sort_values("doc_id", kind="stable").reset_index(drop=True)


def rejected_frame(ingested: Ingested) -> pd.DataFrame:
    return pd.DataFrame(ingested.rejected, columns=["input_path", "doc_id", "reason", "detail"])


# ---------------------------------------------------------------- publishing


def new_staging(output: Path) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    staging = output / f".staging-{uuid.uuid4().hex}"
    staging.mkdir()
    return staging


def write_table(folder: Path, name: str, table: pa.Table) -> Path:
    path = folder / f"{name}.parquet"
    pq.write_table(table, path, compression="zstd")
    return path


def write_json(path: Path, payload: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _fsync_tree(folder: Path) -> None:
    for p in sorted(folder.iterdir()):
        with open(p, "rb") as f:
            os.fsync(f.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(output: Path, staging: Path) -> str:
    """Move a validated staging folder into .versions/ and point `current` at it, atomically."""
    _fsync_tree(staging)
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + staging.name.rsplit("-", 1)[-1][:8]
    versions = output / VERSIONS
    versions.mkdir(exist_ok=True)
    target = versions / version
    os.replace(staging, target)
    link_tmp = output / f".{CURRENT}-{uuid.uuid4().hex}"
    os.symlink(Path(VERSIONS) / version, link_tmp, target_is_directory=True)
    os.replace(link_tmp, output / CURRENT)
    _prune_versions(versions, keep=version)
    return version


def _prune_versions(versions: Path, keep: str) -> None:
    """Keep the newest few versions so readers still holding an older one can finish."""
    old = sorted(p.name for p in versions.iterdir() if p.is_dir())
    for name in old[:-KEEP_VERSIONS]:
        if name != keep:
            shutil.rmtree(versions / name, ignore_errors=True)


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def current_version(output: Path) -> Path | None:
    link = output / CURRENT
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def iter_parquet(folder: Path) -> Iterator[Path]:
    yield from sorted(folder.glob("*.parquet"))
