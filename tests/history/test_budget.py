"""`backfill --dry-run`'s budget verdict against the reservations it predicts: the calls it says
fit now are the calls reserved now, and the rest are granted over the spread it announces, with the
quota's margin and time_scale (real Redis)."""

import time

from finhub.config import QuotaSettings
from finhub.jobs.backfill import budget_verdict
from finhub.planner.quota import Purpose, Quotas


def reserve_all(quotas: Quotas, calls: int) -> float:
    """Reserve ``calls`` history calls, waiting as told; returns the seconds it took."""
    began, granted = time.monotonic(), 0
    while granted < calls:
        reservation = quotas.reserve("p", Purpose.HISTORY)
        if reservation:
            granted += 1
        else:
            time.sleep(reservation.retry_after)
    return time.monotonic() - began


def test_the_verdict_predicts_what_the_reservations_grant(redis_db):
    # 20 calls a minute, history may fill half; time_scale 0.05 counts a "minute" as 3 s + 0.1 s margin.
    quotas = Quotas(redis_db, {"p": QuotaSettings(per_minute=20)}, time_scale=0.05)
    for _ in range(4):
        assert quotas.reserve("p", Purpose.QUOTES)
    assert budget_verdict(quotas, "p", 6) == (True, "p: 6 calls; fits the history budget left now (6/10 per minute)")
    assert budget_verdict(quotas, "p", 16) == (
        False, "p: 16 calls; does NOT fit the history budget left now (6/10 per minute); "
               "the reservations spread it over ~3 s")
    began = time.monotonic()
    assert sum(bool(quotas.reserve("p", Purpose.HISTORY)) for _ in range(16)) == 6
    reserve_all(quotas, 10)
    assert 2.9 < time.monotonic() - began < 4.5      # one counted window (3.1 s) later, as announced


def test_a_minimum_spacing_is_a_window_of_one_call(redis_db):
    quotas = Quotas(redis_db, {"p": QuotaSettings(per_minute=20, min_spacing=0.4)})
    assert budget_verdict(quotas, "p", 1)[0]
    assert budget_verdict(quotas, "p", 4) == (
        False, "p: 4 calls; does NOT fit the history budget left now (1/1 min spacing, 10/10 per minute); "
               "the reservations spread it over ~2 s")
    assert 1.4 < reserve_all(quotas, 4) < 2.5        # 3 spacings of 0.5 s counted
