"""Forked worker processes for the partitions' work: where a body runs, and that the flow's output does not depend on it."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from prefect.task_runners import PrefectTaskRunner, ThreadPoolTaskRunner

from flows import io, processes
from flows.clean import clean_flow, forks_workers
from flows.config import Settings
from tests.conftest import PROJECT, processes_gone
from transforms.content import ContentModel, TreeEnsemble
from transforms.schema import TABLES


def _die() -> None:
    os._exit(3)


def _fail(message: str) -> None:
    raise KeyError(message)


@pytest.mark.parametrize(
    ("requested", "tasks_at_once", "expected"),
    [(None, 1, 1), (None, 10**6, processes.available_cores()), (2, 5, 2), (8, 3, 3), (1, 4, 1), (None, 0, 1)],
)
def test_process_count(requested: int | None, tasks_at_once: int, expected: int) -> None:
    assert processes.process_count(requested, tasks_at_once) == expected


GB = 10**9


@pytest.mark.parametrize(
    ("requested", "tasks_at_once", "memory", "expected"),
    [
        (None, 100, 100 * GB, 16),  # memory for all: one per core
        (None, 100, 5 * GB, 4),  # 80% of 5 GB holds four of 1 GB
        (None, 3, 5 * GB, 3),  # never more than the tasks
        (None, 100, GB // 2, 1),  # never none
        (None, 100, None, 16),  # memory unknown: one per core
        (12, 100, GB, 12),  # asked for: what was asked
    ],
)
def test_the_default_process_count_fits_the_available_memory(
    monkeypatch: pytest.MonkeyPatch, requested: int | None, tasks_at_once: int, memory: int | None, expected: int
) -> None:
    monkeypatch.setattr(processes, "available_cores", lambda: 16)
    assert processes.process_count(requested, tasks_at_once, GB, memory) == expected


def test_a_worker_is_planned_from_the_partition_size() -> None:
    assert processes.worker_bytes(16_000_000) == processes.WORKER_BASE_BYTES + 32 * 16_000_000
    assert processes.worker_bytes(4_000_000) < processes.worker_bytes(16_000_000)


def _cgroup(folder: Path, limit: str, usage: int, inactive: int, key: str = "inactive_file") -> tuple[str, str, str, str]:
    folder.mkdir()
    (folder / "max").write_text(limit + "\n")
    (folder / "current").write_text(f"{usage}\n")
    (folder / "stat").write_text(f"anon 5\n{key} {inactive}\nactive_file 7\n")
    return (str(folder / "max"), str(folder / "current"), str(folder / "stat"), key)


def test_available_memory_is_the_least_of_the_system_and_a_cgroup_limit(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\n")
    assert processes.available_memory(str(meminfo), ()) == 20_000_000 * 1024
    unlimited = _cgroup(tmp_path / "v2", "max", 10**9, 0)
    assert processes.available_memory(str(meminfo), (unlimited,)) == 20_000_000 * 1024
    # 4 GB limit, 3 GB used of which 1 GB is reclaimable page cache: 2 GB left.
    limited = _cgroup(tmp_path / "v1", str(4 * GB), 3 * GB, GB, "total_inactive_file")
    assert processes.available_memory(str(meminfo), (unlimited, limited)) == 2 * GB
    over = _cgroup(tmp_path / "over", str(GB), 2 * GB, 0)
    assert processes.available_memory(str(meminfo), (over,)) == 0


def test_available_memory_is_unknown_without_the_files_and_skips_unreadable_limits(tmp_path: Path) -> None:
    missing = str(tmp_path / "none")
    assert processes.available_memory(missing, ((missing, missing, missing, "inactive_file"),)) is None
    broken = _cgroup(tmp_path / "broken", "lots", 1, 0)
    assert processes.available_memory(missing, (broken,)) is None
    # Without the page-cache statistic, the usage counts whole.
    limit, usage, _, key = _cgroup(tmp_path / "no_stat", str(4 * GB), GB, 0)
    assert processes.available_memory(missing, ((limit, usage, missing, key),)) == 3 * GB


def test_process_count_rejects_zero() -> None:
    with pytest.raises(ValueError, match=r"^processes must be >= 1$"):
        processes.process_count(0, 4)


def test_a_body_runs_here_without_workers_and_in_a_forked_one_with_them() -> None:
    assert processes.run(os.getpid) == os.getpid()
    with processes.forked_workers(2) as opened:
        assert opened == 2
        pids = {processes.run(os.getpid) for _ in range(8)}
        assert os.getpid() not in pids and 1 <= len(pids) <= 2
        # A second flow in this process shares the open workers; they stay open until the first is done.
        with processes.forked_workers(2):
            assert processes.run(os.getpid) in pids
        assert processes.run(os.getpid) in pids
    assert processes.run(os.getpid) == os.getpid()


def test_one_worker_forks_nothing() -> None:
    with processes.forked_workers(1) as opened:
        assert opened == 1
        assert processes.run(os.getpid) == os.getpid()


def _bodies_at_once(threads: int) -> int:
    """The most bodies `run` ran at the same time, called from `threads` threads at once."""
    running, most, guard = [0], [0], threading.Lock()

    def body() -> None:
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with guard:
            running[0] -= 1

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(processes.run, body) for _ in range(threads)]:
            future.result()
    return most[0]


def test_without_workers_a_flows_bodies_run_here_one_at_a_time() -> None:
    # Each body holds its partition: on the task runner's threads, all at once, one process held them all.
    with processes.forked_workers(1):
        assert _bodies_at_once(4) == 1
    # Outside a flow's block (on a Dask worker, say), as the callers' threads ask.
    assert _bodies_at_once(4) > 1


@pytest.mark.usefixtures("prefect_harness")
def test_one_large_file_of_many_partitions_is_worked_on_by_one_worker_per_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forks_opened: list[int]
) -> None:
    # One file is one batch to read, but its partitions are many: counting batches alone kept the whole
    # run in one process.
    monkeypatch.setattr(processes, "available_cores", lambda: 2)
    (tmp_path / "raw" / "feed").mkdir(parents=True)
    story = "The harbour reopened on Monday after the storm, officials said. " * 4
    records = [json.dumps({"id": i, "text": f"Story {i}\n{story}"}) for i in range(60)]
    (tmp_path / "raw" / "feed" / "wire.jsonl").write_text("\n".join(records) + "\n")
    result = clean_flow(raw=str(tmp_path / "raw"), output=str(tmp_path / "out"), partition_mb=0.004)
    assert forks_opened == [2]
    assert result["documents_out"] == 60
    assert pd.read_json(tmp_path / "out" / io.CURRENT / "manifest.json", typ="series")["partitions"] > 2


def test_a_body_error_reaches_the_task_and_a_dead_worker_is_named() -> None:
    with processes.forked_workers(2):
        with pytest.raises(KeyError, match="no such part"):
            processes.run(_fail, "no such part")
        with pytest.raises(processes.WorkerDied, match=r"ended abruptly .* running _die"):
            processes.run(_die)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's")
def test_workers_die_with_a_killed_flow_process() -> None:
    code = (
        "import os, time\nfrom flows import processes\nwith processes.forked_workers(2):\n"
        "    print(*sorted({processes.run(os.getpid) for _ in range(20)}), flush=True)\n    time.sleep(600)"
    )
    flow = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=PROJECT)
    assert flow.stdout is not None
    workers = [int(p) for p in flow.stdout.readline().split()]
    assert workers and flow.pid not in workers
    flow.kill()  # SIGKILL: the pool is never shut down
    flow.wait()
    assert processes_gone(workers, 10), "forked workers outlived the flow's process"


def test_a_worker_forked_while_another_thread_prints_a_log_line_still_logs() -> None:
    # The thread holds the lock of Prefect's console (a rich Console) across the fork, as a thread
    # printing a DEBUG line at that moment does; the worker then logs a warning of its own.
    code = (
        "import logging, threading\n"
        "from prefect.logging.configuration import setup_logging\n"
        "from prefect.logging.handlers import PrefectConsoleHandler\n"
        "from flows import processes\n"
        "setup_logging()\n"
        "console = next(h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler))\n"
        "held, done = threading.Event(), threading.Event()\n"
        "def printing():\n"
        "    with console.console._lock:\n"
        "        held.set()\n"
        "        done.wait()\n"
        "threading.Thread(target=printing).start()\n"
        "held.wait()\n"
        "with processes.forked_workers(2):\n"
        "    done.set()\n"
        "    processes.run(logging.getLogger('a.library').warning, 'worker line')\n"
        "print('returned', flush=True)\n"
    )
    try:
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("a forked worker hung on its first log line")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "returned"
    assert "worker line" in run.stderr


def _booster() -> lgb.Booster:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3))
    return lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4}, lgb.Dataset(features, features[:, 0] > 0), 3)


def test_workers_fork_only_on_threads_and_never_with_lightgbm_in_them() -> None:
    booster = _booster()
    trees = Settings(Path("raw"), Path("out"), content=ContentModel(TreeEnsemble.from_lightgbm_dump(booster.dump_model())))
    lightgbm = Settings(Path("raw"), Path("out"), content=ContentModel(booster))
    no_model = Settings(Path("raw"), Path("out"))
    assert forks_workers(ThreadPoolTaskRunner(), trees) and forks_workers(ThreadPoolTaskRunner(), no_model)
    assert not forks_workers(ThreadPoolTaskRunner(), lightgbm)
    assert not forks_workers(PrefectTaskRunner(), trees) and not forks_workers(None, trees)


@pytest.fixture
def forks_opened(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many workers each flow run in the test forked (1: none, the flow's own process)."""
    opened: list[int] = []
    real = processes.forked_workers

    @contextmanager
    def recorded(count: int) -> Iterator[int]:
        with real(count) as forked:
            opened.append(forked)
            yield forked

    monkeypatch.setattr("flows.clean.forked_workers", recorded)
    return opened


@pytest.mark.usefixtures("prefect_harness")
def test_forked_workers_and_any_partitioning_publish_the_same_rows_as_one_process(tmp_path: Path, forks_opened: list[int]) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(PROJECT / "raw", raw)
    # Small partitions, so the sample makes several.
    clean_flow(raw=str(raw), output=str(tmp_path / "one"), partition_mb=0.003, processes=1)
    clean_flow(raw=str(raw), output=str(tmp_path / "two"), partition_mb=0.003, processes=2)
    # And in one partition: where the partitions are cut changes no row either.
    clean_flow(raw=str(raw), output=str(tmp_path / "whole"), processes=1)
    assert forks_opened == [1, 2, 1]
    manifest = pd.read_json(tmp_path / "two" / io.CURRENT / "manifest.json", typ="series")
    assert manifest["partitions"] > 2
    assert pd.read_json(tmp_path / "whole" / io.CURRENT / "manifest.json", typ="series")["partitions"] == 1
    for name in TABLES:
        one = pd.read_parquet(tmp_path / "one" / io.CURRENT / f"{name}.parquet")
        for other in ("two", "whole"):
            rows = pd.read_parquet(tmp_path / other / io.CURRENT / f"{name}.parquet")
            pd.testing.assert_frame_equal(one, rows, check_exact=True, obj=f"{name} ({other})")


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.mark.usefixtures("prefect_harness")
def test_a_run_with_little_memory_forks_fewer_workers_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forks_opened: list[int]
) -> None:
    monkeypatch.setattr(processes, "available_cores", lambda: 2)
    monkeypatch.setattr("flows.clean.available_memory", lambda: 10**9)
    lines = _Lines()
    logger = logging.getLogger("prefect.flow_runs")
    logger.addHandler(lines)
    try:
        clean_flow(raw=str(PROJECT / "raw"), output=str(tmp_path / "out"), partition_mb=0.003)
    finally:
        logger.removeHandler(lines)
    # 80% of 1 GB holds one worker of 0.4 GB (plus 32x a tiny partition), not one per core: two.
    assert forks_opened == [1]
    assert any("1.0 GB of memory available: 1 forked process(es) of about 0.4 GB each" in line for line in lines.lines), lines.lines


@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_rejects_zero_processes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^processes must be >= 1$"):
        clean_flow(raw=str(PROJECT / "raw"), output=str(tmp_path / "out"), processes=0)
