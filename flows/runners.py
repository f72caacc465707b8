"""Where the flow's tasks run: in this process (default), or on Dask through prefect-dask.

The Prefect API the workers report to is set up by the CLI before any worker starts (flows/apiserver.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from distributed import LocalCluster
from prefect_dask import DaskTaskRunner


def local_cluster_options(workers: int) -> dict[str, Any]:
    """LocalCluster options: `workers` processes of one thread, everything on 127.0.0.1, the flow's modules preloaded."""
    if workers < 1:
        raise ValueError("workers must be >= 1")
    # One thread per worker process: the stages are CPU-bound Python and numpy.
    # Dashboard on a free loopback port, never on all interfaces.
    return {
        "n_workers": workers,
        "threads_per_worker": 1,
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
        "preload": ["flows.dask_preload"],
    }


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
