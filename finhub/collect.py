"""The work behind the actors, as plain functions over a :class:`~finhub.context.Context`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

from finhub.context import Context
from finhub.fallback import Fetched, fetch_quotes
from finhub.logs import get_logger
from finhub.market_hours import stock_quotes_due
from finhub.plan import TOP_CRYPTOS
from finhub.quota import Purpose, Reservation
from finhub.settings import Settings
from finhub.storage import delete_older_than, latest_prices, store_snapshot, upsert_prices
from finhub.universe import Asset, AssetType
from providers.base import Observation, RetryLater, Unavailable

log = get_logger(__name__)

#: Redis keys read by ``status``.
BAD_SYMBOLS_KEY = "finhub:bad_symbols"
JOBS_KEY = "finhub:jobs"
QUEUES_KEY = "finhub:health:queues"
#: Quotes fetched, per ``asset_type:provider`` (counters; read by scripts/bench_quota.py).
SERVED_KEY = "finhub:quotes_served"
#: Throttled quote batches dropped because the next scheduled run came first, per asset type (counters).
SUPERSEDED_KEY = "finhub:quotes_superseded"
#: The queues finhub's actors use, by purpose.
QUEUES = ("prices", "validation", "history", "maintenance")


def batches(assets: Sequence[Asset], size: int) -> list[list[str]]:
    """Symbols in groups of ``size``: one message per provider call, never one per symbol."""
    symbols = [a.symbol for a in assets]
    return [symbols[i:i + size] for i in range(0, len(symbols), size)]


def due_stocks(ctx: Context, symbols: Iterable[str], now: datetime) -> list[Asset]:
    """The stocks worth a quote now: all while NYSE is open, else those without the last close."""
    assets = [a for a in ctx.universe.select(list(symbols)) if a.active]
    if not assets:
        return []
    latest = latest_prices(ctx.engine, "quote", [a.symbol for a in assets], columns=["timestamp"])
    return [a for a in assets if stock_quotes_due(now, latest.get(a.symbol, {}).get("timestamp"))]


def collect_quotes(ctx: Context, asset_type: AssetType, symbols: Sequence[str],
                   now: datetime | None = None) -> Fetched:
    """Fetch quotes for ``symbols`` through the fallback chain; record symbols no provider knows."""
    now = now or datetime.now(timezone.utc)
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
    if fetched.paused:
        return fetched.retry_after
    every = settings.schedule.stock_quotes if asset_type == AssetType.STOCK else settings.schedule.crypto_quotes
    next_run = scheduled + timedelta(seconds=every * settings.time_scale)
    return fetched.retry_after if now + timedelta(seconds=fetched.retry_after) < next_run else None


def drop_superseded(ctx: Context, actor: str, asset_type: AssetType, symbols: list[str], scheduled: datetime,
                    fetched: Fetched) -> None:
    """Log and count a throttled batch left to the next scheduled run."""
    ctx.redis.hincrby(SUPERSEDED_KEY, str(asset_type), 1)
    log.warning("quote batch dropped: the next scheduled run asks for it before the budget has room",
                actor=actor, symbols=symbols, scheduled=scheduled.isoformat(timespec="seconds"),
                wait_s=round(fetched.retry_after, 1), skipped=fetched.skipped)


def record_rejected(ctx: Context, fetched: Fetched) -> None:
    """Symbols no provider could price are warnings in the log and in ``status``, never retried."""
    for symbol, errors in fetched.rejected.items():
        reason = "; ".join(str(e) for e in errors) or "no provider in the chain serves it"
        ctx.redis.hset(BAD_SYMBOLS_KEY, symbol, reason[:300])
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


def store_single_source(ctx: Context, observations: Sequence[Observation]) -> int:
    """Store observations as single-source rows (history bars; idempotent on symbol, interval, market time)."""
    rows = [{"symbol": o.symbol, "asset_type": str(o.asset_type), "interval": o.interval,
             "timestamp": o.timestamp, "price": o.price, "open": o.open, "high": o.high, "low": o.low,
             "volume": o.volume, "market_cap": o.market_cap, "source": o.provider,
             "validation_status": "single_source", "sources": o.provider} for o in observations]
    return upsert_prices(ctx.engine, rows)


def snapshot_rankings(ctx: Context, kind: str, snapshot_at: datetime) -> int | Reservation:
    """Store CoinGecko's top cryptos (``kind="top"``) or trending list as of ``snapshot_at``.

    Returns the coins stored, or the refused reservation when the budget has no room now.
    """
    provider = ctx.providers.get("coingecko")
    if provider is None or not ctx.breakers.allow("coingecko"):
        raise Unavailable("coingecko", "breaker open")
    reservation = ctx.quotas.reserve("coingecko", Purpose.QUOTES, 1 if kind == "trending" else -(-TOP_CRYPTOS // 250))
    if not reservation:
        return reservation
    try:
        coins = provider.top_cryptos(TOP_CRYPTOS) if kind == "top" else provider.trending()
    except RetryLater as exc:
        ctx.breakers.record_failure("coingecko", str(exc))
        raise
    ctx.breakers.record_success("coingecko")
    return store_snapshot(ctx.engine, kind, snapshot_at, coins)


def cleanup(ctx: Context, now: datetime | None = None) -> int:
    """Delete history older than the retention period, in bounded batches."""
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=ctx.settings.retention_days)
    return delete_older_than(ctx.engine, cutoff)


def queue_depths(redis, queues: Iterable[str] = QUEUES) -> dict[str, dict[str, int]]:
    """Waiting, delayed, in-flight and dead messages per queue, read from dramatiq's Redis keys."""
    acks = {}
    for key in redis.scan_iter("dramatiq:__acks__.*"):
        queue = key.rsplit(".", 1)[-1]
        acks[queue] = acks.get(queue, 0) + redis.scard(key)
    return {q: {"waiting": redis.llen(f"dramatiq:{q}"), "delayed": redis.hlen(f"dramatiq:{q}.DQ.msgs"),
                "in_flight": acks.get(q, 0) + acks.get(f"{q}.DQ", 0), "dead": redis.zcard(f"dramatiq:{q}.XQ")}
            for q in queues}


def record_job(ctx: Context, job: str, outcome: str, detail: str = "", now: datetime | None = None) -> None:
    """Remember a job's last run for ``status`` (``outcome``: ok, partial, failed, skipped)."""
    stamp = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    ctx.redis.hset(JOBS_KEY, job, f"{stamp} {outcome} {detail}"[:400])


def health(ctx: Context) -> dict:
    """Queue depths and provider breakers, written to Redis for ``status``."""
    depths = queue_depths(ctx.redis)
    ctx.redis.set(QUEUES_KEY, repr(depths))
    breakers = {name: ctx.breakers.health(name) for name in ctx.providers}
    for name, state in breakers.items():
        if state.state != "closed":
            log.warning("provider breaker not closed", provider=name, state=str(state.state),
                        retry_after=round(state.retry_after), last_error=state.last_error)
    return {"queues": depths, "breakers": breakers}


