"""A throttled quote batch is re-queued only when it can be served before the next scheduled run."""

from finhub.collect import requeue_delay
from finhub.settings import load_settings
from finhub.universe import AssetType

SETTINGS = load_settings(environ={})   # stocks every 300 s, crypto every 120 s


def test_a_short_wait_is_re_queued():
    assert requeue_delay(SETTINGS, AssetType.CRYPTO, 1.1) == 1.1
    assert requeue_delay(SETTINGS, AssetType.STOCK, 61.0) == 61.0


def test_a_wait_past_the_next_scheduled_run_is_left_to_that_run():
    # Alpha Vantage's daily 25 spent while Yahoo is down: hours to wait, a stock run every 5 minutes.
    assert requeue_delay(SETTINGS, AssetType.STOCK, 6 * 3600.0) is None
    assert requeue_delay(SETTINGS, AssetType.CRYPTO, 120.0) is None


def test_the_schedule_is_read_at_its_time_scale():
    fast = load_settings(environ={"FINHUB_TIME_SCALE": "0.01"})   # a stock run every 3 s
    assert requeue_delay(fast, AssetType.STOCK, 2.0) == 2.0 and requeue_delay(fast, AssetType.STOCK, 4.0) is None
