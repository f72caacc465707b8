"""Main-content selection: a block classifier over generic features of a block and its page.

The features describe the kind of text, never a site: a block's length and punctuation, its
stop-word and capital-letter density, digits and symbols, where it sits relative to the title and
to the page's main run of prose, how often it recurs on the page and across its site, how like the
title it is, and the same for its neighbours and the blocks around it. One LightGBM model, trained
by `make train` (scripts/train.py) on the dev sets only, scores every block; kept blocks below the
threshold go to the audit. A page on which no block passes keeps its best-scoring blocks instead
of nothing. (A second, stacked stage on the neighbours' scores was tried and dropped: in
site-grouped cross-validation it amplified site-to-site shifts and lost 0.05-0.15 F1.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from transforms.bulk import Texts, large_strings
from transforms.minhash import words_of

STATE_KEPT, STATE_REMOVED, STATE_META = 0, 1, 2
REASON_CONTENT = "content:boilerplate"

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_SYMBOLS = re.compile(r"[|»«›‹>•·→←/\\#@©®™{}\[\]<>=+*^~_]")
_URL = re.compile(r"https?://|www\.|\.(?:com|org|net|co\.uk)\b", re.IGNORECASE)
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b|\b\d{1,2}\s?(?:am|pm)\b", re.IGNORECASE)
_DATE = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b(?:19|20)\d{2}\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|my|me|you|your|lol|thanks|thank you)\b", re.IGNORECASE)
# Function words of the languages most common in the dev sets; their density marks running prose.
STOPWORDS = frozenset(
    " ".join(
        (
            "a about after all also an and any are as at be because been but by can could did do does for from had has have he",
            "her his how i if in into is it its just more most my no not of on one or other our out over said she so some than",
            "that the their them then there these they this to up was we were what when which who will with would you your",
            "de la le les et des en un une du est pour que qui dans el los las y por con para una del se",  # French, Spanish
            "der die das und ist mit den von zu im nicht ein eine o os as e um uma com não",  # German, Portuguese
        )
    ).split()
)

NEIGHBOUR_OFFSETS = (-3, -2, -1, 1, 2, 3)


class Classifier(Protocol):
    """What a trained model needs to offer: LightGBM's Booster does."""

    def predict(self, data: Any) -> Any: ...

    def feature_name(self) -> list[str]: ...


@dataclass(frozen=True)
class ContentModel:
    """A trained block scorer, the probability below which a kept block is boilerplate, and the fallback."""

    classifier: Classifier
    threshold: float = 0.35
    fallback_ratio: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be in [0.0, 1.0]")
        if not 0.0 <= self.fallback_ratio <= 1.0:
            raise ValueError("fallback_ratio must be in [0.0, 1.0]")


_SIGMOID_OBJECTIVE = re.compile(r"^binary sigmoid:(\S+)$")


@dataclass(frozen=True, eq=False)
class TreeEnsemble:
    """A LightGBM binary model's trees as arrays, scored by a compiled loop (transforms.kernels.tree_ensemble_scores).

    Same probabilities as `Booster.predict`, bit for bit, at half its CPU time on the bench
    partitions; and no OpenMP threads, which two partitions scoring at once would oversubscribe.
    Per tree (rows padded): split feature, threshold, left and right child (< 0: leaf ~child), leaf values.
    """

    names: tuple[str, ...]
    root: npt.NDArray[np.int32]
    feature: npt.NDArray[np.int32]
    threshold: npt.NDArray[np.float64]
    left: npt.NDArray[np.int32]
    right: npt.NDArray[np.int32]
    leaf_value: npt.NDArray[np.float64]
    sigmoid: float

    @classmethod
    def from_lightgbm_dump(cls, dump: Mapping[str, Any]) -> TreeEnsemble:
        """From `Booster.dump_model()`; ValueError for what the loop does not do (categorical splits, missing-value handling)."""
        objective = _SIGMOID_OBJECTIVE.match(str(dump.get("objective", "")))
        if objective is None or dump.get("num_tree_per_iteration") != 1 or dump.get("average_output"):
            raise ValueError(f"only binary models are scored as arrays, not {dump.get('objective')!r}")
        infos = dump["tree_info"]
        width = max([int(t["num_leaves"]) for t in infos], default=1)
        shape = (len(infos), max(width - 1, 1))
        feature, left, right = (np.zeros(shape, dtype=np.int32) for _ in range(3))
        threshold = np.zeros(shape)
        leaf_value = np.zeros((len(infos), width))
        root = np.zeros(len(infos), dtype=np.int32)
        for t, info in enumerate(infos):
            root[t] = _node_id(info["tree_structure"])
            stack = [info["tree_structure"]]
            while stack:
                node = stack.pop()
                if "split_index" not in node:
                    leaf_value[t, int(node.get("leaf_index", 0))] = float(node["leaf_value"])
                    continue
                if node["decision_type"] != "<=" or node["missing_type"] != "None":
                    split = f"{node['decision_type']!r} with missing type {node['missing_type']!r}"
                    raise ValueError(f"only numerical splits without missing values are scored as arrays, not {split}")
                k = int(node["split_index"])
                feature[t, k], threshold[t, k] = int(node["split_feature"]), float(node["threshold"])
                left[t, k], right[t, k] = _node_id(node["left_child"]), _node_id(node["right_child"])
                stack += [node["left_child"], node["right_child"]]
        return cls(tuple(dump["feature_names"]), root, feature, threshold, left, right, leaf_value, float(objective.group(1)))

    def predict(self, data: Any) -> npt.NDArray[np.float64]:
        from transforms.kernels import tree_ensemble_scores

        x = np.ascontiguousarray(data, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.names):
            raise ValueError(f"data must have {len(self.names)} feature columns, not shape {x.shape}")
        args = (self.root, self.feature, self.threshold, self.left, self.right, self.leaf_value, self.sigmoid)
        return tree_ensemble_scores(x, *args)

    def feature_name(self) -> list[str]:
        return list(self.names)


def _node_id(node: Mapping[str, Any]) -> int:
    """A split's index, or ~(leaf index) for a leaf (a one-leaf tree's leaf has no index: 0)."""
    return int(node["split_index"]) if "split_index" in node else ~int(node.get("leaf_index", 0))


_TEXT_FEATURES = (
    "n_words",
    "n_chars",
    "word_len",
    "sentence_end",
    "ends_colon",
    "cap_ratio",
    "stop_ratio",
    "digit_ratio",
    "symbol_ratio",
    "has_url",
    "has_time",
    "has_date",
    "first_person",
    "n_sentences",
    "starts_lower",
    "all_caps",
)
_N_SENTENCES = r"[.!?](?:\s|$)"
# The ASCII words of STOPWORDS: only plain texts are counted by word lookup (the others go to Python, see transforms.bulk).
_ASCII_STOPWORDS = pa.array(sorted(w for w in STOPWORDS if w.isascii()), pa.large_string())


def text_features_one_by_one(texts: Sequence[str]) -> dict[str, npt.NDArray[np.float64]]:
    """The text features, text by text: the definition `_text_features` must agree with."""
    n = len(texts)
    cols = {k: np.zeros(n) for k in _TEXT_FEATURES}
    for i, text in enumerate(texts):
        words = _WORD.findall(text)
        nw = len(words)
        nc = len(text)
        cols["n_words"][i] = nw
        cols["n_chars"][i] = nc
        if nw:
            cols["word_len"][i] = sum(map(len, words)) / nw
            cols["cap_ratio"][i] = sum(1 for w in words if w[0].isupper()) / nw
            cols["stop_ratio"][i] = sum(1 for w in words if w.lower() in STOPWORDS) / nw
        if nc:
            cols["digit_ratio"][i] = len(_DIGIT.findall(text)) / nc
            cols["symbol_ratio"][i] = len(_SYMBOLS.findall(text)) / nc
        cols["sentence_end"][i] = bool(_SENTENCE_END.search(text))
        cols["ends_colon"][i] = text.endswith(":")
        cols["has_url"][i] = bool(_URL.search(text))
        cols["has_time"][i] = bool(_TIME.search(text))
        cols["has_date"][i] = bool(_DATE.search(text))
        cols["first_person"][i] = len(_FIRST_PERSON.findall(text)) / max(nw, 1)
        cols["n_sentences"][i] = len(re.findall(_N_SENTENCES, text))
        cols["starts_lower"][i] = text[:1].islower()
        cols["all_caps"][i] = text.isupper()
    return cols


def _text_features(
    texts: Sequence[str] | Texts, split: tuple[pa.Array, npt.NDArray[np.int64]] | None = None, rows: npt.NDArray[np.int64] | None = None
) -> dict[str, npt.NDArray[np.float64]]:
    """The text features of all texts at once: RE2 for plain texts, `text_features_one_by_one` for the rest.

    `split` is the texts' `minhash.words_of`, when already found. With `rows`, the regex passes that
    only a block's own features need search those texts alone: the other texts get exact values
    only for the features their neighbours read (their counts, sentence end, stop words, times).
    """
    bulk = texts if isinstance(texts, Texts) else Texts.of(texts)
    own = bulk if rows is None else bulk.take(rows)

    def spread(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        if rows is None:
            return np.asarray(values, dtype=np.float64)
        out = np.zeros(len(bulk.array))
        out[rows] = values
        return out

    lowered, lengths = split if split is not None else words_of(bulk.array)
    words = bulk.word_counts()
    case = bulk.case_counts()
    nw = words.words.astype(np.float64)
    nc = bulk.lengths().astype(np.float64)
    per_word = np.maximum(nw, 1)
    per_char = np.maximum(nc, 1)
    cols = {
        "n_words": nw,
        "n_chars": nc,
        "word_len": words.word_chars / per_word,
        "sentence_end": bulk.search(_SENTENCE_END.pattern),
        "ends_colon": pc.ends_with(bulk.array, ":").to_numpy(zero_copy_only=False),
        "cap_ratio": words.capitalised / per_word,
        "stop_ratio": _stopword_counts(lowered, lengths) / per_word,
        "digit_ratio": words.digits / per_char,
        "symbol_ratio": spread(own.count(_SYMBOLS.pattern)) / per_char,
        "has_url": spread(own.search(_URL.pattern, ignore_case=True)),
        "has_time": bulk.search(_TIME.pattern, ignore_case=True),
        "has_date": spread(own.search(_DATE.pattern, ignore_case=True)),
        "first_person": spread(own.count(_FIRST_PERSON.pattern, ignore_case=True)) / per_word,
        "n_sentences": case.sentence_ends,
        "starts_lower": case.starts_lower,
        "all_caps": (case.upper > 0) & (case.lower == 0),
    }
    out = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    # For texts that are not plain, some columns above differ from the definition (stop words outside
    # ASCII, str.isupper/islower against [A-Z]/[a-z]), so those rows are computed one by one.
    if len(bulk.python_rows):
        rows = bulk.python_rows
        exact = text_features_one_by_one(bulk.python_texts())
        for k in out:
            out[k][rows] = exact[k]
    return out


def _stopword_counts(words: pa.Array, lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """How many of each text's words (lowercase, `lengths[t]` of them per text, end to end) are ASCII stop words."""
    found = np.concatenate(([0], np.cumsum(pc.is_in(words, value_set=_ASCII_STOPWORDS).to_numpy(zero_copy_only=False))))
    ends = np.cumsum(lengths)
    counts: npt.NDArray[np.int64] = found[ends] - found[ends - lengths]
    return counts


def main_run_scores(
    n_words: npt.NDArray[np.float64], prose: npt.NDArray[np.bool_], removed: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """Each block's part in the main run: its words if prose, else a cost (the run is the span of largest sum)."""
    out: npt.NDArray[np.float64] = np.where(prose, n_words, np.where(removed, -2.0, -np.minimum(3.0 + n_words, 15.0)))
    return out


def title_similarity(
    words: tuple[pa.Array, npt.NDArray[np.int64]], page: npt.NDArray[np.int64], page_titles: Sequence[str]
) -> npt.NDArray[np.float64]:
    """Jaccard similarity of each text's words (`minhash.words_of`) with those of its page's title (0 if either has none)."""
    from transforms.kernels import title_jaccard

    block_words, block_counts = words
    title_words, title_counts = words_of(page_titles)
    # Words as exact integer ids (one dictionary over both), so set overlap is integer equality.
    encoded = pa.concat_arrays([block_words, title_words]).dictionary_encode()
    ids = encoded.indices.to_numpy().astype(np.int64)
    split = int(block_counts.sum())
    return title_jaccard(
        ids[:split],
        np.concatenate(([0], np.cumsum(block_counts))).astype(np.int64),
        np.ascontiguousarray(page, dtype=np.int64),
        ids[split:],
        np.concatenate(([0], np.cumsum(title_counts))).astype(np.int64),
        len(encoded.dictionary),
    )


def block_features(
    blocks: pd.DataFrame,
    state: npt.NDArray[np.int64],
    title_positions: Mapping[str, int | None],
    titles: Mapping[str, str | None],
    site_lines: pd.DataFrame,
    site_sizes: Mapping[str, int],
    rows: npt.NDArray[np.int64] | None = None,
    bulk: Texts | None = None,
) -> pd.DataFrame:
    """Stage-1 features of the blocks at `rows` (every block when None), indexed as `blocks` is.

    `blocks` is sorted by doc_id, position (doc_id, source, position, text, key). `site_lines` holds
    the recurring lines of the blocks' sources (SiteStats.line_documents). Every block, among
    `rows` or not, informs the features of its neighbours and its page. `bulk` is
    `Texts.of(blocks["text"])`, when already made.
    """
    # The columns as Arrow arrays, not lists of Python strings: every pass below runs on their buffers.
    bulk = Texts.of(blocks["text"]) if bulk is None else bulk
    words = words_of(bulk.array)
    # Columns as arrays, made one float64 matrix at the end: the model reads that matrix as it is.
    feats: dict[str, npt.NDArray[Any]] = _text_features(bulk, words, rows)
    feats["log_words"] = np.log1p(feats["n_words"])
    feats["removed"] = state == STATE_REMOVED
    feats["meta"] = state == STATE_META
    doc_ids = blocks["doc_id"].to_numpy()
    # Pages as integer codes and index ranges: grouping by strings costs more than the features.
    page = pd.factorize(doc_ids)[0]
    first = np.flatnonzero(np.r_[True, page[1:] != page[:-1]])
    page_sizes = np.diff(np.r_[first, len(page)])
    page_start = np.repeat(first, page_sizes)
    n = np.repeat(page_sizes, page_sizes)
    page_end = page_start + n - 1
    idx = np.arange(len(page)) - page_start
    feats["rel_pos"] = idx / np.maximum(n - 1, 1)
    feats["log_blocks"] = np.log1p(n)
    nw = feats["n_words"]
    csum = np.concatenate(([0.0], np.cumsum(nw)))
    words_total = csum[page_end + 1] - csum[page_start]
    feats["word_share"] = nw / np.maximum(words_total, 1)
    feats["words_before"] = (csum[np.arange(len(page))] - csum[page_start]) / np.maximum(words_total, 1)
    keys = large_strings(blocks["key"])
    sources = large_strings(blocks["source"])
    # In how many pages of its site each block's line occurs: site_lines lists the recurring lines
    # (source, key, documents; unique keys), any other line with a source and a key is on its own page.
    found = pc.index_in(_source_and_key(sources, keys), value_set=_source_and_key(site_lines["source"], site_lines["key"]))
    line_documents = np.append(site_lines["documents"].to_numpy(dtype=np.float64), 1.0)  # the last: a line not listed
    docs_of_line = line_documents[found.fill_null(len(site_lines)).to_numpy()]
    counted = pc.and_(pc.not_equal(sources, ""), pc.not_equal(keys, "")).to_numpy(zero_copy_only=False)
    feats["site_docs"] = np.where(counted, docs_of_line, 0.0)
    source_codes = sources.dictionary_encode()
    sizes = [site_sizes.get(s, 0) if s else 0 for s in source_codes.dictionary.to_pylist()]
    site_n = np.asarray(sizes, dtype=np.float64)[source_codes.indices.to_numpy()]
    feats["site_frac"] = np.where(site_n > 1, feats["site_docs"] / np.maximum(site_n, 1), 0.0)
    feats["site_size"] = np.log1p(site_n)
    key_codes = keys.dictionary_encode().indices.to_numpy().astype(np.int64)
    _, inverse, counts = np.unique(
        page.astype(np.int64) * (int(key_codes.max(initial=0)) + 1) + key_codes, return_inverse=True, return_counts=True
    )
    feats["page_repeats"] = counts[inverse]
    # Position relative to the title and to the main run of prose.
    from transforms.kernels import best_spans

    positions = blocks["position"].to_numpy()
    page_docs = [str(d) for d in doc_ids[first].tolist()]
    title_at = np.array([-1 if title_positions.get(d) is None else title_positions[d] for d in page_docs], dtype=np.int64)
    is_title = positions == title_at[page]
    title_page, title_row = np.unique(page[is_title], return_index=True)  # a page's first block at its title's position
    title_local = np.full(len(first), -1.0)
    title_local[title_page] = idx[np.flatnonzero(is_title)[title_row]]
    title_idx = title_local[page]
    title_sim = title_similarity(words, page, [titles.get(d) or "" for d in page_docs])
    prose = (feats["n_words"] >= 12) & feats["sentence_end"].astype(bool) & (feats["site_frac"] < 0.5)
    removed = feats["removed"] | feats["meta"]
    run_first, run_last = best_spans(main_run_scores(feats["n_words"], prose & ~removed, removed), np.r_[first, len(page)].astype(np.int64))
    a, b = run_first[page], run_last[page]
    has_run = b >= a
    run_in = (has_run & (idx >= a) & (idx <= b)).astype(np.float64)
    run_dist = np.where(has_run, np.where(idx < a, idx - a, np.where(idx > b, idx - b, 0)), 99).astype(np.float64)
    run_pos = np.where(has_run, (idx - a) / np.maximum(b - a, 1), 0.0)
    span = np.maximum(n - 1, 1)
    feats["has_title"] = title_idx >= 0
    feats["title_dist"] = np.where(title_idx >= 0, (idx - title_idx) / span, 0.0)
    feats["after_title"] = (title_idx >= 0) & (idx > title_idx)
    feats["title_sim"] = title_sim
    feats["in_main_run"] = run_in
    feats["main_run_dist"] = np.clip(run_dist, -50, 50)
    feats["main_run_pos"] = np.clip(run_pos, -5, 5)
    feats["prose"] = prose
    # The same signals for the neighbours (0 beyond the page's ends) and over windows of the page,
    # found for the rows asked for alone (every block's signals feed them): `near` holds one value per row.
    at = np.arange(len(page)) if rows is None else rows
    start, end = page_start[at], page_end[at]
    near: dict[str, npt.NDArray[Any]] = {}
    for off in NEIGHBOUR_OFFSETS:
        j = at + off
        inside = (j >= start) & (j <= end)
        jj = np.where(inside, j, 0)
        for col in ("log_words", "sentence_end", "removed", "stop_ratio", "has_time", "cap_ratio"):
            near[f"{col}_{off:+d}"] = np.where(inside, np.asarray(feats[col], dtype=np.float64)[jj], 0.0)
    short = feats["n_words"] <= 3
    near["short"] = short[at]
    for col in ("prose", "log_words", "short", "removed", "stop_ratio"):
        values = np.asarray(short if col == "short" else feats[col], dtype=np.float64)
        for w in (3, 8):
            near[f"{col}_window_{w}"] = window_mean(values, page_start, page_end, w, at)
    # Row-major, as the model reads it: the tree walk (TreeEnsemble) takes one row at a time, and
    # LightGBM, for a model scored by it, predicts fastest so (a column-major matrix cost it a fifth
    # more CPU). Held by pandas without a copy. Only the rows asked for: the model scores only the
    # blocks still kept, and this matrix is the largest thing the stage writes.
    index = blocks.index if rows is None else blocks.index[rows]
    matrix = np.empty((len(index), len(feats) + len(near)), order="C")
    for column, values in enumerate(feats.values()):
        matrix[:, column] = values if rows is None else np.asarray(values)[rows]
    for column, values in enumerate(near.values(), start=len(feats)):
        matrix[:, column] = values
    return pd.DataFrame(matrix, columns=[*feats, *near], index=index, copy=False)


def _source_and_key(sources: Any, keys: Any) -> pa.Array:
    """One string per (source, key): a key holds words and spaces only, so its last NUL tells the two apart."""
    return pc.binary_join_element_wise(large_strings(sources), large_strings(keys), pa.scalar("\x00", pa.large_string()))


def window_mean(
    values: npt.NDArray[np.float64],
    page_start: npt.NDArray[np.int64],
    page_end: npt.NDArray[np.int64],
    w: int,
    at: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.float64]:
    """Mean of values[i-w .. i+w], clipped to each block's own page, for i in `at` (default: all).

    Bit for bit the same whatever other pages the frame holds (`kernels.window_means`).
    """
    from transforms.kernels import window_means

    i = np.arange(len(values), dtype=np.int64) if at is None else np.asarray(at, dtype=np.int64)
    return window_means(
        np.ascontiguousarray(values, dtype=np.float64), np.asarray(page_start, dtype=np.int64), np.asarray(page_end, dtype=np.int64), w, i
    )


def check_features(model: ContentModel, features: pd.DataFrame) -> None:
    """The model must have been trained on exactly these features, in this order."""
    expected = list(model.classifier.feature_name())
    if expected != list(features.columns):
        missing = sorted(set(features.columns) ^ set(expected))
        raise ValueError(f"content model features do not match this code (differ: {missing[:5]}); run `make train`")


def keep_decisions(
    model: ContentModel, features: pd.DataFrame, doc_ids: npt.NDArray[Any], kept: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Which blocks to keep, and each kept block's score (0 for the others); only blocks `kept` so far can be kept.

    `features` are those of the kept blocks, in order (`block_features(..., rows=np.flatnonzero(kept))`).
    """
    rows = np.flatnonzero(kept)
    if len(features) != len(rows):
        raise ValueError(f"features must be those of the {len(rows)} kept blocks, not of {len(features)}")
    score = np.zeros(len(kept))
    if len(rows):
        check_features(model, features)
        score[rows] = np.asarray(model.classifier.predict(features.to_numpy()), dtype=np.float64)
    return keep_from_scores(score, doc_ids, kept, model.threshold, model.fallback_ratio), score


def keep_from_scores(
    score: npt.NDArray[np.float64], doc_ids: npt.NDArray[Any], kept: npt.NDArray[np.bool_], threshold: float, fallback_ratio: float
) -> npt.NDArray[np.bool_]:
    """Kept blocks scoring at least `threshold`; on a page where none does, those within `fallback_ratio` of its best."""
    keep = kept & (score >= threshold)
    page = pd.factorize(doc_ids)[0]
    best = pd.Series(np.where(kept, score, -1.0)).groupby(page, sort=False).transform("max").to_numpy()
    any_kept = pd.Series(keep).groupby(page, sort=False).transform("any").to_numpy()
    # A page where nothing passes keeps its best blocks: an empty article is never the right answer.
    out: npt.NDArray[np.bool_] = keep | (kept & ~any_kept & (score >= fallback_ratio * best))
    return out
