"""One active scheduler across every driver sharing the Redis: a lease with expiry.

The holder renews it well before it expires; a standby takes it once it lapses (within
``ttl`` plus one renewal interval of the holder's death). A per-run guard key makes sure a
hand-over between two drivers never fires the same scheduled run twice.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from redis import Redis

#: Redis key of the scheduler lease.
LEASE_KEY = "finhub:scheduler:lease"
#: Lease lifetime; the holder renews every third of it.
LEASE_TTL_MS = 6000


class Lease:
    """This driver's claim on the scheduler lease ``key``, which expires ``ttl_ms`` after its last renewal.

    It reads no local clock: Redis expires the key (PX), so a holder's death is noticed by the
    server's clock alone. Its tests use a short ``ttl_ms`` and poll for the hand-over.
    """

    def __init__(self, redis: Redis, key: str = LEASE_KEY, ttl_ms: int = LEASE_TTL_MS) -> None:
        self.redis, self.key, self.ttl_ms = redis, key, ttl_ms
        # The holder's pid leads the token so an operator (or a test) can see who schedules.
        self.token = f"{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.held = False
        self._renew = redis.register_script(Path(__file__).with_name("lease_renew.lua").read_text())
        self._release = redis.register_script(Path(__file__).with_name("lease_release.lua").read_text())

    def refresh(self) -> bool:
        """Renew the lease if held, else try to take it; returns whether this driver holds it."""
        if self.held and self._renew(keys=[self.key], args=[self.token, self.ttl_ms]):
            return True
        self.held = bool(self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms))
        return self.held

    def release(self) -> None:
        """Give the lease up at once (a clean stop), unless another driver holds it by now."""
        if self.held:
            self._release(keys=[self.key], args=[self.token])
            self.held = False


def claim_run(redis: Redis, job: str, slot: int, ttl_s: float) -> bool:
    """True for exactly one caller per (job, scheduled slot): the run's guard key."""
    return bool(redis.set(f"finhub:run:{job}:{slot}", "1", nx=True, ex=max(int(ttl_s), 60)))
