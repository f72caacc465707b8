from __future__ import annotations

import hashlib

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from transforms.tables import with_bodies

DOC_IDS = ["a", "b", "c", "d"]
paragraph_rows = st.lists(
    st.tuples(st.sampled_from(DOC_IDS), st.integers(0, 30), st.text(min_size=1, max_size=12)),
    max_size=25,
    unique_by=lambda row: (row[0], row[1]),
)


@given(paragraph_rows)
def test_with_bodies_joins_each_documents_paragraphs_in_position_order(rows: list[tuple[str, int, str]]) -> None:
    documents = pd.DataFrame({"doc_id": DOC_IDS, "title": ["T"] * len(DOC_IDS)})
    paragraphs = pd.DataFrame(rows, columns=["doc_id", "position", "text"])
    out = with_bodies(documents, paragraphs)
    for doc_id, text, count, digest in zip(out["doc_id"], out["text"], out["paragraph_count"], out["content_hash"], strict=True):
        mine = sorted((p, t) for d, p, t in rows if d == doc_id)
        assert text == "\n\n".join(t for _, t in mine)
        assert count == len(mine)
        assert digest == hashlib.sha256(text.encode()).hexdigest()
    assert out["title"].tolist() == ["T"] * len(DOC_IDS)
