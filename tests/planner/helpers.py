"""Helpers shared by the planner tests."""

from finhub.planner.quota import KEY_PREFIX, WINDOWS_MS, Quotas


def used(quotas: Quotas, provider: str, window: str) -> int:
    """Calls counted in ``window`` (e.g. ``"per_day"``) of ``provider`` at the quotas' now, read from Redis."""
    now_ms = int(quotas.clock() * 1000)
    start = now_ms - int(WINDOWS_MS[window] * quotas.time_scale)
    return int(quotas.redis.zcount(f"{KEY_PREFIX}:{provider}:calls", start, now_ms))
