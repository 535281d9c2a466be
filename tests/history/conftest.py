"""History tests: the backfill command in this process (or on real ``dramatiq`` workers) against the
provider sandbox, real Redis (the planner's database, flushed) and SQLite or PostgreSQL."""

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from finhub.sandbox import Sandbox
from finhub.storage import make_engine
from tests.redis_dbs import PLANNER_DB, flushed

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def redis_db():
    yield from flushed(PLANNER_DB)


@pytest.fixture
def env(tmp_path, sandbox, redis_db, monkeypatch):
    """finhub's environment pointed at the sandbox, the test Redis db and a fresh data dir (SQLite)."""
    sandbox.reset()
    for name in [n for n in os.environ if n.startswith("FINHUB_")]:
        monkeypatch.delenv(name)
    # The backfill tests count CoinGecko's history calls for the cryptos: the chain they were written for
    # (the default asks Yahoo first: test_workers.py's first test runs with it).
    config = tmp_path / "finhub.toml"
    config.write_text('[fallback]\ncrypto_history = ["coingecko", "yahoo"]\n')
    values = {**sandbox.env(), "FINHUB_CONFIG": str(config), "FINHUB_REDIS_URL": f"redis://127.0.0.1:6379/{PLANNER_DB}",
              "FINHUB_DATA_DIR": str(tmp_path / "var"), "FINHUB_LOG_LEVEL": "WARNING",
              "FINHUB_DATABASE_URL": f"sqlite:///{tmp_path}/finhub.db",
              # CoinGecko's keyless 5 a minute would make every test wait: quotas have tests of their own.
              "FINHUB_COINGECKO_QUOTA_PER_MINUTE": "0", "FINHUB_COINGECKO_QUOTA_MIN_SPACING": "0",
              "FINHUB_YAHOO_QUOTA_PER_SECOND": "0"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, env, monkeypatch):
    """The store the backfill writes to, of each kind (PostgreSQL in a private schema)."""
    if request.param == "sqlite":
        yield make_engine(env["FINHUB_DATABASE_URL"])
        return
    schema = f"finhub_hist_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with admin.begin() as c:
            c.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("FINHUB_DATABASE_URL", url)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    with admin.begin() as c:
        c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
