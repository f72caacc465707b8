from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.dedup import (
    DedupConfig,
    canonical_from_keys,
    cluster_columns,
    cluster_id,
    first_of_equal,
    group_canonical,
    keys_of,
    own_cluster_ids,
    paragraph_and_document_signatures,
    published_instant,
    published_key,
    ranks,
    raw_document_groups,
    source_salt,
    text_ids,
    text_key,
)
from transforms.minhash import MinHashConfig, shingle_hashes, signatures
from transforms.neardup import NearDupConfig, clusters, exact_jaccard
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


@pytest.mark.parametrize(
    ("value", "instant"),
    [
        ("2024-03-01T10:00:00+05:00", "2024-03-01T05:00:00.000000"),
        ("2024-03-01T06:00:00Z", "2024-03-01T06:00:00.000000"),
        ("2024-03-01T06:00:00", "2024-03-01T06:00:00.000000"),  # no offset: UTC
        ("2024-03-01", "2024-03-01T00:00:00.000000"),
        (" 2024-03-01T10:00:00.123456789Z ", "2024-03-01T10:00:00.123456"),
        ("yesterday", None),
        ("2024-02-30", None),
        ("", None),
        ("9999-12-31T23:00:00-05:00", None),  # past year 9999 in UTC
    ],
)
def test_published_instant(value: str, instant: str | None) -> None:
    assert published_instant(value) == instant


def test_published_order_compares_instants_and_puts_unreadable_dates_with_the_undated() -> None:
    published = pd.Series(["2024-03-01T10:00:00+05:00", None, "yesterday", "2024-03-01T06:00:00Z", "2024-03-01T05:30:00+00:00"])
    doc_ids = pd.Series(["a", "b", "c", "d", "e"])
    order = np.argsort(ranks(published_key(published), doc_ids))
    # 05:00 UTC, then 05:30, then 06:00, then the undated and unreadable ones by doc_id.
    assert doc_ids[order].tolist() == ["a", "e", "d", "b", "c"]


# Strings across the planes (UTF-16 would order U+FFFF after U+10000; Python and UTF-8 bytes do not), with ties.
_KEY_TEXTS = st.lists(st.sampled_from(["", "a", "ab", "b", "é", "\uffff", "\U00010000", "z\U0001f600", "A"]), min_size=0, max_size=30)


@settings(max_examples=150, deadline=None)
@given(first=_KEY_TEXTS, data=st.data())
def test_ranks_follow_python_ordering_and_keep_row_order_on_ties(first: list[str], data: st.DataObject) -> None:
    n = len(first)
    second = data.draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    keys = (pd.Series(first, dtype="str"), pd.Series(second, dtype="int64"))
    expected = sorted(range(n), key=lambda i: (first[i], second[i], i))
    assert np.argsort(ranks(*keys)).tolist() == expected
    assert sorted(ranks(*keys).tolist()) == list(range(n))


def test_cluster_columns_from_precomputed_own_ids_equal_those_hashed_here() -> None:
    canonical = np.array([1, 1, 2, 3, 1, 5])
    sizes = np.array([3, 3, 1, 1, 3, 1])
    own = own_cluster_ids(PARAGRAPHS)
    assert own[1] == cluster_id("a", 2) and own[5] == cluster_id("c", 0)
    hashed = cluster_columns(PARAGRAPHS, canonical, sizes)
    pd.testing.assert_frame_equal(cluster_columns(PARAGRAPHS, canonical, sizes, np.array(own, dtype=object)), hashed)
    assert hashed["cluster_id"].tolist() == [own[1], own[1], own[2], own[3], own[1], own[5]]
    assert hashed["is_canonical"].tolist() == [False, True, True, True, False, True]
    with pytest.raises(ValueError, match=r"^own_ids has 5 ids for 6 paragraphs$"):
        cluster_columns(PARAGRAPHS, canonical, sizes, own[:5])


def test_text_ids_are_the_xxh3_128_of_the_text_and_equal_for_equal_texts() -> None:
    import xxhash

    texts = ["Storm hits coast", "Σοφία", "Storm hits coast", "", "Storm hits coast."]
    ids = text_ids(texts)
    assert ids.shape == (5, 2) and ids.dtype == np.uint64
    whole = xxhash.xxh3_128_intdigest("Σοφία".encode())
    assert (int(ids[1, 0]) << 64 | int(ids[1, 1])) == whole
    assert (ids[0] == ids[2]).all() and not (ids[0] == ids[4]).all() and not (ids[0] == ids[3]).all()
    assert text_ids([]).shape == (0, 2)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([[1, 2], [3, 4], [1, 2], [1, 3], [3, 4], [1, 2]], [0, 1, 0, 3, 1, 0]),
        ([[5, 5]], [0]),
        ([[0, 9], [0, 9]], [0, 0]),
        ([[0, 1, 2], [1, 1, 2], [0, 1, 2], [1, 1, 2]], [0, 1, 0, 1]),  # a group's code first: equal texts of two groups
        ([], []),
    ],
)
def test_first_of_equal_points_each_row_at_the_first_equal_row(rows: list[list[int]], expected: list[int]) -> None:
    ids = np.array(rows, dtype=np.uint64).reshape(len(rows), -1 if rows else 2)
    assert first_of_equal(ids).tolist() == expected


def _syndicated(seed: int) -> list[str]:
    """Stories, their exact reprints, and reprints with a sentence changed, in shuffled order."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(300)]
    stories = [" ".join(rng.choice(words, size=40)) for _ in range(12)]
    texts = [*stories]
    for story in stories[:8]:
        texts += [story] * int(rng.integers(1, 5))
        edited = story.split()
        edited[int(rng.integers(0, 40))] = "changed"
        texts.append(" ".join(edited))
    texts += ["too short", "too short", ""]  # no shingles: equal or not, these stay alone
    return [texts[i] for i in rng.permutation(len(texts))]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_equal_texts_join_their_first_copy_unchecked_and_the_clusters_equal_the_exact_jaccard_clusters(seed: int) -> None:
    texts = _syndicated(seed)
    nd = NearDupConfig()
    rank = np.arange(len(texts), dtype=np.int64)[::-1].copy()  # the last text is canonical: not simply the first row
    keys = keys_of(signatures(texts, CONFIG), nd)
    asked: list[int] = []

    def shingle(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        asked.extend(rows.tolist())
        return shingle_hashes([texts[i] for i in rows], CONFIG.shingle_size)

    same = first_of_equal(text_ids(texts))
    canonical, sizes = canonical_from_keys(keys, rank, shingle, nd, same=same)
    # Only the first of equal texts is ever shingled to be checked.
    assert all(same[i] == i for i in asked)
    # The truth: components of every pair at exact Jaccard >= 0.8 (texts without shingles alone).
    hashes, offsets = shingle_hashes(texts, CONFIG.shingle_size)
    every = np.array([(i, j) for i in range(len(texts)) for j in range(i + 1, len(texts))], dtype=np.int64)
    sims = exact_jaccard(every, hashes, offsets)
    truth, truth_sizes = clusters(len(texts), every[sims >= nd.threshold], rank)
    assert canonical.tolist() == truth.tolist() and sizes.tolist() == truth_sizes.tolist()
    assert canonical_from_keys(keys, rank, shingle, nd)[0].tolist() == truth.tolist()


def test_equal_texts_must_be_found_within_each_group() -> None:
    texts = ["one two three four five six", "one two three four five six", "one two three four five six"]
    keys = keys_of(signatures(texts, CONFIG), NearDupConfig())
    rank = np.arange(3, dtype=np.int64)
    group = np.array([0, 1, 1], dtype=np.int64)

    def shingle(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return shingle_hashes([texts[i] for i in rows], CONFIG.shingle_size)

    with pytest.raises(ValueError, match=r"^same must point within each group"):
        canonical_from_keys(keys, rank, shingle, NearDupConfig(), group=group, same=first_of_equal(text_ids(texts)))
    # Within groups: the second and third join; the first, alone in its group, stays alone.
    same = np.array([0, 1, 1], dtype=np.int64)
    canonical, sizes = canonical_from_keys(keys, rank, shingle, NearDupConfig(), group=group, same=same)
    assert canonical.tolist() == [0, 1, 1] and sizes.tolist() == [1, 2, 2]


def test_equal_raw_pages_group_within_their_source_only_as_without_the_text_ids() -> None:
    page = "Home News Sport The harbour reopened on Monday after the storm, officials said on Tuesday."
    other = "Home News Sport Ferries resumed their crossings on Thursday morning as the wind eased."
    docs = pd.DataFrame(
        {
            "doc_id": ["a/1", "a/2", "a/3", "b/1", "b/2", "b/3"],
            "source": ["a", "a", "a", "b", "b", "b"],
            "text": [page, other, page, page, page, other],
        }
    )
    config = DedupConfig()
    texts = docs["text"].tolist()
    keys = keys_of(signatures(texts, config.minhash), config.raw_documents, source_salt(docs["source"].tolist()))

    def shingle(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return shingle_hashes([texts[i] for i in rows], config.minhash.shingle_size)

    with_ids = group_canonical(keys, docs["doc_id"], docs["source"], shingle, config, text_ids(texts))
    without = group_canonical(keys, docs["doc_id"], docs["source"], shingle, config)
    # a/1 and a/3 are one group of source a; b/1 and b/2 one of source b: equal texts never join across sources.
    assert with_ids.tolist() == without.tolist() == [0, 1, 0, 3, 3, 5]
    assert raw_document_groups(docs, config).tolist() == ["a/1", "a/2", "a/1", "b/1", "b/1", "b/3"]
