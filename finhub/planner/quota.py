"""Provider call budgets shared by every worker process, kept in Redis.

Before any request to a provider a worker reserves it with :meth:`Quotas.reserve`: around a call
of a client library :meth:`Quotas.metered` makes the provider's transport reserve each request the
library sends (see :mod:`providers.metering`). The reservation is
checked against every window of the provider (per second … per 30 days, plus the minimum spacing)
in ONE atomic Redis evaluation by pyrate-limiter's ``RedisBucket``: its Lua script counts each
window over one sorted set of call timestamps and inserts only when all of them have room. A
refused reservation says when it could succeed, so the caller re-queues itself with that delay
instead of sleeping or calling anyway.

Purposes share the same sorted set with different ceilings (see ``QuotaSettings``): a history call
is admitted only while every window is below, say, half its limit, so a backfill can never starve
live quotes and validation can never spend Alpha Vantage's whole daily 25.

Concurrency (calls in flight) is not a window, and no maintained library offers a cross-process
semaphore whose slots expire when a holder is killed, so :class:`Quotas` keeps a tiny one here: a
sorted set of holders scored by their expiry, pruned on every acquire. A slot expires after the
provider's HTTP timeout (which bounds the whole call) plus :data:`SLOT_MARGIN_SECONDS`; each holder
is named by its host and pid, and when no slot is free, the slots of holders on this host whose
process is gone (a SIGKILLed worker) are reclaimed at once.

Timestamps come from the calling host's clock (``Quotas``' ``clock``, ``time.time`` unless a test
steps a fake one), as pyrate-limiter's do: keep hosts NTP-synced.
Every window is counted :data:`ARRIVAL_MARGIN_MS` longer than the provider's, because the provider
counts a call when it arrives, not when it was reserved. ``Settings.time_scale`` shrinks every
window and spacing by one factor (benchmarks run a day in minutes), never the margin.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from pyrate_limiter import Decision, Duration, Rate, RateItem
from pyrate_limiter.buckets.redis_bucket import RedisBucket
from redis import Redis
from redis.exceptions import NoScriptError

from finhub.config import QuotaSettings, Settings
from providers.metering import Budget, budget
from providers.registry import PROVIDERS

#: Redis key prefix of the call logs and concurrency slots.
KEY_PREFIX = "finhub:quota"
#: A concurrency slot is released after this long even if its holder died (without settings; with
#: them, the provider's HTTP timeout plus SLOT_MARGIN_SECONDS).
SLOT_TTL_SECONDS = 120
#: Seconds a slot outlives its call's own timeout (the reservation and the answer's parsing).
SLOT_MARGIN_SECONDS = 5
#: Longest window, for pruning the call log.
MONTH_MS = 30 * int(Duration.DAY)

#: A call reaches the provider some milliseconds after its reservation, and threads do not send in
#: reservation order: with 4 worker processes on 2 cores the sandbox usually saw calls up to 8 ms
#: closer than they were counted, but a thread descheduled between its reservation and its send
#: took longer: 100 ms let 2 calls through over a per-second window in 1 of 3 runs of
#: tests/pipeline/test_quota_hammer.py on a quiet machine. 250 ms also covers the jitter of a real
#: network. Real time (network and scheduling delay), so never scaled.
ARRIVAL_MARGIN_MS = 250

#: The reservation script: pyrate-limiter's, with the changes its header explains.
PUT_ITEM = Path(__file__).with_name("put_item.lua").read_text()

#: A clock: the current time in seconds since the epoch. Tests pass a fake one they step.
Clock = Callable[[], float]

WINDOWS_MS: dict[str, int] = {
    "per_second": int(Duration.SECOND),
    "per_minute": int(Duration.MINUTE),
    "per_hour": int(Duration.HOUR),
    "per_day": int(Duration.DAY),
    "per_month": MONTH_MS,
}


class Purpose(StrEnum):
    """Why a call is made; each has its own ceiling on the provider's windows."""

    QUOTES = "quotes"
    FALLBACK = "fallback"
    VALIDATION = "validation"
    #: Routine stock spot checks and the sweep: below validation, so confirming calls keep a reserve.
    SPOT_CHECK = "spot_check"
    HISTORY = "history"


@dataclass(frozen=True)
class Reservation:
    """The answer to a reservation: granted now, or the seconds to wait before asking again."""

    granted: bool
    retry_after: float = 0.0
    window: str | None = None

    def __bool__(self) -> bool:
        return self.granted


def counted_ms(ms: float, time_scale: float = 1.0) -> int:
    """How long finhub counts a provider window (or spacing) of ``ms``: scaled, plus the margin."""
    return int(ms * time_scale) + ARRIVAL_MARGIN_MS


def purpose_rates(quota: QuotaSettings, purpose: Purpose, time_scale: float = 1.0) -> list[Rate]:
    """The windows of ``quota`` scaled to ``purpose``'s ceiling (at least one call each)."""
    share = quota.ceiling(purpose.value)
    rates = [
        Rate(max(1, int(limit * share)), counted_ms(WINDOWS_MS[name], time_scale))
        for name in WINDOWS_MS
        if (limit := getattr(quota, name))
    ]
    if quota.min_spacing:
        rates.append(Rate(1, counted_ms(quota.min_spacing * 1000, time_scale)))
    return _binding(rates)


def _binding(rates: list[Rate]) -> list[Rate]:
    """Drop the rates others make redundant, as pyrate-limiter wants its list: strictly longer
    windows with strictly more calls and no higher density (calls per ms)."""
    kept: list[Rate] = []
    for rate in sorted(rates, key=lambda r: (r.interval, r.limit)):
        if kept and rate.interval == kept[-1].interval:
            continue  # same window, larger limit: the smaller one binds
        if kept and rate.limit * kept[-1].interval > kept[-1].limit * rate.interval:
            continue  # denser than a shorter window allows: never reached
        while kept and kept[-1].limit >= rate.limit:
            kept.pop()  # a longer window with no more calls makes the shorter one moot
        kept.append(rate)
    return kept


@dataclass(frozen=True)
class Room:
    """One window a purpose's reservations check, and the calls it takes now."""

    window: str       # "per_second" ... "per_month", or "min_spacing"
    limit: int        # the purpose's ceiling in it
    left: int
    seconds: float    # how long it is counted (scaled, plus the arrival margin)


class Quotas:
    """Reserve provider calls against shared budgets in Redis."""

    def __init__(self, redis: Redis, quotas: dict[str, QuotaSettings],
                 slot_ttl: float | dict[str, float] = SLOT_TTL_SECONDS, time_scale: float = 1.0,
                 clock: Clock = time.time) -> None:
        """Budgets of ``quotas`` (by provider name) in ``redis``; ``slot_ttl`` bounds a concurrency slot
        (per provider, or one for all); ``clock`` stamps reservations and concurrency slots (every host
        sharing the Redis must read a synchronised clock)."""
        self.redis = redis
        self.clock = clock
        self.slot_ttl = slot_ttl
        self.quotas = quotas
        self.time_scale = time_scale
        self._rates: dict[tuple[str, Purpose], list[Rate]] = {}
        self._script = redis.script_load(PUT_ITEM)
        self._acquire_slot = redis.register_script(Path(__file__).with_name("slot_acquire.lua").read_text())

    @classmethod
    def from_settings(cls, redis: Redis, settings: Settings, clock: Clock = time.time) -> Quotas:
        """The quotas of every registered provider as ``settings`` configure them; a concurrency slot
        lasts the provider's HTTP timeout plus the margin."""
        timeouts = {p.name: getattr(p.settings(settings), "timeout", None) for p in PROVIDERS}
        return cls(redis, {p.name: p.quota(settings) for p in PROVIDERS},
                   slot_ttl={name: t + SLOT_MARGIN_SECONDS for name, t in timeouts.items() if t},
                   time_scale=settings.time_scale, clock=clock)

    def _purpose_rates(self, provider: str, purpose: Purpose) -> list[Rate]:
        key = (provider, purpose)
        if key not in self._rates:
            self._rates[key] = purpose_rates(self.quotas[provider], purpose, self.time_scale)
        return self._rates[key]

    def _bucket(self, provider: str, purpose: Purpose) -> RedisBucket | None:
        # A RedisBucket remembers its last verdict, so worker threads must not share one:
        # make one per reservation (cheap: the script is loaded once, the rates cached).
        rates = self._purpose_rates(provider, purpose)
        if not rates:
            return None
        return RedisBucket(rates, self.redis, f"{KEY_PREFIX}:{provider}:calls", self._script)

    def _window(self, interval_ms: int) -> str:
        """The name of the window a rate counting ``interval_ms`` stands for."""
        return next((n for n, ms in WINDOWS_MS.items() if counted_ms(ms, self.time_scale) == interval_ms),
                    "min_spacing")

    def reserve(self, provider: str, purpose: Purpose | str, calls: int = 1) -> Reservation:
        """Atomically count ``calls`` against every window of ``provider`` if all have room."""
        bucket = self._bucket(provider, Purpose(purpose))
        if bucket is None:
            self._count(provider, purpose, calls)
            return Reservation(True)
        # Stamped by our clock rather than ``bucket.now()``: pyrate-limiter judges by the item's stamp.
        now_ms = self._now_ms()
        item = RateItem(f"{purpose}", now_ms, weight=calls)
        try:
            decision = bucket.put_decision(item)
        except NoScriptError:
            # Redis restarted (or its scripts were flushed): pyrate-limiter calls EVALSHA with the hash
            # loaded at start-up, so load the script again and ask once more
            self._script = self.redis.script_load(PUT_ITEM)
            bucket = RedisBucket(bucket.rates, self.redis, bucket.bucket_key, self._script)
            decision = bucket.put_decision(item)
        # A bucket over a synchronous Redis client answers synchronously; only redis.asyncio awaits.
        if not isinstance(decision, Decision):
            raise TypeError("Quotas needs a synchronous Redis client")
        if decision.allowed:
            self._count(provider, purpose, calls)
            if now_ms % 50 == 0:  # prune old entries now and then; ZCOUNT ignores them anyway
                self.redis.zremrangebyscore(bucket.bucket_key, 0, now_ms - MONTH_MS)
            return Reservation(True)
        failing = decision.failing_rate
        wait_ms: float = decision.retry_after_ms or 0
        if wait_ms <= 0:
            # A burst larger than the window waits for it to empty: for its newest call to leave it.
            newest = cast(list[tuple[Any, float]], self.redis.zrange(bucket.bucket_key, -1, -1, withscores=True))
            wait_ms = newest[0][1] + failing.interval - now_ms + 1 if newest and failing else 1
        window = self._window(failing.interval) if failing else "min_spacing"
        return Reservation(False, retry_after=wait_ms / 1000, window=window)

    def metered(self, provider: str, purpose: Purpose | str) -> AbstractContextManager[Budget]:
        """Every request to ``provider`` sent inside (in this thread) reserved first, one by one, on
        ``purpose``'s budget; a refused one raises BudgetRefused inside the client library's call."""
        return budget(provider, lambda: self.reserve(provider, purpose), lambda: self.release(provider))

    def release(self, provider: str) -> None:
        """Hand back the newest reservation of ``provider``: a request that never reached it (no
        connection). Reservations are interchangeable; the newest is this one or one a few
        milliseconds younger, which changes no window's count for longer than that."""
        self.redis.zpopmax(f"{KEY_PREFIX}:{provider}:calls")

    def room(self, provider: str, purpose: Purpose | str) -> list[Room]:
        """Every window ``purpose``'s reservations of ``provider`` check, with the calls it takes now,
        counted as :meth:`reserve` counts them."""
        rates = self._purpose_rates(provider, Purpose(purpose))
        now_ms = self._now_ms()
        with self.redis.pipeline(transaction=False) as pipe:
            for rate in rates:
                pipe.zcount(f"{KEY_PREFIX}:{provider}:calls", now_ms - rate.interval, "+inf")
            counts = pipe.execute()
        return [Room(self._window(rate.interval), rate.limit, max(0, rate.limit - int(count)), rate.interval / 1000)
                for rate, count in zip(rates, counts, strict=True)]

    @contextmanager
    def slot(self, provider: str) -> Iterator[bool]:
        """Hold one of the provider's concurrency slots; yields False when none is free."""
        limit = self.quotas[provider].concurrency
        if not limit:
            yield True
            return
        key, token = f"{KEY_PREFIX}:{provider}:inflight", f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex}"
        ttl = self.slot_ttl.get(provider, SLOT_TTL_SECONDS) if isinstance(self.slot_ttl, dict) else self.slot_ttl
        now = self.clock()
        held = bool(self._acquire_slot(keys=[key], args=[now, limit, now + ttl, token]))
        if not held and self._reclaim_dead_holders(key):
            held = bool(self._acquire_slot(keys=[key], args=[now, limit, now + ttl, token]))
        try:
            yield held
        finally:
            if held:
                self.redis.zrem(key, token)

    def _now_ms(self) -> int:
        """The clock in whole milliseconds, as pyrate-limiter stamps calls."""
        return int(self.clock() * 1000)

    def _reclaim_dead_holders(self, key: str) -> int:
        """Free the slots held by processes of this host that no longer exist; how many were freed."""
        holders = [t.decode() if isinstance(t, bytes) else str(t) for t in self.redis.zrange(key, 0, -1)]
        dead = [t for t in holders if _holder_dead(t)]
        return int(self.redis.zrem(key, *dead)) if dead else 0

    def _count(self, provider: str, purpose: Purpose | str, calls: int) -> None:
        """Count granted calls per purpose, for ``status`` and ``/metrics`` (never reset but by hand)."""
        self.redis.hincrby(f"{KEY_PREFIX}:{provider}:counts", f"calls:{Purpose(purpose).value}", calls)

    def record_rate_limited(self, provider: str) -> None:
        """Count a 429 (or the provider's equivalent) received from ``provider``."""
        self.redis.hincrby(f"{KEY_PREFIX}:{provider}:counts", "rate_limited", 1)

    def usage(self, provider: str) -> Usage:
        """What ``provider`` has spent: the calls counted in each configured window against its full
        limit, the calls reserved per purpose and the 429s received since the counters began."""
        quota = self.quotas[provider]
        windows = [(name, limit) for name in WINDOWS_MS if (limit := getattr(quota, name))]
        now_ms = self._now_ms()
        with self.redis.pipeline(transaction=False) as pipe:
            for name, _ in windows:
                pipe.zcount(f"{KEY_PREFIX}:{provider}:calls", now_ms - counted_ms(WINDOWS_MS[name], self.time_scale),
                            "+inf")
            pipe.hgetall(f"{KEY_PREFIX}:{provider}:counts")
            *counts, totals = pipe.execute()
        totals = {_str(k): int(v) for k, v in totals.items()}
        return Usage(
            windows=[Window(name, min(int(used), limit), limit) for (name, limit), used in zip(windows, counts)],
            calls={p.value: totals.get(f"calls:{p.value}", 0) for p in Purpose},
            rate_limited=totals.get("rate_limited", 0))

    def reset(self, provider: str) -> None:
        """Forget the provider's counted calls and slots (tests, and a manual reset)."""
        self.redis.delete(f"{KEY_PREFIX}:{provider}:calls", f"{KEY_PREFIX}:{provider}:inflight")


@dataclass(frozen=True)
class Window:
    """One of a provider's windows: the calls counted in it now, and its full limit."""

    window: str       # "per_second" ... "per_month"
    used: int
    limit: int

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True)
class Usage:
    """A provider's spending, as :meth:`Quotas.usage` reads it."""

    windows: list[Window]
    calls: dict[str, int]     # purpose -> calls reserved (counted since the counters began)
    rate_limited: int         # 429s received


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_HOST = socket.gethostname()


def _holder_dead(token: str) -> bool:
    """Whether a slot's holder (``host:pid:nonce``) is a process of this host that is gone."""
    parts = token.split(":")
    if len(parts) < 3 or parts[-3] != _HOST or not parts[-2].isdigit():
        return False  # another host's, or an old-style token: left to its expiry
    try:
        os.kill(int(parts[-2]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    try:  # killed but not yet reaped by its parent: a zombie holds nothing
        return Path(f"/proc/{parts[-2]}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
