"""Helpers shared by the planner tests."""

import time

from finhub.planner.quota import KEY_PREFIX, WINDOWS_MS, Quotas


class FakeClock:
    """A clock for ``Breakers`` and ``Quotas`` that stands still until the test steps it.

    It starts near the real time, so what it stamps in Redis looks like what production stamps, and
    half-way through a millisecond: ``Quotas`` stamps whole milliseconds, and stepping by a
    ``retry_after`` (whole milliseconds) must not land on a boundary that float rounding could tip.
    """

    def __init__(self) -> None:
        self.now = int(time.time()) + 0.0005

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward (only the test thread does)."""
        self.now += seconds


def used(quotas: Quotas, provider: str, window: str) -> int:
    """Calls counted in ``window`` (e.g. ``"per_day"``) of ``provider`` at the quotas' now, read from Redis."""
    now_ms = int(quotas.clock() * 1000)
    start = now_ms - int(WINDOWS_MS[window] * quotas.time_scale)
    return int(quotas.redis.zcount(f"{KEY_PREFIX}:{provider}:calls", start, now_ms))
