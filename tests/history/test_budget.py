"""`backfill --dry-run`'s budget verdict against the reservations it predicts: the calls it says
fit now are the calls reserved now, and the rest are granted over the spread it announces, with the
quota's margin and time_scale (real Redis, a fake clock the reservations step)."""

from finhub.config import QuotaSettings
from finhub.jobs.backfill import budget_verdict
from finhub.planner.quota import ARRIVAL_MARGIN_MS, Purpose, Quotas
from tests.clock import FakeClock

#: Seconds every window is counted beyond the provider's (see finhub.planner.quota).
MARGIN = ARRIVAL_MARGIN_MS / 1000


def reserve_all(quotas: Quotas, clock: FakeClock, calls: int) -> float:
    """Reserve ``calls`` history calls, stepping ``clock`` as told to wait; returns the seconds waited."""
    began, granted = clock(), 0
    while granted < calls:
        reservation = quotas.reserve("p", Purpose.HISTORY)
        if reservation:
            granted += 1
        else:
            clock.advance(reservation.retry_after)
    return clock() - began


def test_the_verdict_predicts_what_the_reservations_grant(redis_db):
    # 20 calls a minute, history may fill half; time_scale 0.05 counts a "minute" as 3 s + the margin.
    clock = FakeClock()
    quotas = Quotas(redis_db, {"p": QuotaSettings(per_minute=20)}, time_scale=0.05, clock=clock)
    for _ in range(4):
        assert quotas.reserve("p", Purpose.QUOTES)
    assert budget_verdict(quotas, "p", 6) == (True, "p: 6 calls; fits the history budget left now (6/10 per minute)")
    assert budget_verdict(quotas, "p", 16) == (
        False, "p: 16 calls; does NOT fit the history budget left now (6/10 per minute); "
               "the reservations spread it over ~3 s")
    began = clock()
    assert sum(bool(quotas.reserve("p", Purpose.HISTORY)) for _ in range(16)) == 6
    reserve_all(quotas, clock, 10)
    assert 3 + MARGIN < clock() - began < 3.1 + MARGIN   # one counted window later, as announced


def test_a_minimum_spacing_is_a_window_of_one_call(redis_db):
    clock = FakeClock()
    quotas = Quotas(redis_db, {"p": QuotaSettings(per_minute=20, min_spacing=0.4)}, clock=clock)
    assert budget_verdict(quotas, "p", 1)[0]
    assert budget_verdict(quotas, "p", 4) == (
        False, "p: 4 calls; does NOT fit the history budget left now (1/1 min spacing, 10/10 per minute); "
               "the reservations spread it over ~2 s")
    assert 3 * (0.4 + MARGIN) < reserve_all(quotas, clock, 4) < 3 * (0.4 + MARGIN) + 0.1  # 3 spacings counted
