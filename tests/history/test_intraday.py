"""Intraday bars against the sandbox: 30 days of 1m bars for stocks and cryptos stored exactly (NYSE
session minutes, holidays and early closes included; every UTC minute for crypto), in the fewest
calls Yahoo's 7-days-a-request limit allows, an interrupted backfill resumed with only the missing
calls, a second run with none; and the dry run's calls per provider and what no provider reaches."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from finhub.calendar import bar_starts, calendar
from finhub.model import EXCHANGE_TZ
from finhub.storage import prices
from finhub.universe import build_universe
from tests.history.helpers import backfill

STOCKS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL")
COINS = ("BTC", "ETH")
WEEK = 7 * 86400


def minute_calls(sandbox, interval="1m") -> dict[str, int]:
    """Yahoo chart requests for ``interval`` bars the sandbox answered, per Yahoo symbol."""
    calls: dict[str, int] = {}
    for provider, path, query in sandbox.requests():
        if provider == "yahoo" and path.startswith("/v8/finance/chart/") and query.get("interval") == interval:
            symbol = path.rsplit("/", 1)[-1]
            calls[symbol] = calls.get(symbol, 0) + 1
    return calls


def total(calls: dict[str, int]) -> int:
    return sum(calls.values())


def session_minutes(start: datetime, end: datetime) -> list[float]:
    """The NYSE trading minutes in [start, end) as exchange-calendars lists them (its own minute index)."""
    minutes = calendar().minutes_in_range(pd.Timestamp(start), pd.Timestamp(end - timedelta(minutes=1)))
    return [m.timestamp() for m in minutes]


def fewest_calls(bars: list[float]) -> int:
    """Windows of 7 days needed to cover ``bars``: each from the first bar not yet covered."""
    calls, i = 0, 0
    while i < len(bars):
        calls += 1
        limit = bars[i] + WEEK
        while i < len(bars) and bars[i] < limit:
            i += 1
    return calls


def stored_minutes(engine, symbol) -> list[float]:
    with engine.connect() as c:
        stamps = c.execute(select(prices.c.timestamp).where(prices.c.symbol == symbol, prices.c.interval == "1m")
                           .order_by(prices.c.timestamp)).scalars().all()
    return [(datetime.fromisoformat(s).replace(tzinfo=UTC) if isinstance(s, str) else s).timestamp() for s in stamps]


@pytest.mark.slow
def test_30_days_of_1m_bars_interrupted_resumed_and_complete(env, database, sandbox, capsys, monkeypatch):
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today - timedelta(days=29), today            # 29 full UTC days before today: final bars only
    args = ("--symbols", ",".join(STOCKS + COINS), "--interval", "1m", "--start", f"{start:%Y-%m-%d}",
            "--end", f"{end - timedelta(days=1):%Y-%m-%d}")
    sessions = session_minutes(start, end)
    crypto = [start.timestamp() + 60 * k for k in range(int((end - start).total_seconds() // 60))]
    # The grid finhub plans from agrees with exchange-calendars' minutes, early closes and holidays included.
    assert bar_starts(build_universe()["AAPL"], "1m", start, end) == sessions
    fewest = {s: fewest_calls(sessions) for s in STOCKS} | {f"{c}-USD": fewest_calls(crypto) for c in COINS}
    assert all(n == 5 for n in fewest.values()) or all(n >= 4 for n in fewest.values())

    # Yahoo allows 30 calls an hour, history half of them: the backfill stops part way (no minute limit
    # here: 35 calls would wait out a minute window).
    monkeypatch.setenv("FINHUB_YAHOO_QUOTA_PER_MINUTE", "0")
    monkeypatch.setenv("FINHUB_YAHOO_QUOTA_PER_HOUR", "30")
    status, out, _ = backfill(capsys, *args, "--sync")
    assert status == 1 and "history budget spent" in out
    first = minute_calls(sandbox)
    assert 0 < total(first) <= 15 < total(fewest)

    monkeypatch.setenv("FINHUB_YAHOO_QUOTA_PER_HOUR", "0")
    status, out, _ = backfill(capsys, *args, "--dry-run")
    assert status == 0 and "NOT SERVABLE" not in out
    assert f"calls: {total(fewest) - total(first)} (yahoo {total(fewest) - total(first)})" in out

    status, out, _ = backfill(capsys, *args, "--sync")
    assert status == 0, out
    both = minute_calls(sandbox)
    assert both == fewest                     # the resumed run asked only for what the first did not fetch
    for stock in STOCKS:
        assert stored_minutes(database, stock) == sessions
    for coin in COINS:
        assert stored_minutes(database, coin) == crypto

    status, out, _ = backfill(capsys, *args, "--sync")
    assert status == 0 and "7/7 symbols done, 0 rows stored" in out
    assert minute_calls(sandbox) == both      # complete: no bar call at all


def test_dry_run_splits_by_the_7_day_limit_and_reports_what_yahoo_does_not_reach(env, sandbox, capsys):
    status, out, _ = backfill(capsys, "--symbols", "AAPL,BTC", "--interval", "1m", "--period", "60d", "--dry-run")
    assert status == 0, out
    assert not any(sum(c.values()) for c in sandbox.calls().values())
    aapl = next(line for line in out.splitlines() if line.split()[:1] == ["AAPL"] and "calls" in line)
    assert "5 calls" in aapl or "4 calls" in aapl
    assert "AAPL       NOT SERVABLE: 1m bars reach back 30 days at yahoo:" in out
    assert "BTC        NOT SERVABLE: 1m bars reach back 30 days at yahoo:" in out
    assert "cannot be fetched" in out and "verdict:" in out


def test_crypto_5m_bars_come_from_coingecko_within_its_last_day_only(env, sandbox, capsys):
    status, out, _ = backfill(capsys, "--symbols", "BTC", "--interval", "5m", "--period", "3d", "--dry-run")
    assert status == 0, out
    # CoinGecko's 5-minute points reach back one day; Yahoo serves the two days before.
    assert "calls: 2 (coingecko 1, yahoo 1)" in out or "calls: 2 (yahoo 1, coingecko 1)" in out


def test_a_stored_1m_day_is_readable_with_prices_interval(env, sandbox, capsys):
    from finhub import cli

    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    status, out, _ = backfill(capsys, "--symbols", "BTC", "--interval", "1m", "--start", f"{day:%Y-%m-%d}",
                              "--end", f"{day:%Y-%m-%d}", "--sync")
    assert status == 0 and "1,440 rows stored" in out
    assert cli.main(["prices", "BTC", "--interval", "1m"]) == 0
    shown = capsys.readouterr().out
    assert "BTC" in shown and f"{day + timedelta(hours=23, minutes=59):%Y-%m-%dT%H:%M}" in shown
    from finhub.storage import make_engine
    with make_engine(env["FINHUB_DATABASE_URL"]).connect() as c:
        assert c.execute(select(func.count()).where(prices.c.interval == "1m")).scalar() == 1440


@pytest.mark.slow
def test_a_gap_in_the_middle_costs_one_call_and_bars_never_served_are_not_asked_again(env, database, sandbox, capsys):
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today - timedelta(days=6), today - timedelta(days=1)       # 5 UTC days of BTC minutes
    args = ("--symbols", "BTC", "--interval", "1m", "--start", f"{start:%Y-%m-%d}",
            "--end", f"{end - timedelta(days=1):%Y-%m-%d}")
    silent = start + timedelta(days=1)                                     # Yahoo has no BTC minute that day
    sandbox.configure("yahoo", gaps={"BTC-USD": [[f"{silent:%Y-%m-%d}", f"{silent:%Y-%m-%d}"]]})
    assert backfill(capsys, *args, "--sync")[0] == 0
    assert minute_calls(sandbox) == {"BTC-USD": 1}
    assert len(stored_minutes(database, "BTC")) == 4 * 1440

    hole = (start + timedelta(days=3, hours=5), start + timedelta(days=3, hours=7))
    with database.begin() as c:
        c.execute(prices.delete().where(prices.c.symbol == "BTC", prices.c.timestamp >= hole[0],
                                        prices.c.timestamp < hole[1]))
    status, out, _ = backfill(capsys, *args, "--dry-run")
    assert "BTC        " in out and "calls: 1 (yahoo 1)" in out
    assert backfill(capsys, *args, "--sync")[0] == 0
    asked = [q for p, path, q in sandbox.requests() if path.endswith("/BTC-USD") and q.get("interval") == "1m"]
    assert len(asked) == 2 and int(asked[-1]["period1"]) == int(hole[0].timestamp())   # from the first missing minute
    assert len(stored_minutes(database, "BTC")) == 4 * 1440
    assert backfill(capsys, *args, "--sync")[0] == 0 and minute_calls(sandbox) == {"BTC-USD": 2}   # the silent day: never again


def test_pre_and_post_market_bars_are_stored_when_configured(env, sandbox, capsys, monkeypatch):
    monkeypatch.setenv("FINHUB_HISTORY_PREPOST", "true")
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=10)
    start, end = day, day + timedelta(days=3)
    status, out, _ = backfill(capsys, "--symbols", "AAPL", "--interval", "15m", "--start", f"{start:%Y-%m-%d}",
                              "--end", f"{day + timedelta(days=2):%Y-%m-%d}", "--sync")
    assert status == 0, out
    from finhub.storage import make_engine
    with make_engine(env["FINHUB_DATABASE_URL"]).connect() as c:
        stored = c.execute(select(prices.c.timestamp).where(prices.c.interval == "15m")
                           .order_by(prices.c.timestamp)).scalars().all()
    expected = bar_starts(build_universe()["AAPL"], "15m", start, end, prepost=True)
    assert len(stored) == len(expected) > len(bar_starts(build_universe()["AAPL"], "15m", start, end))
    status, out, _ = backfill(capsys, "--symbols", "AAPL", "--interval", "15m", "--start", f"{start:%Y-%m-%d}",
                              "--end", f"{day + timedelta(days=2):%Y-%m-%d}", "--dry-run")
    assert "complete: no call" in out


def test_alpha_vantage_intraday_bars_one_calendar_month_a_call(env, sandbox, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("FINHUB_ALPHAVANTAGE_API_KEY", "sandbox-key")
    # history's share of 5 a minute would make the test wait a minute: quotas have tests of their own
    monkeypatch.setenv("FINHUB_ALPHAVANTAGE_QUOTA_PER_MINUTE", "0")
    (tmp_path / "finhub.toml").write_text('[fallback]\nstock_history = ["alphavantage"]\n')
    monkeypatch.setenv("FINHUB_CONFIG", str(tmp_path / "finhub.toml"))
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today - timedelta(days=75), today - timedelta(days=35)            # across two or three months
    args = ("--symbols", "AAPL", "--interval", "1h", "--start", f"{start:%Y-%m-%d}",
            "--end", f"{end - timedelta(days=1):%Y-%m-%d}")
    expected = bar_starts(build_universe()["AAPL"], "1h", start, end)
    months = {datetime.fromtimestamp(t, UTC).astimezone(EXCHANGE_TZ).strftime("%Y-%m") for t in expected}
    status, out, _ = backfill(capsys, *args, "--dry-run")
    assert status == 0 and f"calls: {len(months)} (alphavantage {len(months)})" in out
    status, out, _ = backfill(capsys, *args, "--sync")
    assert status == 0, out
    asked = [q for p, _, q in sandbox.requests() if p == "alphavantage" and q.get("function") == "TIME_SERIES_INTRADAY"]
    assert sorted(q["month"] for q in asked) == sorted(months) and {q["interval"] for q in asked} == {"60min"}
    from finhub.storage import make_engine
    with make_engine(env["FINHUB_DATABASE_URL"]).connect() as c:
        stored = c.execute(select(prices.c.timestamp).where(prices.c.symbol == "AAPL", prices.c.interval == "1h")
                           .order_by(prices.c.timestamp)).scalars().all()
    assert [s.timestamp() for s in stored] == expected
