"""Reading raw trees and JSONL files, and publishing output as atomic, versioned snapshots.

Published layout (see README): output/current -> .versions/<version>/ holding documents.parquet,
paragraphs.parquet, removed.parquet, rejected.parquet, validation.json and manifest.json. The
`current` link is switched with one rename, so a reader sees the old or the new snapshot, never a mix.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from transforms.blocks import normalized_array
from transforms.decoding import Decoded, decode_bytes
from transforms.dedup import published_instant, text_key
from transforms.schema import TABLES
from transforms.tables import CleanedCorpus

TEXT_SUFFIX = ".txt"
JSONL_SUFFIX = ".jsonl"
# Limits past which an input is not news text: a file the size of a disk image, a minified blob on one line.
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_LINE_CHARS = 1_000_000
CURRENT = "current"
VERSIONS = ".versions"
KEEP_VERSIONS = 3


def input_file_of(input_path: str) -> str:
    """The file an input came from: `feeds/wire.jsonl:12` -> `feeds/wire.jsonl`."""
    return input_path.rsplit(":", 1)[0] if JSONL_SUFFIX + ":" in input_path else input_path


@dataclass
class Ingested:
    """Documents read from a raw tree, and the inputs that could not be read."""

    documents: list[dict[str, object]] = field(default_factory=list)
    rejected: list[dict[str, object]] = field(default_factory=list)

    def reject(self, input_path: str, doc_id: str | None, reason: str, detail: str) -> None:
        self.rejected.append(
            {"input_path": input_path, "input_file": input_file_of(input_path), "doc_id": doc_id, "reason": reason, "detail": detail}
        )


def _is_loop(target: str, chain: frozenset[str]) -> bool:
    """Does a folder whose real path is `target` lead back into the walk: one of the folders it is
    inside (`chain`, their real paths), or a folder above one of them?"""
    above = target.rstrip(os.sep) + os.sep
    return target in chain or any(real.startswith(above) for real in chain)


def discover(raw_root: Path) -> list[str]:
    """Relative POSIX paths of every non-hidden file under raw_root, sorted.

    Symlinked folders are followed (a raw tree is often links to crawl outputs), except a link back
    to a folder the walk is inside, or above it: that is a loop, and its files are found anyway.
    """
    if not raw_root.is_dir():
        raise FileNotFoundError(f"raw folder not found: {raw_root}")
    found: list[str] = []
    chains = {str(raw_root): frozenset({os.path.realpath(raw_root)})}
    for dirpath, dirnames, filenames in os.walk(raw_root, followlinks=True):
        chain = chains.pop(dirpath)
        kept = []
        for name in dirnames:
            if name.startswith("."):
                continue
            target = os.path.realpath(os.path.join(dirpath, name))
            if not _is_loop(target, chain):
                kept.append(name)
                chains[os.path.join(dirpath, name)] = chain | {target}
        dirnames[:] = kept
        for name in filenames:
            if not name.startswith("."):
                found.append(Path(dirpath, name).relative_to(raw_root).as_posix())
    return sorted(found)


_HTML = re.compile(r"<(?:html|body|div|p|span|a\s|script|table)\b[^>]*>", re.IGNORECASE)


def _too_long_line(text: str) -> str | None:
    if len(text) <= MAX_LINE_CHARS:
        return None
    longest = max((len(line) for line in text.splitlines()), default=0)
    return f"a line of {longest} characters; the limit is {MAX_LINE_CHARS}" if longest > MAX_LINE_CHARS else None


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
        "input_file": input_file_of(input_path),
        "url": meta.get("url"),
        "published": meta.get("published"),
        "title": meta.get("title"),
        "text": text,  # normalised in bulk by documents_frame
        "raw_hash": raw_hash,
        "warnings": warnings,
    }


def scan(raw_root: Path) -> pd.DataFrame:
    """Every input file with its size and modification time (how unchanged files are recognised)."""
    rows = []
    for rel in discover(raw_root):
        try:
            st = (raw_root / rel).stat()
            rows.append((rel, st.st_size, st.st_mtime_ns))
        except OSError:
            rows.append((rel, -1, -1))  # unreadable: read (and rejected) on every run
    return pd.DataFrame(rows, columns=["input_path", "size", "mtime_ns"])


def read_raw_files(raw_root: Path, rel_paths: list[str]) -> Ingested:
    """Read text and JSONL files; anything unreadable becomes a rejected row with its reason.

    Documents are not yet checked for doc_ids made twice: see resolve_duplicate_ids.
    """
    out = Ingested()
    for rel in rel_paths:
        path = raw_root / rel
        suffix = path.suffix.lower()
        if suffix not in (TEXT_SUFFIX, JSONL_SUFFIX):
            out.reject(rel, None, "unsupported_type", f"only {TEXT_SUFFIX} and {JSONL_SUFFIX} files are read")
            continue
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                out.reject(rel, None, "too_large", f"{size} bytes; the limit is {MAX_FILE_BYTES}")
                continue
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
            problem = _too_long_line(decoded.text)
            if problem:
                out.reject(rel, stem, "line_too_long", problem)
                continue
            warnings = list(decoded.warnings)
            if _HTML.search(decoded.text[:65536]):
                warnings.append("looks like HTML markup; cleaned as text, tags kept")
            raw_hash = hashlib.sha256(data).hexdigest()
            out.documents.append(_document(stem, _source_of(rel), rel, decoded.text, raw_hash, warnings))
        else:
            _read_jsonl(rel, stem, data, out)
    return out


# JSON may escape half of a UTF-16 pair (\ud83d alone): Python decodes it to a lone surrogate, which
# no UTF-8 writer accepts. Such code points become U+FFFD, with a warning on the document.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_RECORD_STRINGS = ("id", "text", "title", "url", "source", "published")


def _replace_lone_surrogates(rec: dict[str, object]) -> int:
    """Replace lone surrogates in the string fields newsclean reads; how many there were."""
    replaced = 0
    for key in _RECORD_STRINGS:
        value = rec.get(key)
        if isinstance(value, str):
            rec[key], n = _SURROGATE.subn("\ufffd", value)
            replaced += n
    return replaced


_OPTIONAL_STRINGS = ("title", "url", "source", "published")


def _jsonl_lines(text: str) -> list[str]:
    """Lines ended by \n, \r\n or \r, which a JSON string cannot hold unescaped.

    Not str.splitlines: it also cuts at U+2028, U+2029 or U+0085, which JSON allows raw inside a
    string, and the record was rejected as invalid JSON.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _optional_fields(rec: dict[str, object]) -> tuple[dict[str, str | None], list[str]]:
    """A record's optional string fields (None where absent or not a string), and why any given one is not used."""
    fields: dict[str, str | None] = {}
    warnings = []
    for key in _OPTIONAL_STRINGS:
        value = rec.get(key)
        fields[key] = value if isinstance(value, str) else None
        if value is not None and fields[key] is None:
            warnings.append(f"ignored `{key}`: not a string but {type(value).__name__}")
    published = fields["published"]
    if published is not None and published_instant(published) is None:
        warnings.append(f"`published` {published[:40]!r} cannot be read as an ISO 8601 date: near-duplicates order it as undated")
    return fields, warnings


def _read_jsonl(rel: str, stem: str, data: bytes, out: Ingested) -> None:
    decoded = decode_bytes(data)
    if not isinstance(decoded, Decoded):
        out.reject(rel, None, decoded.reason, decoded.detail)
        return
    seen: set[str] = set()
    before = (len(out.documents), len(out.rejected))
    for n, line in enumerate(_jsonl_lines(decoded.text), start=1):
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
        warnings = list(decoded.warnings)
        if _ESCAPED_SURROGATE.search(line) and (replaced := _replace_lone_surrogates(rec)):
            warnings.append(f"replaced {replaced} lone surrogate escape(s) with U+FFFD")
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
        problem = _too_long_line(text)
        if problem:
            out.reject(where, doc_id, "line_too_long", problem)
            continue
        seen.add(doc_id)
        fields, unused = _optional_fields(rec)
        url, source = fields["url"], fields["source"] or None
        if source is None and url:
            source = urlsplit(url).hostname or None
        raw_hash = hashlib.sha256(line.encode("utf-8")).hexdigest()
        out.documents.append(
            _document(
                doc_id,
                source or _source_of(rel),
                where,
                text,
                raw_hash,
                warnings + unused,
                url=url,
                title=fields["title"],
                published=fields["published"],
            )
        )
    if (len(out.documents), len(out.rejected)) == before:
        out.reject(rel, None, "empty", "the file holds no JSON records")


def resolve_duplicate_ids(docs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A doc_id made by two inputs (a.txt beside a.jsonl's record) keeps the first input path."""
    ordered = docs.sort_values(["doc_id", "input_path"], kind="stable")
    dup = ordered["doc_id"].duplicated(keep="first")
    first_path = ordered.drop_duplicates("doc_id").set_index("doc_id")["input_path"]
    rejected = pd.DataFrame(
        {
            "input_path": ordered.loc[dup, "input_path"],
            "input_file": ordered.loc[dup, "input_file"],
            "doc_id": ordered.loc[dup, "doc_id"],
            "reason": "duplicate_id",
            "detail": [f"doc_id also made by {first_path[d]}" for d in ordered.loc[dup, "doc_id"]],
        }
    )
    return ordered[~dup].reset_index(drop=True), rejected.reset_index(drop=True)


DOC_COLUMNS = ["doc_id", "source", "input_path", "input_file", "url", "published", "title", "text", "raw_hash", "warnings"]
REJECTED_COLUMNS = ["input_path", "input_file", "doc_id", "reason", "detail"]


def documents_frame(ingested: Ingested) -> pd.DataFrame:
    """Documents as read, texts normalised, sorted by doc_id, input_path (duplicate doc_ids not yet resolved)."""
    if not ingested.documents:
        # Typed, not object columns of nothing: a batch of only rejected files is still a batch.
        return INPUTS_SCHEMA.empty_table().to_pandas()
    frame = pd.DataFrame(ingested.documents, columns=DOC_COLUMNS)
    frame["text"] = normalized_array(frame["text"]).to_pandas().set_axis(frame.index)  # Arrow to Arrow: no Python strings
    return frame.sort_values(["doc_id", "input_path"], kind="stable").reset_index(drop=True)


def rejected_frame(ingested: Ingested) -> pd.DataFrame:
    return pd.DataFrame(ingested.rejected, columns=REJECTED_COLUMNS)


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
    """Flush every file and folder below `folder` to disk before the switch makes it visible."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    for path in [*sorted(p for p in folder.rglob("*") if p.is_dir()), folder]:
        fd = os.open(path, os.O_RDONLY)
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


def clear_leftovers(output: Path) -> list[str]:
    """Remove staging folders and link temporaries of runs that died (call only while holding the lock)."""
    gone = []
    for path in sorted(output.glob(".staging-*")) + sorted(output.glob(f".{CURRENT}-*")) + sorted(output.glob(".work-*")):
        if path.is_symlink() or path.is_file():
            path.unlink()
        else:
            shutil.rmtree(path, ignore_errors=True)
        gone.append(path.name)
    return gone


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def current_version(output: Path) -> Path | None:
    link = output / CURRENT
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


# ---------------------------------------------------------------- state between runs

STATE = "state"


@dataclass
class PreviousRun:
    """The last published version: where it is and the small parts of its state. Tables, inputs and
    signatures stay on disk; tasks read the rows they need (previous_* below)."""

    version: str
    folder: Path
    files: pd.DataFrame  # input_path, size, mtime_ns
    read_rejections: pd.DataFrame  # rejections made while reading (per input path)
    settings: dict[str, object]


class UnusableState(RuntimeError):
    """The current version's state or tables cannot be read; the run cleans everything instead."""


# What an incremental run reads of the current version's state (besides its tables, schema.TABLES).
_STATE_PARQUET = ("files", "inputs", "read_rejections", "site_lines")
# Stored signatures: one Parquet file per partition of the run that made them (the partition's own
# part, linked, not copied). A text found in two partitions is stored in both, with one signature.
SIGNATURES = "signatures"


def load_previous(output: Path, fingerprint: str) -> PreviousRun | None:
    """The current version and its state, or None: first run, a version without state, or one
    made with other settings (whose rows, signatures and counts must not be reused).

    Raises UnusableState when a file the reuse needs cannot be opened (truncated, damaged).
    """
    folder = current_version(output)
    if folder is None or not (folder / STATE / "settings.json").is_file():
        return None
    state = folder / STATE
    try:
        settings = json.loads((state / "settings.json").read_text(encoding="utf-8"))
        if settings.get("fingerprint") != fingerprint:
            return None
        # Each file's footer and schema: a damaged file fails here, before any of it is reused.
        signature_parts = sorted((state / SIGNATURES).glob("*.parquet"))
        if not signature_parts:
            raise FileNotFoundError(f"no stored signatures in {state / SIGNATURES}")
        for path in [*(folder / f"{n}.parquet" for n in TABLES), *(state / f"{n}.parquet" for n in _STATE_PARQUET), *signature_parts]:
            pq.read_schema(path)
        return PreviousRun(
            version=folder.name,
            folder=folder,
            files=pd.read_parquet(state / "files.parquet"),
            read_rejections=pd.read_parquet(state / "read_rejections.parquet"),
            settings=settings,
        )
    except (OSError, ValueError, pa.ArrowException) as err:  # JSONDecodeError is a ValueError
        raise UnusableState(f"version {folder.name}: {str(err).splitlines()[0] if str(err) else type(err).__name__}") from err


def previous_table(previous: PreviousRun, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    return pd.read_parquet(previous.folder / f"{name}.parquet", columns=columns)


def previous_inputs(previous: PreviousRun, input_files: list[str]) -> pd.DataFrame:
    """Documents as the last run read them, for the given (unchanged) input files."""
    wanted = pa.array(sorted(set(input_files)), type=pa.string())
    table = ds.dataset(str(previous.folder / STATE / "inputs.parquet"), format="parquet").to_table(
        filter=pc.field("input_file").isin(wanted)
    )
    return table.to_pandas().sort_values(["doc_id", "input_path"], kind="stable").reset_index(drop=True)


def previous_site_lines(previous: PreviousRun) -> pd.DataFrame:
    return pd.read_parquet(previous.folder / STATE / "site_lines.parquet")


def previous_rows(previous: PreviousRun, doc_ids: list[str]) -> CleanedCorpus:
    """The published rows of some documents, as the cleaner made them (before near-duplicate columns)."""
    from flows.parts import read_doc_ids

    folder = previous.folder
    return CleanedCorpus(
        documents=read_doc_ids(folder / "documents.parquet", doc_ids).drop(columns=["duplicate_of"]),
        paragraphs=read_doc_ids(folder / "paragraphs.parquet", doc_ids, ["doc_id", "position", "text", "role"]),
        removed=read_doc_ids(folder / "removed.parquet", doc_ids),
    )


def previous_signatures(previous: PreviousRun, keys: list[str]) -> dict[str, dict[str, npt.NDArray[np.uint32]]]:
    """Stored signatures of the texts with these text_keys, by kind."""
    wanted = pa.array(sorted(set(keys)), type=pa.string())
    table = ds.dataset(str(previous.folder / STATE / SIGNATURES), format="parquet").to_table(filter=pc.field("text_key").isin(wanted))
    return _signature_map(table)


def _signature_map(table: pa.Table) -> dict[str, dict[str, npt.NDArray[np.uint32]]]:
    kinds = table.column("kind").to_pylist()
    keys = table.column("text_key").to_pylist()
    values = signature_values(table.column("signature"))
    out: dict[str, dict[str, npt.NDArray[np.uint32]]] = {}
    for i, (kind, key) in enumerate(zip(kinds, keys, strict=True)):
        out.setdefault(kind, {})[key] = values[i]
    return out


def signature_values(column: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.uint32]:
    """Stored signatures (each its hash values as little-endian uint32 bytes) as one rows x num_perm array."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    array = array.cast(pa.large_binary())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    sizes = np.diff(offsets)
    if len(array) == 0 or offsets[-1] == offsets[0]:
        return np.zeros((len(array), 0), dtype=np.uint32)
    if (sizes != sizes[0]).any() or sizes[0] % 4:
        raise ValueError("stored signatures must all hold the same number of 4-byte hash values")
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.view("<u4").reshape(len(array), int(sizes[0]) // 4).astype(np.uint32)


def read_signatures(path: Path) -> dict[str, dict[str, npt.NDArray[np.uint32]]]:
    """Signatures of one Parquet file, or of a folder of them (a version's state/signatures)."""
    return _signature_map(pq.read_table(path))


# A signature is stored as the bytes of its hash values (little-endian uint32): Parquet writes and
# reads such a column 3-4x faster than a list of uint32, whose every value carries a level.
SIGNATURES_SCHEMA = pa.schema([("kind", pa.string()), ("text_key", pa.string()), ("signature", pa.large_binary())])
INPUTS_SCHEMA = pa.schema([(c, pa.list_(pa.string()) if c == "warnings" else pa.string()) for c in DOC_COLUMNS])
SITE_LINES_SCHEMA = pa.schema([("source", pa.string()), ("key", pa.string()), ("documents", pa.int64())])


def signature_table(kind: str, texts: list[str], sig: npt.NDArray[np.uint32]) -> pa.Table:
    """Signatures to store, one per distinct text (datasketch affine32, seed 1: see transforms/minhash.py).

    `MinHash(hashvalues=np.frombuffer(stored, "<u4"), scheme="affine32", seed=1)` rebuilds one.
    """
    keys = pa.array([text_key(t) for t in texts], pa.string())
    # The first row of each key, found in Arrow: a pandas Index of the key strings held the GIL.
    rows = np.sort(np.unique(keys.dictionary_encode().indices.to_numpy(), return_index=True)[1]).astype(np.int64)
    width = 4 * sig.shape[1]
    offsets = np.arange(len(rows) + 1, dtype=np.int64) * width
    data = np.ascontiguousarray(sig[rows], dtype="<u4").tobytes()
    return pa.table(
        {
            "kind": pa.array([kind] * len(rows), pa.string()),
            "text_key": keys.take(pa.array(rows, pa.int64())),
            "signature": pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(rows), [None, pa.py_buffer(offsets), pa.py_buffer(data)]),
        },
        schema=SIGNATURES_SCHEMA,
    )


def write_state(
    staging: Path,
    files: pd.DataFrame,
    input_parts: list[Path],
    read_rejections: pd.DataFrame,
    settings: dict[str, object],
    signature_parts: list[Path],
    site_lines: Path,
) -> None:
    """Plain Parquet and JSON (no pickles), inside the version so it switches with the tables.

    Inputs are streamed from the run's parts, one part in memory at a time. The signature parts
    (one per partition, written in SIGNATURES_SCHEMA) are linked into the state as they are.
    """
    state = staging / STATE
    state.mkdir()
    pq.write_table(pa.Table.from_pandas(files, preserve_index=False), state / "files.parquet")
    with pq.ParquetWriter(state / "inputs.parquet", INPUTS_SCHEMA, compression="zstd") as writer:
        for part in input_parts:
            writer.write_table(pq.read_table(part).select(INPUTS_SCHEMA.names).cast(INPUTS_SCHEMA))
    rej_schema = pa.schema([(c, pa.string()) for c in REJECTED_COLUMNS])
    rej_table = pa.Table.from_pandas(read_rejections[REJECTED_COLUMNS], schema=rej_schema, preserve_index=False)
    pq.write_table(rej_table, state / "read_rejections.parquet")
    (state / SIGNATURES).mkdir()
    for number, part in enumerate(signature_parts):
        if pq.read_schema(part).remove_metadata() != SIGNATURES_SCHEMA:
            raise ValueError(f"{part}: not in the signatures schema")
        _link_or_copy(part, state / SIGNATURES / f"part-{number:05d}.parquet")
    pq.write_table(
        pq.read_table(site_lines).select(SITE_LINES_SCHEMA.names).cast(SITE_LINES_SCHEMA), state / "site_lines.parquet", compression="zstd"
    )
    write_json(state / "settings.json", settings)
    # Flushed now, while other work goes on: publishing flushes the whole folder again, and finds these clean.
    _fsync_tree(state)


def _link_or_copy(source: Path, target: Path) -> None:
    """A second name for a finished part (the work folder is on the output's file system); a copy where links are not allowed."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


class RunLocked(RuntimeError):
    """Another run is publishing into the same output folder."""


@contextmanager
def run_lock(output: Path) -> Iterator[None]:
    """An exclusive lock on output/.lock for the whole run: a second run exits with a clear message."""
    output.mkdir(parents=True, exist_ok=True)
    path = output / ".lock"
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunLocked(f"{output} is locked by a running newsclean run ({holder}); try again when it has finished") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(UTC).isoformat(timespec='seconds')}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
