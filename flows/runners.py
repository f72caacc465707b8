"""Where the flow's tasks run: in this process (default), or on Dask through prefect-dask."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def dask_runner(address: str | None = None, workers: int | None = None) -> Any:
    """A DaskTaskRunner on an existing scheduler, or on a local cluster of `workers` processes bound to 127.0.0.1."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    if workers is None or workers < 1:
        raise ValueError("workers must be >= 1")
    # One thread per worker process: the stages are CPU-bound Python and numpy.
    # Dashboard on a free loopback port, never on all interfaces.
    cluster = {"n_workers": workers, "threads_per_worker": 1, "processes": True, "host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}
    return DaskTaskRunner(cluster_kwargs=cluster)


@contextmanager
def api_for_workers() -> Iterator[None]:
    """Dask workers report task runs to the flow's Prefect API: PREFECT_API_URL when set, else a server started here on 127.0.0.1.

    Without it every worker process would start a temporary server of its own.
    """
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = SubprocessASGIServer()
    server.start()
    os.environ["PREFECT_API_URL"] = server.api_url  # inherited by worker processes started from now on
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            yield
    finally:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)  # logs still queued would otherwise retry against a stopped server
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()
