"""A real `prefect server start`, a served deployment, and a run triggered with run_deployment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROJECT

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _wait(check, seconds: float, what: str) -> object:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found = check()
            if found:
                return found
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(BIN / "newsclean"), "server", "--port", str(port)], env=env, stdout=log, stderr=log, start_new_session=True
    )
    try:
        _wait(lambda: httpx.get(f"{api}/health", timeout=2).status_code == 200, 90, "the Prefect server")
        yield api, env
    finally:
        _stop(proc)
        log.close()


def test_served_deployment_runs_and_reports(server: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    api, env = server
    out = tmp_path / "out"
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115
    serve = subprocess.Popen(
        [str(BIN / "newsclean"), "serve", "--interval", "3600", "--name", "test", "--raw", str(PROJECT / "raw"), "--output", str(out)],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
        cwd=tmp_path,
    )
    try:
        _wait(
            lambda: httpx.post(f"{api}/deployments/filter", json={"deployments": {"name": {"any_": ["test"]}}}, timeout=5).json(),
            90,
            "the deployment",
        )
        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: api}):
            flow_run = run_deployment("newsclean/test", timeout=240)
        assert flow_run.state is not None and flow_run.state.is_completed(), flow_run.state
        run = httpx.get(f"{api}/flow_runs/{flow_run.id}", timeout=5).json()
        assert run["state"]["type"] == "COMPLETED"
        artifacts = httpx.post(
            f"{api}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [str(flow_run.id)]}}}, timeout=5
        ).json()
        assert {"newsclean-summary", "newsclean-removed-by-reason"} <= {a["key"] for a in artifacts}
        assert (out / "current" / "documents.parquet").is_file()
        tasks = httpx.post(f"{api}/task_runs/filter", json={"task_runs": {"flow_run_id": {"any_": [str(flow_run.id)]}}}, timeout=5).json()
        assert "validate partition" in {t["name"].rsplit("-", 1)[0] for t in tasks}
    finally:
        _stop(serve)
        log.close()
