from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows import io, parts


def _write(root: Path, rel: str, data: bytes | str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def test_doc_ids_and_sources(tmp_path: Path) -> None:
    _write(tmp_path, "site.example/sub/a.txt", "Hello there.")
    _write(tmp_path, "root.txt", "At the root.")
    _write(tmp_path, "feeds/wire.jsonl", json.dumps({"id": "x1", "text": "Wire text.", "url": "https://news.example/a"}) + "\n")
    ingested = io.read_raw_files(tmp_path, io.discover(tmp_path))
    docs = {d["doc_id"]: d for d in ingested.documents}
    assert set(docs) == {"site.example/sub/a", "root", "feeds/wire/x1"}
    assert docs["site.example/sub/a"]["source"] == "site.example"
    assert docs["root"]["source"] == ""
    assert docs["feeds/wire/x1"]["source"] == "news.example"
    assert ingested.rejected == []


JSONL_CASES = [
    ("not json", "invalid_json"),
    ("[1, 2]", "invalid_record"),
    ('{"text": "no id"}', "missing_id"),
    ('{"id": "a"}', "missing_text"),
    ('{"id": "b", "text": null}', "missing_text"),
    ('{"id": "c", "text": 42}', "missing_text"),
    ('{"id": "d", "text": "   "}', "empty"),
]


@pytest.mark.parametrize(("line", "reason"), JSONL_CASES)
def test_bad_jsonl_lines_are_rejected_with_reason(tmp_path: Path, line: str, reason: str) -> None:
    good = json.dumps({"id": "ok", "text": "Fine text."})
    _write(tmp_path, "f.jsonl", good + "\n" + line + "\n")
    ingested = io.read_raw_files(tmp_path, io.discover(tmp_path))
    assert [d["doc_id"] for d in ingested.documents] == ["f/ok"]
    assert [(r["input_path"], r["reason"]) for r in ingested.rejected] == [("f.jsonl:2", reason)]


def test_lone_surrogate_escapes_become_replacement_characters(tmp_path: Path) -> None:
    lines = [
        r'{"id": "half", "text": "Broken \ud83d pair.", "title": "T \udc00"}',
        r'{"id": "pair", "text": "A whole pair: \ud83d\ude00."}',
    ]
    _write(tmp_path, "f.jsonl", "\n".join(lines))
    docs = io.documents_frame(io.read_raw_files(tmp_path, io.discover(tmp_path))).set_index("doc_id")
    assert docs.loc["f/half", "text"] == "Broken \ufffd pair."
    assert docs.loc["f/half", "title"] == "T \ufffd"
    assert docs.loc["f/half", "warnings"] == ["replaced 2 lone surrogate escape(s) with U+FFFD"]
    assert docs.loc["f/pair", "text"] == "A whole pair: \U0001f600."
    assert docs.loc["f/pair", "warnings"] == []
    pa.Table.from_pandas(docs.reset_index(), schema=io.INPUTS_SCHEMA, preserve_index=False)  # UTF-8 writable


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    lines = [json.dumps({"id": "same", "text": t}) for t in ("First.", "Second.")]
    _write(tmp_path, "f.jsonl", "\n".join(lines))
    ingested = io.read_raw_files(tmp_path, io.discover(tmp_path))
    assert [d["text"] for d in ingested.documents] == ["First."]
    assert ingested.rejected[0]["reason"] == "duplicate_id"


def test_unreadable_inputs_are_rejected_not_dropped(tmp_path: Path) -> None:
    _write(tmp_path, "s/empty.txt", b"")
    _write(tmp_path, "s/image.txt", b"\x89PNG\r\n\x1a\n\x00\x00")
    _write(tmp_path, "s/page.html", "<p>hi</p>")
    _write(tmp_path, "s/.hidden.txt", "ignored dotfile")
    ingested = io.read_raw_files(tmp_path, io.discover(tmp_path))
    assert ingested.documents == []
    assert sorted((r["input_path"], r["reason"]) for r in ingested.rejected) == [
        ("s/empty.txt", "empty"),
        ("s/image.txt", "binary"),
        ("s/page.html", "unsupported_type"),
    ]


def test_missing_raw_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="raw folder not found"):
        io.discover(tmp_path / "nope")


def test_publish_switches_current_atomically_and_prunes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    versions = []
    for i in range(io.KEEP_VERSIONS + 2):
        staging = io.new_staging(out)
        io.write_table(staging, "documents", pa.table({"n": [i]}))
        versions.append(io.publish(out, staging))
    current = io.current_version(out)
    assert current is not None and current.name == versions[-1]
    assert os.readlink(out / io.CURRENT) == str(Path(io.VERSIONS) / versions[-1])
    assert len(list((out / io.VERSIONS).iterdir())) == io.KEEP_VERSIONS
    assert not list(out.glob(".staging-*"))


def test_signatures_are_stored_once_per_distinct_text_and_read_back(tmp_path: Path) -> None:
    import numpy as np

    from transforms.dedup import text_key

    texts = ["first para", "second para", "first para", ""]
    sig = np.arange(4 * 3, dtype=np.uint32).reshape(4, 3)
    docs = np.full((1, 3), 7, dtype=np.uint32)
    path = tmp_path / "signatures.parquet"
    parts.write_table(
        path, pa.concat_tables([io.signature_table("paragraph", texts, sig), io.signature_table("document", ["whole doc"], docs)])
    )
    stored = io.read_signatures(path)
    assert set(stored) == {"paragraph", "document"}
    assert list(stored["paragraph"]) == [text_key("first para"), text_key("second para"), text_key("")]
    assert stored["paragraph"][text_key("first para")].tolist() == [0, 1, 2]  # the first copy's signature
    assert stored["paragraph"][text_key("")].tolist() == [9, 10, 11]
    assert stored["document"][text_key("whole doc")].tolist() == [7, 7, 7]
    assert pq.read_schema(path).equals(io.SIGNATURES_SCHEMA)


def test_a_stored_signature_rebuilds_in_datasketch(tmp_path: Path) -> None:
    import numpy as np
    from datasketch import MinHash

    from transforms.minhash import MinHashConfig, signatures

    config = MinHashConfig()
    texts = ["the harbour reopened after the storm on monday", "the harbour reopened after the storm on tuesday"]
    sig = signatures(texts, config)
    path = tmp_path / "signatures.parquet"
    parts.write_table(path, io.signature_table("paragraph", texts, sig))
    stored = pq.read_table(path).column("signature").to_pylist()
    a, b = (MinHash(hashvalues=np.frombuffer(v, "<u4"), scheme="affine32", seed=config.seed) for v in stored)
    assert np.array_equal(a.hashvalues, sig[0]) and a.jaccard(b) == float(np.mean(sig[0] == sig[1]))
    assert np.array_equal(io.signature_values(pq.read_table(path).column("signature")), sig)


def test_stored_signatures_of_different_lengths_are_refused() -> None:
    column = pa.array([b"\x00" * 8, b"\x00" * 12], pa.large_binary())
    with pytest.raises(ValueError, match="same number of 4-byte hash values"):
        io.signature_values(column)


def _state_parts(tmp_path: Path) -> dict[str, object]:
    """The smallest parts write_state needs: one read part, site lines, no files or rejections."""
    import pandas as pd

    inputs = tmp_path / "inputs.parquet"
    pq.write_table(io.INPUTS_SCHEMA.empty_table(), inputs)
    site_lines = tmp_path / "site_lines.parquet"
    pq.write_table(io.SITE_LINES_SCHEMA.empty_table(), site_lines)
    files = pd.DataFrame({"input_path": ["a.txt"], "size": [1], "mtime_ns": [1]})
    rejections = pd.DataFrame({c: pd.Series([], dtype="str") for c in io.REJECTED_COLUMNS})
    return {
        "files": files,
        "input_parts": [inputs],
        "read_rejections": rejections,
        "settings": {"fingerprint": "f"},
        "site_lines": site_lines,
    }


def test_state_links_each_partitions_signatures_and_reads_them_as_one(tmp_path: Path) -> None:
    import numpy as np

    from transforms.dedup import text_key

    signature_parts = []
    for n, texts in enumerate([["first para", "shared para"], ["shared para", "third para"]]):
        path = tmp_path / f"p{n}" / "signatures.parquet"
        path.parent.mkdir()
        parts.write_table(path, io.signature_table("paragraph", texts, np.full((2, 3), n, dtype=np.uint32)))
        signature_parts.append(path)
    staging = tmp_path / "staging"
    staging.mkdir()
    io.write_state(staging, signature_parts=signature_parts, **_state_parts(tmp_path))  # type: ignore[arg-type]
    stored = sorted((staging / io.STATE / io.SIGNATURES).iterdir())
    assert [p.name for p in stored] == ["part-00000.parquet", "part-00001.parquet"]
    assert [p.stat().st_ino for p in stored] == [p.stat().st_ino for p in signature_parts]  # linked, not written again
    by_key = io.read_signatures(staging / io.STATE / io.SIGNATURES)["paragraph"]
    assert set(by_key) == {text_key("first para"), text_key("shared para"), text_key("third para")}


def test_state_refuses_a_signature_part_in_another_schema(tmp_path: Path) -> None:
    wrong = tmp_path / "signatures.parquet"
    pq.write_table(pa.table({"kind": ["paragraph"], "text_key": ["k"]}), wrong)
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(ValueError, match="not in the signatures schema"):
        io.write_state(staging, signature_parts=[wrong], **_state_parts(tmp_path))  # type: ignore[arg-type]


def test_symlinked_folders_are_followed_and_loops_are_cut(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    _write(raw, "a/1.txt", "One.")
    _write(raw, "b/2.txt", "Two.")
    _write(tmp_path, "crawl/site/3.txt", "Three.")
    _write(raw, ".hidden/4.txt", "Four.")
    os.symlink(tmp_path / "crawl" / "site", raw / "linked")  # outside raw: followed
    os.symlink("../b", raw / "a" / "to_b")  # b and a link to each other: each followed once
    os.symlink("../a", raw / "b" / "to_a")
    os.symlink(".", raw / "a" / "self")  # the folder it sits in
    os.symlink("..", raw / "a" / "up")  # the raw root
    os.symlink(tmp_path, raw / "above")  # a folder above the raw root
    assert io.discover(raw) == ["a/1.txt", "a/to_b/2.txt", "b/2.txt", "b/to_a/1.txt", "linked/3.txt"]


FIELD_CASES = [
    ({"title": "A title", "url": "https://x.example/a", "source": "x.example", "published": "2024-03-01T10:00:00+05:00"}, []),
    ({"published": "2024-03-01"}, []),
    ({"title": None, "url": None}, []),
    ({"title": ["a", "list"]}, ["ignored `title`: not a string but list"]),
    ({"url": 5, "source": {"a": 1}}, ["ignored `url`: not a string but int", "ignored `source`: not a string but dict"]),
    ({"published": 1709287200}, ["ignored `published`: not a string but int"]),
    ({"published": "yesterday"}, ["`published` 'yesterday' cannot be read as an ISO 8601 date: near-duplicates order it as undated"]),
    ({"published": "2024-02-30"}, ["`published` '2024-02-30' cannot be read as an ISO 8601 date: near-duplicates order it as undated"]),
]


@pytest.mark.parametrize(("fields", "warnings"), FIELD_CASES)
def test_unused_optional_fields_are_named_in_the_warnings(tmp_path: Path, fields: dict[str, object], warnings: list[str]) -> None:
    _write(tmp_path, "f.jsonl", json.dumps({"id": "a", "text": "Some text.", **fields}))
    (doc,) = io.read_raw_files(tmp_path, io.discover(tmp_path)).documents
    assert doc["warnings"] == warnings


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("inside", ["\u2028", "\u2029", "\x85"])
def test_a_jsonl_record_is_cut_at_line_ends_only(tmp_path: Path, end: str, inside: str) -> None:
    # JSON allows these raw inside a string; str.splitlines would cut the record there.
    records = [{"id": "a", "text": f"One{inside}two."}, {"id": "b", "text": "Three."}]
    _write(tmp_path, "f.jsonl", end.join(json.dumps(r, ensure_ascii=False) for r in records) + end)
    ingested = io.read_raw_files(tmp_path, io.discover(tmp_path))
    assert ingested.rejected == []
    assert [(d["doc_id"], d["input_path"]) for d in ingested.documents] == [("f/a", "f.jsonl:1"), ("f/b", "f.jsonl:2")]
