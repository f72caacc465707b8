"""The cleaning flow end to end, under a temporary Prefect server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from flows import io
from flows.clean import clean_flow
from tests.conftest import PROJECT, SEED_NAMES, require_shared
from transforms.blocks import collapse_whitespace
from transforms.schema import TABLES

pytestmark = pytest.mark.usefixtures("prefect_harness")
SAMPLE = PROJECT / "raw"


def _run(raw: Path, out: Path) -> dict[str, object]:
    return clean_flow(raw=str(raw), output=str(out))


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(out / io.CURRENT / f"{name}.parquet") for name in TABLES}


def test_sample_corpus_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = _run(SAMPLE, out)
    assert summary["version"]
    current = out / io.CURRENT
    # Every table has exactly the documented schema, for pyarrow and for DuckDB.
    for name, schema in TABLES.items():
        assert pq.read_schema(current / f"{name}.parquet").remove_metadata().equals(schema), name
        columns = [row[0] for row in duckdb.sql(f"describe select * from '{current / name}.parquet'").fetchall()]
        assert columns == schema.names, name
    t = _tables(out)
    docs = t["documents"].set_index("doc_id")
    assert len(docs) == 7 and t["rejected"].empty
    bridge = docs.loc["rivertonherald.example/2026-03-02-bridge-reopens"]
    assert bridge["title"] == "Old Mill Bridge Reopens After Two-Year Repair"
    assert bridge["byline"] == "By Harriet Ostrowski"
    assert list(bridge["credits"]) == ["Dana Whitfield / AP Photo"]
    assert len(bridge["captions"]) == 1 and "Dana Whitfield" not in bridge["captions"][0]
    # The syndicated copy points at the copy published first.
    assert docs.loc["feeds/wire/wire-0413", "duplicate_of"] == "feeds/wire/wire-0412"
    assert pd.isna(docs.loc["feeds/wire/wire-0412", "duplicate_of"])
    paras = t["paragraphs"]
    wire = paras[paras["doc_id"].str.startswith("feeds/wire/") & (paras["cluster_size"] > 1)]
    assert wire.groupby("cluster_id")["is_canonical"].sum().eq(1).all()
    assert set(wire[wire["is_canonical"]]["doc_id"]) == {"feeds/wire/wire-0412"}
    # Site chrome recurring across the Herald's pages is audited with its reason.
    removed = t["removed"]
    assert "site_chrome" in set(removed["reason"])
    assert (removed["reason"] != "").all()
    # The validation result is saved next to the output.
    assert json.loads((current / "validation.json").read_text())["conservation"]["success"] is True


def test_same_rows_whatever_the_file_order(tmp_path: Path) -> None:
    forward, backward = tmp_path / "a", tmp_path / "b"
    files = sorted(p for p in SAMPLE.rglob("*") if p.is_file())
    for root, order in ((forward, files), (backward, list(reversed(files)))):
        for p in order:
            target = root / p.relative_to(SAMPLE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)
    _run(forward, tmp_path / "out-a")
    _run(backward, tmp_path / "out-b")
    a, b = _tables(tmp_path / "out-a"), _tables(tmp_path / "out-b")
    for name in TABLES:
        pd.testing.assert_frame_equal(a[name], b[name], check_like=False)


def test_failed_validation_publishes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    shutil.copytree(SAMPLE, raw)
    _run(raw, out)
    before = io.current_version(out)
    (raw / "rivertonherald.example" / "new-page.txt").write_text("A New Page Arrives\nIt has one paragraph of text.\n")
    strict = tmp_path / "expectations"
    shutil.copytree(PROJECT / "expectations", strict)
    spec = json.loads((strict / "documents.json").read_text())
    spec["expectations"].append({"type": "expect_table_row_count_to_equal", "kwargs": {"value": 999}})
    (strict / "documents.json").write_text(json.dumps(spec))
    monkeypatch.setattr("flows.validation.EXPECTATIONS_DIR", strict)
    with pytest.raises(Exception, match="expect_table_row_count_to_equal"):
        _run(raw, out)
    assert io.current_version(out) == before
    assert not list(out.glob(".staging-*"))
    saved = json.loads((out / "validation-latest.json").read_text())
    assert saved["documents"]["success"] is False


def test_seeds_through_the_flow(tmp_path: Path) -> None:
    seeds = require_shared("seeds")
    raw = tmp_path / "raw" / "seeds"
    raw.mkdir(parents=True)
    for name in SEED_NAMES:
        shutil.copyfile(seeds / "raw" / f"{name}.txt", raw / f"{name}.txt")
    _run(tmp_path / "raw", tmp_path / "out")
    docs = _tables(tmp_path / "out")["documents"].set_index("doc_id")
    for name in SEED_NAMES:
        gold = json.loads((seeds / "gold" / f"{name}.json").read_text(encoding="utf-8"))
        row = docs.loc[f"seeds/{name}"]
        assert row["title"] == gold["title"]
        assert [collapse_whitespace(p) for p in row["text"].split("\n\n")] == [collapse_whitespace(b) for b in gold["body"]]
    assert "Raymond Cao" in docs.loc["seeds/002_160402298ecf2569", "byline"]


def test_score_py_accepts_the_output(tmp_path: Path) -> None:
    set_dir = require_shared("eval", "dev_cleanportaleval")
    _run(set_dir / "raw", tmp_path / "out")
    done = subprocess.run(
        [sys.executable, str(set_dir.parent / "score.py"), str(set_dir), str(tmp_path / "out"), "--json", str(tmp_path / "s.json")],
        capture_output=True,
        text=True,
        check=True,
    )
    res = json.loads((tmp_path / "s.json").read_text())["sets"]["dev_cleanportaleval"]
    assert res["missing"] == 0 and res["duplicate"] == 0, done.stdout
    assert res["F1"] > 0.8
