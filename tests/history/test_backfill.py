"""`python -m finhub backfill` against the sandbox: a year stored once per trading day, an
interrupted run resumed with only the missing calls, a dry run that calls nothing, the recorded
AAPL chart stored bar for bar with its pivots, and one-line errors for bad arguments."""

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from finhub.calendar import calendar
from finhub.model import EXCHANGE_TZ
from finhub.sandbox.samples import SAMPLES_DIR
from finhub.storage import make_engine, prices, stored_levels
from tests.history.helpers import backfill, chart_calls, stored_days

SYMBOLS = ("--symbols", "AAPL,MSFT,BTC,ETH")


def test_a_year_interrupted_by_the_budget_resumes_with_only_the_missing_calls(env, database, sandbox, capsys,
                                                                              monkeypatch):
    # A year per database: yfinance caches past ranges in-process, which would hide the second run's calls.
    year = 2025 if database.dialect.name == "sqlite" else 2024
    YEAR = ("--start", f"{year}-01-01", "--end", f"{year}-12-31")
    # Yahoo allows 2 requests an hour, so history may spend 1. yfinance holds no crumb (as in a new
    # process), so AAPL's history takes at least the crumb and the chart: its second request and all
    # of MSFT's are refused.
    from yfinance.data import SingletonMeta, YfData
    SingletonMeta._instances.pop(YfData, None)
    monkeypatch.setenv("FINHUB_YAHOO_QUOTA_PER_HOUR", "2")
    # A paid CoinGecko plan: the keyless and demo ones reach back 365 days only.
    monkeypatch.setenv("FINHUB_COINGECKO_PLAN", "pro")
    monkeypatch.setenv("FINHUB_COINGECKO_API_KEY", "sandbox-pro-key")
    status, out, _ = backfill(capsys, *SYMBOLS, *YEAR, "--sync")
    assert status == 1
    assert "failed (2): AAPL, MSFT" in out and "history budget spent" in out
    assert chart_calls(sandbox)["coingecko"] == 2
    assert stored_days(database, "AAPL") == stored_days(database, "MSFT") == []

    monkeypatch.setenv("FINHUB_YAHOO_QUOTA_PER_HOUR", "0")  # the budget has room again
    status, out, _ = backfill(capsys, *SYMBOLS, *YEAR, "--dry-run")
    assert status == 0 and "calls: 2 (yahoo 2)" in out
    assert [line.split()[0] for line in out.splitlines() if "complete: no call" in line] == ["BTC", "ETH"]

    before = chart_calls(sandbox)
    status, out, _ = backfill(capsys, *SYMBOLS, *YEAR, "--sync")
    assert status == 0, out
    after = chart_calls(sandbox)
    assert after["coingecko"] == before["coingecko"]             # the cryptos were complete
    assert 2 <= after["yahoo"] - before["yahoo"] <= 4             # the stocks' charts (and yfinance's time-zone probes)

    sessions = [s.date() for s in calendar().sessions_in_range(f"{year}-01-01", f"{year}-12-31")]
    for stock in ("AAPL", "MSFT"):
        assert sorted(stored_days(database, stock)) == sessions    # every trading day, once
    for coin in ("BTC", "ETH"):
        days = stored_days(database, coin)
        assert len(days) == len(set(days)) == (date(year + 1, 1, 1) - date(year, 1, 1)).days

    before = chart_calls(sandbox)
    status, out, _ = backfill(capsys, *SYMBOLS, *YEAR, "--sync")
    assert status == 0 and "4/4 symbols done, 0 rows stored" in out
    assert chart_calls(sandbox) == before                          # nothing missing: no call at all


def test_dry_run_prints_the_plan_and_calls_no_provider(env, sandbox, capsys):
    status, out, _ = backfill(capsys, "--symbols", "AAPL,BTC", "--period", "30d", "--dry-run")
    assert status == 0
    assert sandbox.calls() == {} or not any(sum(c.values()) for c in sandbox.calls().values())
    lines = out.splitlines()
    assert lines[0].startswith("backfill plan: 1d bars") and "(2 symbols)" in lines[0]
    assert any(line.split()[0] == "AAPL" and "1 call" in line for line in lines[1:3])
    assert any(line.split()[0] == "BTC" and "1 call" in line for line in lines[1:3])
    assert "calls: 2 (yahoo 1, coingecko 1)" in out and "verdict: fits the history budget now" in out
    assert make_engine(env["FINHUB_DATABASE_URL"]).connect().execute(select(prices.c.id)).first() is None


def test_recorded_aapl_chart_backfills_to_its_bars_and_their_pivots(env, sandbox, capsys):
    """Prices are stored as configured: Yahoo's adapter uses yfinance's auto_adjust, so a bar's close
    is the recorded ``adjclose`` (split-adjusted, as Yahoo's close already is for the 4:1 split of
    2020-08-31, and dividend-adjusted) and open/high/low are scaled by adjclose / close."""
    chart = json.loads((SAMPLES_DIR / "yahoo/v8_chart_AAPL_1d_2020-08-31_2020-11-07.body.json").read_text())
    chart = chart["chart"]["result"][0]
    status, out, _ = backfill(capsys, "--symbols", "AAPL", "--start", "2020-08-31", "--end", "2020-11-06", "--sync")
    assert status == 0, out
    engine = make_engine(env["FINHUB_DATABASE_URL"])
    with engine.connect() as c:
        rows = c.execute(select(prices.c.timestamp, prices.c.price).where(prices.c.symbol == "AAPL")
                         .order_by(prices.c.timestamp)).all()
    assert len(rows) == len(chart["timestamp"]) == 49
    assert [r.price for r in rows] == pytest.approx(chart["indicators"]["adjclose"][0]["adjclose"], rel=1e-9)
    assert stored_days(engine, "AAPL") == [
        datetime.fromtimestamp(t, UTC).astimezone(EXCHANGE_TZ).date() for t in chart["timestamp"]]

    levels = {row["day"]: row for row in stored_levels(engine, "AAPL")}
    assert len(levels) == 49
    # 2020-11-05 as recorded: high 119.62000274658203, low 116.87000274658203, close 119.02999877929688,
    # adjclose 116.06599426269531; adjusted by r = 116.06599426269531 / 119.02999877929688:
    #   H = 119.62000274658203 * r = 116.64130635027131, L = 116.87000274658203 * r = 113.95978499014568,
    #   C = 116.06599426269531
    #   PP = (H + L + C) / 3 = 115.55569520103744
    #   R1 = 2·PP − L = 117.15160541192920      R2 = PP + (H − L) = 118.23721656116307
    #   S1 = 2·PP − H = 114.47008405180357      S2 = PP − (H − L) = 112.87417384091181
    day = levels[date(2020, 11, 5)]
    assert (day["high"], day["low"], day["close"]) == pytest.approx(
        (116.64130635027131, 113.95978499014568, 116.06599426269531), rel=1e-9)
    assert (day["pp"], day["r1"], day["r2"], day["s1"], day["s2"]) == pytest.approx(
        (115.55569520103744, 117.15160541192920, 118.23721656116307, 114.47008405180357, 112.87417384091181),
        rel=1e-9)


@pytest.mark.parametrize("args, message", [
    (["--period", "1x"], "--period must be a count and a unit"),
    (["--start", "2025-13-01"], "--start must be a date YYYY-MM-DD"),
    (["--start", "2025-01-01", "--period", "1y"], "give --start or --period, not both"),
    (["--interval", "4h"], "--interval must be one of 1m, 2m, 5m, 15m, 30m, 1h, 90m, 1d, 1wk"),
    (["--symbols", "AAPL,NOPE"], "not in the universe: NOPE"),
    (["--symbols", "HES"], "not active"),
    (["--start", "2025-06-01", "--end", "2025-05-01"], "the range is empty"),
])
def test_bad_arguments_get_one_line_and_no_call(env, sandbox, capsys, args, message):
    status, out, err = backfill(capsys, *args, "--sync")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("finhub backfill: ") and message in err
    assert not any(sum(c.values()) for c in sandbox.calls().values())
