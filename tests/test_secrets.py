"""No secret is ever shown: an Alpha Vantage key, a CoinGecko key and a Redis password, with the
providers reached at their real URLs (through :class:`~finhub.sandbox.tls.HttpsSandbox`) and failing.

Checked: the messages built by the adapters, the log processor (console and JSON, containers,
reprs, tracebacks), and a real ``start_background_jobs.py --once`` run: its stdout/stderr, every Redis
key and value it leaves, ``finhub status``, and every file under the data dir.
"""

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from finhub.config import Secret, SecretUrl, Settings, strip_secrets
from finhub.config.schema import AlphaVantageSettings, CoinGeckoSettings, ProvidersSettings
from finhub.logs import configure_logging, get_logger
from finhub.sandbox import Sandbox
from finhub.sandbox.tls import HttpsSandbox
from providers.base import Unavailable

ROOT = Path(__file__).resolve().parents[1]
AV_KEY = "AVSECRETKEY4417"
CG_KEY = "CG-SECRETKEY9023"
REDIS_PASSWORD = "redis-secret-6650"
SECRETS = (AV_KEY, CG_KEY, REDIS_PASSWORD)


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.mark.parametrize("text, expected", [
    ("https://www.alphavantage.co/query?function=GLOBAL_QUOTE&symbol=AAPL&apikey=K3Y",
     "https://www.alphavantage.co/query?function=GLOBAL_QUOTE&symbol=AAPL&apikey=***"),
    ("GET /api/v3/simple/price?ids=bitcoin&x_cg_demo_api_key=K3Y&vs_currencies=usd (read timeout)",
     "GET /api/v3/simple/price?ids=bitcoin&x_cg_demo_api_key=***&vs_currencies=usd (read timeout)"),
    ("url: /x?x_cg_pro_api_key=K3Y'", "url: /x?x_cg_pro_api_key=***'"),
    ("?API_KEY=K3Y&a=1", "?API_KEY=***&a=1"),
    ("redis://:pw0rd@127.0.0.1:6379/0 and postgresql://me:pw0rd@db/x",
     "redis://:***@127.0.0.1:6379/0 and postgresql://me:***@db/x"),
    ("nothing secret here: https://example.com/a?b=c", "nothing secret here: https://example.com/a?b=c"),
])
def test_strip_secrets(text, expected):
    assert strip_secrets(text) == expected


def _settings(log_format: str) -> Settings:
    return Settings(log_format=log_format, redis_url=SecretUrl(f"redis://:{REDIS_PASSWORD}@127.0.0.1:1/0"),
                    providers=ProvidersSettings(alphavantage=AlphaVantageSettings(api_key=Secret(AV_KEY)),
                                                coingecko=CoinGeckoSettings(api_key=Secret(CG_KEY))))


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_the_log_processor_masks_secrets_in_strings_containers_reprs_and_tracebacks(log_format):
    stream = io.StringIO()
    configure_logging(_settings(log_format), stream)
    url = f"https://www.alphavantage.co/query?function=GLOBAL_QUOTE&apikey={AV_KEY}"
    try:
        error = Unavailable("alphavantage", f"Max retries exceeded with url: {url}")  # as if built unmasked
        log = get_logger("finhub.crosscheck")
        log.warning("no further price within budget", why={"AAPL": [error]}, url=url, key=CG_KEY)
        log.info("tuple", pair=(url, 1))
        try:
            raise ValueError(f"boom {url} redis://:{REDIS_PASSWORD}@h/0")
        except ValueError:
            log.exception("with a traceback")
            logging.getLogger("urllib3.somewhere").error("stdlib %s", url, exc_info=True)
    finally:
        configure_logging(Settings(), sys.stderr)
    out = stream.getvalue()
    assert "no further price within budget" in out and "with a traceback" in out and "apikey=***" in out
    assert not leaks(out), out
    if log_format == "json":
        assert all(json.loads(line) for line in out.splitlines())


# --- a real driver run against failing providers ---------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    """A redis-server of the test's own, with a password, on a spare port."""
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--requirepass", REDIS_PASSWORD, "--dir", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port, password=REDIS_PASSWORD, decode_responses=True)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield client, f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"
    client.close()
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def https_sandbox():
    with Sandbox() as sb, HttpsSandbox(sb, hang_for=5) as hs:
        yield hs


def _dump(client) -> str:
    """Every key and value in the Redis database, as text."""
    parts = []
    readers = {"string": client.get, "hash": client.hgetall, "list": lambda k: client.lrange(k, 0, -1),
               "set": client.smembers, "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
               "stream": client.xrange}
    for key in client.scan_iter("*"):
        kind = client.type(key)
        value = readers[kind](key) if kind in readers else kind
        parts.append(f"{key} {value}")
    return "\n".join(parts)


SCENARIOS = {
    "console": {"yahoo": "dns", "coingecko": "close", "alphavantage": "untrusted"},
    "json": {"yahoo": "reset", "coingecko": "dns", "alphavantage": "close"},
}


@pytest.mark.slow
@pytest.mark.parametrize("log_format", list(SCENARIOS))
def test_no_secret_anywhere_after_a_driver_run_against_failing_providers(log_format, private_redis, https_sandbox,
                                                                         tmp_path):
    client, redis_url = private_redis
    client.flushdb()
    https_sandbox.clear()
    for provider, fault in SCENARIOS[log_format].items():
        https_sandbox.fault(provider, fault)
    data = tmp_path / "var"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FINHUB_")}
    env = {**clean, **https_sandbox.env(), "FINHUB_REDIS_URL": redis_url, "FINHUB_DATA_DIR": str(data),
           "FINHUB_LOG_FORMAT": log_format, "FINHUB_LOG_LEVEL": "DEBUG", "FINHUB_ALPHAVANTAGE_API_KEY": AV_KEY,
           "FINHUB_COINGECKO_API_KEY": CG_KEY, "FINHUB_YAHOO_TIMEOUT": "2", "FINHUB_COINGECKO_TIMEOUT": "2",
           "FINHUB_ALPHAVANTAGE_TIMEOUT": "2", "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    run = subprocess.run([sys.executable, str(ROOT / "start_background_jobs.py"), "--once", "--workers", "1",
                          "--timeout", "15"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    output = run.stdout + run.stderr
    assert "yahoo" in output and "alphavantage" in output  # the run did reach the providers
    assert set(https_sandbox.connects) & {"query1.finance.yahoo.com", "api.coingecko.com", "www.alphavantage.co"}
    assert not leaks(output), [line for line in output.splitlines() if leaks(line)][:5]
    assert "apikey=***" in output + _dump(client)  # the errors did carry the key's URL: masked

    stored = _dump(client)
    assert "finhub:breaker:" in stored  # the failures were recorded
    assert not leaks(stored), [line for line in stored.splitlines() if leaks(line)][:5]

    status = subprocess.run([sys.executable, "-m", "finhub", "status"], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert "breaker" in status.stdout, status.stdout + status.stderr
    assert not leaks(status.stdout + status.stderr), status.stdout

    for path in data.rglob("*"):
        if path.is_file():
            content = path.read_bytes().decode("latin-1")
            assert not leaks(content), path
