"""Live quotes: fetch a batch through the fallback chain, then validate and store it."""

from datetime import UTC, datetime

import dramatiq

from finhub.jobs import crosscheck, quotes
from finhub.model import AssetType
from finhub.runtime.context import current
from finhub.runtime.health import record_job
from finhub.runtime.requeues import retry_later

#: A live-quote message older than this is dropped: the next scheduled run is fresher.
QUOTE_MAX_AGE_MS = 10 * 60_000
#: Longest a quote batch may run (its HTTP calls have their own, shorter timeouts).
QUOTE_TIME_LIMIT_MS = 120_000


def _quotes(actor, asset_type: AssetType, symbols: list[str], scheduled: str | None) -> None:
    # A batch sent by hand (or before scheduled runs were stamped) counts as scheduled now.
    scheduled_at = datetime.fromisoformat(scheduled) if scheduled else datetime.now(UTC)
    ctx = current()
    outcome = quotes.quote_batch(ctx, actor.actor_name, asset_type, symbols, scheduled_at)
    if outcome.observations:
        validate_and_store.send(outcome.observations)
    if outcome.requeue:
        actor.send_with_options(args=(outcome.requeue, scheduled_at.isoformat()),
                                delay=int(outcome.requeue_after * 1000))
    if outcome.failure is not None:  # every provider failing: back off, quietly (an expected condition)
        raise retry_later(ctx.redis, actor.actor_name, outcome.failure)


@dramatiq.actor(queue_name="prices", max_age=QUOTE_MAX_AGE_MS, time_limit=QUOTE_TIME_LIMIT_MS)
def stock_quotes(symbols: list[str], scheduled: str | None = None) -> None:
    """Quotes for ``symbols``; ``scheduled`` is when the driver's run sent them (ISO 8601, UTC)."""
    _quotes(stock_quotes, AssetType.STOCK, symbols, scheduled)


@dramatiq.actor(queue_name="prices", max_age=QUOTE_MAX_AGE_MS, time_limit=QUOTE_TIME_LIMIT_MS)
def crypto_quotes(symbols: list[str], scheduled: str | None = None) -> None:
    """Quotes for ``symbols``; ``scheduled`` is when the driver's run sent them (ISO 8601, UTC)."""
    _quotes(crypto_quotes, AssetType.CRYPTO, symbols, scheduled)


@dramatiq.actor(queue_name="validation", time_limit=QUOTE_TIME_LIMIT_MS)
def validate_and_store(observations: list[dict]) -> None:
    """Cross-check what the quote actors fetched, then store or quarantine it (see finhub.jobs.crosscheck)."""
    ctx = current()
    decisions = crosscheck.validate_batch(ctx, [quotes.from_message(o) for o in observations])
    record_job(ctx.redis, "validate_and_store", "ok", crosscheck.counts(decisions))


@dramatiq.actor(queue_name="validation", max_retries=0, max_age=10 * 60_000, time_limit=QUOTE_TIME_LIMIT_MS)
def validation_sweep() -> None:
    """Give the last hour's single-source quotes a second look (the next sweep retries what fails)."""
    ctx = current()
    done = crosscheck.sweep(ctx)
    record_job(ctx.redis, "validation_sweep", "ok",
               f"{done['examined']} single-source rows, {done['checked']} checked: {done['validated']} "
               f"validated, {done['quarantined']} quarantined")
