"""Circuit breakers in real Redis: open on failures, one probe after the cool-down, close on success.

The breakers read a fake clock the tests step, so a cool-down passes without waiting for it.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from finhub.config import BreakerSettings
from finhub.planner.breaker import Breakers, State
from tests.clock import FakeClock


def test_consecutive_failures_open_then_one_probe_decides(redis_client):
    clock = FakeClock()
    b = Breakers(redis_client, BreakerSettings(failures=3, cooldown=0.5), clock=clock)
    assert b.allow("yahoo")
    assert not b.record_failure("yahoo", "429") and not b.record_failure("yahoo", "429")
    assert b.record_failure("yahoo", "HTTP 503")
    health = b.health("yahoo")
    assert health.state == State.OPEN and health.failures == 3 and health.last_error == "HTTP 503"
    assert not b.allow("yahoo") and health.retry_after == pytest.approx(0.5)
    clock.advance(0.49)
    assert not b.allow("yahoo") and b.health("yahoo").retry_after == pytest.approx(0.01)  # still cooling down
    clock.advance(0.02)
    with ThreadPoolExecutor(8) as pool:
        allowed = list(pool.map(lambda _: b.allow("yahoo"), range(8)))
    assert allowed.count(True) == 1  # exactly one probe
    assert b.health("yahoo").state == State.HALF_OPEN
    assert b.record_success("yahoo")
    assert b.health("yahoo").state == State.CLOSED and b.allow("yahoo")


def test_a_failed_probe_reopens_for_another_cooldown(redis_client):
    clock = FakeClock()
    b = Breakers(redis_client, BreakerSettings(failures=1, cooldown=0.3), clock=clock)
    b.record_failure("coingecko", "timeout")
    clock.advance(0.35)
    assert b.allow("coingecko")
    assert b.record_failure("coingecko", "timeout again")
    assert not b.allow("coingecko") and b.health("coingecko").state == State.OPEN
    assert b.health("coingecko").retry_after == pytest.approx(0.3)  # a whole cool-down from the probe's failure


def test_success_resets_the_count_and_providers_are_independent(redis_client):
    b = Breakers(redis_client, BreakerSettings(failures=2, cooldown=60), clock=FakeClock())
    b.record_failure("yahoo")
    b.record_success("yahoo")
    assert not b.record_failure("yahoo")  # count restarted
    b.record_failure("alphavantage")
    assert b.record_failure("alphavantage")
    assert b.allow("yahoo") and not b.allow("alphavantage")
