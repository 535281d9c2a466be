"""What the log says about expected conditions: a breaker's transitions once each, re-queues as a
periodic summary, history messages spread over the budget's backlog, the banner's redis-cli."""

import io
import logging
from types import SimpleNamespace

import dramatiq

from finhub.config import BreakerSettings, load_settings
from finhub.jobs.backfill import requeue_delay
from finhub.logs import configure_logging
from finhub.planner.breaker import Breakers
from finhub.planner.quota import Quotas
from finhub.runtime.banner import redis_cli
from finhub.runtime.broker import retry_when
from finhub.runtime.requeues import REQUEUES_KEY, count_requeue, retry_later, summarise_requeues
from finhub.universe import build_universe
from providers.base import Unavailable


def captured():
    stream = io.StringIO()
    configure_logging(load_settings(environ={}), stream=stream)
    return stream


def teardown_function():
    logging.getLogger().handlers[:] = []


def test_a_breaker_logs_when_it_opens_and_closes_not_on_every_failure(redis_client):
    stream = captured()
    b = Breakers(redis_client, BreakerSettings(failures=2, cooldown=60))
    assert [b.record_failure("yahoo", "down") for _ in range(5)] == [False, True, False, False, False]
    assert b.record_success("yahoo") and not b.record_success("yahoo")
    text = stream.getvalue()
    assert text.count("provider breaker open") == 1 and text.count("provider breaker closed") == 1, text


def test_requeues_are_summarised_in_one_line_then_counted_afresh(redis_client):
    stream = captured()
    for _ in range(40):
        count_requeue(redis_client, "history_bars", "history budget spent")
    count_requeue(redis_client, "crypto_quotes", "budget spent", 3)
    assert summarise_requeues(redis_client, 60) == {"history_bars: history budget spent": 40,
                                                    "crypto_quotes: budget spent": 3}
    assert not redis_client.exists(REQUEUES_KEY) and summarise_requeues(redis_client, 60) == {}
    lines = [line for line in stream.getvalue().splitlines() if "re-queued" in line]
    assert len(lines) == 1 and "total=43" in lines[0], lines


def test_retry_later_is_a_quiet_dramatiq_retry_that_finhub_still_backs_off(redis_client):
    exc = retry_later(redis_client, "stock_quotes", Unavailable("yahoo", "connection refused"))
    assert isinstance(exc, dramatiq.Retry) and exc.delay is None   # no traceback; the middleware's backoff
    assert retry_when(0, exc) and str(exc) == "yahoo: connection refused"
    assert redis_client.hgetall(REQUEUES_KEY) == {b"stock_quotes: unavailable (yahoo)": b"1"}


def test_history_requeues_spread_over_the_backlog_not_every_second(redis_client):
    settings = load_settings(environ={})
    ctx = SimpleNamespace(redis=redis_client, settings=settings, universe=build_universe(),
                          quotas=Quotas.from_settings(redis_client, settings))
    for i in range(70):   # 70 history messages waiting, as after the daily job's burst
        redis_client.hset("dramatiq:history.DQ.msgs", f"m{i}", "{}")
    delays = [requeue_delay(ctx, ["AAPL"], 1.0) for _ in range(200)]
    assert min(delays) >= 1.0
    assert sum(d > 5 for d in delays) > 150, sorted(delays)[:20]   # most wait well past the 1 s refill
    redis_client.delete("dramatiq:history.DQ.msgs")
    assert requeue_delay(ctx, ["AAPL"], 1.0) < 1.0 + 60   # alone: about the refill time


def test_the_banner_gives_the_exact_redis_cli_command():
    assert redis_cli("redis://127.0.0.1:6379/2") == "redis-cli -h 127.0.0.1 -p 6379 -n 2"
    assert redis_cli("redis://127.0.0.1:6379/0") == "redis-cli -h 127.0.0.1 -p 6379"
    assert redis_cli("unix:///tmp/var/redis/redis.sock") == "redis-cli -s /tmp/var/redis/redis.sock"
    assert redis_cli("redis://:secret@db.example:6380/3") == "redis-cli -h db.example -p 6380 -n 3 --askpass"
