"""SIGKILL at every stage boundary and while writing: output is the old or the new complete version, never a mix."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from flows import io
from tests.conftest import PROJECT
from tests.flows.forked_cli import run_cli
from transforms.schema import TABLES

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

TASKS = (
    "load previous run",
    "scan inputs",
    "read inputs",
    "reuse unchanged inputs",
    "plan partitions",
    "prepare partition",
    "group near-identical pages",
    "count site lines",
    "merge site statistics",
    "clean partition",
    "cluster near-duplicate paragraphs",
    "find duplicate documents",
    "validate partition",
    "stage state",
    "validate inputs",
    "write and publish",
)
POINTS = [f"before:{t}" for t in TASKS] + [f"write:{t}" for t in ("documents", "paragraphs", "removed", "rejected")]
POINTS += ["publish:before-switch", "publish:after-switch", "before:report"]
NEW_PAGE = "Ferry Service Resumes\nThe island ferry resumed service on Thursday after a week of storms, the operator said.\n"


def _env(api: str, fault: str | None) -> dict[str, str]:
    return {**os.environ, "PREFECT_API_URL": api, "NEWSCLEAN_FAULT": fault or ""}


def _run(raw: Path, out: Path, api: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed `newsclean` command in a fresh interpreter."""
    cmd = [str(Path(sys.executable).with_name("newsclean")), "run", "--raw", str(raw), "--output", str(out)]
    return subprocess.run(cmd, env=_env(api, fault), capture_output=True, text=True, timeout=300, cwd=out.parent)


def _run_forked(raw: Path, out: Path, api: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    """The same run, forked from a process that has the imports done (see forked_cli)."""
    logs = Path(tempfile.mkdtemp(prefix="logs-", dir=out.parent))
    return run_cli(["run", "--raw", str(raw), "--output", str(out)], _env(api, fault), out.parent, logs, timeout=300)


def _snapshot(out: Path) -> dict[str, pd.DataFrame]:
    current = io.current_version(out)
    assert current is not None
    assert (current / io.STATE / "settings.json").is_file()
    return {name: pd.read_parquet(current / f"{name}.parquet") for name in TABLES}


def _same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> bool:
    return all(a[n].equals(b[n]) for n in TABLES)


# Run-specific names (version ids, times) and the leftovers a run clears unread (io.clear_leftovers).
RUN_SPECIFIC = re.compile(rb"[0-9a-f]{32}|\d{8}T\d{6}\d*Z(?:-[0-9a-f]{8})?|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[.\d]*(?:\+00:00|Z)?")
LEFTOVER = re.compile(r"\.(staging|work|current)-[^/]*")


def _folder_state(out: Path) -> str:
    """What the next run will read: every path and its bytes, run-specific names masked.

    Leftovers count by name only (their contents are deleted unread); the lock file's note is left out.
    """
    entries = set()
    for path in out.rglob("*"):
        rel = path.relative_to(out).as_posix()
        leftover = LEFTOVER.match(rel)
        if leftover:
            entries.add((RUN_SPECIFIC.sub(b"*", leftover.group().encode()), b""))
        elif path.is_symlink():
            entries.add((RUN_SPECIFIC.sub(b"*", rel.encode()), RUN_SPECIFIC.sub(b"*", os.readlink(path).encode())))
        else:
            data = path.read_bytes() if path.is_file() and rel != ".lock" else b""
            entries.add((RUN_SPECIFIC.sub(b"*", rel.encode()), RUN_SPECIFIC.sub(b"*", data)))
    return hashlib.sha256(repr(sorted(entries)).encode()).hexdigest()


def test_kill_at_every_point_leaves_a_complete_version(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    api = str(PREFECT_API_URL.value())
    raw = tmp_path / "raw"
    shutil.copytree(PROJECT / "raw", raw)
    base = tmp_path / "base" / "out"
    base.parent.mkdir()
    assert _run(raw, base, api).returncode == 0
    assert not list(base.glob(".work-*")), "the run exited before its work folder was removed"
    old = _snapshot(base)
    (raw / "coastalpost.example" / "ferry-service.txt").write_text(NEW_PAGE)
    fresh = tmp_path / "fresh" / "out"
    fresh.parent.mkdir()
    assert _run(raw, fresh, api).returncode == 0
    new = _snapshot(fresh)

    def crash(point: str) -> tuple[str, Path, str | None]:
        out = tmp_path / point.replace(":", "_").replace(" ", "_") / "out"
        shutil.copytree(base.parent, out.parent, symlinks=True)
        killed = _run_forked(raw, out, api, f"kill:{point}")
        if killed.returncode != -signal.SIGKILL:
            return point, out, f"expected SIGKILL, got {killed.returncode}: {killed.stderr[-500:]}"
        expected_new = point in ("publish:after-switch", "before:report")
        if not _same(_snapshot(out), new if expected_new else old):
            return point, out, "published output is neither the old nor the new complete version"
        return point, out, None

    def recover(out: Path) -> str | None:
        again = _run_forked(raw, out, api)
        if again.returncode != 0:
            return f"the next run failed: {again.stderr[-500:]}"
        if not _same(_snapshot(out), new):
            return "the next run did not finish the job"
        if list(out.glob(".staging-*")):
            return "a staging folder was left behind"
        return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        crashed = list(pool.map(crash, POINTS))
        problems = [f"{point}: {p}" for point, _, p in crashed if p]
        # A killed run that left the same folder as another needs no second recovery check.
        distinct: dict[str, tuple[str, Path]] = {}
        for point, out, _ in crashed:
            distinct.setdefault(_folder_state(out), (point, out))
        outcomes = pool.map(lambda item: (item[0], recover(item[1])), distinct.values())
        problems += [f"{point}: {p}" for point, p in outcomes if p]
    assert len(distinct) >= 4  # untouched, partial staging, switched, ... all exercised
    assert not problems, "\n".join(problems)


def test_disk_full_while_writing_publishes_nothing(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    api = str(PREFECT_API_URL.value())
    raw, out = tmp_path / "raw", tmp_path / "out"
    shutil.copytree(PROJECT / "raw", raw)
    done = _run_forked(raw, out, api, "enospc:write:paragraphs")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("newsclean: OSError: [Errno 28] No space left on device")
    assert io.current_version(out) is None
    assert not list(out.glob(".staging-*"))
