"""A throttled quote batch is re-queued while it can be served before its job's next scheduled run;
a short pause is always waited for."""

from datetime import UTC, datetime, timedelta

from finhub.config import load_settings
from finhub.jobs.quotes import requeue_delay
from finhub.model import AssetType
from finhub.planner.fallback import Fetched

SETTINGS = load_settings(environ={})   # stocks every 300 s, cryptos every 120 s
NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


def spent(wait: float) -> Fetched:
    return Fetched(retry_after=wait, throttled=True)


def pause(wait: float) -> Fetched:
    return Fetched(retry_after=wait, throttled=True, paused=True)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_a_budget_free_before_the_next_run_is_waited_for():
    assert requeue_delay(SETTINGS, AssetType.STOCK, spent(61.0), NOW, NOW) == 61.0
    assert requeue_delay(SETTINGS, AssetType.STOCK, spent(150.0), ago(100), NOW) == 150.0


def test_a_batch_is_dropped_when_the_next_scheduled_run_comes_first():
    # Alpha Vantage's daily 25 spent while Yahoo is down: hours to wait, a stock run every 5 minutes.
    assert requeue_delay(SETTINGS, AssetType.STOCK, spent(6 * 3600.0), NOW, NOW) is None
    # A short wait, but the batch was re-queued for most of its interval already.
    assert requeue_delay(SETTINGS, AssetType.STOCK, spent(30.0), ago(280), NOW) is None
    # Each job's own interval: 330 s is past the next stock run (5 min), not the next crypto run (6 min).
    assert requeue_delay(SETTINGS, AssetType.STOCK, spent(330.0), NOW, NOW) is None
    assert requeue_delay(SETTINGS, AssetType.CRYPTO, spent(330.0), NOW, NOW) == 330.0


def test_a_short_pause_is_waited_for_even_past_the_next_run():
    assert requeue_delay(SETTINGS, AssetType.STOCK, pause(1.0), ago(299.5), NOW) == 1.0
    assert requeue_delay(SETTINGS, AssetType.CRYPTO, pause(0.1), ago(600), NOW) == 0.1


def test_the_schedule_is_read_at_its_time_scale():
    fast = load_settings(environ={"FINHUB_TIME_SCALE": "0.01"})   # a stock run every 3 s
    assert requeue_delay(fast, AssetType.STOCK, spent(2.0), NOW, NOW) == 2.0
    assert requeue_delay(fast, AssetType.STOCK, spent(4.0), NOW, NOW) is None
    # A busy slot's second of real time is five compressed runs at 0.002: still waited for.
    compressed = load_settings(environ={"FINHUB_TIME_SCALE": "0.002"})
    assert requeue_delay(compressed, AssetType.STOCK, pause(1.0), ago(2.0), NOW) == 1.0
