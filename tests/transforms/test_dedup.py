from __future__ import annotations

import numpy as np
import pandas as pd

from transforms.dedup import paragraph_and_document_signatures, text_key
from transforms.minhash import MinHashConfig, signatures
from transforms.tables import with_bodies

CONFIG = MinHashConfig()
# Out of order on purpose: a document's text follows position order, not row order.
PARAGRAPHS = pd.DataFrame(
    {
        "doc_id": ["b", "a", "a", "b", "a", "c"],
        "position": [4, 2, 0, 1, 7, 0],
        "text": [
            "Ferries resumed on Thursday.",
            "The harbour reopened after the storm",
            "ΑΣ stormy night ended. Σοφία said so",
            "Officials said the port was calm again",
            "Traders returned to the quay by noon.",
            "Short",
        ],
    }
)
DOCUMENTS = with_bodies(pd.DataFrame({"doc_id": ["a", "b", "c", "d"], "text": ["", "", "", ""]}), PARAGRAPHS)


def test_signatures_equal_those_of_each_paragraph_and_each_document_text() -> None:
    para_sig, doc_sig = paragraph_and_document_signatures(PARAGRAPHS, DOCUMENTS, CONFIG)
    assert np.array_equal(para_sig, signatures(PARAGRAPHS["text"].tolist(), CONFIG))
    assert DOCUMENTS["text"].iloc[3] == ""  # a document with no paragraph left
    assert np.array_equal(doc_sig, signatures(DOCUMENTS["text"].tolist(), CONFIG))


def test_a_document_text_that_is_not_its_paragraphs_joined_is_signed_from_its_text() -> None:
    documents = DOCUMENTS.assign(
        text=DOCUMENTS["text"].where(DOCUMENTS["doc_id"] != "b", "Something else entirely, said the harbour master")
    )
    _, doc_sig = paragraph_and_document_signatures(PARAGRAPHS, documents, CONFIG)
    assert np.array_equal(doc_sig, signatures(documents["text"].tolist(), CONFIG))


def test_known_signatures_are_reused() -> None:
    marker = np.full(CONFIG.num_perm, 7, dtype=np.uint32)
    known = {"document": {text_key(DOCUMENTS["text"].iloc[0]): marker}}
    para_sig, doc_sig = paragraph_and_document_signatures(PARAGRAPHS, DOCUMENTS, CONFIG, known)
    assert np.array_equal(doc_sig[0], marker)
    assert np.array_equal(doc_sig[1:], signatures(DOCUMENTS["text"].tolist()[1:], CONFIG))
    assert np.array_equal(para_sig, signatures(PARAGRAPHS["text"].tolist(), CONFIG))
