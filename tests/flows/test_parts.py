"""Work-folder parts: written whole and renamed, read by doc_id range."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows import parts
from flows.tasks import doc_id_ranges

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


def _sizes_of_ranges(ids: list[str], sizes: list[int], limit: int) -> list[int]:
    ranges, counts = doc_id_ranges(pd.Series(ids), pd.Series(sizes), limit)
    held = [sum(n for d, n in zip(ids, sizes, strict=True) if d >= lo and (hi is None or d < hi)) for lo, hi in ranges]
    assert sum(counts) == len(ids) and [sum(1 for d in ids if d >= lo and (hi is None or d < hi)) for lo, hi in ranges] == counts, (
        "the ranges cover every id once"
    )
    return held


@pytest.mark.parametrize(
    ("sizes", "limit", "expected"),
    [
        ([10] * 20, 160, [100, 100]),  # 200 bytes at 160: two halves, not 160 and 40
        ([10] * 20, 1000, [200]),
        ([10] * 20, 50, [50, 50, 50, 50]),
        ([10] * 20, 10, [10] * 20),
        ([500, 1, 1, 1], 100, [500, 3]),  # a document larger than the limit is a range of its own; none is empty
        ([0, 0, 0], 100, [0]),
        ([30, 10, 10, 10, 30, 10], 60, [50, 50]),  # not 60 and 40
        ([5000, 100, 100, 100, 5000], 3000, [5000, 300, 5000]),  # never over the limit but for a document alone
    ],
)
def test_doc_id_ranges_cut_as_few_ranges_as_the_limit_needs_with_the_largest_as_small_as_can_be(
    sizes: list[int], limit: int, expected: list[int]
) -> None:
    ids = [f"s/{i:03d}" for i in range(len(sizes))]
    assert _sizes_of_ranges(ids, sizes, limit) == expected


def test_doc_id_ranges_sort_the_ids_and_keep_one_range_for_nothing() -> None:
    ranges, counts = doc_id_ranges(pd.Series(["b/2", "a/1", "c/3", "b/1"]), pd.Series([5, 5, 5, 5]), 10)
    assert ranges == [("", "b/2"), ("b/2", None)] and counts == [2, 2]
    assert doc_id_ranges(pd.Series([], dtype=object), pd.Series([], dtype="int64"), 10) == ([("", None)], [0])


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(0, 5000), min_size=1, max_size=60), limit=st.integers(1, 8000))
def test_doc_id_ranges_need_no_more_ranges_than_filling_each_to_the_limit(sizes: list[int], limit: int) -> None:
    ids = [f"s/{i:03d}" for i in range(len(sizes))]
    held = _sizes_of_ranges(ids, sizes, limit)
    filled, held_docs, ranges = 0, 0, 1  # filling each range in order up to the limit
    for size in sizes:
        if held_docs and filled + size > limit:
            ranges, filled, held_docs = ranges + 1, 0, 0
        filled, held_docs = filled + size, held_docs + 1
    assert len(held) == ranges
    ranges_of, _ = doc_id_ranges(pd.Series(ids), pd.Series(sizes), limit)
    for (lo, hi), total in zip(ranges_of, held, strict=True):
        alone = sum(1 for d in ids if d >= lo and (hi is None or d < hi)) == 1
        assert total <= limit or alone
