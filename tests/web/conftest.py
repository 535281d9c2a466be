"""Web tests: the app served by a real uvicorn (in a thread for the quick tests, ``finhub web`` as a
process for the run tests), reading a real Redis database of its own and SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from finhub.config import load_settings
from tests.polling import wait_for
from tests.private_services import free_port
from tests.redis_dbs import WEB_DB, flushed

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "web-token-Zq81"


@contextmanager
def serving(app) -> Iterator[str]:
    """``app`` served by uvicorn on a spare loopback port, in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_for(lambda: server.started, 10), "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def web_redis(monkeypatch):
    monkeypatch.setenv("FINHUB_REDIS_URL", f"redis://127.0.0.1:6379/{WEB_DB}")
    yield from flushed(WEB_DB)


@pytest.fixture
def web_app(cli_database, web_redis, monkeypatch):
    """The app on loopback over an empty store and Redis db, with a token set; yields (url, redis)."""
    from finhub.web.app import create_app

    monkeypatch.setenv("FINHUB_WEB_TOKEN", TOKEN)
    with serving(create_app(load_settings(), f"redis://127.0.0.1:6379/{WEB_DB}", shared_for=0)) as url:
        yield url, web_redis


@pytest.fixture(scope="module")
def web_process(tmp_path_factory):
    """``finhub web`` as a process over an empty SQLite store and the web Redis db, with a token set
    (a trigger sends through the actors' broker, which a process binds to one Redis at import);
    yields (url, env)."""
    env = clean_env(FINHUB_REDIS_URL=f"redis://127.0.0.1:6379/{WEB_DB}", FINHUB_WEB_TOKEN=TOKEN,
                    FINHUB_DATA_DIR=str(tmp_path_factory.mktemp("web") / "var"))
    proc, url = start_web(env)
    yield url, env
    stop(proc)


def start_web(env: dict, *args: str) -> tuple[subprocess.Popen, str]:
    """``finhub web`` as a user starts it, on a spare port; returns the process and its URL once it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "finhub", "web", "--port", str(port), *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(f"{url}/healthz", timeout=1).ok
        except requests.RequestException:
            return proc.poll() is not None
    assert wait_for(answers, 30) and proc.poll() is None, proc.communicate()[0] if proc.poll() is not None else ""
    return proc, url


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any FINHUB_ variable, plus ``extra``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("FINHUB_")}, "PYTHONPATH": str(ROOT),
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **extra}
