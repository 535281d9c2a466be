"""Housekeeping: retention clean-up, the health snapshot, and the crypto ranking snapshots."""

from datetime import datetime

import dramatiq

from finhub.jobs import maintenance, rankings
from finhub.planner.quota import Reservation
from finhub.runtime.context import current
from finhub.runtime.health import record_job
from finhub.runtime.requeues import count_requeue, retry_later
from providers.base import RetryLater


@dramatiq.actor(queue_name="maintenance", max_retries=3)
def cleanup() -> None:
    ctx = current()
    deleted = maintenance.cleanup(ctx)
    record_job(ctx.redis, "cleanup", "ok", f"{deleted} rows past their interval's retention deleted")


@dramatiq.actor(queue_name="maintenance", max_retries=0, max_age=5 * 60_000)
def health() -> None:
    ctx = current()
    snapshot = maintenance.health(ctx)
    open_breakers = [n for n, h in snapshot["breakers"].items() if h.state != "closed"]
    record_job(ctx.redis, "health", "ok" if not open_breakers else "partial",
               f"breakers open: {', '.join(open_breakers)}" if open_breakers else "all providers closed")


@dramatiq.actor(queue_name="prices", max_age=30 * 60_000, max_retries=3)
def crypto_rankings(kind: str, snapshot_at: str) -> None:
    """Snapshot the top cryptos (``kind="top"``) or the trending list, stamped with its scheduled time."""
    ctx = current()
    try:
        stored = rankings.snapshot_rankings(ctx, kind, datetime.fromisoformat(snapshot_at))
    except RetryLater as exc:  # CoinGecko unreachable or its breaker open: back off, quietly
        raise retry_later(ctx.redis, "crypto_rankings", exc) from None
    if isinstance(stored, Reservation):
        count_requeue(ctx.redis, "crypto_rankings", "budget spent")
        crypto_rankings.send_with_options(args=(kind, snapshot_at), delay=int(stored.retry_after * 1000))
        record_job(ctx.redis, rankings.JOBS[kind], "deferred", f"quota: retry in {stored.retry_after:.0f}s")
        return
    record_job(ctx.redis, rankings.JOBS[kind], "ok", f"{stored} coins stored")
