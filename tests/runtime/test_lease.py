"""The scheduler lease in real Redis: one holder at a time, renewal, release, hand-over on expiry,
and one claim per scheduled run.

Expiry is Redis's own (PX), so the hand-over tests use a short real TTL and poll for it.
"""

import os
from concurrent.futures import ThreadPoolExecutor

from finhub.runtime.lease import Lease, claim_run
from tests.polling import wait_for

KEY = "finhub:scheduler:lease"
#: Short enough to lapse quickly, long enough that a holder's renewals are not outrun by the test.
SHORT_TTL_MS = 200


def test_one_holder_at_a_time_and_its_token_names_its_pid(redis_client):
    first, second = Lease(redis_client), Lease(redis_client)
    assert first.refresh() and first.held
    assert not second.refresh() and not second.held
    assert first.refresh()  # renewed, still the holder
    assert redis_client.get(KEY) == first.token and first.token.startswith(f"{os.getpid()}:")


def test_renewal_pushes_the_expiry_back(redis_client):
    lease = Lease(redis_client, ttl_ms=60_000)
    assert lease.refresh()
    redis_client.pexpire(KEY, 1_000)  # as if the last renewal were long ago
    assert lease.refresh()
    assert redis_client.pttl(KEY) > 59_000


def test_release_hands_over_at_once(redis_client):
    first, second = Lease(redis_client), Lease(redis_client)
    assert first.refresh()
    first.release()
    assert not first.held and redis_client.get(KEY) is None
    assert second.refresh()


def test_a_dead_holders_lease_lapses_to_the_standby_which_the_old_holder_cannot_release(redis_client):
    dead, standby = Lease(redis_client, ttl_ms=SHORT_TTL_MS), Lease(redis_client, ttl_ms=SHORT_TTL_MS)
    assert dead.refresh()
    assert not standby.refresh()
    # The holder stops renewing (it died, or stalled): the standby takes over once Redis expires it.
    assert wait_for(standby.refresh, 5, step=0.02), "the lease never lapsed to the standby"
    assert redis_client.get(KEY) == standby.token
    dead.release()  # a stalled holder that wakes up must not remove the new holder's lease
    assert redis_client.get(KEY) == standby.token
    assert not dead.refresh() and not dead.held  # and it learns that it lost it


def test_each_scheduled_run_is_claimed_once(redis_client):
    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(lambda _: claim_run(redis_client, "health", 1_700_000_000, 1), range(8)))
    assert claims.count(True) == 1
    assert claim_run(redis_client, "health", 1_700_000_001, 1)  # the next slot is a new run
    assert redis_client.ttl("finhub:run:health:1700000000") > 55  # kept at least a minute, whatever the interval
