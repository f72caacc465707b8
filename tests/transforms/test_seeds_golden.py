"""Golden test: the three original seed articles against their line-by-line gold."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SEED_NAMES, require_shared
from transforms.blocks import collapse_whitespace, normalize_text, split_blocks
from transforms.clean import CleanConfig, clean_document


@pytest.mark.parametrize("name", SEED_NAMES)
def test_seed_matches_gold(name: str) -> None:
    raw = require_shared("seeds", "raw", f"{name}.txt").read_text(encoding="utf-8")
    gold = json.loads(require_shared("seeds", "gold", f"{name}.json").read_text(encoding="utf-8"))
    doc = clean_document(split_blocks(normalize_text(raw)), CleanConfig())
    assert doc.title == gold["title"]
    assert [collapse_whitespace(k.text) for k in doc.kept] == [collapse_whitespace(b) for b in gold["body"]]
    assert [collapse_whitespace(c) for c in doc.captions] == [collapse_whitespace(c) for c in gold["captions"]]
    # Every gold line is where its role says: body kept, the rest removed or in metadata.
    kept = {k.position for k in doc.kept}
    for line in gold["lines"]:
        assert (line["line"] in kept) == (line["role"] == "body"), line


def test_seed_byline() -> None:
    raw = require_shared("seeds", "raw", "002_160402298ecf2569.txt").read_text(encoding="utf-8")
    doc = clean_document(split_blocks(normalize_text(raw)), CleanConfig())
    assert doc.byline is not None and "Raymond Cao" in doc.byline
