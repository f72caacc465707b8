from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flows import cli
from flows.clean import clean_flow
from flows.cli import main


def test_help_lists_run() -> None:
    done = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--help"], capture_output=True, text=True, check=True)
    assert "--raw" in done.stdout and "--output" in done.stdout


def test_missing_raw_folder_exits_nonzero_with_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["run", "--raw", str(tmp_path / "absent"), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "raw folder not found" in err[0]


def test_an_output_that_is_a_file_exits_nonzero_with_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "raw").mkdir()
    (tmp_path / "out").write_text("not a folder")
    code = main(["run", "--raw", str(tmp_path / "raw"), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"newsclean: output is not a folder: {tmp_path / 'out'}"]
    assert (tmp_path / "out").read_text() == "not a folder"


def test_zero_processes_exits_nonzero_with_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "raw").mkdir()
    code = main(["run", "--raw", str(tmp_path / "raw"), "--output", str(tmp_path / "out"), "--processes", "0"])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == ["newsclean: --processes must be >= 1"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e30"])
def test_a_partition_size_out_of_range_exits_nonzero_with_one_line(tmp_path: Path, capsys, value: str) -> None:  # type: ignore[no-untyped-def]
    # inf and 1e30 once reached the flow and failed it with an OverflowError from the byte counts.
    (tmp_path / "raw").mkdir()
    code = main(["run", "--raw", str(tmp_path / "raw"), "--output", str(tmp_path / "out"), "--partition-mb", value])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == ["newsclean: --partition-mb must be in (0, 100000]"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", [0.0, float("nan"), float("inf"), 1e30])
def test_the_flow_rejects_a_partition_size_out_of_range(value: float) -> None:
    with pytest.raises(ValueError, match=r"^partition_mb must be in \(0, 100000\]$"):
        clean_flow.fn(raw="raw", output="out", partition_mb=value)


def test_runs_on_the_temporary_server_send_no_heartbeats() -> None:
    from prefect.settings import get_current_settings

    lasting = get_current_settings().flows.heartbeat_frequency
    with cli.run_settings(temporary_server=True):
        assert get_current_settings().flows.heartbeat_frequency is None
    with cli.run_settings(temporary_server=False):
        assert get_current_settings().flows.heartbeat_frequency == lasting
    assert get_current_settings().flows.heartbeat_frequency == lasting
