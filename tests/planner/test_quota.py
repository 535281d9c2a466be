"""Quota reservations in real Redis: every window, purpose ceilings, many processes, restarts.

Where a test waits for a window to pass, the quotas read a fake clock it steps instead.
"""

import multiprocessing
import time

import pytest
import redis
from pyrate_limiter import RateItem

from finhub.config import QuotaSettings, load_settings
from finhub.planner.quota import ARRIVAL_MARGIN_MS, Purpose, Quotas, purpose_rates
from tests.clock import FakeClock
from tests.planner.helpers import used
from tests.redis_dbs import PLANNER_DB

#: Seconds every window is counted beyond the provider's (see finhub.planner.quota).
MARGIN = ARRIVAL_MARGIN_MS / 1000


def quotas(client, clock=None, **limits) -> Quotas:
    """Quotas of one provider ``p`` limited as ``limits`` say, on the real clock unless given one."""
    return Quotas(client, {"p": QuotaSettings(**limits)}, clock=clock or time.time)


def grant_count(q: Quotas, purpose: Purpose, attempts: int) -> int:
    return sum(bool(q.reserve("p", purpose)) for _ in range(attempts))


def test_refusal_names_the_window_and_when_to_come_back(redis_client):
    clock = FakeClock()
    q = quotas(redis_client, clock, per_second=1, per_minute=5, per_day=25)
    assert q.reserve("p", Purpose.FALLBACK)
    refused = q.reserve("p", Purpose.FALLBACK)
    assert not refused and refused.window == "per_second" and 0.5 < refused.retry_after <= 1.01 + MARGIN
    clock.advance(refused.retry_after - 0.001)
    assert not q.reserve("p", Purpose.FALLBACK)  # a millisecond early is still too early
    clock.advance(0.001)
    assert q.reserve("p", Purpose.FALLBACK)


def test_a_burst_larger_than_a_window_goes_through_once_the_window_is_empty(redis_client):
    # Yahoo by default: 3 a second, 90 % for quotes: 2. A first quote with yfinance's cookie and
    # crumb requests is 3 calls, more than the quotes' second can ever hold.
    clock = FakeClock()
    q = Quotas.from_settings(redis_client, load_settings(environ={}), clock=clock)
    assert q.reserve("yahoo", Purpose.QUOTES, 3)
    assert used(q, "yahoo", "per_second") == 3  # counted whole: Yahoo's 3 a second are all spent
    refused = q.reserve("yahoo", Purpose.QUOTES, 1)
    assert not refused and refused.window == "per_second"
    assert not q.reserve("yahoo", Purpose.FALLBACK, 1)  # its ceiling is the full 3
    clock.advance(refused.retry_after)
    assert q.reserve("yahoo", Purpose.QUOTES, 1)
    refused = q.reserve("yahoo", Purpose.QUOTES, 3)  # the window is not empty: wait until it is
    assert not refused and refused.window == "per_second" and 0.5 < refused.retry_after <= 1.01 + MARGIN
    clock.advance(refused.retry_after - 0.001)
    assert not q.reserve("yahoo", Purpose.QUOTES, 3)  # a millisecond early the last call is still in it
    clock.advance(0.001)
    assert q.reserve("yahoo", Purpose.QUOTES, 3)


def test_every_window_is_enforced(redis_client):
    q = quotas(redis_client, per_minute=3, per_day=25)
    assert grant_count(q, Purpose.FALLBACK, 10) == 3
    refused = q.reserve("p", Purpose.FALLBACK)
    assert refused.window == "per_minute" and 55 < refused.retry_after <= 60.01 + MARGIN
    assert used(q, "p", "per_day") == 3


def test_purpose_ceilings_keep_room_for_higher_priorities(redis_client):
    q = quotas(redis_client, per_minute=10, quotes=0.9, fallback=1.0, validation=0.6, history=0.5)
    assert grant_count(q, Purpose.HISTORY, 20) == 5        # a backfill stops at half
    assert grant_count(q, Purpose.VALIDATION, 20) == 1     # validation up to 6 in all
    assert grant_count(q, Purpose.QUOTES, 20) == 3         # live quotes up to 9 in all
    assert grant_count(q, Purpose.FALLBACK, 20) == 1       # the last call is the fallback reserve
    assert used(q, "p", "per_minute") == 10


def test_min_spacing(redis_client):
    q = quotas(redis_client, min_spacing=0.3)
    assert q.reserve("p", Purpose.QUOTES)
    refused = q.reserve("p", Purpose.QUOTES)
    assert not refused and refused.window == "min_spacing" and refused.retry_after <= 0.31 + MARGIN


def test_counters_survive_a_restart(redis_client):
    assert grant_count(quotas(redis_client, per_hour=4), Purpose.FALLBACK, 3) == 3
    fresh = quotas(redis.Redis(host="127.0.0.1", port=6379, db=PLANNER_DB), per_hour=4)
    assert grant_count(fresh, Purpose.FALLBACK, 5) == 1


def _hammer(n: int, out) -> None:
    q = quotas(redis.Redis(host="127.0.0.1", port=6379, db=PLANNER_DB), per_minute=20, per_hour=100)
    out.put(grant_count(q, Purpose.FALLBACK, n))


def test_many_processes_never_exceed_the_quota(redis_client):
    spawn = multiprocessing.get_context("spawn")  # no fork of a process that runs threads
    out = spawn.Queue()
    workers = [spawn.Process(target=_hammer, args=(50, out)) for _ in range(4)]
    for w in workers:
        w.start()
    granted = sum(out.get(timeout=60) for _ in workers)
    for w in workers:
        w.join()
    assert granted == 20
    assert used(quotas(redis_client, per_minute=20), "p", "per_minute") == 20


def test_concurrency_slots_expire_when_a_holder_dies(redis_client):
    clock = FakeClock()
    q = Quotas(redis_client, {"p": QuotaSettings(concurrency=1)}, slot_ttl=0.3, clock=clock)
    with q.slot("p") as first, q.slot("p") as second:
        assert first and not second
    with q.slot("p") as again:
        assert again  # released on exit
    redis_client.zadd("finhub:quota:p:inflight", {"killed-worker": clock() + 0.3})
    with q.slot("p") as blocked:
        assert not blocked
    clock.advance(0.29)
    with q.slot("p") as still_blocked:
        assert not still_blocked
    clock.advance(0.06)
    with q.slot("p") as after_expiry:
        assert after_expiry


def test_default_quotas_are_valid_rate_lists_for_every_purpose():
    settings = load_settings(environ={})
    for name in ("yahoo", "coingecko", "alphavantage"):
        quota = getattr(settings.providers, name).quota
        for purpose in Purpose:
            rates = purpose_rates(quota, purpose)
            assert rates and all(r.limit >= 1 for r in rates)
    av = purpose_rates(settings.providers.alphavantage.quota, Purpose.VALIDATION)
    assert max(r.limit for r in av) == 10  # after the stock fallback's 15 (its priority): never the whole 25


def test_the_next_call_waits_out_the_window_and_the_arrival_margin(redis_client):
    q = quotas(redis_client, FakeClock(), per_second=1)
    assert q.reserve("p", Purpose.FALLBACK)
    refused = q.reserve("p", Purpose.FALLBACK)
    # The first call may reach the provider late: the second waits the provider's second and the margin
    # (the clock stood still between the two, so none of that wait has passed yet).
    assert not refused and refused.retry_after >= 1.0 + MARGIN


def test_a_caller_whose_clock_read_lags_still_counts_calls_stamped_after_it(redis_client):
    q = quotas(redis_client, per_second=1)
    assert q.reserve("p", Purpose.FALLBACK)
    stamped = int(redis_client.zrange("finhub:quota:p:calls", -1, -1, withscores=True)[0][1])
    # Another thread read the clock 5 ms before that call was stamped and reaches Redis only now.
    late = q._bucket("p", Purpose.FALLBACK).put_decision(RateItem("late", stamped - 5))
    assert not late.allowed


def test_time_scale_shrinks_every_window_but_not_the_margin():
    rates = purpose_rates(QuotaSettings(per_minute=5, per_day=25, min_spacing=1.0), Purpose.FALLBACK, 0.1)
    assert [(r.limit, r.interval) for r in rates] == [
        (1, 100 + ARRIVAL_MARGIN_MS), (5, 6_000 + ARRIVAL_MARGIN_MS), (25, 8_640_000 + ARRIVAL_MARGIN_MS)]


def test_redundant_windows_are_dropped():
    rates = purpose_rates(QuotaSettings(per_second=1, per_minute=100, per_hour=50), Purpose.FALLBACK)
    assert [(r.limit, r.interval) for r in rates] == [(1, 1000 + ARRIVAL_MARGIN_MS), (50, 3_600_000 + ARRIVAL_MARGIN_MS)]


def _lua_statements(script: str) -> list[str]:
    lines = (line.split("--")[0].strip() for line in script.splitlines())
    return [line for line in lines if line]


def test_the_reservation_script_is_the_librarys_with_the_two_documented_changes():
    from pyrate_limiter.buckets.redis_bucket import LuaScript

    from finhub.planner.quota import PUT_ITEM

    upstream = (LuaScript.PUT_ITEM
                .replace("redis.call('ZCOUNT', bucket, window_start, now)", "redis.call('ZCOUNT', bucket, window_start, '+inf')")
                .replace("if space_available < space_required then",
                         "if space_available < math.min(space_required, limit) then"))
    assert upstream != LuaScript.PUT_ITEM  # both changes still apply to the installed library's script
    assert _lua_statements(PUT_ITEM) == _lua_statements(upstream)


def test_a_slot_whose_holder_process_is_gone_is_reclaimed_at_once(redis_client):
    import socket
    import subprocess
    import sys

    q = Quotas(redis_client, {"p": QuotaSettings(concurrency=1)}, slot_ttl=600)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        key = "finhub:quota:p:inflight"
        redis_client.zadd(key, {f"{socket.gethostname()}:{alive.pid}:x": time.time() + 600})
        with q.slot("p") as blocked:
            assert not blocked  # its holder still runs: it keeps the slot
        redis_client.delete(key)
        redis_client.zadd(key, {f"other-host:{gone.pid}:x": time.time() + 600})
        with q.slot("p") as blocked:
            assert not blocked  # another host's holder: left to its expiry
        redis_client.delete(key)
        redis_client.zadd(key, {f"{socket.gethostname()}:{gone.pid}:x": time.time() + 600})
        with q.slot("p") as reclaimed:
            assert reclaimed
    finally:
        alive.kill()
        alive.wait()


def test_a_slot_expires_after_the_providers_http_timeout_plus_a_margin(redis_client):
    from finhub.planner.quota import SLOT_MARGIN_SECONDS

    settings = load_settings(environ={"FINHUB_YAHOO_TIMEOUT": "7"})
    q = Quotas.from_settings(redis_client, settings)
    q.reset("yahoo")
    with q.slot("yahoo") as held:
        assert held
        (_, expiry), = redis_client.zrange("finhub:quota:yahoo:inflight", 0, -1, withscores=True)
        assert 7 + SLOT_MARGIN_SECONDS - 1 < expiry - time.time() <= 7 + SLOT_MARGIN_SECONDS
    q.reset("yahoo")


@pytest.mark.slow
def test_reservations_go_on_after_redis_restarts_and_forgets_its_scripts():
    from tests.private_services import PrivateRedis

    server = PrivateRedis()
    server.start()
    try:
        q = quotas(redis.Redis.from_url(server.url), per_hour=4)
        assert grant_count(q, Purpose.FALLBACK, 2) == 2
        server.shutdown()   # append-only: the counts survive, the script cache does not
        server.start()
        assert grant_count(q, Purpose.FALLBACK, 3) == 2
    finally:
        server.close()
