"""Run `newsclean` in processes forked from one that has already imported it.

The crash tests run the command about 30 times. A fresh interpreter spends most of each run
importing Prefect, GX and pandas (8 of 11 CPU seconds here). A forkserver imports them once; every
run is still a process of its own, with its own environment, killed by a real SIGKILL.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

PRELOAD = ["flows.cli", "flows.clean", "flows.validation", "great_expectations", "transforms.kernels", __name__]


def _main(argv: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str) -> None:
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, stdout), (2, stderr)):
        opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    # Prefect read its settings from the forkserver's environment at import; read this run's.
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()
    from flows import cli

    code = cli.main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


def run_cli(argv: list[str], env: dict[str, str], cwd: Path, logs: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """`newsclean <argv>` in a forked process: its exit code (-9 when killed) and its output."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    logs.mkdir(parents=True, exist_ok=True)
    stdout, stderr = logs / "stdout", logs / "stderr"
    stdout.touch()
    stderr.touch()
    process = context.Process(target=_main, args=(argv, env, str(cwd), str(stdout), str(stderr)))
    process.start()
    process.join(timeout)
    if process.exitcode is None:
        process.kill()
        process.join()
        raise subprocess.TimeoutExpired(["newsclean", *argv], timeout)
    assert process.exitcode is not None
    return subprocess.CompletedProcess(["newsclean", *argv], process.exitcode, stdout.read_text(), stderr.read_text())
