"""Loops compiled with numba, for the few steps where numpy's one-pass-per-operation costs the most.

Importing numba takes about 1.5 s, so callers import this module where they first need it.
Compiled code is cached beside the source (`cache=True`): a process after the first loads it.
`nogil=True` lets two tasks of one process run them on two cores.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt


@numba.njit(cache=True, nogil=True)
def min_permuted(
    mixed: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    a: npt.NDArray[np.uint32],
    b: npt.NDArray[np.uint32],
    out: npt.NDArray[np.uint32],
) -> None:
    """out[t, p] = min over text t's shingles s of (a[p] * mixed[s] + b[p]) mod 2**32; 0xFFFFFFFF for no shingles.

    Text t's shingles are mixed[offsets[t]:offsets[t + 1]]. The loop over permutations is innermost
    and branch-free, so it runs as SIMD over contiguous rows.
    """
    for t in range(offsets.shape[0] - 1):
        row = out[t]
        row[:] = np.uint32(0xFFFFFFFF)
        for s in range(offsets[t], offsets[t + 1]):
            h = mixed[s]
            for p in range(a.shape[0]):
                row[p] = min(row[p], np.uint32(a[p] * h + b[p]))
