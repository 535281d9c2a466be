"""A worker process builds the jobs' context when it boots; a broken setting is a warning there, not a crash."""

import os
from unittest.mock import MagicMock

import dramatiq
import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

import finhub.runtime.context
from finhub import calendar as market_hours
from finhub.config import load_settings
from finhub.runtime.broker import WarmContext, setup_broker
from tests.redis_dbs import PLANNER_DB


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("FINHUB_")]:
        monkeypatch.delenv(name)
    (tmp_path / "finhub.toml").touch()
    monkeypatch.setenv("FINHUB_CONFIG", str(tmp_path / "finhub.toml"))
    monkeypatch.setenv("FINHUB_REDIS_URL", f"redis://127.0.0.1:6379/{PLANNER_DB}")
    monkeypatch.setenv("FINHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'finhub.db'}")
    monkeypatch.setattr(finhub.runtime.context, "_current", None)
    return monkeypatch


def test_the_actors_broker_prepares_the_context_when_a_worker_boots(env, tmp_path):
    market_hours._sessions.cache_clear()
    env.setattr(dramatiq, "set_broker", lambda broker: None)  # leave the suite's global broker alone
    broker = setup_broker(load_settings())
    (warm,) = [m for m in broker.middleware if isinstance(m, WarmContext)]
    warm.after_worker_boot(broker, None)
    ctx = finhub.runtime.context._current
    assert ctx is not None and set(vars(ctx)["providers"]) == {"yahoo", "coingecko"}  # no Alpha Vantage key
    assert "assets_latestprice" in inspect(vars(ctx)["engine"]).get_table_names()
    assert market_hours._sessions.cache_info().currsize == 1
    assert finhub.runtime.context.current() is ctx


def test_a_database_down_at_boot_is_a_warning_and_the_first_job_meets_the_error(env):
    env.setenv("FINHUB_DATABASE_URL", "postgresql://finhub@127.0.0.1:1/nowhere")
    # a stand-in logger: structlog caches a logger on first use, so capture_logs misses it once another
    # test of the session has configured logging
    log = MagicMock()
    env.setattr("finhub.runtime.broker.log", log)
    WarmContext().after_worker_boot(None, None)
    ((event,), fields), = log.warning.call_args_list
    assert event == "could not prepare the jobs' context at worker boot"
    assert "127.0.0.1" in fields["error"] and "finhub@" not in fields["error"]
    with pytest.raises(OperationalError):
        finhub.runtime.context.current().engine
