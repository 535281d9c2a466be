"""The quarantine: observations rejected by validation, with every source's value and the reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select

from finhub.storage.engine import insert
from finhub.storage.schema import quarantine

#: Columns a caller supplies for a quarantined observation.
QUARANTINE_FIELDS = ("symbol", "asset_type", "interval", "timestamp", "reason", "detail", "observations")


def quarantine_rows(engine: Engine, rows: Sequence[Mapping]) -> int:
    """Store rejected observations; one row per (symbol, interval, timestamp), the latest verdict wins."""
    if not rows:
        return 0
    with engine.begin() as connection:
        return quarantine_rows_on(connection, rows)


def quarantine_rows_on(connection: Connection, rows: Sequence[Mapping]) -> int:
    """:func:`quarantine_rows` inside the caller's transaction."""
    if not rows:
        return 0
    now = datetime.now(UTC)
    values = [{**{c: row[c] for c in QUARANTINE_FIELDS}, "created_at": now} for row in rows]
    stmt = insert(quarantine, connection.dialect)
    stmt = stmt.on_conflict_do_update(
        index_elements=["symbol", "interval", "timestamp"],
        set_={c: getattr(stmt.excluded, c) for c in ("reason", "detail", "observations", "created_at")},
    )
    connection.execute(stmt, values)
    return len(values)


def recent_quarantined(engine: Engine, limit: int = 50, since: datetime | None = None) -> list[dict]:
    """The newest rejections first."""
    query = select(quarantine).order_by(quarantine.c.created_at.desc(), quarantine.c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(quarantine.c.created_at >= since)
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]
