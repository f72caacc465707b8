"""Incremental runs: batches publish the same rows as one run; a rerun with no new input changes nothing."""

from __future__ import annotations

import json
import os
import random
import shutil
import threading
from pathlib import Path

import pandas as pd
import pytest

from flows import io
from flows.clean import clean_flow
from tests.conftest import SEED_NAMES, require_shared
from transforms.schema import TABLES

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _articles(n: int) -> list[dict[str, str]]:
    corpus = require_shared("corpus", "bbc_fulltext.jsonl")
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(3)
    return rng.sample(rows, n)


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _files(articles: list[dict[str, str]]) -> dict[str, str]:
    """Articles as pages of five sites (with a little chrome each), seeds at the root, syndicated copies."""
    files = {}
    for i, art in enumerate(articles):
        site = f"site{i % 5}.example"
        chrome = f"{site} home\nSign up for our newsletter\n"
        files[f"{site}/{art['id']}.txt"] = f"{art['title']}\n{chrome}{art['title']}\n{art['text']}\nShare this article\n"
    for name in SEED_NAMES:
        files[f"seeds/{name}.txt"] = require_shared("seeds", "raw", f"{name}.txt").read_text(encoding="utf-8")
    # Syndicated copies of some articles on a wire site: near-duplicates across sources.
    for art in articles[:6]:
        files[f"wire.example/copy-{art['id']}.txt"] = f"{art['title']}\n{art['text']}\nDistributed by Wire Example"
    return files


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(out / io.CURRENT / f"{name}.parquet") for name in TABLES}


def _assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)


def test_batches_publish_the_same_rows_as_one_run(tmp_path: Path) -> None:
    files = _files(_articles(210))
    names = sorted(files)
    random.Random(5).shuffle(names)
    batches = [names[: len(names) // 3], names[len(names) // 3 : 2 * len(names) // 3], names[2 * len(names) // 3 :]]
    raw, out = tmp_path / "raw", tmp_path / "out"
    for batch in batches:
        for rel in batch:
            _write(raw, rel, files[rel])
        assert clean_flow(raw=str(raw), output=str(out))["changed"]
    # An edited page and a deleted page.
    edited = sorted(r for r in files if r.startswith("site1."))[0]
    _write(raw, edited, files[edited].replace("Share this article", "A new closing paragraph was added to this story on Tuesday."))
    deleted = sorted(r for r in files if r.startswith("site2."))[0]
    (raw / deleted).unlink()
    clean_flow(raw=str(raw), output=str(out))

    whole = tmp_path / "whole"
    clean_flow(raw=str(raw), output=str(whole))
    batched, at_once = _tables(out), _tables(whole)
    _assert_same(batched, at_once)
    docs = batched["documents"].set_index("doc_id")
    assert deleted[:-4] not in docs.index
    assert "A new closing paragraph" in docs.loc[edited[:-4], "text"]
    copies = docs[docs.index.str.startswith("wire.example/")]
    assert copies["duplicate_of"].notna().all()
    manifest = json.loads((out / io.CURRENT / "manifest.json").read_text())
    assert manifest["files_read"] == 1  # only the edited file was read again


def test_a_change_in_one_partition_leaves_the_others_as_they_were(tmp_path: Path) -> None:
    # Tiny partitions: most hold no changed source, and their rows all come from the last run.
    raw, out, whole = tmp_path / "raw", tmp_path / "out", tmp_path / "whole"
    shutil.copytree(Path(__file__).resolve().parents[2] / "raw", raw)
    clean_flow(raw=str(raw), output=str(out), partition_mb=0.003)
    edited = sorted(raw.glob("coastalpost.example/*.txt"))[0]
    edited.write_text(edited.read_text(encoding="utf-8") + "\nA closing paragraph was added to this story on Tuesday.\n", encoding="utf-8")
    assert clean_flow(raw=str(raw), output=str(out), partition_mb=0.003)["changed"]
    manifest = json.loads((out / io.CURRENT / "manifest.json").read_text())
    assert manifest["partitions"] > 2 and manifest["sources_cleaned"] == ["coastalpost.example"]
    clean_flow(raw=str(raw), output=str(whole))
    _assert_same(_tables(out), _tables(whole))


@pytest.mark.parametrize("damaged", ["state/signatures/part-00000.parquet", "paragraphs.parquet", "state/settings.json"])
def test_a_damaged_last_version_is_not_reused_and_the_run_cleans_everything(tmp_path: Path, damaged: str) -> None:
    raw, out, whole = tmp_path / "raw", tmp_path / "out", tmp_path / "whole"
    shutil.copytree(Path(__file__).resolve().parents[2] / "raw", raw)
    clean_flow(raw=str(raw), output=str(out))
    current = io.current_version(out)
    assert current is not None
    path = current / damaged
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated, as by a disk that filled up during a copy
    edited = sorted(raw.glob("coastalpost.example/*.txt"))[0]
    edited.write_text(edited.read_text(encoding="utf-8") + "\nA closing paragraph was added to this story on Tuesday.\n", encoding="utf-8")
    with pytest.raises(io.UnusableState):
        io.load_previous(out, json.loads((current / "manifest.json").read_text())["fingerprint"])
    assert clean_flow(raw=str(raw), output=str(out))["changed"]
    clean_flow(raw=str(raw), output=str(whole))
    _assert_same(_tables(out), _tables(whole))


def test_a_last_version_without_stored_signatures_is_not_reused(tmp_path: Path) -> None:
    raw, out = Path(__file__).resolve().parents[2] / "raw", tmp_path / "out"
    clean_flow(raw=str(raw), output=str(out))
    current = io.current_version(out)
    assert current is not None
    shutil.rmtree(current / io.STATE / io.SIGNATURES)
    with pytest.raises(io.UnusableState, match="no stored signatures"):
        io.load_previous(out, json.loads((current / "manifest.json").read_text())["fingerprint"])


def test_rerun_with_no_new_input_publishes_nothing(tmp_path: Path) -> None:
    raw = Path(__file__).resolve().parents[2] / "raw"
    out = tmp_path / "out"
    first = clean_flow(raw=str(raw), output=str(out))
    before = sorted(os.listdir(out / io.VERSIONS))
    again = clean_flow(raw=str(raw), output=str(out))
    assert again["changed"] is False and again["version"] == first["version"]
    assert sorted(os.listdir(out / io.VERSIONS)) == before


def test_a_second_run_on_the_same_output_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with io.run_lock(out):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(10)
    try:
        with pytest.raises(io.RunLocked, match="is locked by a running newsclean run"), io.run_lock(out):
            pass
    finally:
        release.set()
        thread.join()
    with io.run_lock(out):  # free again
        pass


def test_state_made_with_other_settings_is_not_reused(tmp_path: Path) -> None:
    raw = Path(__file__).resolve().parents[2] / "raw"
    out = tmp_path / "out"
    clean_flow(raw=str(raw), output=str(out))
    fingerprint = json.loads((out / io.CURRENT / "manifest.json").read_text())["fingerprint"]
    previous = io.load_previous(out, fingerprint)
    assert previous is not None and io.read_signatures(previous.folder / io.STATE / io.SIGNATURES)["paragraph"]
    # Signatures, line counts and rows from other settings (e.g. another num_perm) must not come back.
    assert io.load_previous(out, "another-fingerprint") is None
