"""finhub as users install it: the ``finhub`` console script of the venv works from any directory,
without activating the venv, and is the same program as ``python -m finhub``."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.redis_dbs import PLANNER_DB

#: Each test starts finhub processes twice over: seconds each on a small machine.
pytestmark = pytest.mark.slow

FINHUB = Path(sys.executable).with_name("finhub")


def run(command: list[str], cwd: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True,
                          timeout=120)


def test_the_console_script_runs_status_from_another_directory(tmp_path):
    done = run([str(FINHUB), "status"], tmp_path, FINHUB_DATA_DIR=str(tmp_path / "var"),
               FINHUB_REDIS_URL=f"redis://127.0.0.1:6379/{PLANNER_DB}")
    assert done.returncode == 1, done.stderr  # nothing collected yet: it says so
    assert "queues" in done.stdout and "providers" in done.stdout and "\nneeds attention\n" in done.stdout
    assert (tmp_path / "var" / "finhub.db").is_file()  # data under the working directory, not the checkout


def test_the_console_script_is_python_dash_m_finhub(tmp_path):
    script = run([str(FINHUB), "--help"], tmp_path)
    module = run([sys.executable, "-m", "finhub", "--help"], tmp_path)
    assert script.returncode == module.returncode == 0
    assert script.stdout == module.stdout and "backfill" in script.stdout
