"""A temporary Prefect API server for one `newsclean run`, started before the heavy imports.

Without PREFECT_API_URL, Prefect starts a temporary server itself, but only when the flow is
called: after the run has imported pandas, pyarrow and Prefect, and after importing the server's
own modules into the flow process as well. Started here, first thing, the server boots in its own
process while this one imports the flow, so the two costs overlap instead of adding up. This
module imports nothing from Prefect at start (that is the point), only to drain logs at the end.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

POLL_SECONDS = 0.1


class ApiServerError(RuntimeError):
    """The temporary Prefect server did not answer."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# `python -m uvicorn`, after asking the kernel to kill the server when the process that started it
# dies (`processes.die_with_parent`): a run killed by SIGKILL has no `__exit__` to stop its server,
# which would otherwise serve on, alone, until the machine restarts.
_BOOT = (
    "import runpy, sys\n"
    "from flows.processes import die_with_parent\n"
    "die_with_parent(int(sys.argv.pop(1)))\n"
    "sys.argv[0] = 'uvicorn'\n"
    "runpy.run_module('uvicorn', run_name='__main__', alter_sys=True)\n"
)


def _prefect_parent() -> str:
    spec = importlib.util.find_spec("prefect")  # finds the package without importing it
    if spec is None or spec.origin is None:
        raise ApiServerError("prefect is not installed")
    return str(Path(spec.origin).parent.parent)


DEFAULT_PROFILE = "ephemeral"
_DOTENV_API_URL = re.compile(r"^\s*(?:export\s+)?PREFECT_API_URL\s*=", re.MULTILINE)


class _Unreadable(Exception):
    """A settings file exists but is not valid TOML."""


def _toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as err:
        raise _Unreadable(str(path)) from err


def _table(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key, {}) if isinstance(data, dict) else {}
    return data if isinstance(data, dict) else {}


def api_url_configured(cwd: Path | None = None) -> bool:
    """Whether one of Prefect's settings sources names an API URL: the environment, .env, prefect.toml, pyproject.toml, the profile.

    Read from the files, not through Prefect: importing Prefect's settings fixes them for the whole
    process, before PREFECT_API_URL could be set. When unsure it answers yes, and Prefect decides
    as it would without newsclean.
    """
    if os.environ.get("PREFECT_API_URL"):
        return True
    folder = cwd or Path.cwd()
    dotenv = folder / ".env"
    if dotenv.is_file() and _DOTENV_API_URL.search(dotenv.read_text(encoding="utf-8", errors="replace")):
        return True
    try:
        if _table(_toml(folder / "prefect.toml"), "api").get("url") or _table(
            _toml(folder / "pyproject.toml"), "tool", "prefect", "api"
        ).get("url"):
            return True
        home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect"))
        profiles = _toml(Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")))
    except _Unreadable:
        return True
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or DEFAULT_PROFILE
    settings = _table(profiles, "profiles", str(active))
    if settings:
        return bool(settings.get("PREFECT_API_URL"))
    # A profile not in the user's file (one of Prefect's own, such as "local"): Prefect knows its settings.
    return active != DEFAULT_PROFILE


class TemporaryApi:
    """`prefect.server.api.server:create_app` under uvicorn on 127.0.0.1, as Prefect's own temporary server runs it.

    Entering starts the process and sets PREFECT_API_URL (inherited by Dask workers started later);
    `wait_ready()` blocks until /api/health answers; leaving drains queued logs and events, stops the
    process and restores the environment. With an API URL configured anywhere it does nothing.
    """

    def __init__(self, timeout_s: float) -> None:
        if not timeout_s > 0:
            raise ValueError("timeout_s must be > 0")
        self.timeout_s = timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.api_url: str | None = None
        self._ready = False
        self._set_ui_url = False

    def __enter__(self) -> TemporaryApi:
        if api_url_configured():
            self._ready = True
            return self
        self._start()
        return self

    def _start(self) -> None:
        port = _free_port()
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        args = [sys.executable, "-c", _BOOT, str(os.getpid()), "--app-dir", _prefect_parent()]
        args += ["--factory", "prefect.server.api.server:create_app"]
        args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"]
        self.process = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL)
        self.api_url = f"http://127.0.0.1:{port}/api"
        os.environ["PREFECT_API_URL"] = self.api_url
        # This server serves no UI and stops with the run: no "View at" link to it.
        self._set_ui_url = "PREFECT_UI_URL" not in os.environ
        if self._set_ui_url:
            os.environ["PREFECT_UI_URL"] = ""

    def wait_ready(self) -> None:
        """Block until the server answers /api/health.

        A server that exits first is an error, not restarted elsewhere: Prefect, imported meanwhile,
        has already read PREFECT_API_URL with this port.
        """
        if self._ready:
            return
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None and self.api_url is not None
            if self.process.poll() is not None:
                raise ApiServerError(f"the temporary Prefect server exited with code {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        self._ready = True
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(POLL_SECONDS)
        raise ApiServerError(f"the temporary Prefect server did not answer within {self.timeout_s:g} s")

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self.process is None:
            return
        try:
            if self._ready and "prefect" in sys.modules:
                from prefect.events.worker import EventsWorker
                from prefect.logging.handlers import APILogWorker

                # Queued logs and events would otherwise be retried against a stopped server.
                APILogWorker.drain_all(timeout=10)
                EventsWorker.drain_all(timeout=10)
        finally:
            os.environ.pop("PREFECT_API_URL", None)
            if self._set_ui_url:
                os.environ.pop("PREFECT_UI_URL", None)
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
