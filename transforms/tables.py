"""Corpus-level stages on DataFrames, and assembly of the output tables in their schema."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from transforms.bulk import Texts, large_strings, utf8_buffer
from transforms.clean import (
    REASON_BEFORE_TITLE,
    REASON_BLOCK_REPEAT,
    REASON_BYLINE_REPEAT,
    REASON_CAPTION_REPEAT,
    REASON_SITE_CHROME,
    REASON_TITLE_REPEAT,
    BlockFacts,
    CleanConfig,
    block_facts,
    clean_columns,
    is_bare_name,
    rule_reason,
)
from transforms.content import REASON_CONTENT, STATE_KEPT, STATE_META, STATE_REMOVED, ContentModel, block_features, keep_decisions
from transforms.repeats import repeat_key, split_credit_tail
from transforms.rules import ROLE_BYLINE, ROLE_CREDIT
from transforms.schema import DOCUMENTS, PARAGRAPHS, REJECTED, REMOVED, ROLE_BODY, ROLE_HEADING
from transforms.sitechrome import SiteStats

# Columns of the ingested-documents frame the stages read.
INPUT_COLUMNS = ("doc_id", "source", "input_path", "url", "published", "title", "text", "raw_hash", "warnings")


def blocks_table(docs: pd.DataFrame) -> pd.DataFrame:
    """One row per block (`split_blocks` of each text): doc_id, source, position, text, key (repeat key), n_words."""
    # Split in Arrow: a Python loop over half a million lines costs more than the rest of the stage.
    lines = pc.split_pattern(large_strings(docs["text"]), "\n")
    flat = pc.list_flatten(lines)
    parent = pc.list_parent_indices(lines).to_numpy()
    starts = lines.offsets.to_numpy()[:-1]
    position = np.arange(len(flat), dtype=np.int64) - starts[parent]
    nonempty = pc.greater(pc.binary_length(flat), 0)
    table = pa.table(
        {
            "doc_id": large_strings(docs["doc_id"]).cast(pa.string()).take(parent),
            "source": large_strings(docs["source"]).cast(pa.string()).take(parent),
            "position": pa.array(position.astype(np.int32)),
            "text": flat.cast(pa.string()),
        }
    ).filter(nonempty)
    out: pd.DataFrame = table.to_pandas().sort_values(["doc_id", "position"], kind="stable").reset_index(drop=True)
    texts = Texts.of(out["text"])
    out["key"] = pd.Series(texts.words_joined(), dtype="str")  # repeat_key, from Arrow without Python strings
    out["n_words"] = texts.token_counts()  # len(text.split())
    return out


def rows_in(values: pd.Series, wanted: pd.Series) -> npt.NDArray[np.bool_]:
    """Which `values` are among `wanted` (nulls are never): `Series.isin` of string columns, in Arrow.

    pandas turns each wanted string into an Arrow scalar first, which costs more than the lookup.
    """
    found = pc.is_in(pa.array(values, type=pa.large_string()), value_set=pa.array(wanted, type=pa.large_string()), skip_nulls=True)
    out: npt.NDArray[np.bool_] = pc.fill_null(found, False).to_numpy(zero_copy_only=False)
    return out


@dataclass(frozen=True)
class CleanedCorpus:
    """Per-document metadata, kept paragraphs and removed blocks."""

    documents: pd.DataFrame
    paragraphs: pd.DataFrame
    removed: pd.DataFrame


def run_starts(ids: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Where each run of equal ids begins (ids sorted, or at least grouped)."""
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]).astype(np.int64)


def clean_documents(
    docs: pd.DataFrame, blocks: pd.DataFrame, stats: SiteStats, config: CleanConfig, bulk: Texts | None = None
) -> CleanedCorpus:
    """Run the in-document cleaner over every document (`blocks` sorted by doc_id, position).

    `bulk` is `Texts.of(blocks["text"])`, when already made (select_content reads the same).

    The same rows as `clean_documents_one_by_one`: the decisions of every document come from one
    compiled loop (`kernels.clean_decisions`), and only the rows that carry text are built in Python.
    """
    from transforms import kernels as K

    texts: list[str] = blocks["text"].tolist()
    positions: list[int] = blocks["position"].tolist()
    # The regexes read the Arrow column itself: no second conversion of the Python strings.
    bulk = Texts.of(blocks["text"]) if bulk is None else bulk
    facts = block_facts(texts, config, blocks["key"].tolist(), blocks["n_words"].to_numpy(), bulk)
    doc_starts, doc_stops = _document_spans(docs, blocks)
    absent = [None] * len(docs)
    doc_ids, sources, titles, urls, published, raw_hashes, warnings = (
        docs[c].tolist() if c in docs else absent for c in ("doc_id", "source", "title", "url", "published", "raw_hash", "warnings")
    )
    given = [t if isinstance(t, str) and t.strip() else None for t in titles]
    chrome = [stats.chrome.get(str(source), frozenset()) for source in sources]
    action, ref, title_at, byline_at = _decisions(texts, facts, given, chrome, doc_starts, doc_stops, config)
    # The blocks in document order, each with its document.
    lengths = doc_stops - doc_starts
    rows = np.repeat(doc_starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
    doc_of = np.repeat(np.arange(len(docs)), lengths)
    kept = action[rows] == K.UNDECIDED
    kept_at = rows[kept]
    title = [given[d] if given[d] is not None else (texts[at] if at >= 0 else None) for d, at in enumerate(title_at.tolist())]
    removing = action[rows] >= K.ACT_TITLE_REPEAT
    removed_at = rows[removing]
    removed_reasons, removed_matched = _removal_reasons(
        action, ref, removed_at, [title[d] for d in doc_of[removing].tolist()], facts, texts, positions
    )
    captions, caption_positions, credits, credit_positions = _captions_and_credits(
        action, ref, doc_of, rows, doc_starts, doc_stops, texts, positions
    )
    paragraph_counts = np.bincount(doc_of[kept], minlength=len(docs))
    bodies = _joined_per_document(blocks["text"], kept_at, paragraph_counts)
    # Columns built as lists, each read by pandas as it reads that column of rows.
    columns = {
        "doc_id": [str(d) for d in doc_ids],
        "source": [str(s) for s in sources],
        "url": urls,
        "published": published,
        "title": title,
        "title_position": [None if given[d] is not None or at < 0 else positions[at] for d, at in enumerate(title_at.tolist())],
        "byline": [texts[i] if i >= 0 else None for i in byline_at.tolist()],
        "byline_position": [positions[i] if i >= 0 else None for i in byline_at.tolist()],
        "captions": captions,
        "caption_positions": caption_positions,
        "credits": credits,
        "credit_positions": credit_positions,
        "text": bodies,
        "paragraph_count": paragraph_counts.tolist(),
        "block_count": lengths.tolist(),
        "content_hash": [content_hash(b) for b in bodies],
        "raw_hash": raw_hashes,
        "warnings": [[] if w is None else list(w) for w in warnings],
    }
    documents = pd.DataFrame({name: pd.Series(columns[name], dtype=object).infer_objects() for name in _DOC_META_COLUMNS})
    heading = np.asarray(facts.heading_like, dtype=bool)[kept_at]
    paragraphs = _rows_of(blocks, kept_at.tolist(), {"role": np.where(heading, ROLE_HEADING, ROLE_BODY).tolist()})
    removed = _rows_of(blocks, removed_at.tolist(), {"reason": removed_reasons, "matched": removed_matched})
    return CleanedCorpus(documents, paragraphs, removed)


def _decisions(
    texts: Sequence[str],
    facts: BlockFacts,
    given: Sequence[str | None],
    chrome: Sequence[Collection[str]],
    doc_starts: npt.NDArray[np.int64],
    doc_stops: npt.NDArray[np.int64],
    config: CleanConfig,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """`kernels.clean_decisions` of every document, closing bare-name bylines included: per block the
    action and the block it refers to; per document the title block and the byline block (-1: none)."""
    from transforms import kernels as K

    keys = pa.array(facts.keys, pa.large_string())
    key_data, key_offsets = utf8_buffer(keys)
    key_chars = pc.utf8_length(keys).to_numpy().astype(np.int64)
    given_data, given_offsets = utf8_buffer(pa.array(["" if t is None else repeat_key(t) for t in given], pa.large_string()))
    caption_keys = pa.array(facts.caption_keys, pa.large_string())
    caption_data, caption_offsets = utf8_buffer(caption_keys)
    hit_role = np.zeros(len(texts), dtype=np.int8)
    roles = {ROLE_CREDIT: K.HIT_CREDIT, ROLE_BYLINE: K.HIT_BYLINE}
    for i, hit in enumerate(facts.hits):
        if hit is not None:
            hit_role[i] = roles.get(hit.rule.role, K.HIT_REMOVE)
    in_chrome = np.zeros(len(texts), dtype=bool)
    in_chrome[[i for d, lines in enumerate(chrome) if lines for i in range(doc_starts[d], doc_stops[d]) if facts.keys[i] in lines]] = True
    action, ref, title_at, byline_at, last_open = K.clean_decisions(
        doc_starts,
        doc_stops,
        given_data,
        np.ascontiguousarray(given_offsets, dtype=np.int64),
        np.array([t is not None for t in given], dtype=bool),
        key_data,
        np.ascontiguousarray(key_offsets, dtype=np.int64),
        key_chars,
        # A key is words joined by single spaces.
        (pc.count_substring(keys, " ").to_numpy() + (key_chars > 0)).astype(np.int64),
        caption_data,
        np.ascontiguousarray(caption_offsets, dtype=np.int64),
        pc.utf8_length(caption_keys).to_numpy().astype(np.int64),
        hit_role,
        in_chrome,
        np.asarray(facts.title_like, dtype=bool),
        np.asarray(facts.word_counts, dtype=np.int64),
        np.asarray(facts.credit_tail, dtype=bool),
        np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)),
        config.repeats.title_search_blocks,
        config.title_min_words,
        config.before_title_max_words,
        config.repeats.near_min_chars,
        config.repeats.near_min_ratio,
    )
    # A closing bare name is the byline, if the document has none yet.
    for d in np.flatnonzero(last_open >= 0).tolist():
        if is_bare_name(texts[last_open[d]]):
            action[last_open[d]] = K.ACT_BYLINE
            byline_at[d] = last_open[d]
    return action, ref, title_at, byline_at


def _removal_reasons(
    action: npt.NDArray[np.int8],
    ref: npt.NDArray[np.int64],
    removed_at: npt.NDArray[np.int64],
    titles: Sequence[str | None],
    facts: BlockFacts,
    texts: Sequence[str],
    positions: Sequence[int],
) -> tuple[list[str], list[str | None]]:
    """The reason and the matched text of each removed block (`titles`: the title of each one's document)."""
    from transforms import kernels as K

    reasons = {
        K.ACT_TITLE_REPEAT: REASON_TITLE_REPEAT,
        K.ACT_BYLINE_REPEAT: REASON_BYLINE_REPEAT,
        K.ACT_CAPTION_REPEAT: REASON_CAPTION_REPEAT,
        K.ACT_BLOCK_REPEAT: REASON_BLOCK_REPEAT,
        K.ACT_SITE_CHROME: REASON_SITE_CHROME,
        K.ACT_BEFORE_TITLE: REASON_BEFORE_TITLE,
    }
    actions = action[removed_at]
    out_reasons = [reasons.get(a, "") for a in actions.tolist()]
    matched: list[str | None] = [None] * len(removed_at)
    # Site chrome and navigation before the title name nothing.
    naming = np.flatnonzero(actions < K.ACT_SITE_CHROME)
    at = removed_at[naming]
    for k, i, a, r in zip(*(v.tolist() for v in (naming, at, actions[naming], ref[at])), strict=True):
        if a == K.ACT_TITLE_REPEAT:
            matched[k] = titles[k]
        elif a == K.ACT_RULE:
            hit = facts.hits[i]
            assert hit is not None
            out_reasons[k], matched[k] = rule_reason(hit.rule.name), hit.matched
        elif a == K.ACT_BYLINE_REPEAT:
            matched[k] = texts[r]
        elif a == K.ACT_CAPTION_REPEAT:
            matched[k] = f"caption at line {positions[r]}"
        else:
            matched[k] = f"copy of line {positions[r]}"
    return out_reasons, matched


def _captions_and_credits(
    action: npt.NDArray[np.int8],
    ref: npt.NDArray[np.int64],
    doc_of: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    doc_starts: npt.NDArray[np.int64],
    doc_stops: npt.NDArray[np.int64],
    texts: Sequence[str],
    positions: Sequence[int],
) -> tuple[list[list[str]], list[list[int]], list[list[str]], list[list[int]]]:
    """Each document's captions, caption positions, credits and credit positions (`rows`: blocks in document order, `doc_of` theirs)."""
    from transforms import kernels as K

    documents = len(doc_starts)
    captions: list[list[str]] = [[] for _ in range(documents)]
    caption_positions: list[list[int]] = [[] for _ in range(documents)]
    credits: list[list[str]] = [[] for _ in range(documents)]
    credit_positions: list[list[int]] = [[] for _ in range(documents)]
    metadata = (action[rows] == K.ACT_CAPTION) | (action[rows] == K.ACT_CREDIT)
    for d in np.unique(doc_of[metadata]).tolist():
        start, stop = int(doc_starts[d]), int(doc_stops[d])
        lists = (captions[d], caption_positions[d], credits[d], credit_positions[d])
        _caption_metadata(start, action[start:stop].tolist(), ref[start:stop].tolist(), texts, positions, lists)
    return captions, caption_positions, credits, credit_positions


def _document_spans(docs: pd.DataFrame, blocks: pd.DataFrame) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each document's rows of `blocks` (sorted by doc_id), as start and stop; 0, 0 for a document without blocks."""
    block_doc_ids = blocks["doc_id"].to_numpy()
    starts = run_starts(block_doc_ids)
    stops = np.append(starts[1:], len(blocks)).astype(np.int64)
    runs = pd.Index(block_doc_ids[starts])
    if not runs.is_unique:
        raise ValueError("blocks must be sorted by doc_id")
    at = runs.get_indexer(docs["doc_id"].astype(str)) if "doc_id" in docs else np.zeros(0, dtype=np.int64)
    # -1 (no blocks) picks the appended empty span.
    return np.append(starts, 0)[at].astype(np.int64), np.append(stops, 0)[at].astype(np.int64)


def _caption_metadata(
    start: int,
    actions: list[int],
    refs: list[int],
    texts: Sequence[str],
    positions: Sequence[int],
    out: tuple[list[str], list[int], list[str], list[int]],
) -> None:
    """One document's captions, caption positions, credits and credit positions (`out`), as `clean_columns` lists them.

    The document's blocks start at row `start`; `actions` and `refs` are theirs from `kernels.clean_decisions`.
    """
    from transforms.kernels import ACT_CAPTION, ACT_CAPTION_REPEAT, ACT_CREDIT

    captions, caption_positions, credits, credit_positions = out
    # Each caption's credits first (the tails of its copies, in block order), then the blocks in order.
    # A caption comes before its copies: one pass gathers every caption's copies.
    copies: dict[int, list[int]] = {}
    for k, a in enumerate(actions):
        if a == ACT_CAPTION:
            copies[start + k] = [start + k]
        elif a == ACT_CAPTION_REPEAT:
            copies[refs[k]].append(start + k)
    for rows in copies.values():
        tails = [split_credit_tail(texts[i])[1] for i in rows]
        credits.extend(t for t in dict.fromkeys(tails) if t)
    for k, a in enumerate(actions):
        i = start + k
        if a == ACT_CAPTION:
            caption, tail = split_credit_tail(texts[i])
            captions.append(caption)
            caption_positions.append(positions[i])
            if tail and tail not in credits:
                credits.append(tail)
        elif a == ACT_CREDIT:
            credits.append(texts[i])
            credit_positions.append(positions[i])


def _joined_per_document(texts: pd.Series, rows: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> list[str]:
    """The texts at `rows` joined by blank lines, `counts[d]` of them (in order) for each document d."""
    # One list of texts per document, joined in Arrow: a per-document Python join costs seconds.
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    values = large_strings(texts).take(pa.array(rows, pa.int64()))
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), values)
    joined: list[str] = pc.binary_join(lists, pa.scalar("\n\n", pa.large_string())).to_pylist()
    return joined


def clean_documents_one_by_one(docs: pd.DataFrame, blocks: pd.DataFrame, stats: SiteStats, config: CleanConfig) -> CleanedCorpus:
    """`clean_documents` document by document with `clean_columns`: the definition the compiled path must agree with."""
    doc_rows: list[tuple[object, ...]] = []
    # Kept and removed blocks as row numbers of `blocks`: their ids and texts are taken from it in one go.
    kept_at: list[int] = []
    kept_roles: list[str] = []
    removed_at: list[int] = []
    removed_reasons: list[str] = []
    removed_matched: list[str | None] = []
    texts: list[str] = blocks["text"].tolist()
    positions: list[int] = blocks["position"].tolist()
    facts = block_facts(texts, config, blocks["key"].tolist(), blocks["n_words"].to_numpy())
    doc_starts, doc_stops = _document_spans(docs, blocks)
    absent = [None] * len(docs)
    columns = [docs[c].tolist() if c in docs else absent for c in ("doc_id", "source", "title", "url", "published", "raw_hash", "warnings")]
    spans = zip(doc_starts.tolist(), doc_stops.tolist(), strict=True)
    for (start, stop), doc_id, source, title, url, published, raw_hash, warnings in zip(spans, *columns, strict=True):
        doc_id, source = str(doc_id), str(source)
        result = clean_columns(
            positions[start:stop],
            texts[start:stop],
            config,
            stats.chrome.get(source, frozenset()),
            title if isinstance(title, str) and title.strip() else None,
            facts.slice(start, stop),
        )
        body = result.body
        doc_rows.append(
            (
                doc_id,
                source,
                url,
                published,
                result.title,
                result.title_position,
                result.byline,
                result.byline_position,
                result.captions,
                result.caption_positions,
                result.credits,
                result.credit_positions,
                body,
                len(result.kept_rows),
                stop - start,
                content_hash(body),
                raw_hash,
                [] if warnings is None else list(warnings),
            )
        )
        kept_at.extend([start + i for i in result.kept_rows])
        kept_roles.extend(result.kept_roles)
        removed_at.extend([start + i for i in result.removed_rows])
        removed_reasons.extend(result.removed_reasons)
        removed_matched.extend(result.removed_matched)
    documents = pd.DataFrame(doc_rows, columns=[*_DOC_META_COLUMNS])
    paragraphs = _rows_of(blocks, kept_at, {"role": kept_roles})
    removed = _rows_of(blocks, removed_at, {"reason": removed_reasons, "matched": removed_matched})
    return CleanedCorpus(documents, paragraphs, removed)


def _rows_of(blocks: pd.DataFrame, at: list[int], columns: Mapping[str, Sequence[str | None]]) -> pd.DataFrame:
    """doc_id, position and text of the blocks at these rows, with the given string columns after them."""
    rows = np.asarray(at, dtype=np.int64)
    taken = {
        "doc_id": blocks["doc_id"].take(rows).astype("str").reset_index(drop=True),
        "position": blocks["position"].to_numpy().take(rows).astype(np.int64),
        "text": blocks["text"].take(rows).astype("str").reset_index(drop=True),
    }
    return pd.DataFrame({**taken, **{name: pd.Series(list(values), dtype="str") for name, values in columns.items()}})


def block_states(blocks: pd.DataFrame, cleaned: CleanedCorpus) -> npt.NDArray[np.int64]:
    """Kept, removed or metadata, for each row of `blocks`."""
    meta = _metadata_positions(cleaned.documents)
    index = pd.MultiIndex.from_frame(blocks[["doc_id", "position"]].astype({"position": "int64"}))
    state = np.full(len(blocks), STATE_KEPT, dtype=np.int64)
    for frame, value in ((cleaned.removed, STATE_REMOVED), (pd.DataFrame(meta, columns=["doc_id", "position"]), STATE_META)):
        if len(frame):
            where = index.get_indexer(pd.MultiIndex.from_frame(frame[["doc_id", "position"]].astype({"position": "int64"})))
            state[where[where >= 0]] = value
    return state


def content_features(
    blocks: pd.DataFrame,
    cleaned: CleanedCorpus,
    stats: SiteStats,
    states: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64] | None = None,
    bulk: Texts | None = None,
) -> pd.DataFrame:
    """Content features of the blocks at `rows`, or of every block (blocks sorted by doc_id, position; states from block_states).

    `bulk` is `Texts.of(blocks["text"])`, when already made.
    """
    docs = cleaned.documents
    title_pos = {d: (int(p) if p is not None and p == p else None) for d, p in zip(docs["doc_id"], docs["title_position"], strict=True)}
    titles = {d: (t if isinstance(t, str) else None) for d, t in zip(docs["doc_id"], docs["title"], strict=True)}
    return block_features(blocks, states, title_pos, titles, stats.line_documents, stats.source_documents, rows, bulk)


def select_content(
    blocks: pd.DataFrame, cleaned: CleanedCorpus, stats: SiteStats, model: ContentModel, bulk: Texts | None = None
) -> CleanedCorpus:
    """Move kept paragraphs the content model scores below its threshold to the audit (`bulk`: `Texts.of(blocks["text"])`, when made)."""
    if cleaned.paragraphs.empty:
        return cleaned
    states = block_states(blocks, cleaned)
    kept = states == STATE_KEPT
    feats = content_features(blocks, cleaned, stats, states, np.flatnonzero(kept), bulk)
    keep, score = keep_decisions(model, feats, blocks["doc_id"].to_numpy(), kept)
    scored = blocks[["doc_id", "position"]].assign(p=score, keep=keep).astype({"position": "int64"})
    paragraphs = cleaned.paragraphs.astype({"position": "int64"}).merge(scored, on=["doc_id", "position"], how="left")
    low = ~paragraphs["keep"].to_numpy(dtype=bool)
    dropped = paragraphs[low]
    removed = pd.concat(
        [
            cleaned.removed,
            pd.DataFrame(
                {
                    "doc_id": dropped["doc_id"],
                    "position": dropped["position"],
                    "text": dropped["text"],
                    "reason": REASON_CONTENT,
                    "matched": [f"p={p:.2f}" for p in dropped["p"]],
                }
            ),
        ],
        ignore_index=True,
    )
    kept = paragraphs[~low].drop(columns=["p", "keep"]).reset_index(drop=True)
    return CleanedCorpus(with_bodies(cleaned.documents, kept), kept, removed)


def concat_corpora(*parts: CleanedCorpus) -> CleanedCorpus:
    """One corpus from several, rows sorted by doc_id (and position)."""
    return CleanedCorpus(
        documents=pd.concat([p.documents for p in parts], ignore_index=True).sort_values("doc_id", kind="stable").reset_index(drop=True),
        paragraphs=pd.concat([p.paragraphs.astype({"position": "int64"}) for p in parts], ignore_index=True)
        .sort_values(["doc_id", "position"], kind="stable")
        .reset_index(drop=True),
        removed=pd.concat([p.removed.astype({"position": "int64"}) for p in parts], ignore_index=True)
        .sort_values(["doc_id", "position"], kind="stable")
        .reset_index(drop=True),
    )


def with_bodies(documents: pd.DataFrame, paragraphs: pd.DataFrame) -> pd.DataFrame:
    """Recompute text, paragraph_count and content_hash from the kept paragraphs."""
    ordered = paragraphs.sort_values(["doc_id", "position"], kind="stable")
    doc_ids = ordered["doc_id"].to_numpy(dtype=object)
    starts = run_starts(doc_ids)
    offsets = np.r_[starts, len(doc_ids)].astype(np.int64)
    joined = _joined_per_document(ordered["text"], np.arange(len(ordered), dtype=np.int64), np.diff(offsets))
    bodies = pd.Series(joined, index=doc_ids[starts], dtype=object)
    sizes = pd.Series(np.diff(offsets), index=doc_ids[starts])
    out = documents.copy()
    out["text"] = out["doc_id"].map(bodies).fillna("")
    out["paragraph_count"] = out["doc_id"].map(sizes).fillna(0).astype("int64")
    out["content_hash"] = [content_hash(t) for t in out["text"]]
    return out


def _metadata_positions(documents: pd.DataFrame) -> list[tuple[str, int]]:
    meta: list[tuple[str, int]] = []
    columns = ("doc_id", "title_position", "byline_position", "caption_positions", "credit_positions")
    for doc_id, title_at, byline_at, captions, credits in zip(*(documents[c].tolist() for c in columns), strict=True):
        singles = [p for p in (title_at, byline_at) if p is not None and p == p]  # NaN != NaN
        meta.extend((doc_id, int(p)) for p in [*singles, *captions, *credits])
    return meta


_DOC_META_COLUMNS = (
    "doc_id",
    "source",
    "url",
    "published",
    "title",
    "title_position",
    "byline",
    "byline_position",
    "captions",
    "caption_positions",
    "credits",
    "credit_positions",
    "text",
    "paragraph_count",
    "block_count",
    "content_hash",
    "raw_hash",
    "warnings",
)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A table in exactly the given schema; missing values (None, NaN) become nulls."""
    columns = frame.reindex(columns=schema.names)
    return pa.Table.from_pandas(columns, schema=schema, preserve_index=False, safe=True)


def documents_table(documents: pd.DataFrame) -> pa.Table:
    return to_arrow(documents.sort_values("doc_id", kind="stable"), DOCUMENTS)


def paragraphs_table(paragraphs: pd.DataFrame) -> pa.Table:
    return to_arrow(paragraphs.sort_values(["doc_id", "position"], kind="stable"), PARAGRAPHS)


def removed_table(removed: pd.DataFrame) -> pa.Table:
    return to_arrow(removed.sort_values(["doc_id", "position"], kind="stable"), REMOVED)


def rejected_table(rejected: pd.DataFrame) -> pa.Table:
    return to_arrow(rejected.sort_values(["input_path", "reason"], kind="stable"), REJECTED)


def conservation(blocks: pd.DataFrame, documents: pd.DataFrame, paragraphs: pd.DataFrame, removed: pd.DataFrame) -> pd.DataFrame:
    """Per document: input blocks, and how many are accounted for by paragraphs, removed or metadata.

    A position placed twice (or one that is no input block) shows as `extra_rows` > 0; one missing as accounted < input.
    Rows of doc_ids that are not among `documents` are not counted.
    """
    meta = _metadata_positions(documents)
    doc_ids = large_strings(documents["doc_id"])
    # (document, position) pairs as integers, counted with numpy: pandas merges and groups of the
    # string ids held the GIL for a quarter of a second per partition.
    input_doc = _codes_in(blocks["doc_id"], doc_ids)
    input_pos = blocks["position"].to_numpy(dtype=np.int64)
    placed_doc = np.concatenate(
        [_codes_in(paragraphs["doc_id"], doc_ids), _codes_in(removed["doc_id"], doc_ids), _codes_in([d for d, _ in meta], doc_ids)]
    )
    placed_pos = np.concatenate(
        [
            paragraphs["position"].to_numpy(dtype=np.int64),
            removed["position"].to_numpy(dtype=np.int64),
            np.array([p for _, p in meta], dtype=np.int64),
        ]
    )
    inputs, placed = input_doc >= 0, placed_doc >= 0
    input_doc, input_pos, placed_doc, placed_pos = input_doc[inputs], input_pos[inputs], placed_doc[placed], placed_pos[placed]
    pair = _pair_ids(np.concatenate([input_doc, placed_doc]), np.concatenate([input_pos, placed_pos]))
    input_pair, placed_pair = pair[: len(input_doc)], pair[len(input_doc) :]
    is_input = np.zeros(int(pair.max(initial=-1)) + 1, dtype=bool)
    is_input[input_pair] = True
    accounted = is_input[placed_pair]
    _, first = np.unique(placed_pair[accounted], return_index=True)  # each input pair placed, once
    n = len(documents)
    out = pd.DataFrame({"doc_id": documents["doc_id"].reset_index(drop=True)})
    out["input_blocks"] = np.bincount(input_doc, minlength=n).astype(np.int64)
    out["accounted_blocks"] = np.bincount(placed_doc[accounted][first], minlength=n).astype(np.int64)
    out["placed_rows"] = np.bincount(placed_doc, minlength=n).astype(np.int64)
    out["extra_rows"] = out["placed_rows"] - out["accounted_blocks"]
    return out


def _codes_in(values: Any, doc_ids: pa.Array) -> npt.NDArray[np.int64]:
    """Each value's row in `doc_ids` (unique), or -1 where it is not there."""
    found = pc.index_in(large_strings(values), value_set=doc_ids)
    codes: npt.NDArray[np.int64] = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes


def _pair_ids(first: npt.NDArray[np.int64], second: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """One id per distinct (first, second) pair, the same for equal pairs (`first` >= 0)."""
    if not len(second) or (second.min() >= 0 and second.max() < 2**32):  # positions: both fit one 64-bit key
        inverse: npt.NDArray[np.int64] = np.unique((first << 32) | second, return_inverse=True)[1].astype(np.int64)
        return inverse
    order = np.lexsort((second, first))
    changed = np.r_[True, (np.diff(first[order]) != 0) | (np.diff(second[order]) != 0)]  # not empty: see above
    ids = np.empty(len(order), dtype=np.int64)
    ids[order] = np.cumsum(changed) - 1
    return ids


def input_accounting(files: pd.DataFrame, docs: pd.DataFrame, rejected: pd.DataFrame) -> pd.DataFrame:
    """Per input file: documents made from it and rejections of it. Every file must have at least one."""
    out = pd.DataFrame({"input_file": files["input_path"]})
    out["documents"] = out["input_file"].map(docs.groupby("input_file").size()).fillna(0).astype("int64")
    out["rejections"] = out["input_file"].map(rejected.groupby("input_file").size()).fillna(0).astype("int64")
    out["accounted"] = out["documents"] + out["rejections"]
    return out
