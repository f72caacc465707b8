"""`make eval`: run newsclean over every dev set in ../shared/eval and score it with score.py.

Prints one table (set, pages, macro P, R, F1, micro F1, missing, MB/s), the pages with the lowest
F1 per set, and which removal reasons cost recall (missing gold words found in removed.parquet).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

SETS = ("dev_cleanportaleval", "dev_dragnet", "dev_scrapinghub_aeb")
TOKEN = re.compile(r"\w+")
# Peer figures from ../shared/eval/README.md (macro F1 on the same raw text).
PEERS = {
    "C4 rules + cc_net repeated lines (best text-only peer)": (0.828, 0.757, 0.840),
    "trafilatura 2 on the original HTML": (0.969, 0.920, 0.959),
}


def tokens(text: str) -> Counter[str]:
    return Counter(TOKEN.findall((text or "").lower()))


def raw_megabytes(raw: Path) -> float:
    return sum(p.stat().st_size for p in raw.rglob("*") if p.is_file()) / 1e6


def recall_cost(set_dir: Path, out: Path) -> Counter[str]:
    """Missing gold words (gold minus prediction) that sit in removed blocks, by removal reason."""
    import pandas as pd

    docs = pd.read_parquet(out / "documents.parquet", columns=["doc_id", "title", "text"])
    removed = pd.read_parquet(out / "removed.parquet", columns=["doc_id", "position", "text", "reason"])
    by_doc = {d: g for d, g in removed.groupby("doc_id")}
    cost: Counter[str] = Counter()
    for row in docs.itertuples():
        gold_path = set_dir / "gold" / (row.doc_id.rsplit("/", 1)[-1] + ".json")
        if not gold_path.exists():
            continue
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        title = row.title if isinstance(row.title, str) else ""
        pred = title + "\n" + row.text if gold.get("title_in_gold") else row.text
        missing = tokens(gold["gold"]) - tokens(pred)
        grp = by_doc.get(row.doc_id)
        if grp is None:
            continue
        for text, reason in zip(grp["text"], grp["reason"], strict=True):
            found = tokens(text) & missing
            n = sum(found.values())
            if n:
                cost[reason] += n
                missing -= found
    return cost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--json", type=Path, default=Path("output/eval.json"))
    parser.add_argument("--work", type=Path, help="keep each set's output here (default: a temporary folder)")
    parser.add_argument("--only", help="comma-separated set names")
    parser.add_argument("--worst", type=int, default=5)
    args = parser.parse_args()
    eval_root = args.shared / "eval"
    if not (eval_root / "score.py").is_file():
        print(f"eval: {eval_root}/score.py not found; ../shared is needed for make eval", file=sys.stderr)
        return 2
    from flows.clean import clean_flow

    work = args.work or Path(tempfile.mkdtemp(prefix="newsclean-eval-"))
    names = [s for s in SETS if not args.only or s in args.only.split(",")]
    rows, worst, costs = [], {}, {}
    started = time.perf_counter()
    for name in names:
        set_dir = eval_root / name
        out = work / name
        mb = raw_megabytes(set_dir / "raw")
        t0 = time.perf_counter()
        clean_flow(raw=str(set_dir / "raw"), output=str(out))
        seconds = time.perf_counter() - t0
        score_json, per_doc = work / f"{name}.score.json", work / f"{name}.per_doc.csv"
        per_doc.unlink(missing_ok=True)
        subprocess.run(
            [
                sys.executable,
                str(eval_root / "score.py"),
                str(set_dir),
                str(out / "current"),
                "--json",
                str(score_json),
                "--per-doc",
                str(per_doc),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        res = json.loads(score_json.read_text())["sets"][name]
        rows.append(
            {
                "set": name,
                "pages": res["n_docs"],
                "P": res["P"],
                "R": res["R"],
                "F1": res["F1"],
                "micro_F1": res["micro_F1"],
                "missing": res["missing"],
                "raw_MB": mb,
                "seconds": seconds,
                "MB_per_s": mb / seconds,
            }
        )
        with open(per_doc, encoding="utf-8") as f:
            pages = sorted(csv.DictReader(f), key=lambda r: float(r["F1"]))
        worst[name] = [{"doc_id": p["doc_id"], "P": float(p["P"]), "R": float(p["R"]), "F1": float(p["F1"])} for p in pages[: args.worst]]
        costs[name] = dict(recall_cost(set_dir, out / "current").most_common())
    total = time.perf_counter() - started
    mean = sum(r["F1"] for r in rows) / len(rows)
    print(f"\n{'set':<22}{'pages':>6}{'P':>7}{'R':>7}{'F1':>7}{'microF1':>9}{'missing':>8}{'MB/s':>7}")
    for r in rows:
        print(
            f"{r['set']:<22}{r['pages']:>6}{r['P']:>7.3f}{r['R']:>7.3f}{r['F1']:>7.3f}{r['micro_F1']:>9.3f}{r['missing']:>8}{r['MB_per_s']:>7.2f}"
        )
    print(f"{'mean macro F1':<22}{'':>6}{'':>7}{'':>7}{mean:>7.3f}")
    if len(rows) == len(SETS):
        for peer, scores in PEERS.items():
            print(f"  peer: {peer}: {' / '.join(f'{s:.3f}' for s in scores)}, mean {sum(scores) / 3:.3f}")
    mb_all = sum(r["raw_MB"] for r in rows)
    flow_seconds = sum(r["seconds"] for r in rows)
    print(
        f"throughput: {mb_all:.1f} MB of raw text in {flow_seconds:.1f} s of flow runs = {mb_all / flow_seconds:.2f} MB/s;"
        f" total {total:.0f} s"
    )
    for name in names:
        print(f"\nlowest F1 in {name}:")
        for p in worst[name]:
            print(f"  {p['F1']:.3f} (P {p['P']:.3f} R {p['R']:.3f})  {p['doc_id']}")
        print(f"gold words lost, by removal reason ({name}):")
        for reason, n in list(costs[name].items())[:8]:
            print(f"  {n:>7}  {reason}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = {"sets": rows, "mean_F1": mean, "worst": worst, "recall_cost": costs, "seconds": total}
    args.json.write_text(json.dumps(report, indent=1))
    print(f"\nwritten {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
