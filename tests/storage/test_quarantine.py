"""The quarantine on SQLite and PostgreSQL: every source's value, the reason, idempotent."""

from datetime import UTC, datetime

from finhub.storage import quarantine_rows, recent_quarantined

T0 = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
SOURCES = [{"provider": "coingecko", "price": 105.0, "timestamp": T0.isoformat()},
           {"provider": "yahoo", "price": 100.0, "timestamp": T0.isoformat()}]


def test_quarantine_keeps_every_source_and_the_reason(engine):
    entry = {"symbol": "BTC", "asset_type": "crypto", "interval": "quote", "timestamp": T0,
             "reason": "disagreement", "detail": "coingecko 5.0% from yahoo", "observations": SOURCES}
    quarantine_rows(engine, [entry])
    quarantine_rows(engine, [dict(entry, detail="again")])  # redelivered: still one row, newest verdict
    rows = recent_quarantined(engine)
    assert len(rows) == 1
    assert rows[0]["observations"] == SOURCES and rows[0]["reason"] == "disagreement"
    assert rows[0]["detail"] == "again" and rows[0]["timestamp"] == T0
