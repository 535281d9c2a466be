"""``python -m finhub status``: queues, jobs, stored data, provider health and asset warnings."""

from __future__ import annotations

from datetime import UTC, datetime

from finhub.commands import iso_utc
from finhub.jobs.quotes import BAD_SYMBOLS_KEY
from finhub.runtime.context import Context
from finhub.runtime.health import JOBS_KEY, queue_depths, stale_quotes
from finhub.runtime.redis import resolve_redis_url
from finhub.storage import latest_prices, make_engine, migrate, summary
from providers.registry import BY_NAME


def register(subparsers) -> None:
    parser = subparsers.add_parser("status", help="queue depths, last job runs, stored rows, provider health")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    try:
        ctx = Context(settings, resolve_redis_url(settings))
        ctx.redis.ping()
    except Exception as exc:  # noqa: BLE001 - a status report must say what it could not reach
        print(f"redis: unreachable ({exc})")
        return 1
    r = ctx.redis
    persistence = r.config_get("appendonly").get("appendonly")
    print(f"redis: {settings.redis_url or 'default'}; append-only persistence {persistence}")
    if persistence != "yes":
        print("  WARNING: this Redis keeps no append-only file: queued messages are lost when it restarts "
              "(set appendonly yes and maxmemory-policy noeviction)")
    print("\nqueues              waiting  delayed  in-flight  dead")
    for queue, d in queue_depths(r).items():
        print(f"  {queue:16} {d['waiting']:9} {d['delayed']:8} {d['in_flight']:10} {d['dead']:5}")
    print("\njobs (last run, outcome, detail)")
    jobs = r.hgetall(JOBS_KEY)
    for job in sorted(jobs) or ["(none has run yet)"]:
        print(f"  {job:20} {jobs.get(job, '')}")
    engine = make_engine(settings.database)
    migrate(engine)
    print("\nhistory (assets_assetpriceshistoric)")
    for asset_type, (rows, latest) in sorted(summary(engine).items()) or [("(empty)", (0, None))]:
        print(f"  {asset_type:8} {rows:10,} rows, latest market time {latest.isoformat() if latest else '-'}")
    active = [a for a in ctx.universe if a.active]
    quotes = latest_prices(engine, "quote", [a.symbol for a in active], columns=["timestamp"])
    stale = stale_quotes(active, {s: r["timestamp"] for s, r in quotes.items()}, settings.schedule,
                         datetime.now(UTC))
    print(f"  quotes: {len(active) - len(stale)} of {len(active)} active assets fresh")
    print("\nproviders")
    for name in BY_NAME:
        h = ctx.breakers.health(name)
        extra = f", retry in {h.retry_after:.0f}s, last error: {h.last_error}" if h.state != "closed" else ""
        print(f"  {name:13} breaker {h.state}{extra}")
    warnings = [f"{s}: {n}" for s, n in ctx.universe.notices]
    warnings += [f"{a.symbol}: no fresh quote, "
                 + (f"the newest is from {iso_utc(last)}" if last else "none stored yet") for a, last in stale]
    rejected = sorted(r.hgetall(BAD_SYMBOLS_KEY).items())
    warnings += [f"{s}: rejected by every provider: {reason}" for s, reason in rejected]
    print("\nasset warnings")
    for line in warnings or ["(none)"]:
        print(f"  {line}")
    return 0
