"""Work-folder parts: written whole and renamed, read by doc_id range."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from flows import parts

_IDS = [f"site/{i:06d}" for i in range(10_000)]


_RANGES = [("site/000000", None), ("site/004096", "site/004097"), ("site/001234", "site/009000"), ("site/5", None)]


@pytest.mark.parametrize("ranged", [True, False])
@pytest.mark.parametrize(("lo", "hi"), _RANGES)
def test_a_range_reads_exactly_its_rows(tmp_path: Path, ranged: bool, lo: str, hi: str | None) -> None:
    path = tmp_path / "part.parquet"
    parts.write_frame(path, pd.DataFrame({"doc_id": _IDS, "n": range(len(_IDS))}), ranged=ranged)
    got = parts.read_range([path], lo, hi)
    assert got["doc_id"].tolist() == [d for d in _IDS if d >= lo and (hi is None or d < hi)]
    assert got["n"].tolist() == [int(d.split("/")[1]) for d in got["doc_id"]]


def test_ranged_parts_come_in_small_row_groups_and_others_in_large_ones(tmp_path: Path) -> None:
    frame = pd.DataFrame({"doc_id": _IDS})
    parts.write_frame(tmp_path / "ranged.parquet", frame, ranged=True)
    parts.write_frame(tmp_path / "whole.parquet", frame)
    assert pq.ParquetFile(tmp_path / "ranged.parquet").num_row_groups == 3  # 4,096 rows each
    assert pq.ParquetFile(tmp_path / "whole.parquet").num_row_groups == 1
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_work_folder_is_removed_by_a_thread_the_interpreter_waits_for(tmp_path: Path) -> None:
    work = parts.new_work_dir(tmp_path / "out")
    parts.write_frame(parts.partition_dir(work, 0) / "docs.parquet", pd.DataFrame({"doc_id": _IDS}))
    thread = parts.remove_work_dir_soon(work)
    assert not thread.daemon
    thread.join(timeout=30)
    assert not work.exists() and (tmp_path / "out").is_dir()
