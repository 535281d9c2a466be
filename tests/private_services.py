"""A private PostgreSQL cluster and a private Redis (append-only) that a fault test may stop, kill
and start again, on spare ports, never the shared servers. PostgreSQL refuses to run as root: as
root the cluster belongs to ``nobody``, in a temporary folder it owns."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class PrivatePostgres:
    """``initdb`` + ``pg_ctl`` on a spare port; :attr:`url` is a database ``finhub`` in it."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="finhub-pg-"))
        self.data = self.dir / "data"
        self.user = "nobody" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.dir, self.user)
        self.url = f"postgresql://finhub@127.0.0.1:{self.port}/finhub"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, cwd=self.dir, timeout=120)

    def init(self) -> PrivatePostgres:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "finhub", "--no-sync")
        self.start()
        import psycopg

        with psycopg.connect(f"postgresql://finhub@127.0.0.1:{self.port}/postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE finhub")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """``redis-server`` with ``appendonly yes`` on a spare port, restartable on the same files."""

    def __init__(self, password: str | None = None) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="finhub-redis-"))
        self.password = password
        self.url = f"redis://{f':{password}@' if password else ''}127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--appendonly", "yes",
             "--appendfsync", "always", "--maxmemory-policy", "noeviction", "--dir", str(self.dir), "--save", "",
             *(["--requirepass", self.password] if self.password else [])],
            stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, password=self.password)
        for _ in range(100):
            try:
                client.ping()
                return
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def shutdown(self) -> None:
        import redis

        try:
            redis.Redis(port=self.port, password=self.password).shutdown()
        except redis.ConnectionError:
            pass
        self.proc.wait(10)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
