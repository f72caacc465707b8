"""Forked worker processes for the CPU-bound bodies of tasks, when the flow's tasks run on threads.

Threads of one process share one interpreter lock: two partitions cleaned on two threads took
1.15-1.4x the time of one, in two processes about as long as one. So a flow on the default (thread)
task runner forks a few workers once, at a quiet moment (after scanning the inputs, before any task
reads them), and each per-partition task and each global stage that reads the partitions' parts
(page groups, site statistics, clusters, duplicate documents, the state) sends its body there with
`run`. A global stage is not parallel, but in a worker it has an interpreter to itself: in the flow's
process Prefect's threads (its event loop, the log and event senders) took turns with it, and merging
the site statistics took 0.9 s there against 0.45 s in a worker. The task itself, its state and its log lines stay in the
flow's process, where Prefect tracks them; the body is a plain function of paths and settings that
reads and writes the run's work folder and returns counts.

On Dask the tasks already run in worker processes: no pool is open there, and `run` calls the body
in place. Whatever runs it, the body does the same work on the same parts, so the output is equal.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_users = 0
# Flows open without forked workers: while one is, bodies run here one at a time. On threads they
# gained nothing from running together (the interpreter lock) and each held its partition: a run
# over one 234 MB file, its 15 partitions on the thread pool's 6 threads, reached 8.5 GB.
_serial_users = 0
_one_at_a_time = threading.Lock()


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, where the platform tells)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# Partition sizes, in megabytes of text: the unit of work a worker holds (cli.py reads these without
# importing the flow). Near the upper bound a partition would not fit any machine's memory.
DEFAULT_PARTITION_MB = 16.0
MAX_PARTITION_MB = 100_000.0

# A forked worker's own memory (beyond the pages it still shares with the flow's process): about
# 400 MB of libraries' heaps and touched shared pages plus 30 MB per MB of partition, measured as
# its peak USS on the bench input (872 and 797 MB at 16 MB partitions, 543 and 490 MB at 4 MB).
WORKER_BASE_BYTES = 400_000_000
WORKER_BYTES_PER_PARTITION_BYTE = 32
# The share of the available memory the default worker count may plan to fill.
MEMORY_SHARE = 0.8

# cgroup limit, usage, statistics, and the statistic of page cache the kernel reclaims first
# (v2, then v1): the "working set" that container runtimes compare with the limit.
_CGROUP_FILES = (
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.stat", "inactive_file"),
    (
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        "/sys/fs/cgroup/memory/memory.stat",
        "total_inactive_file",
    ),
)


def worker_bytes(partition_bytes: int) -> int:
    """The memory one forked worker is planned to take for partitions of `partition_bytes`."""
    return WORKER_BASE_BYTES + WORKER_BYTES_PER_PARTITION_BYTE * partition_bytes


def _stat(path: str, key: str) -> int:
    """A cgroup statistic; 0 where it cannot be read (the usage is then taken as it is, the cautious side)."""
    try:
        with open(path, encoding="ascii") as lines:
            for line in lines:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


def available_memory(meminfo: str = "/proc/meminfo", cgroups: tuple[tuple[str, str, str, str], ...] = _CGROUP_FILES) -> int | None:
    """Bytes this process tree may still take: the system's MemAvailable, or less under a cgroup's limit; None where unknown."""
    known: list[int] = []
    try:
        with open(meminfo, encoding="ascii") as lines:
            known += [int(line.split()[1]) * 1024 for line in lines if line.startswith("MemAvailable:")]
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file, stat_file, reclaimable in cgroups:
        try:
            with open(limit_file, encoding="ascii") as f:
                limit = f.read().strip()
            if limit == "max":
                continue
            with open(usage_file, encoding="ascii") as f:
                usage = int(f.read())
            known.append(int(limit) - max(usage - _stat(stat_file, reclaimable), 0))
        except (OSError, ValueError):
            continue
    return max(min(known), 0) if known else None


def process_count(requested: int | None, tasks_at_once: int, each_bytes: int = 0, memory: int | None = None) -> int:
    """Worker processes for up to `tasks_at_once` tasks side by side, and never more than those tasks.

    `requested`, or by default one per core, and no more than `MEMORY_SHARE` of `memory` (bytes
    available, when known) holds at `each_bytes` per worker: one worker per core of a machine with
    many cores and little memory would run it out of memory.
    """
    if requested is not None and requested < 1:
        raise ValueError("processes must be >= 1")
    count = min(requested or available_cores(), tasks_at_once)
    if requested is None and memory is not None and each_bytes > 0:
        count = min(count, int(memory * MEMORY_SHARE) // each_bytes)
    return max(1, count)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _start_worker(parent: int) -> None:
    die_with_parent(parent)
    _plain_log_handlers()


def _plain_log_handlers() -> None:
    """Worker start-up: Prefect's log handlers replaced by plain ones (a console one writes to stderr as before).

    Prefect's console handler prints through a rich Console, whose lock a forked child inherits as it
    was: a worker forked while another thread of the flow's process printed (any DEBUG run) hung on its
    first log line. Python re-makes the locks of plain handlers at a fork. Prefect's API handler sends
    through a thread that a forked child does not have; the task in the flow's process logs instead.
    """
    loggers = [logging.getLogger(), *(x for x in logging.Logger.manager.loggerDict.values() if isinstance(x, logging.Logger))]
    for logger in loggers:
        for handler in list(logger.handlers):
            if not type(handler).__module__.startswith("prefect."):
                continue
            logger.removeHandler(handler)
            if isinstance(handler, logging.StreamHandler):
                plain = logging.StreamHandler(sys.stderr)
                plain.setLevel(handler.level)
                plain.setFormatter(handler.formatter)
                logger.addHandler(plain)


def die_with_parent(parent: int) -> None:
    """The kernel kills this process when `parent` (the process that started it) dies, even by SIGKILL; Linux only.

    Otherwise a killed run leaves its forked workers behind, blocked forever on a queue that they
    hold both ends of, and its temporary Prefect server serving on alone. (The signal follows the
    thread that started this process: for the workers the flow's, which closes the pool before it returns.)
    """
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # died before the request took effect
        os._exit(1)


def can_fork() -> bool:
    # Linux only: macOS offers fork, but its system libraries (Accelerate's BLAS among them) are not
    # safe in a forked child; Windows has no fork. Elsewhere the bodies run on the task's thread.
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


@contextmanager
def forked_workers(count: int) -> Iterator[int]:
    """Fork `count` worker processes now (none for a count below 2, or where fork is unavailable); yields how many run.

    Workers are forked, not spawned: a spawned one would import pandas, numba and the transforms again
    (about 8 s of CPU each here), a forked one shares the flow process's memory until it writes to it.
    A second flow in the same process shares the open pool. Without workers, `run` calls the bodies
    one at a time in this process until the block ends.
    """
    global _pool, _pool_size, _users, _serial_users
    if count < 1:
        raise ValueError("count must be >= 1")
    with _lock:
        if _pool is None and count >= 2 and can_fork():
            pool = ProcessPoolExecutor(
                count, mp_context=multiprocessing.get_context("fork"), initializer=_start_worker, initargs=(os.getpid(),)
            )
            # The first submit forks every worker (for the fork method, all at once): now, not later
            # in the middle of a task, while another thread may hold a lock the child would inherit.
            pool.submit(os.getpid).result()
            _pool, _pool_size = pool, count
        if _pool is not None:
            _users += 1
        else:
            _serial_users += 1
        opened, size = _pool, _pool_size
    try:
        yield size if opened is not None else 1
    finally:
        if opened is None:
            with _lock:
                _serial_users -= 1
        else:
            with _lock:
                _users -= 1
                closing = _pool if _users == 0 else None
                if closing is not None:
                    _pool, _pool_size = None, 0
            if closing is not None:
                closing.shutdown(wait=True, cancel_futures=True)


def run(body: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`body(*args)` in a forked worker if this process has them open, else here. Arguments and result are pickled.

    Here, while a `forked_workers` block without workers is open, one body at a time; otherwise (on a
    Dask worker, say) as the caller's thread asks.
    """
    pool = _pool
    if pool is None:
        if _serial_users:
            with _one_at_a_time:
                return body(*args, **kwargs)
        return body(*args, **kwargs)
    try:
        return pool.submit(body, *args, **kwargs).result()
    except BrokenProcessPool as err:
        raise WorkerDied(f"a forked worker process ended abruptly (killed, or out of memory?) running {body.__name__}") from err


class WorkerDied(RuntimeError):
    """A forked worker process ended without returning: the run fails, nothing is published."""
