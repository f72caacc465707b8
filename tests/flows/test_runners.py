"""The local Dask cluster's options: loopback only, and workers that do not sample their own stacks."""

from __future__ import annotations

import dask
import pytest
from distributed import Client, LocalCluster

from flows.runners import PROFILE_ENV, local_cluster_options


def _profiling() -> bool:
    return bool(dask.config.get("distributed.worker.profile.enabled"))


@pytest.mark.slow
def test_local_workers_do_not_run_the_dask_profiler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    options = {**local_cluster_options(1), "preload": []}  # the flow's modules are not needed to read a setting
    with LocalCluster(**options) as cluster, Client(cluster) as client:
        assert list(client.run(_profiling).values()) == [False]
        assert str(cluster.scheduler_address).startswith("tcp://127.0.0.1:")


def test_the_environment_decides_when_it_names_the_profiler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROFILE_ENV, "True")
    assert "config" not in local_cluster_options(2)


@pytest.mark.parametrize("workers", [0, -1])
def test_a_cluster_needs_a_worker(workers: int) -> None:
    with pytest.raises(ValueError, match=r"^workers must be >= 1$"):
        local_cluster_options(workers)
