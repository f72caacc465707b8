"""Messy input: every case ends as a cleaned document or a rejected row with its reason, and the rest comes out."""

from __future__ import annotations

import codecs
import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from flows import io, tasks
from flows.clean import clean_flow

pytestmark = pytest.mark.usefixtures("prefect_harness")

GOOD = "A Good Article Today\nThe council met on Monday and agreed a new plan for the harbour, officials said.\n"

# (relative path, bytes, expected: ("document", warning fragment or None) or ("rejected", reason))
CASES: list[tuple[str, bytes, tuple[str, str | None]]] = [
    ("s/invalid-utf8.txt", b"Caf\xe9 au lait \xff is served daily in the town square.", ("document", "not valid UTF-8")),
    ("s/utf8-bom.txt", codecs.BOM_UTF8 + GOOD.encode(), ("document", None)),
    ("s/utf16-bom.txt", codecs.BOM_UTF16_LE + GOOD.encode("utf-16-le"), ("document", "utf-16")),
    ("s/cp1252.txt", "Café “quoted” – 5€ for the fête.".encode("cp1252"), ("document", "cp1252")),
    ("s/mojibake.txt", "CafÃ© owners say the fÃªte will go ahead.".encode(), ("document", "mojibake")),
    ("s/few-nuls.txt", GOOD.encode() * 20 + b"\x00", ("document", "NUL")),
    ("s/binary.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, ("rejected", "binary")),
    ("s/empty.txt", b"", ("rejected", "empty")),
    ("s/whitespace.txt", b"   \n\t\n  ", ("rejected", "empty")),
    ("s/long-line.txt", b"word " * 250_000, ("rejected", "line_too_long")),
    ("s/many-lines.txt", b"\n".join(b"line %d of a very long list" % i for i in range(100_000)), ("document", None)),
    ("s/page.txt", b"<html><body><p>Hello <b>world</b>, this is a page.</p></body></html>", ("document", "HTML")),
    ("s/invisible.txt", "Zero\u200bwidth and \u202ebidi\u202c marks in a headline\nBody text follows here.".encode(), ("document", None)),
    ("s/rtl-cjk-emoji.txt", "שלום עולם\n北京欢迎你，今天天气很好。\nEmoji 😀 are fine.".encode(), ("document", None)),
    ("s/cr-only.txt", b"Title Line Here\rFirst paragraph.\r\nSecond paragraph.\nThird.", ("document", None)),
    ("s/name with spaces.txt", GOOD.encode(), ("document", None)),
    ("s/ünïcödé.txt", GOOD.encode(), ("document", None)),
    ("s/-leading-dash.txt", GOOD.encode(), ("document", None)),
    (
        "j/records.jsonl",
        b"not json\n"
        + json.dumps({"id": "x"}).encode()
        + b"\n"
        + json.dumps({"id": "n", "text": None}).encode()
        + b"\n"
        + json.dumps({"id": 5, "text": 5}).encode()
        + b"\n"
        + json.dumps({"id": "ok", "text": GOOD}).encode()
        + b"\n"
        + json.dumps({"id": "ok", "text": "again"}).encode()
        + b"\n"
        + json.dumps({"id": "../../etc/x", "text": GOOD}).encode(),
        ("document", None),
    ),
    ("j/blank.jsonl", b"\n\n\n", ("rejected", "empty")),
]


def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_every_bad_input_is_a_document_or_a_rejection(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    for rel, data, _ in CASES:
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        (raw / rel).write_bytes(data)
    (raw / "s" / "good.txt").write_text(GOOD)
    os.symlink("loop-b.txt", raw / "s" / "loop-a.txt")
    os.symlink("loop-a.txt", raw / "s" / "loop-b.txt")
    os.symlink("nowhere.txt", raw / "s" / "dangling.txt")
    os.symlink(".", raw / "s" / "dir-loop")
    before = _tree_hash(raw)

    clean_flow(raw=str(raw), output=str(out))

    assert _tree_hash(raw) == before, "raw/ must never be modified"
    docs = pd.read_parquet(out / io.CURRENT / "documents.parquet").set_index("doc_id")
    rejected = pd.read_parquet(out / io.CURRENT / "rejected.parquet")
    reasons = {(r.input_path, r.reason) for r in rejected.itertuples()}
    for rel, _, (kind, detail) in CASES:
        doc_id = rel.rsplit(".", 1)[0]
        if rel.endswith(".jsonl"):
            continue
        if kind == "document":
            assert doc_id in docs.index, rel
            warnings = list(docs.loc[doc_id, "warnings"])
            if detail:
                assert any(detail in w for w in warnings), (rel, warnings)
        else:
            assert (rel, detail) in reasons, (rel, reasons)
    assert "s/good" in docs.index
    for link in ("s/loop-a.txt", "s/loop-b.txt", "s/dangling.txt"):
        assert (link, "unreadable") in reasons
    # JSONL: one good record, every bad line rejected with its reason, the path-like id kept as data.
    jsonl = {(r.input_path, r.reason) for r in rejected.itertuples() if r.input_path.startswith("j/records")}
    assert jsonl == {
        ("j/records.jsonl:1", "invalid_json"),
        ("j/records.jsonl:2", "missing_text"),
        ("j/records.jsonl:3", "missing_text"),
        ("j/records.jsonl:4", "missing_text"),
        ("j/records.jsonl:6", "duplicate_id"),
    }
    assert {"j/records/ok", "j/records/../../etc/x"} <= set(docs.index)
    assert not (tmp_path / "etc").exists() and not (out.parent / "etc").exists()
    text = docs.loc["s/invisible", "title"] + docs.loc["s/invisible", "text"]
    assert "\u200b" not in text and "\u202e" not in text
    # Decoded intact, wherever cleaning put it: the content model may judge a CJK line on this three-line page boilerplate.
    removed = pd.read_parquet(out / io.CURRENT / "removed.parquet")
    audited = " ".join(removed.loc[removed["doc_id"] == "s/rtl-cjk-emoji", "text"])
    assert "北京欢迎你，今天天气很好。" in docs.loc["s/rtl-cjk-emoji", "text"] + str(docs.loc["s/rtl-cjk-emoji", "title"]) + audited
    assert docs.loc["s/invalid-utf8", "text"].startswith("Café") or docs.loc["s/invalid-utf8", "title"].startswith("Café")


def test_unreadable_file_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root reads any file whatever its mode, so the refusal is simulated where the bytes are read.
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "locked.txt").write_text(GOOD)
    (tmp_path / "s" / "open.txt").write_text(GOOD)
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    ingested = io.read_raw_files(tmp_path, io.discover(tmp_path))
    assert [d["doc_id"] for d in ingested.documents] == ["s/open"]
    assert [(r["input_path"], r["reason"]) for r in ingested.rejected] == [("s/locked.txt", "unreadable")]


def test_a_raw_folder_with_no_file_is_refused_and_the_current_version_stays(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    (raw / "s").mkdir(parents=True)
    (raw / "s" / ".hidden.txt").write_text(GOOD, encoding="utf-8")
    with pytest.raises(tasks.NoInputFiles, match="no input files under"):
        clean_flow(raw=str(raw), output=str(out))
    assert not (out / io.CURRENT).exists()
    (raw / "s" / "a.txt").write_text(GOOD, encoding="utf-8")
    version = clean_flow(raw=str(raw), output=str(out))["version"]
    (raw / "s" / "a.txt").unlink()
    with pytest.raises(tasks.NoInputFiles):
        clean_flow(raw=str(raw), output=str(out))
    current = io.current_version(out)
    assert current is not None and current.name == version


def test_inputs_that_keep_no_paragraph_publish_their_documents_and_rejections(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    (raw / "s").mkdir(parents=True)
    (raw / "s" / "title-only.txt").write_text("Only A Headline Here\n", encoding="utf-8")
    (raw / "s" / "empty.txt").write_bytes(b"")
    (raw / "s" / "feed.jsonl").write_text('{"id": 1}\n', encoding="utf-8")
    summary = clean_flow(raw=str(raw), output=str(out))
    assert summary["documents_out"] == 1 and summary["rejected"] == 2
    paragraphs = pd.read_parquet(out / io.CURRENT / "paragraphs.parquet")
    documents = pd.read_parquet(out / io.CURRENT / "documents.parquet")
    assert paragraphs.empty and documents["title"].tolist() == ["Only A Headline Here"]


def test_a_batch_of_only_rejected_files_is_read_like_any_other(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    (raw / "s").mkdir(parents=True)
    (raw / "s" / "a.txt").write_text(GOOD, encoding="utf-8")
    # Larger than a partition: read in a batch of its own, which yields no document.
    (raw / "s" / "big.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 80)
    first = clean_flow(raw=str(raw), output=str(out), partition_mb=0.01)
    assert (first["documents_out"], first["rejected"]) == (1, 1)
    # A rerun that reads only a new rejected file.
    (raw / "s" / "empty.txt").write_bytes(b"")
    second = clean_flow(raw=str(raw), output=str(out), partition_mb=0.01)
    assert (second["documents_out"], second["rejected"]) == (1, 2)
    rejected = pd.read_parquet(out / io.CURRENT / "rejected.parquet")
    assert sorted(rejected["reason"]) == ["binary", "empty"]
