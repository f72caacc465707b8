"""The flow on a Dask LocalCluster of 2 worker processes publishes exactly what the single-process run does."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pandas as pd
import pytest

from flows import io
from flows.clean import clean_flow
from flows.runners import dask_runner
from tests.conftest import require_shared
from transforms.schema import TABLES

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow, pytest.mark.shared]

CORPUS_DOCS = 2100
PARTITION_MB = 0.4  # small, so the ~3 MB input makes several partitions


def _raw_tree(tmp: Path) -> Path:
    raw = tmp / "raw"
    shutil.copytree(require_shared("seeds", "raw"), raw)
    corpus = require_shared("corpus", "reuters21578.jsonl")
    (raw / "wire").mkdir()
    with corpus.open(encoding="utf-8") as src:
        lines = list(itertools.islice(src, CORPUS_DOCS))
    # Two files, so read batches differ from doc_id partitions; a copy of a record in both tests reprints across partitions.
    (raw / "wire" / "a.jsonl").write_text("".join(lines[: CORPUS_DOCS // 2]), encoding="utf-8")
    (raw / "wire" / "b.jsonl").write_text("".join(lines[CORPUS_DOCS // 2 :] + lines[:1]), encoding="utf-8")
    return raw


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    current = io.current_version(out)
    assert current is not None
    return {name: pd.read_parquet(current / f"{name}.parquet") for name in TABLES}


def test_two_dask_workers_publish_the_same_rows_as_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_API_URL

    raw = _raw_tree(tmp_path)
    single = clean_flow(raw=str(raw), output=str(tmp_path / "single"), partition_mb=PARTITION_MB)
    # Worker processes report to the test's Prefect server, not to servers of their own.
    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
    on_dask = clean_flow.with_options(task_runner=dask_runner(workers=2))
    distributed = on_dask(raw=str(raw), output=str(tmp_path / "dask"), partition_mb=PARTITION_MB)

    a, b = _tables(tmp_path / "single"), _tables(tmp_path / "dask")
    assert len(a["documents"]) >= CORPUS_DOCS
    assert a["documents"]["duplicate_of"].notna().any()
    for name in TABLES:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)
    assert single["documents_out"] == distributed["documents_out"]
    manifest = pd.read_json(io.current_version(tmp_path / "dask") / "manifest.json", typ="series")  # type: ignore[operator]
    assert manifest["partitions"] > 2
