"""What ``status`` reports: queue depths from dramatiq's Redis keys, the last run of every job, and
which collected assets lack a recent quote (the warning for an asset that died, was renamed or
that no provider serves any more, before anyone reads the logs)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from finhub.calendar import last_close, session_open, stock_quotes_due
from finhub.config import ScheduleSettings
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
    if last_quote is None:
        return True
    lag = MARKET_TIME_RESOLUTION.get(source, DEFAULT_RESOLUTION) if source else DEFAULT_RESOLUTION
    if asset.asset_type == AssetType.CRYPTO:
        return now - last_quote > timedelta(seconds=STALE_AFTER_RUNS * schedule.crypto_quotes + lag)
    opened = session_open(now)
    expected = now - timedelta(seconds=STALE_AFTER_RUNS * schedule.stock_quotes + lag)
    if opened is None or expected < opened:  # closed, or just opened: the last close will do
        return stock_quotes_due(last_close(now), last_quote)
    return last_quote < expected


def stale_quotes(assets: Iterable[Asset], last_quotes: Mapping[str, datetime], schedule: ScheduleSettings,
                 now: datetime, sources: Mapping[str, str] | None = None) -> list[tuple[Asset, datetime | None]]:
    """The active ``assets`` whose newest quote is stale, with its market time (None: never stored);
    ``sources`` names each quote's provider (its market-time resolution; default: the coarsest)."""
    sources = sources or {}
    return [(a, last_quotes.get(a.symbol)) for a in assets
            if a.active and is_stale(a, last_quotes.get(a.symbol), schedule, now, sources.get(a.symbol))]


def queue_depths(redis, queues: Iterable[str] = QUEUES) -> dict[str, dict[str, int]]:
    """Waiting, delayed, in-flight and dead messages per queue, read from dramatiq's Redis keys."""
    acks = {}
    for key in redis.scan_iter("dramatiq:__acks__.*"):
        queue = key.rsplit(".", 1)[-1]
        acks[queue] = acks.get(queue, 0) + redis.scard(key)
    return {q: {"waiting": redis.llen(f"dramatiq:{q}"), "delayed": redis.hlen(f"dramatiq:{q}.DQ.msgs"),
                "in_flight": acks.get(q, 0) + acks.get(f"{q}.DQ", 0), "dead": redis.zcard(f"dramatiq:{q}.XQ")}
            for q in queues}


def record_job(redis, job: str, outcome: str, detail: str = "", now: datetime | None = None) -> None:
    """Remember a job's last run for ``status`` (``outcome``: ok, partial, failed, skipped)."""
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    redis.hset(JOBS_KEY, job, f"{stamp} {outcome} {detail}"[:400])
