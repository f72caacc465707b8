"""Where the flow's tasks run: in this process (default), or on Dask through prefect-dask.

The Prefect API the workers report to is set up by the CLI before any worker starts (flows/apiserver.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from distributed import LocalCluster
from prefect_dask import DaskTaskRunner

# Set in the environment, it decides whether Dask's workers sample their stacks (on by default).
PROFILE_ENV = "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED"


def local_cluster_options(workers: int) -> dict[str, Any]:
    """LocalCluster options: `workers` processes of one thread, everything on 127.0.0.1, the flow's modules preloaded."""
    if workers < 1:
        raise ValueError("workers must be >= 1")
    # One thread per worker process: the stages are CPU-bound Python and numpy.
    # Dashboard on a free loopback port, never on all interfaces.
    options: dict[str, Any] = {
        "n_workers": workers,
        "threads_per_worker": 1,
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
        "preload": ["flows.dask_preload"],
    }
    # Dask's profiler samples each worker's stack every 10 ms, holding the GIL the stages need: on the
    # bench corpus it cost a sixth of the workers' CPU time. Off unless the environment asks for it.
    if PROFILE_ENV not in os.environ:
        # A dotted key: the worker sets each top-level key of this config whole, so a nested
        # {"distributed": ...} would replace all of Dask's distributed settings.
        options["config"] = {"distributed.worker.profile.enabled": False}
    return options


def dask_runner(address: str | None = None, workers: int | None = None) -> Any:
    """A DaskTaskRunner on an existing scheduler, or on a local cluster of `workers` processes bound to 127.0.0.1."""
    if address:
        return DaskTaskRunner(address=address)
    if workers is None:
        raise ValueError("workers must be >= 1")
    return DaskTaskRunner(cluster_kwargs=local_cluster_options(workers))


@contextmanager
def local_cluster(workers: int) -> Iterator[str]:
    """A LocalCluster started now, so its workers boot (and preload) while other start-up work goes on; yields its address.

    Workers inherit this process's environment when they start: set PREFECT_API_URL first.
    """
    with LocalCluster(**local_cluster_options(workers)) as cluster:
        yield str(cluster.scheduler_address)
