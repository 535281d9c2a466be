"""The ``dramatiq`` worker processes the driver starts and stops.

They run in their own process group, so Ctrl+C in the terminal reaches only the driver; the
driver then sends SIGTERM to the worker *master*, which lets running actors finish and requeues
prefetched messages (SIGTERM to the whole group would make the children exit at once).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

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


#: Restarts within ``CRASH_WINDOW`` seconds that make a crash loop: the driver stops instead.
CRASH_RESTARTS = 5
CRASH_WINDOW = 60.0
#: Seconds a master that lost a worker gets to stop the others before they are killed.
LOST_GRACE = 8.0
#: Backoff before a restart: doubles from the first to the last with each restart in the window.
BACKOFF = (1.0, 30.0)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie has died, whether or not its parent reaped it yet."""
    try:
        # /proc/PID/stat: "PID (comm) STATE ...", comm may hold spaces and parentheses
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _children(pid: int) -> set[int] | None:
    """The pids of ``pid``'s live children (Linux /proc, else psutil when installed; None: unknown).

    A killed child stays listed as a zombie until its parent reaps it, and dramatiq's master does not
    reap while it waits (up to 30 s) for every worker to finish booting: a worker killed during boot
    must count as gone all the same."""
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {int(c) for c in listed if _alive(int(c))}
    except (OSError, ValueError):
        pass
    try:
        import psutil

        return {c.pid for c in psutil.Process(pid).children() if c.status() != psutil.STATUS_ZOMBIE}
    except Exception:  # noqa: BLE001 - psutil missing or the master just exited: poll() will tell
        return None


class CrashLoop(RuntimeError):
    """The worker pool keeps dying: restarting it again would only spin."""


class WorkerPool:
    """The ``dramatiq actors`` master, watched: :meth:`check` (call it every second or so) restarts
    it when it exited or lost a worker process (dramatiq's master then stops the others and exits
    with status 0), after a backoff, and raises :class:`CrashLoop` at the ``CRASH_RESTARTS``-th
    restart within ``CRASH_WINDOW`` seconds."""

    def __init__(self, processes: int, env: dict[str, str], clock: Callable[[], float] = time.monotonic) -> None:
        self.processes, self.env, self.clock = processes, env, clock
        self.restarts: list[float] = []   # clock times of the restarts in the window
        self.proc: subprocess.Popen | None = None
        self.restart_at: float | None = None
        self._children: set[int] = set()
        self._lost: int | None = None
        self._lost_at = 0.0
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.stopped = False
        self.crashed: CrashLoop | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        self.proc = start_workers(self.processes, self.env)
        self._children, self._lost = set(), None

    def watch(self, on_crash_loop: Callable[[CrashLoop], None], every: float = 1.0) -> threading.Thread:
        """Call :meth:`check` every ``every`` seconds in a thread of its own, until :meth:`stop` is done.

        Not in a scheduler thread: a restarted master gets PR_SET_PDEATHSIG from the thread that
        started it, so that thread must outlive the graceful stop."""
        def loop() -> None:
            while not self._done.wait(every):
                try:
                    self.check()
                except CrashLoop as exc:
                    self.crashed = exc
                    on_crash_loop(exc)
        thread = threading.Thread(target=loop, name="finhub-workers", daemon=True)
        thread.start()
        return thread

    def check(self) -> None:
        with self._lock:
            if self.stopped or self.crashed:
                return
            if self.proc is None:
                if self.restart_at is not None and self.clock() >= self.restart_at:
                    self.restart_at = None
                    self.start()
                return
            code = self.proc.poll()
            if code is None:
                self._watch_children()
                return
            cause = f"worker master exited with status {code}"
            if self._lost is not None:
                cause = (f"worker process {self._lost} died; dramatiq's master stopped the others "
                         + ("and exited with status 0" if code == 0
                            else f"(killed after {LOST_GRACE:.0f} s, status {code})"))
            self.proc = None
            now = self.clock()
            self.restarts = [t for t in self.restarts if now - t < CRASH_WINDOW] + [now]
            if len(self.restarts) >= CRASH_RESTARTS:
                raise CrashLoop(f"the workers died {len(self.restarts)} times within {CRASH_WINDOW:.0f} s "
                                f"(last: {cause}); not restarting them again: see their log lines above")
            delay = min(BACKOFF[0] * 2 ** (len(self.restarts) - 1), BACKOFF[1])
            self.restart_at = now + delay
            log.warning(f"workers stopped: {cause}; restarting them in {delay:.0f} s", exit_status=code,
                        lost_process=self._lost, restarts_in_window=len(self.restarts))

    def _watch_children(self) -> None:
        assert self.proc is not None
        children = _children(self.proc.pid)
        if children is None:
            return
        gone = self._children - children
        if gone and self._lost is None:
            self._lost, self._lost_at = min(gone), self.clock()
        self._children |= children
        if self._lost is not None and self.clock() - self._lost_at > LOST_GRACE:
            # dramatiq's master is stopping the other workers, each finishing its message: past the
            # grace, kill them (their messages are redelivered) rather than leave every queue unread.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def stop(self, grace: float = SHUTDOWN_GRACE) -> int | None:
        """Stop watching and stop the workers (no-op when none runs)."""
        with self._lock:
            self.stopped = True
            proc = self.proc
        try:
            return stop_workers(proc, grace) if proc is not None else None
        finally:
            self._done.set()

    def kill(self) -> None:
        """Stop now: SIGKILL the whole process group (their messages are redelivered later)."""
        self.stopped = True
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self._done.set()
