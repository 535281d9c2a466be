"""Splits and dividends (``assets_corporateactions``), and which stored bars an action makes stale."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import Engine, func, select

from finhub.model import AssetType, day_start
from finhub.storage.engine import insert
from finhub.storage.schema import UTC_TIME, corporate_actions, prices


def store_actions(engine: Engine, actions: Sequence) -> list:
    """Store ``actions`` (:class:`providers.base.CorporateAction`-like: symbol, day, kind, value,
    source); returns the ones not stored before, which may make stored adjusted bars stale.
    Idempotent on (symbol, date, kind): an action seen again is not new."""
    if not actions:
        return []
    keys = {(a.symbol, a.day, a.kind): a for a in actions}
    symbols = sorted({a.symbol for a in actions})
    now = datetime.now(UTC)
    with engine.begin() as connection:
        known = {tuple(row) for row in connection.execute(
            select(corporate_actions.c.symbol, corporate_actions.c.date, corporate_actions.c.kind)
            .where(corporate_actions.c.symbol.in_(symbols)))}
        new = [a for key, a in keys.items() if key not in known]
        if new:
            rows = [{"symbol": a.symbol, "date": a.day, "kind": a.kind, "source": a.source, "created_at": now,
                     "ratio": a.value if a.kind == "split" else None,
                     "amount": a.value if a.kind == "dividend" else None} for a in new]
            stmt = insert(corporate_actions, connection.dialect).values(rows)
            connection.execute(stmt.on_conflict_do_nothing(index_elements=["symbol", "date", "kind"]))
    return new


def stored_actions(engine: Engine, symbol: str) -> list[dict]:
    """``symbol``'s splits and dividends, oldest first."""
    query = select(corporate_actions).where(corporate_actions.c.symbol == symbol).order_by(
        corporate_actions.c.date, corporate_actions.c.kind)
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def bars_written_before(engine: Engine, symbol: str, before: datetime,
                        written_before: datetime) -> dict[str, tuple[datetime, datetime]]:
    """Per bar interval, the first and last market time of ``symbol``'s bars before ``before`` that
    were written before ``written_before``: the bars an action learned since then may have made stale."""
    query = (select(prices.c.interval, func.min(prices.c.timestamp), func.max(prices.c.timestamp))
             .where(prices.c.symbol == symbol, prices.c.interval != "quote", prices.c.timestamp < before,
                    prices.c.updated_at < written_before)
             .group_by(prices.c.interval))
    convert = UTC_TIME.process_result_value
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return {interval: (convert(first, engine.dialect), convert(last, engine.dialect))
            for interval, first, last in rows}


def ex_date_start(day: date) -> datetime:
    """Midnight New York of an ex-date: bars before it are the ones its adjustment changes."""
    return day_start(day, AssetType.STOCK)
