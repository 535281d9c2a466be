"""Cross-check tests: a finhub context on the sandbox, real Redis (flushed) and a fresh SQLite file."""

from datetime import UTC, datetime

import pytest
import redis

from finhub.config import load_settings
from finhub.runtime.context import Context
from tests.redis_dbs import PLANNER_DB

#: A Friday with NYSE open.
FRIDAY = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
REDIS_URL = f"redis://127.0.0.1:6379/{PLANNER_DB}"


@pytest.fixture
def sandbox(sandbox_server):
    sandbox_server.reset()
    sandbox_server.set_clock(FRIDAY)
    yield sandbox_server
    sandbox_server.reset()


@pytest.fixture
def make_ctx(sandbox, tmp_path):
    """``make_ctx(**env)``: a Context whose settings are the test defaults plus ``FINHUB_*`` overrides."""
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    made = []

    def make(**overrides) -> Context:
        env = {**sandbox.env(), "FINHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'finhub.db'}",
               "FINHUB_ALPHAVANTAGE_API_KEY": "test-key", "FINHUB_CONFIG": str(tmp_path / "none.toml"),
               "FINHUB_COINGECKO_QUOTA_PER_MINUTE": "0", "FINHUB_COINGECKO_QUOTA_MIN_SPACING": "0",
               "FINHUB_YAHOO_QUOTA_PER_SECOND": "0", **{f"FINHUB_{k.upper()}": str(v) for k, v in overrides.items()}}
        (tmp_path / "none.toml").touch()
        ctx = Context(load_settings(environ=env), REDIS_URL)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.engine.dispose()
    client.flushdb()
    client.close()
