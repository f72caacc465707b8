"""Shared test helpers: where ../shared is, and skipping cleanly without it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NEWSCLEAN_SHARED", PROJECT.parent / "shared"))
SEEDS = SHARED / "seeds"
SEED_NAMES = ("000_1baff86df49c2392", "001_1d845a76a7b5c9dd", "002_160402298ecf2569")


def require_shared(*parts: str) -> Path:
    """The path under ../shared, or skip the test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: this test reads the shared seeds/eval/corpus beside the project")
    return path


def processes_gone(pids: list[int], within_s: float) -> bool:
    """Whether every pid has exited (a zombie left for init to reap counts as exited) within `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if state != "Z":
                alive.append(pid)
        if not alive:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
