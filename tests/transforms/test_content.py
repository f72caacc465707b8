from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flows.config import load_content_model
from tests.transforms.test_bulk import text, texts
from transforms.bulk import Texts
from transforms.content import (
    STATE_KEPT,
    STATE_META,
    STATE_REMOVED,
    ContentModel,
    TreeEnsemble,
    block_features,
    check_features,
    keep_decisions,
)
from transforms.repeats import repeat_key

HOME_LINE = pd.DataFrame({"source": ["s"], "key": ["home"], "documents": [5]})
NO_LINES = pd.DataFrame({"source": [], "key": [], "documents": []})

PAGE = [
    "Home",
    "News",
    "Storm Hits Coast",
    "The storm arrived at dawn and flooded the harbour, the coastguard said on Monday morning.",
    "Residents of the lower town were told to leave their homes before the second high tide came in.",
    "What happens next",
    "Engineers will inspect the sea wall this week and report to the council by Friday afternoon.",
    "Share",
    "Related stories",
    "Terms of use",
]


def _page(texts: list[str], doc_id: str = "s/a") -> pd.DataFrame:
    return pd.DataFrame(
        {"doc_id": doc_id, "source": "s", "position": range(len(texts)), "text": texts, "key": [repeat_key(t) for t in texts]}
    )


def _features(texts: list[str] = PAGE) -> pd.DataFrame:
    blocks = _page(texts)
    state = np.full(len(texts), STATE_KEPT)
    return block_features(blocks, state, {"s/a": 2}, {"s/a": "Storm Hits Coast"}, HOME_LINE, {"s": 5})


def test_features_describe_the_page_shape() -> None:
    f = _features()
    assert not f.isna().any().any()
    assert f.loc[3, "prose"] == 1 and f.loc[0, "prose"] == 0
    assert f.loc[4, "in_main_run"] == 1 and f.loc[9, "in_main_run"] == 0
    # "Home" is in all 5 pages of the site; a line not among the recurring ones is in its own page.
    assert f.loc[0, "site_frac"] == 1.0 and f.loc[3, "site_frac"] == 0.2
    assert f.loc[2, "title_sim"] == 1.0
    assert f.loc[3, "after_title"] == 1 and f.loc[0, "after_title"] == 0


def test_site_docs_count_pages_of_recurring_lines_one_for_other_lines_and_none_without_a_line() -> None:
    blocks = pd.concat([_page(["Home", "A line of this page alone.", "***"]), _page(["Home"], "t/b").assign(source="")], ignore_index=True)
    f = block_features(blocks, np.full(len(blocks), STATE_KEPT), {}, {}, HOME_LINE, {"s": 5})
    # "***" has no line key, and the last block no source: neither is counted as a line of a site.
    assert f["site_docs"].tolist() == [5.0, 1.0, 0.0, 0.0]


def test_features_are_deterministic_and_per_page() -> None:
    one = _features()
    two_pages = pd.concat([_page(PAGE, "s/a"), _page(["Other page text here."], "s/b")], ignore_index=True)
    state = np.full(len(two_pages), STATE_KEPT)
    both = block_features(two_pages, state, {"s/a": 2}, {"s/a": "Storm Hits Coast"}, HOME_LINE, {"s": 5})
    pd.testing.assert_frame_equal(one, both.iloc[: len(PAGE)])


def _title_similarity(block: str, title: str) -> float:
    """The definition: Jaccard of the lowercased `\\w+` word sets."""
    a, b = set(re.findall(r"\w+", block.lower())), set(re.findall(r"\w+", title.lower()))
    return len(a & b) / len(a | b) if a and b else 0.0


@settings(max_examples=60, deadline=None)
@given(texts=texts, title=text)
def test_title_similarity_is_the_jaccard_of_lowercased_words(texts: list[str], title: str) -> None:
    blocks = _page(texts)
    f = block_features(blocks, np.full(len(texts), STATE_KEPT), {}, {"s/a": title}, NO_LINES, {})
    assert f["title_sim"].tolist() == [_title_similarity(t, title) for t in texts]


class _Scores:
    """A model whose score for a block is looked up by the block's rel_pos feature (unique on the test page)."""

    def __init__(self, scores: list[float], features: pd.DataFrame) -> None:
        self.by_pos = dict(zip(features["rel_pos"].tolist(), scores, strict=True))
        self.names = list(features.columns)
        self.column = self.names.index("rel_pos")

    def predict(self, data: Any) -> Any:
        return np.array([self.by_pos[v] for v in data[:, self.column]])

    def feature_name(self) -> list[str]:
        return self.names


def test_threshold_and_removed_blocks() -> None:
    f = _features()
    scores = [0.1, 0.1, 0.9, 0.9, 0.8, 0.6, 0.9, 0.2, 0.1, 0.05]
    kept = np.ones(len(PAGE), dtype=bool)
    kept[6] = False  # removed by a rule earlier: never brought back
    keep, score = keep_decisions(ContentModel(_Scores(scores, f), threshold=0.5), f[kept], np.array(["s/a"] * len(PAGE)), kept)
    assert keep.tolist() == [False, False, True, True, True, True, False, False, False, False]
    assert score.tolist() == [s if k else 0.0 for s, k in zip(scores, kept, strict=True)]  # only kept blocks are scored


def test_a_page_never_ends_empty() -> None:
    f = _features()
    scores = [0.1, 0.1, 0.2, 0.3, 0.28, 0.05, 0.2, 0.01, 0.01, 0.01]
    model = ContentModel(_Scores(scores, f), threshold=0.5, fallback_ratio=0.5)
    keep, _ = keep_decisions(model, f, np.array(["s/a"] * len(PAGE)), np.ones(len(PAGE), dtype=bool))
    assert keep.tolist() == [False, False, True, True, True, False, True, False, False, False]


def test_features_of_other_blocks_than_the_kept_are_refused() -> None:
    f = _features()
    kept = np.ones(len(PAGE), dtype=bool)
    kept[0] = False
    with pytest.raises(ValueError, match="features must be those of the 9 kept blocks, not of 10"):
        keep_decisions(ContentModel(_Scores([0.5] * len(PAGE), f)), f, np.array(["s/a"] * len(PAGE)), kept)


# Per block of both pages: its state, and whether its features are asked for.
_FLAGS = st.lists(st.tuples(st.sampled_from([STATE_KEPT, STATE_REMOVED, STATE_META]), st.booleans()), min_size=50, max_size=50)
# Every signal a neighbour reads sits on a block left out, next to one asked for.
_SIGNALS = ["Updated 12:30 today", "The storm arrived at dawn and flooded the harbour, officials said.", "HOME", "Share this"]


@settings(max_examples=60, deadline=None)
@given(texts=texts, flags=_FLAGS)
@example(texts=_SIGNALS, flags=[(STATE_KEPT, i % 2 == 1) for i in range(50)])
@example(texts=_SIGNALS, flags=[(STATE_KEPT, i % 2 == 0) for i in range(50)])
def test_features_of_some_rows_are_those_rows_of_all(texts: list[str], flags: list[tuple[int, bool]]) -> None:
    """Blocks left out still inform their neighbours: the rows asked for get exactly their features among all."""
    blocks = pd.concat([_page(texts, "s/a"), _page(texts[::-1], "s/b")], ignore_index=True)
    state = np.array([s for s, _ in flags[: len(blocks)]])
    rows = np.flatnonzero([asked for _, asked in flags[: len(blocks)]])
    args = (blocks, state, {"s/a": 1, "s/b": 0}, {"s/a": texts[0], "s/b": None}, HOME_LINE, {"s": 5})
    some = block_features(*args, rows=rows)
    pd.testing.assert_frame_equal(some, block_features(*args).iloc[rows], check_exact=True)
    # The texts' Arrow form, made once by the caller for the cleaner and for these features.
    pd.testing.assert_frame_equal(block_features(*args, rows=rows, bulk=Texts.of(blocks["text"])), some, check_exact=True)


def test_stale_model_is_a_clear_error() -> None:
    f = _features()
    model = ContentModel(_Scores([0.5] * len(PAGE), f))
    model.classifier.names = ["n_words", "something_else"]  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="run `make train`"):
        check_features(model, f)


def test_shipped_model_matches_the_features_of_this_code() -> None:
    model = load_content_model()
    check_features(model, _features())
    assert 0.0 < model.threshold < 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"threshold": 1.5}, r"threshold must be in \[0.0, 1.0\]"), ({"fallback_ratio": -0.1}, r"fallback_ratio must be in \[0.0, 1.0\]")],
)
def test_model_rejects_bad_values(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ContentModel(_Scores([0.5] * len(PAGE), _features()), **kwargs)


def test_removed_state_is_a_feature() -> None:
    blocks = _page(PAGE)
    state = np.full(len(PAGE), STATE_KEPT)
    state[0] = STATE_REMOVED
    f = block_features(blocks, state, {}, {}, NO_LINES, {})
    assert f.loc[0, "removed"] == 1 and f.loc[1, "removed_-1"] == 1


def _booster(x: np.ndarray, y: np.ndarray, **params: Any) -> Any:
    import lightgbm as lgb

    base = {"objective": "binary", "num_leaves": 15, "min_data_in_leaf": 5, "verbose": -1, "num_threads": 1, "seed": 1}
    return lgb.train({**base, **params}, lgb.Dataset(x, y), num_boost_round=20)


def _data(rows: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(rows, 6)).round(1)  # repeated values: many land exactly on a threshold
    return x, (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(float)


def test_tree_ensemble_scores_as_lightgbm_does_bit_for_bit() -> None:
    x, y = _data()
    booster = _booster(x, y)
    trees = TreeEnsemble.from_lightgbm_dump(booster.dump_model())
    # Rows whose values sit exactly on the thresholds (a value equal to one goes left), and values
    # within LightGBM's zero threshold of 0, which its predict takes for 0 (splits at 0 are at -1e-35).
    on_thresholds = np.repeat(np.unique(trees.threshold[trees.left != trees.right]), 6).reshape(-1, 6)
    near_zero = np.array([[1e-36, -1e-36, float(np.float32(1e-35)), -float(np.float32(1e-35)), 2e-35, -2e-35]])
    probe = np.vstack([x, -x, on_thresholds, near_zero, -near_zero, np.zeros((1, 6)), np.full((1, 6), np.nan)])
    assert np.array_equal(trees.predict(probe), booster.predict(probe))
    assert trees.feature_name() == booster.feature_name()


def test_shipped_model_is_scored_as_arrays_bit_for_bit() -> None:
    import lightgbm as lgb

    from flows.config import MODEL_DIR

    model = load_content_model()
    assert isinstance(model.classifier, TreeEnsemble)
    booster = lgb.Booster(model_file=str(MODEL_DIR / "content_model.txt"))
    features = pd.concat([_features()] * 3, ignore_index=True)
    rng = np.random.default_rng(3)
    data = np.vstack([features.to_numpy(), features.to_numpy() * rng.uniform(0, 3, size=features.shape)])
    assert np.array_equal(model.classifier.predict(data), booster.predict(data))


def test_a_tree_of_one_leaf_is_scored() -> None:
    x, y = _data(40)
    booster = _booster(x, y, min_data_in_leaf=1000)  # no split is allowed: every tree is one leaf
    trees = TreeEnsemble.from_lightgbm_dump(booster.dump_model())
    assert (trees.root < 0).all()
    assert np.array_equal(trees.predict(x), booster.predict(x))


def test_models_the_arrays_cannot_hold_are_refused() -> None:
    x, y = _data()
    x[::7, 0] = np.nan  # missing values in training give splits that route them
    with pytest.raises(ValueError, match="only numerical splits without missing values"):
        TreeEnsemble.from_lightgbm_dump(_booster(x, y).dump_model())
    with pytest.raises(ValueError, match="only binary models"):
        TreeEnsemble.from_lightgbm_dump(_booster(*_data(), objective="regression").dump_model())
    trees = TreeEnsemble.from_lightgbm_dump(_booster(*_data()).dump_model())
    with pytest.raises(ValueError, match=r"data must have 6 feature columns, not shape \(2, 5\)"):
        trees.predict(np.zeros((2, 5)))


def test_a_model_the_arrays_cannot_hold_is_loaded_as_lightgbm(tmp_path: Any) -> None:
    x, y = _data()
    x[::7, 0] = np.nan
    booster = _booster(x, y)
    booster.save_model(str(tmp_path / "content_model.txt"))
    (tmp_path / "content_model.json").write_text('{"threshold": 0.5, "fallback_ratio": 0.5}')
    model = load_content_model(tmp_path)
    assert not isinstance(model.classifier, TreeEnsemble)
    assert np.array_equal(model.classifier.predict(x), booster.predict(x))


def test_a_page_has_the_same_features_bit_for_bit_whatever_pages_come_before_it() -> None:
    # A partition is any run of pages: a page's features must not depend on the pages before it in
    # the frame (sums over windows once ran over the whole frame, and rounding then flipped the
    # model's decisions when partitions were cut elsewhere).
    rng = np.random.default_rng(7)
    words = ["the", "storm", "Harbour", "of", "tide", "council", "a", "report", "and", "wall"]
    before = [" ".join(rng.choice(words, size=int(rng.integers(1, 40)))) + "." for _ in range(3000)]
    others = pd.concat([_page(before[i : i + 30], f"r/{i:05d}") for i in range(0, len(before), 30)], ignore_index=True)
    both = pd.concat([others, _page(PAGE, "s/a")], ignore_index=True)
    state = np.full(len(both), STATE_KEPT)
    after = block_features(both, state, {"s/a": 2}, {"s/a": "Storm Hits Coast"}, HOME_LINE, {"s": 5})
    pd.testing.assert_frame_equal(_features(), after.iloc[len(others) :].reset_index(drop=True), check_exact=True)
