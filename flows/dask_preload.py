"""Preloaded by every worker of the local Dask cluster: the flow's modules, numba and GX imported at worker start.

Imported lazily instead, each worker's first task of each kind pays for them (GX alone takes
seconds), one after another along the flow. At start the workers import in parallel.
"""

from __future__ import annotations

from typing import Any

from flows.collector import settle_for_run


def dask_setup(worker: Any) -> None:
    import flows.tasks  # noqa: F401
    import transforms.kernels  # noqa: F401  (numba)
    from flows.validation import import_great_expectations

    import_great_expectations()
    # The modules' objects live as long as the worker: out of the collector's walks, and out of
    # its last walk at exit, which would otherwise hold up the cluster's shutdown by seconds.
    settle_for_run()
