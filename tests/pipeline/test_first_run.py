"""A first run with the real provider hosts unreachable on purpose (a proxy on a closed port, no
sandbox URL), the same with and without internet: what a user behind a proxy or on a plane sees.
The log must read well: no traceback, a screenful of lines, the breakers shown open, a clean Ctrl+C."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.redis_dbs import PIPELINE_DB

ROOT = Path(__file__).resolve().parents[2]
#: How long the run lasts, and the most lines it may print meanwhile (issue 13).
RUN_SECONDS = 75
MAX_LINES = 120
#: Ctrl+C must end the driver and its workers within this many seconds.
STOP_SECONDS = 30


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def offline_env(tmp_path, **extra) -> dict[str, str]:
    proxy = f"http://127.0.0.1:{closed_port()}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FINHUB_") and "proxy" not in k.lower()}
    return {**clean, "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy, "http_proxy": proxy,
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            "FINHUB_REDIS_URL": f"redis://127.0.0.1:6379/{PIPELINE_DB}", "FINHUB_DATA_DIR": str(tmp_path / "var"),
            "FINHUB_SCHEDULE_CRYPTO_QUOTES": "20", "FINHUB_SCHEDULE_STOCK_QUOTES": "30",
            "PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **extra}


def run_offline(env, tmp_path, seconds: float) -> tuple[list[str], int, float]:
    """Run the driver (as ``./scripts/run`` does) for ``seconds``, press Ctrl+C; returns its output
    lines (stdout and stderr), its exit status and how long it took to stop. No process may be left."""
    out = tmp_path / "run.log"
    with open(out, "w") as sink:
        proc = subprocess.Popen([sys.executable, str(ROOT / "start_background_jobs.py")], env=env, cwd=tmp_path,
                                stdout=sink, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(seconds)
            family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
            proc.send_signal(signal.SIGINT)
            started = time.monotonic()
            code = proc.wait(STOP_SECONDS + 30)
            took = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
    left = [p for p in family if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not left, f"processes left after Ctrl+C: {left}"
    return out.read_text().splitlines(), code, took


@pytest.mark.slow
def test_an_offline_first_run_reads_well(tmp_path, redis_db):
    lines, code, took = run_offline(offline_env(tmp_path, FINHUB_LOG_FORMAT="console"), tmp_path, RUN_SECONDS)
    text = "\n".join(lines)
    assert code == 0 and took <= STOP_SECONDS, (code, took, text[-3000:])
    assert text.count("Traceback") == 0, text[:6000]
    assert len(lines) <= MAX_LINES, f"{len(lines)} lines:\n{text}"
    assert "Adding job tentatively" not in text
    # The banner comes after the plan, with the exact redis-cli command.
    assert text.index("call plan") < text.index("finhub is running")
    assert f"redis-cli -h 127.0.0.1 -p 6379 -n {PIPELINE_DB}" in text
    status = subprocess.run([sys.executable, "-m", "finhub", "status"], env=offline_env(tmp_path), cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 1, status.stderr  # the open breakers need attention
    assert "  provider yahoo: breaker open" in status.stdout.split("needs attention")[1]
    providers = {line.split()[0]: line for line in status.stdout.splitlines() if line.startswith("  ")
                 and line.split() and line.split()[0] in ("yahoo", "coingecko")}
    assert "breaker open" in providers.get("yahoo", ""), status.stdout
    assert "breaker open" in providers.get("coingecko", ""), status.stdout


@pytest.mark.slow
def test_in_json_mode_every_line_is_json_dramatiq_s_own_included(tmp_path, redis_db):
    lines, code, _ = run_offline(offline_env(tmp_path, FINHUB_LOG_FORMAT="json"), tmp_path, 25)
    assert code == 0
    events = [json.loads(line) for line in lines]   # raises on any line that is not JSON
    loggers = {e.get("logger") for e in events}
    assert "dramatiq.MainProcess" in loggers and "finhub.driver" in loggers, loggers
    assert any(e.get("event") == "finhub is running" and "-n" in e.get("queues", "") for e in events)
