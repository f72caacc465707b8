"""`make train`: fit the content model on the dev sets in ../shared/eval.

A block's label is whether it is article text in the human gold (its words equal a gold line, or,
for blocks of 4+ words, appear as a run inside the gold text). Cross-validation folds are grouped
by site, so every figure printed is for sites the model did not see, as the held-back pages will
be. Writes transforms/models/content_model.txt (LightGBM's own text format, loaded without pickle
or network) and content_model.json (threshold, fallback, features, cross-validated metrics).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from flows import io
from transforms import dedup, sitechrome, tables
from transforms.clean import CleanConfig
from transforms.content import keep_from_scores
from transforms.repeats import repeat_key

SETS = ("dev_cleanportaleval", "dev_dragnet", "dev_scrapinghub_aeb")
MODELS = Path(__file__).resolve().parent.parent / "transforms" / "models"
TOKEN = re.compile(r"\w+")
PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 63,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "seed": 7,
    "deterministic": True,
    "num_threads": 2,
}
ROUNDS = 60
FALLBACK = 0.5


def load_set(set_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, tables.CleanedCorpus, np.ndarray]:
    """Blocks, stage-1 features and the rule-based cleaning of one dev set, exactly as the flow does them."""
    raw = set_dir / "raw"
    ingested = io.read_raw_files(raw, io.discover(raw))
    docs = io.documents_frame(ingested)
    blocks = tables.blocks_table(docs)
    cfg = dedup.DedupConfig()
    groups = dedup.raw_document_groups(docs, cfg)
    with_groups = blocks.merge(pd.DataFrame({"doc_id": docs["doc_id"], "group": groups}), on="doc_id", how="left")
    stats = sitechrome.site_stats(with_groups, sitechrome.SiteChromeConfig())
    cleaned = tables.clean_documents(docs, blocks, stats, CleanConfig())
    states = tables.block_states(blocks, cleaned)
    return blocks, tables.content_features(blocks, cleaned, stats, states), cleaned, states


def gold_of(set_dir: Path, doc_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((set_dir / "gold" / f"{doc_id.rsplit('/', 1)[-1]}.json").read_text(encoding="utf-8"))
    return data


def labels(blocks: pd.DataFrame, set_dir: Path) -> np.ndarray:
    out = np.zeros(len(blocks), dtype=np.int64)
    for doc_id, idx in blocks.groupby("doc_id", sort=False).indices.items():
        gold = gold_of(set_dir, str(doc_id))["gold"]
        lines = {repeat_key(line) for line in gold.split("\n")}
        joined = " " + " ".join(repeat_key(line) for line in gold.split("\n")) + " "
        for i in idx:
            key = blocks["key"].iat[i]
            n = len(key.split())
            out[i] = bool(key) and (key in lines or (n >= 4 and f" {key} " in joined))
    return out


def tokens(text: str) -> Counter[str]:
    return Counter(TOKEN.findall(text.lower()))


def page_scores(frame: pd.DataFrame, keep: np.ndarray, set_dirs: dict[str, Path]) -> dict[str, float]:
    """Macro F1 per set, as score.py computes it, for a keep decision on the kept blocks."""
    per_set: dict[str, list[float]] = {}
    sub = frame.assign(keep=keep)
    for (set_name, doc_id), page in sub.groupby(["set", "doc_id"], sort=False):
        gold = gold_of(set_dirs[set_name], str(doc_id))
        body = " ".join(page.loc[page["keep"] & (page["state"] == 0), "text"])
        title = page["title"].iat[0] if gold.get("title_in_gold") else ""
        g, p = tokens(gold["gold"]), tokens(f"{title} {body}")
        tp = sum((g & p).values())
        pr = tp / max(sum(p.values()), 1)
        rc = tp / max(sum(g.values()), 1)
        per_set.setdefault(str(set_name), []).append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
    return {k: float(np.mean(v)) for k, v in per_set.items()}


def fit(x: pd.DataFrame, y: np.ndarray, w: np.ndarray) -> lgb.Booster:
    return lgb.train(PARAMS, lgb.Dataset(x.to_numpy(), label=y, weight=w, feature_name=list(x.columns)), num_boost_round=ROUNDS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    set_dirs = {name: args.shared / "eval" / name for name in SETS}
    missing = [str(d) for d in set_dirs.values() if not (d / "gold").is_dir()]
    if missing:
        print(f"train: dev sets not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    frames, feats = [], []
    for name, set_dir in set_dirs.items():
        blocks, x, cleaned, state = load_set(set_dir)
        titles = cleaned.documents.set_index("doc_id")["title"].fillna("")
        frames.append(blocks.assign(set=name, label=labels(blocks, set_dir), state=state, title=blocks["doc_id"].map(titles).fillna("")))
        feats.append(x)
        print(f"{name}: {blocks['doc_id'].nunique()} pages, {len(blocks)} blocks, {int(frames[-1]['label'].sum())} gold blocks")
    frame = pd.concat(frames, ignore_index=True)
    x = pd.concat(feats, ignore_index=True)
    y = frame["label"].to_numpy()
    # Weight by (log) length: the metric counts words, but short lines decide the page's shape.
    w = np.log1p(x["n_words"].to_numpy()) + 0.5
    doc_ids = (frame["set"] + "|" + frame["doc_id"]).to_numpy()
    sites = frame["source"].where(frame["source"] != "", frame["doc_id"]).to_numpy()
    kept = frame["state"].to_numpy() == 0

    oof = np.zeros(len(frame))
    for train, test in GroupKFold(n_splits=args.folds).split(x, y, groups=sites):
        oof[test] = fit(x.iloc[train], y[train], w[train]).predict(x.iloc[test].to_numpy())

    rules_only = page_scores(frame, np.ones(len(frame), dtype=bool), set_dirs)
    oracle = page_scores(frame, y.astype(bool), set_dirs)
    sweep: dict[str, dict[str, float]] = {}
    best: tuple[float, float, dict[str, float]] = (-1.0, 0.5, {})
    for t in np.arange(0.2, 0.61, 0.05):
        keep = keep_from_scores(oof, doc_ids, kept, float(t), FALLBACK)
        scores = page_scores(frame, keep, set_dirs)
        sweep[f"{t:.2f}"] = scores
        mean = float(np.mean(list(scores.values())))
        if mean > best[0] + 1e-9:
            best = (mean, round(float(t), 2), scores)
    mean, threshold, cv = best
    print(f"labels as predictions (ceiling): {' '.join(f'{k}={v:.3f}' for k, v in oracle.items())}")
    print(f"rules only (no model):           {' '.join(f'{k}={v:.3f}' for k, v in rules_only.items())}")
    print(f"site-grouped CV at t={threshold:.2f}:       {' '.join(f'{k}={v:.3f}' for k, v in cv.items())}  mean={mean:.3f}")

    final = fit(x, y, w)
    MODELS.mkdir(parents=True, exist_ok=True)
    final.save_model(str(MODELS / "content_model.txt"))
    meta = {
        "threshold": threshold,
        "fallback_ratio": FALLBACK,
        "features": list(x.columns),
        "params": PARAMS,
        "rounds": ROUNDS,
        "lightgbm": lgb.__version__,
        "trained_on_pages": {name: int(frame.loc[frame["set"] == name, "doc_id"].nunique()) for name in SETS},
        "blocks": len(frame),
        "cv": {"folds": args.folds, "grouped_by": "site", "macro_f1_by_set": cv, "mean": mean, "threshold_sweep": sweep},
        "rules_only_macro_f1_by_set": rules_only,
        "label_ceiling_macro_f1_by_set": oracle,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (MODELS / "content_model.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"written {MODELS}/content_model.txt and content_model.json in {meta['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
