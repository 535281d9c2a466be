"""Writing validation's verdicts: price rows and quarantined observations in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Engine, bindparam

from finhub.storage.partitions import ensure_partitions
from finhub.storage.prices import lock_latest_on, refresh_latest_on, upsert_prices_on
from finhub.storage.quarantine import quarantine_rows_on
from finhub.storage.schema import prices

_DELETE_BY_KEY = prices.delete().where(prices.c.symbol == bindparam("k_symbol"),
                                       prices.c.interval == bindparam("k_interval"),
                                       prices.c.timestamp == bindparam("k_timestamp"))


def store_judged(engine: Engine, price_rows: Sequence[Mapping], quarantined: Sequence[Mapping],
                 move: bool = False) -> tuple[int, int]:
    """Upsert ``price_rows`` and ``quarantined`` together, both idempotent on their natural key.

    With ``move`` (the validation sweep), a stored price row with the key of a quarantined
    observation is deleted in the same transaction: the observation moves to the quarantine.
    Without it a stored row is never touched by a later rejection of the same market time.
    Returns (price rows written, quarantine rows written).
    """
    if not price_rows and not quarantined:
        return 0, 0
    ensure_partitions(engine, price_rows)
    with engine.begin() as connection:
        if move and quarantined:  # two passes over the copies: the upsert's, then the move's
            lock_latest_on(connection, {(r["symbol"], r["interval"]) for r in (*price_rows, *quarantined)})
        written = upsert_prices_on(connection, price_rows)
        if move and quarantined:
            connection.execute(_DELETE_BY_KEY, [{"k_symbol": q["symbol"], "k_interval": q["interval"],
                                                 "k_timestamp": q["timestamp"]} for q in quarantined])
            refresh_latest_on(connection, {(q["symbol"], q["interval"]) for q in quarantined})
        return written, quarantine_rows_on(connection, quarantined)
