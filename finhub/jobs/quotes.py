"""Live quotes: which assets are due, one batch fetched through the fallback chain, and what to do
with a batch the budgets throttled (wait, or leave it to the next scheduled run)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from finhub.calendar import stock_quotes_due
from finhub.config import Settings
from finhub.config.secrets import strip_secrets
from finhub.logs import get_logger
from finhub.model import Asset, AssetType, Observation
from finhub.planner.fallback import DEFAULT_RETRY_AFTER, Fetched, fetch_quotes
from finhub.runtime.context import Context
from finhub.runtime.health import record_job
from finhub.runtime.requeues import count_requeue
from finhub.storage import is_outage, latest_prices
from providers.base import Unavailable

log = get_logger(__name__)

#: Symbols every provider rejected, with why (read by ``status``).
BAD_SYMBOLS_KEY = "finhub:bad_symbols"
#: Quotes fetched, per ``asset_type:provider`` (counters; read by scripts/bench_quota.py).
SERVED_KEY = "finhub:quotes_served"
#: Throttled quote batches dropped because the next scheduled run came first, per asset type (counters).
SUPERSEDED_KEY = "finhub:quotes_superseded"


def batches(assets: Sequence[Asset], size: int) -> list[list[str]]:
    """Symbols in groups of ``size``: one message per provider call, never one per symbol."""
    symbols = [a.symbol for a in assets]
    return [symbols[i:i + size] for i in range(0, len(symbols), size)]


def due_stocks(ctx: Context, symbols: Iterable[str], now: datetime) -> list[Asset]:
    """The stocks worth a quote now: all while NYSE is open, else those without the last close (all of
    them while the database is unreachable: better a call too many than a close missed)."""
    assets = [a for a in ctx.universe.select(list(symbols)) if a.active]
    if not assets:
        return []
    try:
        latest = latest_prices(ctx.engine, "quote", [a.symbol for a in assets], columns=["timestamp"])
    except Exception as exc:
        if not is_outage(exc):
            raise
        # Fetch anyway: the quotes travel in the validation message, which waits out the outage.
        log.warning("database unreachable: stock quotes fetched without checking what is stored",
                    error=str(exc).splitlines()[0][:200])
        latest = {}
    return [a for a in assets if stock_quotes_due(now, latest.get(a.symbol, {}).get("timestamp"))]


def collect_quotes(ctx: Context, asset_type: AssetType, symbols: Sequence[str],
                   now: datetime | None = None) -> Fetched:
    """Fetch quotes for ``symbols`` through the fallback chain; record symbols no provider knows."""
    now = now or datetime.now(UTC)
    if asset_type == AssetType.STOCK:
        assets, chain = due_stocks(ctx, symbols, now), ctx.settings.fallback.stock_quote
    else:
        assets = [a for a in ctx.universe.select(list(symbols)) if a.active]
        chain = ctx.settings.fallback.crypto_quote
    if not assets:
        return Fetched()
    fetched = fetch_quotes(assets, chain, ctx.providers, ctx.quotas, ctx.breakers)
    record_rejected(ctx, fetched)
    for provider, count in Counter(o.provider for o in fetched.observations).items():
        ctx.redis.hincrby(SERVED_KEY, f"{asset_type}:{provider}", count)
    return fetched


def requeue_delay(settings: Settings, asset_type: AssetType, fetched: Fetched, scheduled: datetime,
                  now: datetime) -> float | None:
    """Seconds after which a throttled quote batch, first scheduled at ``scheduled``, is worth re-queuing;
    None when its job's next scheduled run, which asks for the same symbols, comes first.

    A short pause (``fetched.paused``: a per-second window, spacing, a busy slot) is always waited for:
    it lasts real seconds that ``time_scale`` does not shrink, so a compressed schedule (a stock run
    every 0.6 s at 0.002) would otherwise give up a batch waiting one second for a free slot. A spent
    budget is weighed against the schedule, however often the batch was re-queued before.
    """
    wait = fetched.retry_after if fetched.retry_after is not None else DEFAULT_RETRY_AFTER
    if fetched.paused:
        return wait
    every = settings.schedule.stock_quotes if asset_type == AssetType.STOCK else settings.schedule.crypto_quotes
    next_run = scheduled + timedelta(seconds=every * settings.time_scale)
    return wait if now + timedelta(seconds=wait) < next_run else None


def drop_superseded(ctx: Context, actor: str, asset_type: AssetType, symbols: list[str], scheduled: datetime,
                    fetched: Fetched) -> None:
    """Log (DEBUG: a spent budget is expected) and count a throttled batch left to the next scheduled
    run; the health job's summary says how many (finhub.runtime.requeues)."""
    ctx.redis.hincrby(SUPERSEDED_KEY, str(asset_type), 1)
    count_requeue(ctx.redis, actor, "dropped for the next run (budget spent)")
    log.debug("quote batch dropped: the next scheduled run asks for it before the budget has room",
                actor=actor, symbols=symbols, scheduled=scheduled.isoformat(timespec="seconds"),
                wait_s=round(fetched.retry_after or 0.0, 1), skipped=fetched.skipped)


def record_rejected(ctx: Context, fetched: Fetched) -> None:
    """Symbols no provider could price are warnings in the log and in ``status``, never retried."""
    for symbol, errors in fetched.rejected.items():
        reason = "; ".join(str(e) for e in errors) or "no provider in the chain serves it"
        ctx.redis.hset(BAD_SYMBOLS_KEY, symbol, strip_secrets(reason)[:300])
        log.warning("symbol rejected by every provider; check finhub.toml", symbol=symbol, reason=reason)
    if fetched.observations:
        ctx.redis.hdel(BAD_SYMBOLS_KEY, *{o.symbol for o in fetched.observations})


def to_message(obs: Observation) -> dict:
    """An observation as JSON-safe data for a Dramatiq message."""
    return {**{k: getattr(obs, k) for k in Observation.__slots__},
            "asset_type": str(obs.asset_type), "timestamp": obs.timestamp.isoformat(),
            "fetched_at": obs.fetched_at.isoformat()}


def from_message(data: dict) -> Observation:
    return Observation(**{**data, "asset_type": AssetType(data["asset_type"]),
                          "timestamp": datetime.fromisoformat(data["timestamp"]),
                          "fetched_at": datetime.fromisoformat(data["fetched_at"])})


@dataclass
class BatchOutcome:
    """What one quote message did, and what its actor must send next."""

    #: the fetched quotes, as message data for the validation actor
    observations: list[dict] = field(default_factory=list)
    #: symbols to send again after ``requeue_after`` seconds (a throttled batch worth waiting for)
    requeue: list[str] = field(default_factory=list)
    requeue_after: float = 0.0
    #: every provider failing: raised by the actor (after it sent what was fetched) so that the
    #: Retries middleware backs off
    failure: Unavailable | None = None


def quote_batch(ctx: Context, job: str, asset_type: AssetType, symbols: Sequence[str], scheduled: datetime,
                now: datetime | None = None) -> BatchOutcome:
    """Fetch one batch of quotes and decide what becomes of the symbols no provider served now:
    re-queued when the budget has room before the job's next scheduled run (``scheduled`` is when
    the driver's run sent the batch), dropped when that run comes first, retried with backoff when
    every provider failed."""
    fetched = collect_quotes(ctx, asset_type, symbols, now)
    outcome = BatchOutcome(observations=[to_message(o) for o in fetched.observations])
    record_job(ctx.redis, job, "ok" if not fetched.pending and not fetched.rejected else "partial",
               f"{len(fetched.observations)} quotes, {len(fetched.pending)} pending, {len(fetched.rejected)} rejected")
    if not fetched.pending:
        return outcome
    pending = [a.symbol for a in fetched.pending]
    if not fetched.throttled:
        outcome.failure = Unavailable("+".join(fetched.skipped) or "chain", f"no provider could serve {pending}")
        return outcome
    delay = requeue_delay(ctx.settings, asset_type, fetched, scheduled, datetime.now(UTC))
    if delay is None:
        drop_superseded(ctx, job, asset_type, pending, scheduled, fetched)
    else:
        outcome.requeue, outcome.requeue_after = pending, delay
        count_requeue(ctx.redis, job, "budget spent")  # summarised by the health job
        log.debug("quota reached, re-queued", actor=job, symbols=pending, delay_s=round(delay, 1))
    return outcome
