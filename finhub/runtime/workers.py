"""The ``dramatiq`` worker processes the driver starts and stops.

They run in their own process group, so Ctrl+C in the terminal reaches only the driver; the
driver then sends SIGTERM to the worker *master*, which lets running actors finish and requeues
prefetched messages (SIGTERM to the whole group would make the children exit at once).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

from finhub.logs import get_logger

#: Threads per worker process.
THREADS = 8
#: Seconds the worker master gets to finish in-flight messages before it is killed.
SHUTDOWN_GRACE = 20
#: glibc gives every thread its own malloc arena; with 8 threads that alone added ~130 MB of RSS
#: per worker in scripts/bench_pipeline.py. Two arenas cost no measurable throughput.
WORKER_ENV = {"MALLOC_ARENA_MAX": "2"}

log = get_logger(__name__)


#: Linux prctl option: signal to receive when the parent process dies.
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the worker master before exec: SIGTERM it should the driver die without stopping it
    (SIGKILL, a crash), so workers never outlive their driver. Linux only; elsewhere a no-op."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def start_workers(processes: int, env: dict[str, str]) -> subprocess.Popen:
    """``dramatiq actors`` (through :mod:`finhub.runtime.dramatiq_cli`) with ``processes`` processes,
    in a new process group, in this working directory (so they read the same ``finhub.toml`` and
    ``var/`` as the driver)."""
    # dramatiq through finhub.runtime.dramatiq_cli: its master's own lines in finhub's log format.
    command = [sys.executable, "-m", "finhub.runtime.dramatiq_cli", "actors", "--processes", str(processes),
               "--threads", str(THREADS), "--worker-shutdown-timeout", str(SHUTDOWN_GRACE * 1000 - 2000)]
    proc = subprocess.Popen(command, env={**os.environ, **WORKER_ENV, **env}, start_new_session=True,
                            preexec_fn=_die_with_parent)
    log.info("workers started", pid=proc.pid, processes=processes, threads=THREADS)
    return proc


def stop_workers(proc: subprocess.Popen, grace: float = SHUTDOWN_GRACE) -> int:
    """SIGTERM the master, wait up to ``grace`` seconds, then kill the whole group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            log.warning("workers did not stop in time; killing them", pid=proc.pid)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode
