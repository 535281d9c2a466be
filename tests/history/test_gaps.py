"""Gaps in stored history: `backfill` fills a gap in the middle with one call a symbol, bars a provider
never has are not fetched again on every run (backfill or daily job), `--force` asks for them again."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from finhub.calendar import bar_starts, calendar
from finhub.config import load_settings
from finhub.jobs import backfill as history_jobs
from finhub.jobs.history import plan
from finhub.runtime.context import Context
from finhub.runtime.redis import resolve_redis_url
from finhub.storage import prices
from tests.history.helpers import backfill, chart_calls, stored_days

SYMBOLS = ("--symbols", "AAPL,BTC")


def quarter(database, first: int) -> tuple[int, str]:
    """A year of its own per database (yfinance caches past ranges in-process), and its end of March."""
    year = first if database.dialect.name == "sqlite" else first - 1
    return year, f"{year}-03-31"


def sessions(start: str, end: str) -> list[date]:
    return [s.date() for s in calendar().sessions_in_range(start, end)]


def no_call_lines(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines() if "complete: no call" in line]


def test_a_gap_in_the_middle_is_filled_with_one_call_a_symbol(env, database, sandbox, capsys, monkeypatch):
    monkeypatch.setenv("FINHUB_COINGECKO_PLAN", "pro")   # keyless and demo reach back 365 days only
    monkeypatch.setenv("FINHUB_COINGECKO_API_KEY", "sandbox-pro-key")
    year, march_end = quarter(database, 2023)
    for start, end in ((f"{year}-01-01", f"{year}-01-31"), (f"{year}-03-01", march_end)):
        assert backfill(capsys, *SYMBOLS, "--start", start, "--end", end, "--sync")[0] == 0
    assert not any(d.month == 2 for d in stored_days(database, "AAPL") + stored_days(database, "BTC"))

    before = chart_calls(sandbox)
    status, out, _ = backfill(capsys, *SYMBOLS, "--start", f"{year}-01-01", "--end", march_end, "--dry-run")
    assert status == 0 and "calls: 2 (yahoo 1, coingecko 1)" in out and no_call_lines(out) == []
    assert chart_calls(sandbox) == before                          # a dry run calls no provider

    status, out, _ = backfill(capsys, *SYMBOLS, "--start", f"{year}-01-01", "--end", march_end, "--sync")
    assert status == 0, out
    after = chart_calls(sandbox)
    assert after["coingecko"] - before["coingecko"] == 1
    assert 1 <= after["yahoo"] - before["yahoo"] <= 2              # the chart (and yfinance's time-zone probe)
    assert sorted(stored_days(database, "AAPL")) == sessions(f"{year}-01-01", march_end)
    days = stored_days(database, "BTC")
    assert len(days) == len(set(days)) == (date(year, 4, 1) - date(year, 1, 1)).days

    status, out, _ = backfill(capsys, *SYMBOLS, "--start", f"{year}-01-01", "--end", march_end, "--dry-run")
    assert no_call_lines(out) == ["AAPL", "BTC"]


def test_bars_a_provider_never_has_are_not_fetched_again(env, database, sandbox, capsys, monkeypatch):
    monkeypatch.setenv("FINHUB_COINGECKO_PLAN", "pro")   # keyless and demo reach back 365 days only
    monkeypatch.setenv("FINHUB_COINGECKO_API_KEY", "sandbox-pro-key")
    year, march_end = quarter(database, 2021)
    # AAPL without its first week's bars (as if listed later), CoinGecko without a point for BTC one day.
    sandbox.configure("yahoo", gaps={"AAPL": [[f"{year}-01-01", f"{year}-01-07"]]})
    sandbox.configure("coingecko", gaps={"bitcoin": [[f"{year}-02-10", f"{year}-02-10"]]})
    quarter_args = (*SYMBOLS, "--start", f"{year}-01-01", "--end", march_end)
    status, out, _ = backfill(capsys, *quarter_args, "--sync")
    assert status == 0, out
    expected = sessions(f"{year}-01-01", march_end)
    assert sorted(stored_days(database, "AAPL")) == [d for d in expected if d > date(year, 1, 7)]
    assert len(stored_days(database, "BTC")) == (date(year, 4, 1) - date(year, 1, 1)).days - 1

    before = chart_calls(sandbox)
    status, out, _ = backfill(capsys, *quarter_args, "--dry-run")
    assert no_call_lines(out) == ["AAPL", "BTC"]
    status, out, _ = backfill(capsys, *quarter_args, "--sync")
    assert status == 0 and "2/2 symbols done, 0 rows stored" in out
    assert chart_calls(sandbox) == before

    # Known absent is final until --force asks again (and learns what the provider has now).
    sandbox.configure("coingecko", gaps={})
    assert no_call_lines(backfill(capsys, *quarter_args, "--dry-run")[1]) == ["AAPL", "BTC"]
    status, out, _ = backfill(capsys, *quarter_args, "--force", "--sync")
    assert status == 0, out
    assert len(stored_days(database, "BTC")) == (date(year, 4, 1) - date(year, 1, 1)).days
    assert no_call_lines(backfill(capsys, *quarter_args, "--dry-run")[1]) == ["AAPL", "BTC"]


def test_the_daily_job_fills_gaps_of_its_year_once(env, database, sandbox):
    now = datetime.now(UTC)
    gap = [(now - timedelta(days=200)).date().isoformat()] * 2
    sandbox.configure("coingecko", gaps={"bitcoin": [gap]})
    ctx = Context(load_settings(), resolve_redis_url(load_settings()))
    outcome = history_jobs.history_run(ctx, ["BTC"], "1d", None, None)      # what the scheduled job runs
    # The job's year is 364 days: CoinGecko's keyless and demo plans reach back 365; one day is the gap.
    assert outcome.rows["BTC"] >= 363 and not outcome.failed and chart_calls(sandbox)["coingecko"] == 1

    # A month deleted by hand is fetched again: the whole year in one call. The day the provider
    # lacks is not: the next run resumes from the last stored bar only.
    month = (now - timedelta(days=100), now - timedelta(days=70))
    with database.begin() as c:
        c.execute(prices.delete().where(prices.c.symbol == "BTC", prices.c.timestamp >= month[0],
                                        prices.c.timestamp < month[1]))
    (task,) = plan(ctx, ctx.universe.select(["BTC"]), "1d")
    assert task.start <= now - timedelta(days=363)
    history_jobs.history_run(ctx, ["BTC"], "1d", None, None)
    assert chart_calls(sandbox)["coingecko"] == 2
    with database.connect() as c:
        stored = c.execute(select(prices.c.timestamp).where(prices.c.symbol == "BTC", prices.c.interval == "1d",
                                                            prices.c.timestamp >= month[0],
                                                            prices.c.timestamp < month[1])).all()
    assert len(stored) >= 29
    (task,) = plan(ctx, ctx.universe.select(["BTC"]), "1d")
    assert task.start >= now - timedelta(days=1)


@pytest.mark.parametrize("interval, start, end", [("1h", "2025-11-24", "2025-11-28"), ("1wk", "2025-09-01", "2025-11-30")])
def test_hourly_and_weekly_bars_served_are_the_bars_expected(env, database, sandbox, redis_db, capsys, interval, start,
                                                             end):
    # Thanksgiving week 2025: no session on the 27th, a 13:00 close on the 28th (4 hourly bars).
    args = (*SYMBOLS, "--interval", interval, "--start", start, "--end", end)
    status, out, _ = backfill(capsys, *args, "--sync")
    assert status == 0, out
    assert redis_db.keys("finhub:history:absent:*") == []          # every bar expected was served
    ctx = Context(load_settings(), resolve_redis_url(load_settings()))
    begin, until = datetime.fromisoformat(f"{start}T00:00+00:00"), datetime.fromisoformat(f"{end}T00:00+00:00")
    with database.connect() as c:
        for asset in ctx.universe.select(["AAPL", "BTC"]):
            stored = c.execute(select(func.count()).where(prices.c.symbol == asset.symbol,
                                                          prices.c.interval == interval)).scalar()
            assert stored == len(bar_starts(asset, interval, begin, until + timedelta(days=1))), asset.symbol
    assert no_call_lines(backfill(capsys, *args, "--dry-run")[1]) == ["AAPL", "BTC"]
