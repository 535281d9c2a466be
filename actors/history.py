"""History bars and daily levels, on their own queue so they never delay live quotes."""

from datetime import datetime

import dramatiq

from finhub.jobs import aggregation, backfill
from finhub.runtime.context import current
from finhub.runtime.health import record_job
from finhub.runtime.requeues import retry_later
from providers.base import RetryLater


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dramatiq.actor(queue_name="history", max_retries=5, time_limit=10 * 60_000)
def history_bars(symbols: list[str], interval: str, start: str | None = None, end: str | None = None,
                 force: bool = False, run: str | None = None) -> None:
    """Bring ``symbols``' bars of ``interval`` up to date (from ``start`` to ``end`` for a backfill)."""
    ctx = current()
    try:
        pending, delay = backfill.history_message(ctx, symbols, interval, _when(start), _when(end), force, run)
    except RetryLater as exc:  # no provider could serve them now (not the budget): back off, quietly
        raise retry_later(ctx.redis, "history_bars", exc) from None
    if pending:  # the budget is spent: come back when it has room, without spending retries
        history_bars.send_with_options(args=(pending, interval, start, end, force, run), delay=int(delay * 1000))


@dramatiq.actor(queue_name="history", max_retries=3, time_limit=10 * 60_000)
def market_aggregation(symbols: list[str] | None = None) -> None:
    """Daily levels and next-day pivots of ``symbols`` (default: every active asset) from stored prices."""
    ctx = current()
    assets = [a for a in (ctx.universe.select(symbols) if symbols else ctx.universe) if a.active]
    written = aggregation.aggregate(ctx.engine, assets, aggregation.scheduled_since(ctx.engine))
    record_job(ctx.redis, "market_aggregation", "ok", f"{written} daily levels written")
