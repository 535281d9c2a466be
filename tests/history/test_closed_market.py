"""With NYSE closed (a Saturday, Thanksgiving; frozen clock) and the last close stored, the stock
quote job makes no provider call, crypto quotes go on, and the market-open job sends nothing."""

from datetime import UTC, datetime

import pytest

from finhub.calendar import just_closed, just_opened, last_close
from finhub.config import load_settings
from finhub.jobs import quotes
from finhub.model import AssetType
from finhub.runtime.context import Context
from finhub.runtime.driver import _jobs
from finhub.runtime.redis import resolve_redis_url
from finhub.storage import upsert_prices


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("now", [utc(2026, 11, 21, 16, 0), utc(2025, 11, 27, 16, 0)], ids=["saturday", "thanksgiving"])
def test_no_stock_call_while_closed_but_crypto_continues(env, sandbox, now):
    sandbox.set_clock(now)
    ctx = Context(load_settings(), resolve_redis_url(load_settings()))
    try:
        close = last_close(now)
        upsert_prices(ctx.engine, [{"symbol": s, "asset_type": "stock", "interval": "quote", "timestamp": close,
                                    "price": 100.0, "source": "yahoo"} for s in ("AAPL", "MSFT")])

        stocks = quotes.collect_quotes(ctx, AssetType.STOCK, ["AAPL", "MSFT"], now=now)
        assert stocks.observations == [] and sum(sandbox.calls().get("yahoo", {}).values()) == 0

        cryptos = quotes.collect_quotes(ctx, AssetType.CRYPTO, ["BTC", "ETH"], now=now)
        assert {o.symbol for o in cryptos.observations} == {"BTC", "ETH"}
        assert sandbox.calls()["coingecko"]["/api/v3/simple/price"] == 1
    finally:
        sandbox.set_clock(None)


def test_market_open_and_close_jobs_follow_the_calendar():
    assert just_opened(utc(2026, 11, 20, 14, 31)) and not just_opened(utc(2026, 11, 26, 14, 31))   # Thanksgiving
    assert just_closed(utc(2026, 11, 27, 18, 1))                       # the early close at 13:00
    assert not just_closed(utc(2026, 11, 27, 21, 1))                    # 16:01 that day: closed 3 hours ago
    assert not just_closed(utc(2026, 11, 26, 21, 1))                    # a holiday has no close


def test_driver_schedules_market_jobs_in_new_york_time(env):
    jobs = {j.name: j for j in _jobs(Context(load_settings(), resolve_redis_url(load_settings())))}
    for name in ("market_open", "market_close"):
        assert jobs[name].cron["timezone"] == "America/New_York" and jobs[name].cron["day_of_week"] == "mon-fri"
        assert not jobs[name].once
    assert jobs["market_aggregation"].every == 1800 and not jobs["history"].once


@pytest.mark.parametrize("due", [False, True], ids=["closed", "open"])
def test_intraday_history_job_sends_stock_bars_only_while_a_session_is_open_or_just_closed(env, tmp_path,
                                                                                          monkeypatch, due):
    (tmp_path / "finhub.toml").write_text('[history]\nintervals = ["1d", "1m"]\n')
    monkeypatch.setenv("FINHUB_CONFIG", str(tmp_path / "finhub.toml"))
    monkeypatch.setattr("finhub.runtime.driver.intraday_due", lambda now, every: due)
    ctx = Context(load_settings(), resolve_redis_url(load_settings()))
    jobs = {j.name: j for j in _jobs(ctx)}
    assert jobs["history_intraday"].every == 900 and not jobs["history_intraday"].once
    intraday = [m.args for m in jobs["history_intraday"].enqueue()]
    assert {interval for _, interval in intraday} == {"1m"}
    sent = {symbols[0] for symbols, _ in intraday}
    cryptos = {a.symbol for a in ctx.universe.cryptos if a.active}
    stocks = {a.symbol for a in ctx.universe.stocks if a.active}
    assert sent == (cryptos | stocks if due else cryptos)
    assert {interval for _, interval in (m.args for m in jobs["history"].enqueue())} == {"1d"}
