"""Splits and dividends: stored from Yahoo's chart events when bars are fetched (the recorded AAPL 4:1
split of 2020-08-31 and MSFT's dividends), listed by `finhub actions`, and a split the sandbox
announces after bars were stored leaves no step in the stored adjusted series."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from finhub import cli
from finhub.calendar import calendar
from finhub.storage import make_engine, prices, stored_actions
from tests.history.helpers import backfill


def test_recorded_split_and_dividends_are_stored_and_listed(env, sandbox, capsys):
    assert backfill(capsys, "--symbols", "AAPL", "--start", "2020-08-31", "--end", "2020-11-06", "--sync")[0] == 0
    assert backfill(capsys, "--symbols", "MSFT", "--start", "2021-02-01", "--end", "2022-01-30", "--sync")[0] == 0
    engine = make_engine(env["FINHUB_DATABASE_URL"])
    assert [(a["date"], a["kind"], a["ratio"], a["amount"], a["source"]) for a in stored_actions(engine, "AAPL")] == [
        (date(2020, 8, 31), "split", 4.0, None, "yahoo"), (date(2020, 11, 6), "dividend", None, 0.205, "yahoo")]
    assert [(a["date"], a["kind"], a["amount"]) for a in stored_actions(engine, "MSFT")] == [
        (date(2021, 2, 17), "dividend", 0.56), (date(2021, 5, 19), "dividend", 0.56),
        (date(2021, 8, 18), "dividend", 0.56), (date(2021, 11, 17), "dividend", 0.62)]

    assert cli.main(["actions", "AAPL"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["2020-08-31", "split", "4:1", "yahoo"]
    assert out[2].split() == ["2020-11-06", "dividend", "0.2050", "yahoo"]
    # Fetching the same range again learns nothing new: no row twice.
    assert backfill(capsys, "--symbols", "AAPL", "--start", "2020-08-31", "--end", "2020-11-06", "--force",
                    "--sync")[0] == 0
    assert len(stored_actions(engine, "AAPL")) == 2


def closes(engine, symbol, interval):
    with engine.connect() as c:
        rows = c.execute(select(prices.c.timestamp, prices.c.price).where(
            prices.c.symbol == symbol, prices.c.interval == interval).order_by(prices.c.timestamp)).all()
    return [(r.timestamp if isinstance(r.timestamp, datetime) else datetime.fromisoformat(r.timestamp)
             .replace(tzinfo=UTC), r.price) for r in rows]


def biggest_move(series) -> float:
    return max(abs(b / a - 1) for (_, a), (_, b) in zip(series, series[1:]))


@pytest.mark.slow
def test_a_split_announced_after_bars_were_stored_leaves_no_step(env, database, sandbox, capsys):
    sessions = [s.date() for s in calendar().sessions_in_range(datetime.now(UTC).date() - timedelta(days=40),
                                                                 datetime.now(UTC).date() - timedelta(days=2))]
    first, split_day, last = sessions[0], sessions[len(sessions) // 2], sessions[-1]
    before_split = sessions[len(sessions) // 2 - 1]
    # NVDA split 4:1 on split_day, but Yahoo has not reported it yet: the bars before it are as traded.
    sandbox.configure("yahoo", splits={"NVDA": [[split_day.isoformat(), 4, False]]})
    for interval in ("1d", "1h"):
        assert backfill(capsys, "--symbols", "NVDA", "--interval", interval, "--start", f"{first}",
                        "--end", f"{before_split}", "--sync")[0] == 0
    traded, traded_hourly = closes(database, "NVDA", "1d"), closes(database, "NVDA", "1h")
    assert len(traded) == len(sessions) // 2 and biggest_move(traded) < 0.1

    # Yahoo now reports the split (and adjusts the bars before it); the next backfill carries it.
    sandbox.configure("yahoo", splits={"NVDA": [[split_day.isoformat(), 4, True]]})
    status, out, _ = backfill(capsys, "--symbols", "NVDA", "--start", f"{first}", "--end", f"{last}", "--sync")
    assert status == 0, out
    assert [(a["date"], a["kind"], a["ratio"]) for a in stored_actions(database, "NVDA")] == [
        (split_day, "split", 4.0)]
    daily, hourly = closes(database, "NVDA", "1d"), closes(database, "NVDA", "1h")
    assert len(daily) == len(sessions) and len(hourly) == len(traded_hourly)
    assert biggest_move(daily) < 0.1                                     # no 75 % drop at the split
    # Every stored bar before the split, of both intervals, now is a quarter of what was stored as traded.
    assert [p for _, p in daily[:len(traded)]] == [pytest.approx(p / 4, rel=1e-6) for _, p in traded]
    assert [p for _, p in hourly] == [pytest.approx(p / 4, rel=1e-6) for _, p in traded_hourly]
