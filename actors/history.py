"""History bars and daily levels, on their own queues so they never delay live quotes."""

from datetime import datetime

import dramatiq

from finhub import aggregation, backfill, collect
from finhub.context import current
from finhub.logs import get_logger
from providers.base import Unavailable

log = get_logger(__name__)


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dramatiq.actor(queue_name="history", max_retries=5, time_limit=10 * 60_000)
def history_bars(symbols: list[str], interval: str, start: str | None = None, end: str | None = None,
                 force: bool = False, run: str | None = None) -> None:
    """Bring ``symbols``' bars of ``interval`` up to date (from ``start`` to ``end`` for a backfill)."""
    ctx = current()
    outcome = backfill.history_run(ctx, symbols, interval, _when(start), _when(end), force, run)
    collect.record_job(ctx, "history", "ok" if not outcome.failed and not outcome.pending else "partial",
                       f"{sum(outcome.rows.values())} bars, {len(outcome.pending)} pending, "
                       f"{len(outcome.failed)} failed")
    if outcome.pending:
        pending = [t.symbol for t in outcome.pending]
        if outcome.budget_spent:  # come back when the budget has room, without spending retries
            history_bars.send_with_options(args=(pending, interval, start, end, force, run),
                                           delay=int((outcome.retry_after or 30) * 1000))
            log.info("history budget reached, re-queued", symbols=pending, delay_s=outcome.retry_after)
        else:
            raise Unavailable("history chain", f"no provider could serve {pending} now")


@dramatiq.actor(queue_name="history", max_retries=3, time_limit=10 * 60_000)
def market_aggregation(symbols: list[str] | None = None) -> None:
    """Daily levels and next-day pivots of ``symbols`` (default: every active asset) from stored prices."""
    ctx = current()
    assets = [a for a in (ctx.universe.select(symbols) if symbols else ctx.universe) if a.active]
    written = aggregation.aggregate(ctx.engine, assets, aggregation.scheduled_since(ctx.engine))
    collect.record_job(ctx, "market_aggregation", "ok", f"{written} daily levels written")
