"""Helpers shared by the planner tests."""

import time

from finhub.planner.quota import KEY_PREFIX, WINDOWS_MS, Quotas


def used(quotas: Quotas, provider: str, window: str) -> int:
    """Calls counted in ``window`` (e.g. ``"per_day"``) of ``provider`` right now, read from Redis."""
    now_ms = time.time_ns() // 1_000_000
    start = now_ms - int(WINDOWS_MS[window] * quotas.time_scale)
    return int(quotas.redis.zcount(f"{KEY_PREFIX}:{provider}:calls", start, now_ms))
