"""What ``status`` reports: queue depths from dramatiq's Redis keys, the last run of every job, and
which collected assets lack a recent quote (the warning for an asset that died, was renamed or
that no provider serves any more, before anyone reads the logs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from finhub.calendar import last_close, session_open, stock_quotes_due
from finhub.config import ScheduleSettings
from finhub.config.secrets import strip_secrets
from finhub.model import Asset, AssetType

#: Redis hash of every job's last run, read by ``status``.
JOBS_KEY = "finhub:jobs"
#: The queues finhub's actors use, by purpose.
QUEUES = ("prices", "validation", "history", "maintenance")
#: A quote is stale once this many scheduled refreshes have passed since its market time, plus the
#: provider's market-time resolution (stocks: counted while NYSE trades; while it is closed a stock
#: needs only the last close).
STALE_AFTER_RUNS = 3
#: How far a provider's market time may lag the moment its quote was fetched (s): the three stamp
#: quotes to the minute (CoinGecko refreshes its prices about once a minute, Alpha Vantage's "Last
#: Refreshed" and the sandbox's times are whole minutes), so a row stored every 10 s still carries a
#: market time up to a minute old.
MARKET_TIME_RESOLUTION = {"yahoo": 60, "coingecko": 60, "alphavantage": 60}
#: For a quote of unknown source: the coarsest.
DEFAULT_RESOLUTION = max(MARKET_TIME_RESOLUTION.values())


def is_stale(asset: Asset, last_quote: datetime | None, schedule: ScheduleSettings, now: datetime,
             source: str | None = None) -> bool:
    """Whether ``asset``'s newest stored quote (its market time, from ``source``) is older than its
    schedule and its provider's market-time resolution allow."""
    return staleness(schedule, now)(asset, last_quote, source)


def staleness(schedule: ScheduleSettings, now: datetime) -> Callable[[Asset, datetime | None, str | None], bool]:
    """:func:`is_stale` at ``now`` for many assets: the market calendar is read once."""
    opened = session_open(now)
    close = last_close(now)
    due: dict[datetime, bool] = {}  # stocks mostly share their market time (the last close)

    def stale(asset: Asset, last_quote: datetime | None, source: str | None = None) -> bool:
        if last_quote is None:
            return True
        lag = MARKET_TIME_RESOLUTION.get(source, DEFAULT_RESOLUTION) if source else DEFAULT_RESOLUTION
        if asset.asset_type == AssetType.CRYPTO:
            return now - last_quote > timedelta(seconds=STALE_AFTER_RUNS * schedule.crypto_quotes + lag)
        expected = now - timedelta(seconds=STALE_AFTER_RUNS * schedule.stock_quotes + lag)
        if opened is None or expected < opened:  # closed, or just opened: the last close will do
            if last_quote not in due:
                due[last_quote] = stock_quotes_due(close, last_quote)
            return due[last_quote]
        return last_quote < expected
    return stale


def stale_quotes(assets: Iterable[Asset], last_quotes: Mapping[str, datetime], schedule: ScheduleSettings,
                 now: datetime, sources: Mapping[str, str] | None = None) -> list[tuple[Asset, datetime | None]]:
    """The active ``assets`` whose newest quote is stale, with its market time (None: never stored);
    ``sources`` names each quote's provider (its market-time resolution; default: the coarsest)."""
    sources = sources or {}
    stale = staleness(schedule, now)
    return [(a, last_quotes.get(a.symbol)) for a in assets
            if a.active and stale(a, last_quotes.get(a.symbol), sources.get(a.symbol))]


def queue_depths(redis, queues: Iterable[str] = QUEUES) -> dict[str, dict[str, int]]:
    """Waiting, delayed, in-flight and dead messages per queue, read from dramatiq's Redis keys."""
    acks: dict[str, int] = {}
    for key in redis.scan_iter("dramatiq:__acks__.*"):
        queue = key.rsplit(".", 1)[-1]
        acks[queue] = acks.get(queue, 0) + redis.scard(key)
    return {q: {"waiting": redis.llen(f"dramatiq:{q}"), "delayed": redis.hlen(f"dramatiq:{q}.DQ.msgs"),
                "in_flight": acks.get(q, 0) + acks.get(f"{q}.DQ", 0), "dead": redis.zcard(f"dramatiq:{q}.XQ")}
            for q in queues}


def record_job(redis, job: str, outcome: str, detail: str = "", now: datetime | None = None) -> None:
    """Remember a job's last run for ``status`` (``outcome``: ok, partial, failed, skipped)."""
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    redis.hset(JOBS_KEY, job, strip_secrets(f"{stamp} {outcome} {detail}")[:400])


#: Redis key per worker process, ``{worker}`` its dramatiq id (its broker's id, the member of
#: ``dramatiq:__heartbeats__``): the queues it consumes, comma-separated; renewed by the worker
#: every few seconds, expiring ``CONSUMER_TTL`` seconds after its last renewal.
CONSUMER_KEY = "finhub:consumer:{worker}"
CONSUMER_TTL = 30
#: A worker whose heartbeat is older than this is not live (the broker's heartbeat timeout; idle
#: workers poll, and so beat, about once a second).
LIVE_WITHIN_MS = 10_000


#: Redis hash per worker process: its host, pid and start time (for ``workers`` and the web page),
#: renewed and expiring with its ``CONSUMER_KEY``.
WORKER_KEY = "finhub:worker:{worker}"


def register_consumer(redis, worker_id: str, queues: Iterable[str], started: float | None = None) -> None:
    """Record (renew) which queues a worker consumes: dramatiq's keys hold that only while it has
    messages in flight; with ``started`` (epoch seconds), also this process's host and pid."""
    import os
    import socket

    redis.set(CONSUMER_KEY.format(worker=worker_id), ",".join(sorted(queues)), ex=CONSUMER_TTL)
    if started is not None:
        key = WORKER_KEY.format(worker=worker_id)
        redis.hset(key, mapping={"host": socket.gethostname(), "pid": os.getpid(), "started": started})
        redis.expire(key, CONSUMER_TTL)


def live_workers(redis, within_ms: int = LIVE_WITHIN_MS, now_ms: int | None = None) -> list[dict]:
    """The worker processes whose dramatiq heartbeat is recent and that registered their queues (a
    process that only sends messages beats too): id, host, pid, queues, when they started and their
    last beat (host, pid and start unknown: None)."""
    import time

    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    beats = [(w, s) for w, s in redis.zrange("dramatiq:__heartbeats__", 0, -1, withscores=True)
             if now_ms - s <= within_ms]
    registered = registered_consumers(redis)
    workers = []
    for worker, beat in sorted(b for b in beats if b[0] in registered):
        info = redis.hgetall(WORKER_KEY.format(worker=worker))
        started = float(info["started"]) if info.get("started") else None
        workers.append({"id": worker, "host": info.get("host"), "pid": int(info["pid"]) if info.get("pid") else None,
                        "queues": sorted(filter(None, registered.get(worker, "").split(","))),
                        "started_at": started, "age_s": round(now_ms / 1000 - started, 1) if started else None,
                        "last_beat_s": round((now_ms - beat) / 1000, 1)})
    return workers


def registered_consumers(redis) -> dict[str, str]:
    """Worker id -> the queues it registered (comma-separated)."""
    prefix = CONSUMER_KEY.format(worker="")
    keys = list(redis.scan_iter(prefix + "*"))
    values = redis.mget(keys) if keys else []
    return {k.removeprefix(prefix): v for k, v in zip(keys, values, strict=True) if v is not None}


def live_consumers(redis, queues: Iterable[str] = QUEUES, within_ms: int = LIVE_WITHIN_MS,
                   now_ms: int | None = None) -> dict[str, int]:
    """How many live worker processes consume each queue: a worker is live when its dramatiq
    heartbeat is recent; it consumes what it registered at boot, and any queue it holds acks on.
    A killed worker's registration expires by itself."""
    import time

    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    beats = {w: s for w, s in redis.zrange("dramatiq:__heartbeats__", 0, -1, withscores=True)}
    live = {w for w, score in beats.items() if now_ms - score <= within_ms}
    consumed: dict[str, set[str]] = {}
    for worker, names in registered_consumers(redis).items():
        if worker in live:
            for name in filter(None, names.split(",")):
                consumed.setdefault(name, set()).add(worker)
    for key in redis.scan_iter("dramatiq:__acks__.*"):
        worker, _, name = key[len("dramatiq:__acks__."):].partition(".")
        if worker in live:
            consumed.setdefault(name.removesuffix(".DQ"), set()).add(worker)
    return {q: len(consumed.get(q, ())) for q in queues}


def _reason(exc: BaseException) -> str:
    """The last line of an exception's message (drivers add hints and SQL on later lines)."""
    lines = [line.strip() for line in str(getattr(exc, "orig", None) or exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def redis_unreachable(url: str) -> str | None:
    """None when the Redis at ``url`` answers, else one line naming it (masked) and what to do."""
    import redis as redis_lib

    from finhub.config.secrets import redact_url

    try:
        redis_lib.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
        return None
    except (redis_lib.RedisError, OSError) as exc:
        return (f"Redis unreachable at {redact_url(url)} ({_reason(exc)}): start it, or point "
                "FINHUB_REDIS_URL at one that runs")


def database_unreachable(url: str) -> str | None:
    """None when the database at ``url`` accepts a connection, else one line naming it (masked)."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from finhub.config.secrets import redact_url
    from finhub.storage import make_engine

    try:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
        return None
    except (SQLAlchemyError, OSError) as exc:
        return (f"database unreachable at {redact_url(url)} ({_reason(exc)}): start it, or point "
                "FINHUB_DATABASE_URL at one that runs")
