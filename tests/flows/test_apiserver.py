"""The temporary Prefect server the CLI starts before its imports: it answers, and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from flows.apiserver import ApiServerError, TemporaryApi, api_url_configured
from tests.conftest import processes_gone


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"^timeout_s must be > 0$"):
        TemporaryApi(0)


def test_an_api_url_already_set_is_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    with TemporaryApi(5) as api:
        api.wait_ready()  # returns at once: nothing was started
        assert api.process is None
        assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:9/api"
    assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:9/api"


@pytest.mark.slow
def test_server_answers_on_loopback_and_stops_with_the_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_UI_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    with TemporaryApi(120) as api:
        assert api.api_url is not None and api.api_url.startswith("http://127.0.0.1:")
        assert os.environ["PREFECT_API_URL"] == api.api_url
        assert os.environ["PREFECT_UI_URL"] == ""  # no "View at" link to a server without a UI
        api.wait_ready()
        with urllib.request.urlopen(f"{api.api_url}/health", timeout=5) as response:
            assert response.status == 200
        process = api.process
        assert process is not None
    assert process.poll() is not None  # stopped, not left running
    assert "PREFECT_API_URL" not in os.environ and "PREFECT_UI_URL" not in os.environ


@pytest.mark.slow
def test_newsclean_run_without_an_api_url_publishes(tmp_path: Path) -> None:
    raw = tmp_path / "raw" / "site"
    raw.mkdir(parents=True)
    (raw / "a.txt").write_text("A Short Headline\nOne paragraph of plain text about a town meeting.\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--raw", str(tmp_path / "raw"), "--output", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "published 1 documents" in done.stdout
    assert (tmp_path / "out" / "current" / "documents.parquet").is_file()
    assert "View at" not in done.stderr
    assert "Starting temporary server" not in done.stderr  # Prefect used our server instead of starting one of its own


def test_an_api_url_in_the_active_profile_is_used_as_is(tmp_path: Path) -> None:
    home = tmp_path / "prefect"
    home.mkdir()
    (home / "profiles.toml").write_text('active = "remote"\n\n[profiles.remote]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(home)
    code = "from flows.apiserver import TemporaryApi\nwith TemporaryApi(5) as api:\n    api.wait_ready()\n    print(api.process)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "None"  # nothing started: the profile's server is used


SETTINGS_FILES = [
    # (id, files in the working folder or PREFECT_HOME, PREFECT_PROFILE, configured?)
    ("none", {}, None, False),
    ("dotenv", {".env": "PREFECT_API_URL=http://h:4200/api\n"}, None, True),
    ("dotenv-other", {".env": "PREFECT_LOGGING_LEVEL=DEBUG\n"}, None, False),
    ("prefect-toml", {"prefect.toml": '[api]\nurl = "http://h:4200/api"\n'}, None, True),
    ("pyproject", {"pyproject.toml": '[tool.prefect.api]\nurl = "http://h:4200/api"\n'}, None, True),
    ("pyproject-other-tool", {"pyproject.toml": "[tool.ruff]\nline-length = 100\n"}, None, False),
    ("profile-with-url", {"home/profiles.toml": 'active = "r"\n[profiles.r]\nPREFECT_API_URL = "http://h/api"\n'}, None, True),
    ("profile-without-url", {"home/profiles.toml": 'active = "r"\n[profiles.r]\nPREFECT_LOGGING_LEVEL = "DEBUG"\n'}, None, False),
    ("prefects-own-local-profile", {}, "local", True),
    ("unreadable-toml", {"prefect.toml": "[api\n"}, None, True),
]


@pytest.mark.parametrize(("case_id", "files", "profile", "configured"), SETTINGS_FILES, ids=[c[0] for c in SETTINGS_FILES])
def test_api_url_configured_reads_every_settings_source(
    case_id: str, files: dict[str, str], profile: str | None, configured: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    for key in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    if profile:
        monkeypatch.setenv("PREFECT_PROFILE", profile)
    assert api_url_configured(tmp_path) is configured, case_id


def test_a_server_that_exits_before_answering_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def start_a_process_that_exits(self: TemporaryApi) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
        self.api_url = "http://127.0.0.1:9/api"

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr("flows.apiserver.api_url_configured", lambda: False)
    monkeypatch.setattr(TemporaryApi, "_start", start_a_process_that_exits)
    with pytest.raises(ApiServerError, match=r"^the temporary Prefect server exited with code 3$"), TemporaryApi(30) as api:
        api.wait_ready()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's")
def test_a_killed_run_takes_its_server_with_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    code = (
        "import time\nfrom flows.apiserver import TemporaryApi\n"
        "with TemporaryApi(120) as api:\n    api.wait_ready()\n    print(api.process.pid, flush=True)\n    time.sleep(600)"
    )
    run = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert run.stdout is not None
    server = int(run.stdout.readline())
    run.kill()  # SIGKILL: no __exit__ runs
    run.wait()
    assert processes_gone([server], 10), "the server outlived the process that started it"
