"""The status document: everything ``finhub status`` prints, as one dict read from Redis and the
database now. ``finhub status --json`` prints it, ``GET /api/status`` returns it, the web page and
``/metrics`` are drawn from it; the text ``status`` renders it (finhub.commands.status).

A section whose service cannot be read is ``None`` and the service's ``problem`` says why; the
rest is still filled. ``attention`` lists what an operator must look at (``status`` exits 1 then).
No value carries a secret: URLs are shown with their password masked, errors were stripped where
they were built.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis as redis_lib
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from finhub.config.secrets import redact_url, strip_secrets
from finhub.jobs.quotes import BAD_SYMBOLS_KEY, SUPERSEDED_KEY
from finhub.model import Asset
from finhub.runtime.context import Context
from finhub.runtime.health import (
    JOBS_KEY,
    database_unreachable,
    live_consumers,
    live_workers,
    queue_depths,
    redis_unreachable,
    staleness,
)
from finhub.runtime.lease import LEASE_KEY
from finhub.storage import latest_prices
from finhub.storage.counts import history_counts
from finhub.storage.quality import quarantine_count, validated_share, validation_counts
from providers.registry import BY_NAME

#: Freshness of an asset's newest quote, in the order the page lists them (stale first).
FRESHNESS = ("stale", "none", "fresh")
#: Errors that mean a service stopped answering while a section was read.
REDIS_ERRORS = (redis_lib.RedisError, OSError)
DB_ERRORS = (SQLAlchemyError, OSError)


def iso(moment: datetime | None) -> str | None:
    """``2026-11-20T15:00:00Z``, or None."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


#: Rows and newest market time per (asset type, validation status) in the history.
HistoryCounts = dict[tuple[str, str], tuple[int, datetime | None]]


def quality_figures(engine, now: datetime | None = None) -> dict[str, Any]:
    """How well checked the data is: per asset type the quotes written in the last hour and their
    validated share, and the quarantine's size."""
    counts = validation_counts(engine, (now or datetime.now(UTC)) - timedelta(hours=1))
    return {"last_hour": {kind: {"quotes": sum(c.values()), "validated_share": validated_share(c)}
                          for kind, c in sorted(counts.items())},
            "quarantined": quarantine_count(engine)}


def status_document(ctx: Context, now: datetime | None = None,
                    counts: Callable[[], HistoryCounts] | None = None,
                    quality: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Queues, workers, scheduler, jobs, providers, stored history, data quality and the freshness of
    every active asset, with the list of what needs attention. ``counts`` and ``quality`` give the
    history's row counts and :func:`quality_figures` (default: counted now; the web process passes
    recent counts)."""
    now = now or datetime.now(UTC)
    count = counts or (lambda: history_counts(ctx.engine))
    measure = quality or (lambda: quality_figures(ctx.engine, now))
    doc: dict[str, Any] = {"generated_at": iso(now)}
    doc["redis"] = _service(redact_url(ctx.redis_url) if ctx.redis_url else None, redis_problem(ctx))
    doc["database"] = _service(str(ctx.settings.database_url or ctx.settings.database), database_problem(ctx))
    redis_ok = doc["redis"]["ok"]
    for name, read in REDIS_SECTIONS.items():
        doc[name] = _read(doc["redis"], read, ctx, now) if redis_ok else None
    if redis_ok and doc["redis"]["ok"]:
        append_only = _read(doc["redis"], lambda c, n: c.redis.config_get("appendonly").get("appendonly"), ctx, now)
        doc["redis"]["append_only"] = append_only == "yes" if append_only else None
    db_ok = doc["database"]["ok"]
    doc["history"] = _read(doc["database"], lambda c, n: _history(count()), ctx, now, DB_ERRORS) if db_ok else None
    doc["assets"] = _read(doc["database"], _assets, ctx, now, DB_ERRORS) if db_ok else None
    doc["quotes"] = _quote_counts(doc["assets"]) if doc["assets"] is not None else None
    doc["quality"] = _read(doc["database"], lambda c, n: measure(), ctx, now, DB_ERRORS) if db_ok else None
    doc["superseded_batches"] = _read(doc["redis"], _superseded, ctx, now) if doc["redis"]["ok"] else None
    doc["universe"] = {"stocks": len(ctx.universe.stocks), "cryptos": len(ctx.universe.cryptos)}
    doc["notices"] = [{"symbol": s, "notice": n} for s, n in ctx.universe.notices]
    doc["attention"] = attention(doc)
    return doc


def redis_problem(ctx: Context) -> str | None:
    """None when this context's Redis answers a PING, else one line naming it (masked)."""
    if not ctx.redis_url:
        return "no Redis configured (FINHUB_REDIS_URL) and none answers on 127.0.0.1:6379"
    try:
        ctx.redis.ping()
        return None
    except REDIS_ERRORS:
        return redis_unreachable(ctx.redis_url) or "Redis stopped answering"


def database_problem(ctx: Context) -> str | None:
    """None when this context's database answers ``SELECT 1``, else one line naming it (masked)."""
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except DB_ERRORS:
        return database_unreachable(ctx.settings.database) or "database stopped answering"


def _service(url: str | None, problem: str | None) -> dict[str, Any]:
    return {"url": url, "ok": problem is None, "problem": problem}


def _read(service: dict, read: Callable[[Context, datetime], Any], ctx: Context, now: datetime,
          errors: tuple[type[BaseException], ...] = REDIS_ERRORS) -> Any:
    """``read(ctx, now)``, or None with the service marked as having stopped answering."""
    try:
        return read(ctx, now)
    except errors as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
        service.update(ok=False, problem=strip_secrets(f"stopped answering ({reason})"))
        return None


def _queues(ctx: Context, now: datetime) -> dict[str, dict[str, int]]:
    live = live_consumers(ctx.redis)
    return {q: {**depths, "live_workers": live.get(q, 0)} for q, depths in queue_depths(ctx.redis).items()}


def _superseded(ctx: Context, now: datetime) -> dict[str, int]:
    """Throttled quote batches dropped for their job's next run, per job."""
    dropped: dict[str, str] = ctx.redis.hgetall(SUPERSEDED_KEY)  # type: ignore[assignment]  # decode_responses=True
    return {job: int(n) for job, n in dropped.items()}


def _scheduler(ctx: Context, now: datetime) -> dict[str, Any]:
    """Who holds the scheduler lease (its pid leads the token) and for how much longer."""
    holder: str | None = ctx.redis.get(LEASE_KEY)  # type: ignore[assignment]  # decode_responses=True
    left = ctx.redis.pttl(LEASE_KEY) if holder else None
    pid = holder.split(":", 1)[0] if holder else None
    return {"lease_held": holder is not None, "holder_pid": int(pid) if pid and pid.isdigit() else None,
            "lease_expires_in_s": round(left / 1000, 1) if left and left > 0 else None}


def _jobs(ctx: Context, now: datetime) -> list[dict[str, Any]]:
    """Each scheduled job (its schedule, next run) and each job that reported a run (its last run,
    outcome and detail), by name."""
    from finhub.runtime.driver import NEXT_RUNS_KEY, schedules

    runs: dict[str, str] = ctx.redis.hgetall(JOBS_KEY)  # type: ignore[assignment]  # decode_responses=True
    upcoming: dict[str, str] = ctx.redis.hgetall(NEXT_RUNS_KEY)  # type: ignore[assignment]
    scheduled = schedules(ctx)
    jobs = []
    for name in [*scheduled, *sorted(set(runs) - set(scheduled))]:
        stamp, outcome, detail = (runs.get(name, "").split(" ", 2) + ["", "", ""])[:3]
        jobs.append({"job": name, "schedule": scheduled.get(name), "next_run": upcoming.get(name),
                     "last_run": stamp or None, "outcome": outcome or None, "detail": detail or None,
                     "can_trigger": name in scheduled})
    return jobs


def _providers(ctx: Context, now: datetime) -> list[dict[str, Any]]:
    """Each provider's breaker, the calls counted per window against its full quota, the calls per
    purpose and the 429s received."""
    found = []
    for name, registered in BY_NAME.items():
        health = ctx.breakers.health(name)
        usage = ctx.quotas.usage(name)
        found.append({
            "provider": name, "enabled": registered.enabled(ctx.settings),
            "breaker": {"state": str(health.state), "failures": health.failures,
                        "retry_after_s": round(health.retry_after, 1), "last_error": strip_secrets(health.last_error)},
            "windows": [{"window": w.window, "used": w.used, "limit": w.limit, "left": w.left} for w in usage.windows],
            "calls_left": min((w.left for w in usage.windows), default=None),
            "calls": usage.calls, "rate_limited": usage.rate_limited,
        })
    return found


def _rejected(ctx: Context, now: datetime) -> dict[str, str]:
    bad: dict[str, str] = ctx.redis.hgetall(BAD_SYMBOLS_KEY)  # type: ignore[assignment]  # decode_responses=True
    return {s: strip_secrets(reason) for s, reason in sorted(bad.items())}


def _history(counts: HistoryCounts) -> dict[str, dict[str, Any]]:
    """Rows and newest market time per asset type, with the rows per validation status."""
    found: dict[str, dict[str, Any]] = {}
    for (asset_type, status), (rows, newest) in sorted(counts.items()):
        h = found.setdefault(asset_type, {"rows": 0, "latest": None, "by_validation": {}})
        h["rows"] += rows
        h["by_validation"][status] = rows
        h["latest"] = max(filter(None, (h["latest"], iso(newest))), default=None)
    return found


def _assets(ctx: Context, now: datetime) -> list[dict[str, Any]]:
    """Every active asset with its newest quote and its freshness, stale ones first. (A few thousand
    assets are read on every request: one query over the newest-row copies, one pass in Python.)"""
    quotes = latest_prices(ctx.engine, "quote", columns=["timestamp", "price", "source", "validation_status"])
    stale = staleness(ctx.settings.schedule, now)
    ranked: list[tuple[int, Asset, dict | None]] = []
    for a in ctx.universe:
        if not a.active:
            continue
        q = quotes.get(a.symbol)
        if q is None:
            ranked.append((1, a, None))
            continue
        ranked.append((0 if stale(a, q["timestamp"], q["source"]) else 2, a, q))
    ranked.sort(key=lambda r: (r[0], r[1].asset_type, r[1].symbol))
    return [{"symbol": a.symbol, "asset_type": a.asset_type.value, "freshness": FRESHNESS[rank],
             "market_time": _utc_text(q["timestamp"]) if q else None,
             "age_s": round((now - q["timestamp"]).total_seconds()) if q else None,
             "price": q["price"] if q else None, "source": q["source"] if q else None,
             "validation_status": q["validation_status"] if q else None} for rank, a, q in ranked]


def _utc_text(moment: datetime) -> str:
    """:func:`iso` of a time already in UTC, cheaply (it runs for every asset)."""
    return moment.isoformat(timespec="seconds")[:19] + "Z"


#: The document's sections read from Redis alone, by name.
REDIS_SECTIONS: dict[str, Callable[[Context, datetime], Any]] = {
    "queues": _queues, "workers": lambda ctx, now: live_workers(ctx.redis), "scheduler": _scheduler, "jobs": _jobs,
    "providers": _providers, "rejected_symbols": _rejected}


def redis_section(ctx: Context, name: str, now: datetime | None = None) -> Any:
    """One of :data:`REDIS_SECTIONS` as the document has it (a Redis error is raised, not reported)."""
    if not ctx.redis_url:
        raise redis_lib.ConnectionError("no Redis configured (FINHUB_REDIS_URL) and none answers on 127.0.0.1:6379")
    return REDIS_SECTIONS[name](ctx, now or datetime.now(UTC))


def _quote_counts(assets: list[dict]) -> dict[str, int]:
    counts = {"active": len(assets), **{f: 0 for f in FRESHNESS}}
    for a in assets:
        counts[a["freshness"]] += 1
    return counts


def attention(doc: dict[str, Any]) -> list[str]:
    """One line per thing an operator must look at: a service down, no scheduler lease, a breaker
    not closed, stale assets, dead letters, a queue with messages and no live worker."""
    found = [f"{name}: {doc[name]['problem']}" for name in ("redis", "database") if not doc[name]["ok"]]
    if doc.get("scheduler") is not None and not doc["scheduler"]["lease_held"]:
        found.append("scheduler: no driver holds the lease, nothing is scheduled (start start_background_jobs.py)")
    for p in doc.get("providers") or []:
        if p["breaker"]["state"] != "closed":
            found.append(f"provider {p['provider']}: breaker {p['breaker']['state']}"
                         + (f" ({p['breaker']['last_error']})" if p["breaker"]["last_error"] else ""))
    quotes = doc.get("quotes")
    if quotes and quotes["active"] - quotes["fresh"]:
        late = [a["symbol"] for a in doc["assets"] if a["freshness"] != "fresh"]
        found.append(f"assets: {len(late)} of {quotes['active']} active assets have no fresh quote "
                     f"({', '.join(late[:10])}{', ...' if len(late) > 10 else ''})")
    for queue, d in (doc.get("queues") or {}).items():
        if d["dead"]:
            found.append(f"queue {queue}: {d['dead']} dead-lettered message(s)")
        if d["waiting"] and not d["live_workers"]:
            found.append(f"queue {queue}: {d['waiting']} waiting and no live worker consumes it")
    return found


def readiness(ctx: Context, now: datetime | None = None) -> list[str]:
    """Why this installation is not ready (empty: ready): Redis and the database answer, a
    scheduler holds the lease, and every active asset has a fresh quote. Cheap: no history scan."""
    now = now or datetime.now(UTC)
    reasons = []
    down = redis_problem(ctx)
    if down:
        reasons.append(f"redis: {down}")
    else:
        try:
            if not ctx.redis.exists(LEASE_KEY):
                reasons.append("scheduler: no driver holds the lease")
        except REDIS_ERRORS as exc:
            reasons.append(f"redis: stopped answering ({exc})")
    down = database_problem(ctx)
    if down:
        reasons.append(f"database: {down}")
    else:
        try:
            counts = _quote_counts(_assets(ctx, now))
        except DB_ERRORS as exc:
            reasons.append(f"database: stopped answering ({str(exc).splitlines()[0]})")
        else:
            if counts["fresh"] < counts["active"]:
                reasons.append(f"quotes: {counts['active'] - counts['fresh']} of {counts['active']} active assets "
                               "have no fresh quote")
    return [strip_secrets(r) for r in reasons]
