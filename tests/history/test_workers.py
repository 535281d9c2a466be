"""`backfill` without --sync: one message a symbol on the history queue, served by real ``dramatiq``
worker processes, progress read back from Redis, and the levels aggregated on the way."""

import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from finhub.runtime.workers import start_workers, stop_workers
from finhub.storage import make_engine, prices, stored_levels
from tests.history.helpers import backfill, chart_calls


@pytest.mark.slow
def test_backfill_through_workers_stores_every_bar_and_reports_progress(env, sandbox, capsys, monkeypatch):
    monkeypatch.delenv("FINHUB_CONFIG")  # the default chains: crypto history from Yahoo's OHLC bars
    workers = start_workers(1, {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    try:
        args = ("--symbols", "AAPL,BTC,NOPE1", "--start", "2024-03-01", "--end", "2024-03-31", "--timeout", "90")
        status, _, err = backfill(capsys, *args)
        assert status == 2 and "NOPE1" in err          # checked before anything is sent
        status, out, _ = backfill(capsys, *args[:1], "AAPL,BTC", *args[2:])
        assert status == 0, out
        assert "2/2 symbols done" in out and f"{20 + 31:,} rows stored" in out   # 20 sessions, 31 days
        assert chart_calls(sandbox)["coingecko"] == 0 and chart_calls(sandbox)["yahoo"] >= 2
    finally:
        stop_workers(workers)
    engine = make_engine(env["FINHUB_DATABASE_URL"])
    with engine.connect() as c:
        counts = dict(c.execute(select(prices.c.symbol, func.count()).group_by(prices.c.symbol)).all())
    assert counts == {"AAPL": 20, "BTC": 31}
    assert len(stored_levels(engine, "AAPL")) == 20 and len(stored_levels(engine, "BTC")) == 31  # real OHLC each day


def test_backfill_without_a_live_history_worker_says_so_within_seconds_and_offers_sync(env, sandbox, capsys,
                                                                                       monkeypatch):
    import time

    from finhub.commands import backfill as command

    monkeypatch.setattr(command, "NO_WORKER_GIVE_UP", 6.0)
    began = time.monotonic()
    status, out, err = backfill(capsys, "--symbols", "AAPL", "--start", "2024-03-01", "--end", "2024-03-31")
    assert status == 1 and time.monotonic() - began < 15
    assert "no live worker consumes the history queue" in err and "--sync" in err
    assert chart_calls(sandbox) == {"yahoo": 0, "coingecko": 0}
