"""A circuit breaker per provider, shared by every worker through Redis.

Closed: calls go through. ``failures`` consecutive failures (429s, 5xx, timeouts) open it for
``cooldown`` seconds, during which callers skip the provider. After the cool-down exactly one caller
wins the probe; its success closes the breaker, its failure opens it for another cool-down.

The log says when a breaker opens (WARNING, once per outage) and when it closes (INFO); a failed
probe re-opening it, and the calls refused while it is open, are DEBUG.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from redis import Redis

from finhub.config import BreakerSettings
from finhub.config.secrets import strip_secrets
from finhub.logs import get_logger

log = get_logger(__name__)

#: Redis key prefix: ``finhub:breaker:<provider>`` is a hash, ``…:probe`` the probe token.
KEY_PREFIX = "finhub:breaker"


#: A clock: the current time in seconds since the epoch. Tests pass a fake one they step.
Clock = Callable[[], float]


class State(StrEnum):
    """Where a provider's breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class Health:
    """A provider's breaker as ``status`` shows it."""

    provider: str
    state: State
    failures: int
    retry_after: float
    last_error: str


class Breakers:
    """Open, probe and close provider breakers kept in Redis."""

    def __init__(self, redis: Redis, settings: BreakerSettings, clock: Clock = time.time) -> None:
        """Breakers kept in ``redis``; ``clock`` dates openings and ends cool-downs (every worker
        sharing the Redis must read a synchronised clock, as with the quotas)."""
        self.redis = redis
        self.settings = settings
        self.clock = clock
        self._failure = redis.register_script(_script("breaker_failure.lua"))
        self._success = redis.register_script(_script("breaker_success.lua"))

    @staticmethod
    def _keys(provider: str) -> list[str]:
        return [f"{KEY_PREFIX}:{provider}", f"{KEY_PREFIX}:{provider}:probe"]

    def allow(self, provider: str) -> bool:
        """Whether a call may go to ``provider`` now; True for the single probe after a cool-down."""
        key, probe = self._keys(provider)
        state, until = (_text(v) for v in self.redis.hmget(key, "state", "until"))
        if state in (None, "closed"):
            return True
        if self.clock() < float(until or 0):
            return False
        # Cool-down over: one caller becomes the probe (its token expires should it die).
        if self.redis.set(probe, "1", nx=True, ex=max(1, int(self.settings.cooldown))):
            self.redis.hset(key, "state", State.HALF_OPEN)
            return True
        return False

    def record_success(self, provider: str) -> bool:
        """Close the breaker; True if it was not closed before."""
        closed = bool(self._success(keys=self._keys(provider)))
        if closed:
            log.info("provider breaker closed: calls go through again", provider=provider)
        return closed

    def record_failure(self, provider: str, error: str = "") -> bool:
        """Count a failure; True if this opened (or re-opened) the breaker."""
        error = strip_secrets(error)[:200]
        args: list[str | float] = [self.clock(), self.settings.failures, self.settings.cooldown, error]
        opened = int(self._failure(keys=self._keys(provider), args=args))
        if opened == 1:
            log.warning(f"provider breaker open: calls skipped for {self.settings.cooldown:g} s, then one probe",
                        provider=provider, error=error)
        elif opened == 2:
            log.debug("provider breaker probe failed: open again", provider=provider, error=error)
        return bool(opened)

    def health(self, provider: str) -> Health:
        """The breaker of ``provider`` as it stands now (closed if it never failed)."""
        key, _ = self._keys(provider)
        raw = {_text(k): _text(v) for k, v in self.redis.hgetall(key).items()}
        state = State(raw.get("state") or "closed")
        until = float(raw.get("until") or 0)
        return Health(
            provider=provider,
            state=state,
            failures=int(raw.get("failures") or 0),
            retry_after=max(0.0, until - self.clock()) if state != State.CLOSED else 0.0,
            last_error=raw.get("last_error") or "",
        )

    def reset(self, provider: str) -> None:
        """Forget the breaker of ``provider``: closed, no failures counted (tests, and a manual reset)."""
        self.redis.delete(*self._keys(provider))


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _script(name: str) -> str:
    return Path(__file__).with_name(name).read_text()
