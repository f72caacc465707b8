"""The run's work folder: partition parts as Parquet and .npy files on a path every worker sees.

Tasks pass each other folder names and counts, never data: a part is written by the task that
makes it and read by the tasks that need it, so no process holds more than a partition (or, for
the global stages, the band keys and ids of all partitions).

Layout (under output/.work-<run>/):
  read/NNNNN.parquet        documents as read from one batch of files (reused.parquet: from the last run)
  accepted.parquet          doc_id -> the input path that keeps it (duplicate ids resolved)
  pNNNNN/                   one partition: a range of doc_ids
    docs.parquet, blocks.parquet, raw_ids.parquet, raw_texts.parquet, raw_keys.npy, raw_text_ids.npy
    lines.parquet, sizes.parquet
    documents.parquet, paragraphs.parquet, removed.parquet, signatures.parquet,
    paragraph_keys.npy, document_keys.npy, paragraph_text_ids.npy, document_text_ids.npy
    paragraph_clusters.parquet, document_duplicates.parquet
    final_documents.parquet, final_paragraphs.parquet, final_removed.parquet
  groups.parquet, site_lines.parquet (recurring lines), site_sizes.parquet, state_site_lines.parquet (every line)
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

WORK_PREFIX = ".work-"
# Parts are read once or twice and deleted with the run: neither compressed nor dictionary-encoded,
# which halves the time to write and read them (texts make dictionaries that are tried and dropped).
# Row groups of 64k rows: 4,096 took twice as long to write (a partition's blocks: 0.145 against 0.075 s).
WORK_PARQUET: dict[str, Any] = {"compression": "none", "use_dictionary": False, "row_group_size": 65536}
# Parts read by doc_id range (read_range): small row groups, whose statistics let a reader skip most of them.
RANGED_PARQUET: dict[str, Any] = {**WORK_PARQUET, "row_group_size": 4096}


def new_work_dir(output: Path) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    work = output / f"{WORK_PREFIX}{uuid.uuid4().hex}"
    (work / "read").mkdir(parents=True)
    return work


def remove_work_dir(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)


def remove_work_dir_soon(work: Path) -> threading.Thread:
    """`remove_work_dir` in a thread of its own, started now; the interpreter waits for it before exiting.

    Deleting a corpus run's parts (680 MB) took 0.5 s; the run returns while it goes on, beside the
    run's last steps (Prefect finishing the flow run, the temporary server stopping). A folder left
    by a process that was killed first is cleared by the next run (io.clear_leftovers).
    """
    thread = threading.Thread(target=remove_work_dir, args=(work,), name=f"remove {work.name}", daemon=False)
    thread.start()
    return thread


def partition_dir(work: Path, index: int) -> Path:
    folder = work / f"p{index:05d}"
    folder.mkdir(exist_ok=True)
    return folder


def write_frame(path: Path, frame: pd.DataFrame, schema: pa.Schema | None = None, ranged: bool = False) -> None:
    write_table(path, pa.Table.from_pandas(frame, schema=schema, preserve_index=False), ranged)


def write_table(path: Path, table: pa.Table, ranged: bool = False) -> None:
    """A part, written under a temporary name and renamed: a reader never sees half of one.

    `ranged`: the part will be read by `read_range`, and is written in small row groups.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, **(RANGED_PARQUET if ranged else WORK_PARQUET))
    tmp.replace(path)


def read_frame(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    return pq.read_table(path, columns=list(columns) if columns else None).to_pandas()


def write_array(path: Path, array: npt.NDArray[np.generic]) -> None:
    tmp = path.with_name(f".{path.name}.tmp.npy")
    np.save(tmp, array)
    tmp.replace(path)


def read_array(path: Path) -> npt.NDArray[np.generic]:
    out: npt.NDArray[np.generic] = np.load(path)
    return out


def read_range(files: Sequence[Path], lo: str, hi: str | None, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows with lo <= doc_id < hi (hi None: no upper bound) from Parquet files sorted by doc_id."""
    if not files:
        return pd.DataFrame(columns=list(columns) if columns else None)
    dataset = ds.dataset([str(f) for f in files], format="parquet")
    field = pc.field("doc_id")
    condition = field >= lo if hi is None else (field >= lo) & (field < hi)
    return dataset.to_table(columns=list(columns) if columns else None, filter=condition).to_pandas()


def read_doc_ids(path: Path, doc_ids: Sequence[str], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows of one Parquet file whose doc_id is among `doc_ids` (a published table of the last run)."""
    if not doc_ids:
        return (
            pq.read_schema(path).empty_table().to_pandas()
            if columns is None
            else pq.read_table(path, columns=list(columns)).slice(0, 0).to_pandas()
        )
    wanted = pa.array(sorted(set(doc_ids)), type=pa.string())
    dataset = ds.dataset(str(path), format="parquet")
    return dataset.to_table(columns=list(columns) if columns else None, filter=pc.field("doc_id").isin(wanted)).to_pandas()


def stream_concat(parts: Sequence[Path], target: Path, schema: pa.Schema) -> int:
    """Concatenate Parquet parts, in order, into one file in `schema`, one part in memory at a time."""
    rows = 0
    with pq.ParquetWriter(target, schema, compression="zstd") as writer:
        for part in parts:
            table = pq.read_table(part)
            if table.num_rows:
                writer.write_table(table.select(schema.names).cast(schema))
                rows += table.num_rows
    return rows
