"""Validation's verdicts on SQLite and PostgreSQL: price rows and quarantine in one transaction."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from finhub.storage import prices, quarantine, recent_quarantined, store_judged

T0 = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


def row(symbol, status, sources, deviation=None, price=100.0):
    return {"symbol": symbol, "asset_type": "stock", "interval": "quote", "timestamp": T0, "price": price,
            "source": sources.split(",")[0], "validation_status": status, "sources": sources,
            "max_deviation_pct": deviation}


def rejected(symbol, reason="disagreement"):
    return {"symbol": symbol, "asset_type": "stock", "interval": "quote", "timestamp": T0, "reason": reason,
            "detail": "alphavantage 110, yahoo 100 differ", "observations": [
                {"provider": "alphavantage", "price": 110.0, "timestamp": T0.isoformat()},
                {"provider": "yahoo", "price": 100.0, "timestamp": T0.isoformat()}]}


def stored(engine):
    with engine.connect() as c:
        return {r.symbol: r for r in c.execute(select(prices)).all()}


def test_validated_single_source_and_quarantined_in_one_go_and_a_rerun_stores_nothing_twice(engine):
    batch = [row("AAPL", "validated", "alphavantage,yahoo", 0.4), row("MSFT", "single_source", "yahoo")]
    for _ in range(2):
        assert store_judged(engine, batch, [rejected("IBM")]) == (2, 1)
    rows = stored(engine)
    assert set(rows) == {"AAPL", "MSFT"}
    assert (rows["AAPL"].validation_status, rows["AAPL"].sources, rows["AAPL"].max_deviation_pct) == (
        "validated", "alphavantage,yahoo", 0.4)
    assert (rows["MSFT"].validation_status, rows["MSFT"].sources, rows["MSFT"].max_deviation_pct) == (
        "single_source", "yahoo", None)
    (ibm,) = recent_quarantined(engine)
    assert ibm["symbol"] == "IBM" and [o["price"] for o in ibm["observations"]] == [110.0, 100.0]


def test_a_rejection_never_deletes_a_stored_row_unless_the_sweep_moves_it(engine):
    store_judged(engine, [row("AAPL", "single_source", "yahoo")], [])
    store_judged(engine, [], [rejected("AAPL", "stale")])
    assert set(stored(engine)) == {"AAPL"}
    store_judged(engine, [], [rejected("AAPL")], move=True)
    assert stored(engine) == {} and recent_quarantined(engine)[0]["reason"] == "disagreement"


def test_a_bad_row_writes_nothing_at_all(engine):
    with pytest.raises(ValueError, match="finite and positive"):
        store_judged(engine, [row("AAPL", "validated", "yahoo"), row("MSFT", "single_source", "yahoo", price=-1.0)],
                     [rejected("IBM")])
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(quarantine)).scalar() == 0
    assert stored(engine) == {}
