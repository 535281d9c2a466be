"""``python -m finhub status``: queues, jobs, stored data, provider health and asset warnings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy.exc import SQLAlchemyError

from finhub.commands import iso_utc
from finhub.jobs.quotes import BAD_SYMBOLS_KEY, SUPERSEDED_KEY
from finhub.runtime.context import Context
from finhub.runtime.health import (
    JOBS_KEY,
    database_unreachable,
    live_consumers,
    queue_depths,
    redis_unreachable,
    stale_quotes,
)
from finhub.runtime.redis import resolve_redis_url
from finhub.storage import latest_prices, make_engine, migrate, summary
from finhub.storage.quality import quarantine_count, validated_share, validation_counts
from providers.registry import BY_NAME


def register(subparsers) -> None:
    parser = subparsers.add_parser("status", help="queue depths, last job runs, stored rows, provider health")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    """Each section that can be read is printed; each unreachable service is one line; exit 1 then."""
    problems = []
    try:
        ctx = Context(settings, resolve_redis_url(settings))
        problem = redis_unreachable(ctx.redis_url)
    except RuntimeError as exc:
        ctx, problem = Context(settings, ""), f"Redis unreachable ({exc})"
    if problem is None:
        try:
            _redis_sections(ctx, settings)
        except (redis.RedisError, OSError) as exc:
            problem = f"Redis stopped answering ({exc})"
    if problem:
        print(f"redis: {problem}")
        problems.append(problem)
    db_problem = database_unreachable(settings.database)
    if db_problem is None:
        try:
            _database_sections(ctx, settings, redis_ok=problem is None)
        except (SQLAlchemyError, OSError) as exc:
            db_problem = f"database stopped answering ({str(exc).splitlines()[0]})"
        except (redis.RedisError) as exc:
            problems.append(f"Redis stopped answering ({exc})")
            print(f"redis: {problems[-1]}")
    if db_problem:
        print(f"database: {db_problem}")
        problems.append(db_problem)
    return 1 if problems else 0


def _redis_sections(ctx: Context, settings) -> None:
    r = ctx.redis
    persistence = r.config_get("appendonly").get("appendonly")
    print(f"redis: {settings.redis_url or 'default'}; append-only persistence {persistence}")
    if persistence != "yes":
        print("  WARNING: this Redis keeps no append-only file: queued messages are lost when it restarts "
              "(set appendonly yes and maxmemory-policy noeviction)")
    consumers = live_consumers(r)
    print("\nqueues              waiting  delayed  in-flight  dead  live workers")
    for queue, d in queue_depths(r).items():
        live = consumers.get(queue, 0)
        print(f"  {queue:16} {d['waiting']:9} {d['delayed']:8} {d['in_flight']:10} {d['dead']:5}  "
              + (f"{live}" if live else "0: NO live worker consumes this queue"))
    print("\njobs (last run, outcome, detail)")
    jobs: dict[str, str] = r.hgetall(JOBS_KEY)  # type: ignore[assignment]  # decode_responses=True
    for job in sorted(jobs) or ["(none has run yet)"]:
        print(f"  {job:20} {jobs.get(job, '')}")


def _database_sections(ctx: Context, settings, redis_ok: bool) -> None:
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
    if redis_ok:
        r = ctx.redis
        print("\nproviders")
        for name in BY_NAME:
            h = ctx.breakers.health(name)
            extra = f", retry in {h.retry_after:.0f}s, last error: {h.last_error}" if h.state != "closed" else ""
            print(f"  {name:13} breaker {h.state}{extra}")
    print_quality(engine, ctx.redis if redis_ok else None, datetime.now(UTC))
    warnings = [f"{s}: {n}" for s, n in ctx.universe.notices]
    warnings += [f"{a.symbol}: no fresh quote, "
                 + (f"the newest is from {iso_utc(last)}" if last else "none stored yet") for a, last in stale]
    if redis_ok:
        bad: dict[str, str] = r.hgetall(BAD_SYMBOLS_KEY)  # type: ignore[assignment]  # decode_responses=True
        rejected = sorted(bad.items())
        warnings += [f"{s}: rejected by every provider: {reason}" for s, reason in rejected]
    print("\nasset warnings")
    for line in warnings or ["(none)"]:
        print(f"  {line}")


def quality(engine, r, now: datetime) -> dict:
    """How well checked the data is: per asset type the quotes written in the last hour and their
    validated share, the quarantine's size, and the throttled quote batches dropped for their next
    scheduled run (None without Redis)."""
    counts = validation_counts(engine, now - timedelta(hours=1))
    superseded = {k: int(v) for k, v in r.hgetall(SUPERSEDED_KEY).items()} if r is not None else None
    return {"last_hour": {kind: {"quotes": sum(c.values()), "validated_share": validated_share(c)}
                          for kind, c in sorted(counts.items())},
            "quarantined": quarantine_count(engine), "superseded_batches": superseded}


def print_quality(engine, r, now: datetime) -> None:
    """The ``data quality`` section of ``status``."""
    q = quality(engine, r, now)
    print("\ndata quality")
    for kind, figures in q["last_hour"].items() or [("(none)", None)]:
        if figures is None:
            print("  no quote stored in the last hour")
            continue
        share = figures["validated_share"]
        print(f"  {kind:8} {figures['quotes']:6,} quotes in the last hour, "
              f"{'-' if share is None else f'{share:.1%}'} validated (cross-checked by a second provider)")
    print(f"  quarantine: {q['quarantined']:,} observations (finhub quarantine lists them)")
    if q["superseded_batches"] is not None:
        dropped = q["superseded_batches"]
        print("  throttled quote batches dropped for their next scheduled run: "
              + (", ".join(f"{k} {v:,}" for k, v in sorted(dropped.items())) or "none"))
