"""Helpers shared by the planner tests."""

import time

from finhub.planner.quota import KEY_PREFIX, WINDOWS_MS, Quotas


class FakeClock:
    """A clock for ``Breakers`` and ``Quotas`` that stands still until the test steps it.

    It starts at the real time, so what it stamps in Redis looks like what production stamps.
    """

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward (only the test thread does)."""
        self.now += seconds


def used(quotas: Quotas, provider: str, window: str) -> int:
    """Calls counted in ``window`` (e.g. ``"per_day"``) of ``provider`` right now, read from Redis."""
    now_ms = time.time_ns() // 1_000_000
    start = now_ms - int(WINDOWS_MS[window] * quotas.time_scale)
    return int(quotas.redis.zcount(f"{KEY_PREFIX}:{provider}:calls", start, now_ms))
