"""Pipeline tests run the real driver and real ``dramatiq`` workers against real Redis (a database
of its own, flushed) and the provider sandbox."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finhub.sandbox import Sandbox
from tests.polling import wait_for  # noqa: F401 - the pipeline tests import it from here
from tests.redis_dbs import PIPELINE_DB, flushed

ROOT = Path(__file__).resolve().parents[2]

#: Frozen provider time: a Friday with NYSE open, so every rerun sees the same market times.
FROZEN = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
def redis_db():
    yield from flushed(PIPELINE_DB)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as sb:
        sb.set_clock(FROZEN)
        yield sb


@pytest.fixture
def env(tmp_path, sandbox, redis_db):
    """The environment of a finhub process pointed at the sandbox, Redis db and a fresh data dir."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FINHUB_")}
    return {**clean, **sandbox.env(), "FINHUB_REDIS_URL": f"redis://127.0.0.1:6379/{PIPELINE_DB}",
            "FINHUB_DATA_DIR": str(tmp_path / "var"), "FINHUB_LOG_FORMAT": "json",
            # Reruns within a minute would meet CoinGecko's keyless 5 a minute: quotas have tests of their own.
            "FINHUB_COINGECKO_QUOTA_PER_MINUTE": "0", "FINHUB_COINGECKO_QUOTA_MIN_SPACING": "0",
            "FINHUB_YAHOO_QUOTA_PER_SECOND": "0",
            # Workers judge staleness by the real clock, the sandbox's is frozen: prices must not age here
            # (staleness has tests of its own, with a frozen "now").
            "FINHUB_VALIDATION_STOCK_HEARTBEAT": "1e9", "FINHUB_VALIDATION_CRYPTO_HEARTBEAT": "1e9",
            "PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def driver(env, *args, **popen):
    """``start_background_jobs.py`` as a user runs it."""
    return subprocess.Popen([sys.executable, str(ROOT / "start_background_jobs.py"), *args], env=env, cwd=ROOT,
                            text=True, **popen)


@pytest.fixture(autouse=True)
def no_stray_processes():
    """After each test, end any finhub process a failed test left running on the test Redis db,
    so it cannot steal the next test's messages."""
    yield
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if ("dramatiq" in cmdline or "start_background_jobs" in cmdline) and \
                    proc.environ().get("FINHUB_REDIS_URL", "").endswith(f"/{PIPELINE_DB}"):
                proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
