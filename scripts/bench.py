"""`make bench`: signature speed, near-duplicate quality, LSH scaling and end-to-end throughput, measured here.

A benchmark, not a test: it prints tables and writes them as JSON, and asserts nothing.
Every reference (datasketch) is measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from datasketch import MinHash, MinHashLSH
from scipy import sparse

from flows.io import discover
from transforms.minhash import MinHashConfig, shingle_hashes, shingles_as_bytes, signatures_from_shingles
from transforms.neardup import NearDupConfig, candidate_pairs, clusters, verified_pairs

CFG = MinHashConfig()
ND = NearDupConfig()


def _resident_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1e3  # kB
    raise RuntimeError(f"{field} not in /proc/self/status")


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Peak resident memory of this process while the block runs, in MB: the kernel's high-water mark.

    Writing 5 to /proc/self/clear_refs resets the mark (VmHWM) to the current RSS. A sampling
    thread did the same job less exactly, and its wake-ups every 5 ms slowed the timed code by up
    to a quarter on this 2-core machine.
    """
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")
    out = {"peak_mb": 0.0}
    try:
        yield out
    finally:
        out["peak_mb"] = _resident_mb("VmHWM")


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    with peak_rss() as mem:
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
    return result, seconds, mem["peak_mb"]


def corpus_paragraphs(shared: Path) -> list[str]:
    paras: list[str] = []
    for name in ("reuters21578.jsonl", "bbc_fulltext.jsonl"):
        for line in (shared / "corpus" / name).read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"]
            paras.extend(p.strip() for p in text.replace("\n    ", "\n\n").split("\n\n") if len(p.split()) >= 5)
    return paras


# ---------------------------------------------------------------- 1. signatures


def bench_signatures(paras: list[str]) -> list[dict[str, Any]]:
    mb = sum(len(p.encode()) for p in paras) / 1e6

    def ours() -> np.ndarray:
        hashes, offsets = shingle_hashes(paras, CFG.shingle_size)
        return signatures_from_shingles(hashes, offsets, CFG)

    # Median of three runs: the first also pays one-off page faults for its big arrays.
    runs = sorted(timed(ours)[1:] for _ in range(3))
    sec, peak = runs[1]
    rows = [
        {
            "stage": "newsclean signatures (numpy + numba)",
            "MB": mb,
            "seconds": sec,
            "MB_per_s": mb / sec,
            "paragraphs_per_s": len(paras) / sec,
            "peak_MB": peak,
            "runs_seconds": [r[0] for r in runs],
        }
    ]
    sample = paras[:: max(1, len(paras) // 3000)]
    smb = sum(len(p.encode()) for p in sample) / 1e6
    shingles = [shingles_as_bytes(p, CFG.shingle_size) for p in sample]

    # datasketch's own default hash (SHA-1): the reference as datasketch users run it.
    def update_loop() -> None:
        for sh in shingles:
            m = MinHash(num_perm=CFG.num_perm, seed=CFG.seed)
            for s in sh:
                m.update(s)

    def bulk() -> None:
        MinHash.bulk(shingles, num_perm=CFG.num_perm, seed=CFG.seed)

    # The reference includes shingling, as ours does.
    t0 = time.perf_counter()
    shingles = [shingles_as_bytes(p, CFG.shingle_size) for p in sample]
    shingling = time.perf_counter() - t0
    _, sec_u, peak_u = timed(update_loop)
    _, sec_b, peak_b = timed(bulk)
    for name, sec_ref, peak_ref in (("datasketch MinHash.update per shingle", sec_u, peak_u), ("datasketch MinHash.bulk", sec_b, peak_b)):
        total = sec_ref + shingling
        rows.append(
            {
                "stage": name,
                "MB": smb,
                "seconds": total,
                "MB_per_s": smb / total,
                "paragraphs_per_s": len(sample) / total,
                "peak_MB": peak_ref,
            }
        )
    for r in rows:
        r["ratio_to_update_loop"] = r["MB_per_s"] / rows[1]["MB_per_s"]
    return rows


# ---------------------------------------------------------------- 2. quality


def perturb(text: str, rng: random.Random, rate: float) -> str:
    words = text.split()
    for _ in range(max(1, int(len(words) * rate))):
        i = rng.randrange(len(words))
        op = rng.random()
        if op < 0.4:
            words[i] = rng.choice(("the", "new", "report", "market", "said", "year", "officials"))
        elif op < 0.7 and len(words) > 6:
            del words[i]
        else:
            words.insert(i, rng.choice(("also", "still", "now", "reportedly")))
    return " ".join(words)


def subset(hashes: np.ndarray, offsets: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The shingles of some items, from shingles kept for all of them."""
    lengths = offsets[idx + 1] - offsets[idx]
    parts = [hashes[offsets[i] : offsets[i + 1]] for i in idx.tolist()]
    return (np.concatenate(parts) if parts else hashes[:0]), np.concatenate(([0], np.cumsum(lengths)))


def exact_pairs(hashes: np.ndarray, offsets: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    """Every pair at or above the threshold, by sparse X @ X.T over distinct shingles (exact, no sampling)."""
    n = len(offsets) - 1
    rows, cols = [], []
    for i in range(n):
        u = np.unique(hashes[offsets[i] : offsets[i + 1]])
        rows.append(np.full(len(u), i))
        cols.append(u)
    r = np.concatenate(rows)
    _, c = np.unique(np.concatenate(cols), return_inverse=True)
    x = sparse.csr_matrix((np.ones(len(r), dtype=np.int32), (r, c)), shape=(n, c.max() + 1))
    sizes = np.asarray(x.sum(axis=1)).ravel()
    inter = sparse.triu(x @ x.T, k=1).tocoo()
    jac = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    keep = jac >= threshold
    return set(zip(inter.row[keep].tolist(), inter.col[keep].tolist(), strict=True))


def bench_quality(paras: list[str], n: int = 20000, copies: int = 4000) -> dict[str, Any]:
    rng = random.Random(11)
    base = rng.sample(paras, n)
    # Edit rates that put copies on both sides of 0.8 (5-gram Jaccard falls fast with each edit).
    texts = base + [perturb(t, rng, rng.choice((0.005, 0.01, 0.02, 0.03, 0.05, 0.08))) for t in rng.sample(base, copies)]
    hashes, offsets = shingle_hashes(texts, CFG.shingle_size)
    sig = signatures_from_shingles(hashes, offsets, CFG)
    truth, t_truth, _ = timed(lambda: exact_pairs(hashes, offsets, ND.threshold))
    cand, t_cand, _ = timed(lambda: candidate_pairs(sig, ND))
    edges, _ = verified_pairs(sig, lambda idx: subset(hashes, offsets, idx), ND)
    ours = {tuple(p) for p in edges.tolist()}
    _, sizes = clusters(len(texts), edges, np.arange(len(texts)))

    lsh = MinHashLSH(threshold=ND.threshold, num_perm=CFG.num_perm)
    mhs = [MinHash(hashvalues=s, scheme="affine32", seed=CFG.seed) for s in sig]
    with lsh.insertion_session() as session:
        for i, m in enumerate(mhs):
            session.insert(i, m)
    ds = {(min(i, j), max(i, j)) for i, m in enumerate(mhs) for j in lsh.query(m) if i != j}

    def pr(found: set[tuple[int, int]]) -> tuple[float, float]:
        tp = len(found & truth)
        return tp / max(len(found), 1), tp / max(len(truth), 1)

    p_ours, r_ours = pr(ours)
    p_cand, r_cand = pr({tuple(p) for p in cand.tolist()})
    p_ds, r_ds = pr(ds)
    return {
        "paragraphs": len(texts),
        "true_pairs": len(truth),
        "threshold": ND.threshold,
        "exact_truth_seconds": t_truth,
        "rows": [
            {"method": f"newsclean: {ND.bands}x{ND.rows} bands + exact Jaccard check", "precision": p_ours, "recall": r_ours},
            {"method": f"newsclean candidates alone ({ND.bands}x{ND.rows} bands)", "precision": p_cand, "recall": r_cand},
            {"method": "datasketch MinHashLSH(threshold=0.8) candidates", "precision": p_ds, "recall": r_ds},
        ],
        "largest_cluster": int(sizes.max()),
        "candidate_seconds": t_cand,
    }


# ---------------------------------------------------------------- 3. scaling


def scaled_texts(paras: list[str], n: int, seed: int) -> list[str]:
    """n paragraphs: the corpus, then perturbed copies (most heavy, one in twenty light: a near-duplicate)."""
    rng = random.Random(seed)
    out = list(paras[:n])
    while len(out) < n:
        t = paras[rng.randrange(len(paras))]
        out.append(perturb(t, rng, 0.03 if rng.random() < 0.05 else 0.4))
    return out


def scale_one(paras: list[str], n: int, work: Path) -> dict[str, Any]:
    """Signatures here; candidates + check + clusters in a fresh process, so its peak memory is its own."""
    texts = scaled_texts(paras, n, seed=n)
    (hashes, offsets), t_sh, _ = timed(lambda: shingle_hashes(texts, CFG.shingle_size))
    sig, t_sig, _ = timed(lambda: signatures_from_shingles(hashes, offsets, CFG))
    for name, arr in (("sig", sig), ("hashes", hashes), ("offsets", offsets)):
        np.save(work / f"{name}.npy", arr)
    done = subprocess.run([sys.executable, __file__, "--near-dups", str(work)], check=True, capture_output=True, text=True)
    row: dict[str, Any] = json.loads(done.stdout)
    row.update(paragraphs=n, signature_seconds=t_sh + t_sig, us_per_paragraph=1e6 * row["candidates_verify_clusters_seconds"] / n)
    return row


SCALING_REPEATS = 3


def near_dups_child(work: Path) -> dict[str, Any]:
    """In a fresh process: load signatures and shingles, time candidates and candidates + check + clusters."""
    sig = np.load(work / "sig.npy")
    hashes, offsets = np.load(work / "hashes.npy"), np.load(work / "offsets.npy")
    loaded = psutil.Process().memory_info().rss / 1e6
    # Median of 3: a run of under a second (10k, 100k) is otherwise at the mercy of this shared machine.
    cand_times, all_times = [], []
    for _ in range(SCALING_REPEATS):
        t0 = time.perf_counter()
        n_cand = len(candidate_pairs(sig, ND))
        cand_times.append(time.perf_counter() - t0)
    # This process's own high-water mark (VmHWM), not ru_maxrss: Linux carries the parent's maximum across fork and exec.
    with peak_rss() as mem:
        for _ in range(SCALING_REPEATS):
            t0 = time.perf_counter()
            edges, _ = verified_pairs(sig, lambda idx: subset(hashes, offsets, idx), ND)
            _, sizes = clusters(len(sig), edges, np.arange(len(sig)))
            all_times.append(time.perf_counter() - t0)
    peak = mem["peak_mb"]
    t_cand, t_all = float(np.median(cand_times)), float(np.median(all_times))
    return {
        "candidates_seconds": t_cand,
        "candidates_verify_clusters_seconds": t_all,
        "peak_MB": peak,
        "rss_after_loading_MB": loaded,
        "candidates": n_cand,
        "verified_pairs": len(edges),
        "largest_cluster": int(sizes.max()),
    }


def bench_scaling(paras: list[str], sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="newsclean-scale-") as tmp:
        return [scale_one(paras, n, Path(tmp)) for n in sizes]


# ---------------------------------------------------------------- 4. end to end


def bench_end_to_end(shared: Path, work: Path) -> dict[str, Any]:
    raw = work / "raw"
    raw.mkdir(parents=True)
    for set_dir in sorted((shared / "eval").glob("dev_*")):
        for site in (set_dir / "raw").iterdir():
            os.symlink(site, raw / f"{set_dir.name}-{site.name}")
    (raw / "corpus").mkdir()
    for name in ("reuters21578.jsonl", "bbc_fulltext.jsonl"):
        os.symlink(shared / "corpus" / name, raw / "corpus" / name)
    tiny = work / "tiny"
    (tiny / "s").mkdir(parents=True)
    (tiny / "s" / "a.txt").write_text("A Tiny Page\nOne short paragraph of text.\n")
    newsclean = str(Path(sys.executable).with_name("newsclean"))

    def run(src: Path, out: Path, *extra: str) -> tuple[float, float]:
        """Wall time, and the peak RSS of the largest process under the run (the flow, or one Dask worker)."""
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [newsclean, "run", "--raw", str(src), "--output", str(out), *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=work,
        )
        peak = 0.0
        parent = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                procs = [parent, *parent.children(recursive=True)]
                peak = max([peak, *(p.memory_info().rss / 1e6 for p in procs if "prefect" not in " ".join(p.cmdline()))])
            except psutil.Error:
                pass
            time.sleep(0.1)
        if proc.returncode:
            raise RuntimeError(f"newsclean run {' '.join(extra)} failed with exit code {proc.returncode}")
        return time.perf_counter() - t0, peak

    # The run reads the symlinked tree as it is (newsclean follows symlinked folders).
    mb = sum((raw / rel).stat().st_size for rel in discover(raw)) / 1e6
    # Start-up: a run over one tiny page is all imports, the temporary Prefect server (and the Dask
    # cluster) and the flow's fixed costs; it is measured once per mode and taken off the wall times.
    # The first run on an empty PREFECT_HOME creates Prefect's database (once per home, not per run):
    # it is reported on its own, and start-up is measured after it.
    home = Path(os.environ.get("PREFECT_HOME", work / ".prefect"))
    creates_database = not (home / "prefect.db").exists()
    first, _ = run(tiny, work / "out-first")
    # This machine's speed swings by a fifth from one run to the next, so the in-process start-up and
    # corpus runs alternate three times and their medians are used (each run into a fresh output,
    # or the second would be an incremental run with nothing new).
    startups, totals, peaks = [], [], []
    for i in range(3):
        startups.append(run(tiny, work / f"out-tiny-{i}")[0])
        wall, peak_i = run(raw, work / f"out-{i}")
        totals.append(wall)
        peaks.append(peak_i)
    startup, total, peak = float(np.median(startups)), float(np.median(totals)), max(peaks)
    startup_dask, _ = run(tiny, work / "out-tiny-dask", "--workers", "2")
    runs = [
        {
            "workers": "1 (in process)",
            "partition_MB": 16.0,
            "wall_seconds": total,
            "startup_seconds": startup,
            "peak_process_MB": peak,
            "MB_per_s_after_startup": mb / max(total - startup, 1e-9),
        }
    ]
    for workers, partition in ((1, 16.0), (2, 16.0), (2, 4.0)):
        wall, peak_d = run(raw, work / f"out-{workers}-{partition}", "--workers", str(workers), "--partition-mb", str(partition))
        runs.append(
            {
                "workers": f"{workers} (Dask)",
                "partition_MB": partition,
                "wall_seconds": wall,
                "startup_seconds": startup_dask,
                "peak_process_MB": peak_d,
                "MB_per_s_after_startup": mb / max(wall - startup_dask, 1e-9),
            }
        )
    return {
        "raw_MB": mb,
        "first_run_seconds": first,
        "first_run_creates_prefect_database": creates_database,
        "wall_seconds": total,
        "startup_seconds": startup,
        "wall_seconds_of_each_run": totals,
        "startup_seconds_of_each_run": startups,
        "MB_per_s_after_startup": mb / max(total - startup, 1e-9),
        "peak_process_MB": peak,
        "runs": runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--json", type=Path, default=Path("output/bench.json"))
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--skip-end-to-end", action="store_true")
    parser.add_argument("--near-dups", type=Path, help=argparse.SUPPRESS)  # internal: the scaling child process
    args = parser.parse_args()
    if args.near_dups:
        print(json.dumps(near_dups_child(args.near_dups)))
        return 0
    if not (args.shared / "corpus").is_dir():
        print(f"bench: {args.shared}/corpus not found", file=sys.stderr)
        return 2
    started = time.perf_counter()
    memory = psutil.virtual_memory().total / 2**30
    machine = f"{platform.machine()}, {psutil.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}"
    print(f"machine: {machine}")
    paras = corpus_paragraphs(args.shared)
    print(f"corpus: {len(paras)} paragraphs, {sum(len(p.encode()) for p in paras) / 1e6:.1f} MB")
    report: dict[str, Any] = {"machine": machine}
    report["signatures"] = bench_signatures(paras)
    print(f"\n{'stage':<40}{'MB/s':>8}{'para/s':>10}{'peak MB':>9}{'x update':>10}")
    for r in report["signatures"]:
        print(f"{r['stage']:<40}{r['MB_per_s']:>8.2f}{r['paragraphs_per_s']:>10.0f}{r['peak_MB']:>9.0f}{r['ratio_to_update_loop']:>10.1f}")
    print(f"[{time.perf_counter() - started:.0f} s]")
    report["quality"] = q = bench_quality(paras)
    print(f"\nquality vs exact word 5-gram Jaccard >= {q['threshold']} ({q['paragraphs']} paragraphs, {q['true_pairs']} true pairs)")
    for r in q["rows"]:
        print(f"  {r['method']:<55} precision {r['precision']:.3f}  recall {r['recall']:.3f}")
    print(f"  largest cluster: {q['largest_cluster']}")
    print(f"[{time.perf_counter() - started:.0f} s]")
    sizes = tuple(int(s) for s in args.sizes.split(","))
    print("\nscaling (candidates + exact check + clusters, from signatures):")
    report["scaling"] = bench_scaling(paras, sizes)
    print(f"{'paragraphs':>11}{'candidates s':>14}{'all s':>8}{'us/para':>9}{'peak MB':>9}{'pairs':>9}{'largest':>9}")  # peak: the child
    for r in report["scaling"]:
        print(
            f"{r['paragraphs']:>11}{r['candidates_seconds']:>14.2f}{r['candidates_verify_clusters_seconds']:>8.2f}"
            f"{r['us_per_paragraph']:>9.2f}{r['peak_MB']:>9.0f}{r['verified_pairs']:>9}{r['largest_cluster']:>9}"
        )
    print(f"[{time.perf_counter() - started:.0f} s]")
    if not args.skip_end_to_end:
        with tempfile.TemporaryDirectory(prefix="newsclean-bench-") as tmp:
            report["end_to_end"] = e = bench_end_to_end(args.shared.resolve(), Path(tmp))
        print(
            f"\nend to end: {e['raw_MB']:.1f} MB in {e['wall_seconds']:.1f} s; start-up {e['startup_seconds']:.1f} s;"
            f" {e['MB_per_s_after_startup']:.2f} MB/s after start-up"
        )
        each = ", ".join(f"{w:.1f}" for w in e["wall_seconds_of_each_run"])
        ups = ", ".join(f"{w:.1f}" for w in e["startup_seconds_of_each_run"])
        print(f"in process, medians of 3 alternating runs: corpus {each} s; start-up {ups} s")
        made = " (it created Prefect's database)" if e["first_run_creates_prefect_database"] else ""
        print(f"first tiny run {e['first_run_seconds']:.1f} s{made}; start-up measured after it")
        print(f"{'workers':<16}{'partition MB':>13}{'wall s':>8}{'start-up s':>11}{'MB/s after':>11}{'peak MB/process':>16}")
        for r in e["runs"]:
            print(
                f"{r['workers']:<16}{r['partition_MB']:>13.0f}{r['wall_seconds']:>8.1f}{r['startup_seconds']:>11.1f}"
                f"{r['MB_per_s_after_startup']:>11.2f}{r['peak_process_MB']:>16.0f}"
            )
    report["seconds"] = time.perf_counter() - started
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, default=float))
    print(f"\nwritten {args.json} in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
