"""Counts over the stored rows for ``status`` and ``/metrics``: rows per asset type and validation
status with the newest market time, and quarantined observations per reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select

from finhub.storage.schema import UTC_TIME, prices, quarantine


def history_counts(engine: Engine) -> dict[tuple[str, str], tuple[int, datetime | None]]:
    """(asset_type, validation_status) -> (rows, newest market time) over the whole history."""
    query = (select(prices.c.asset_type, prices.c.validation_status, func.count(), func.max(prices.c.timestamp))
             .group_by(prices.c.asset_type, prices.c.validation_status))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    convert = UTC_TIME.process_result_value
    return {(t, s): (n, convert(newest, engine.dialect) if isinstance(newest, str) else newest)
            for t, s, n, newest in rows}


def quarantine_counts(engine: Engine) -> dict[str, int]:
    """Quarantined observations kept, per reason."""
    query = select(quarantine.c.reason, func.count()).group_by(quarantine.c.reason)
    with engine.connect() as connection:
        return {reason: n for reason, n in connection.execute(query).all()}
