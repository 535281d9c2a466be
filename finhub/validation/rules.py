"""Cross-source validation rules: one asset's observations in, one recorded judgement out.

Pure code: no I/O and no clock (``now`` is an argument). Definitions:

- Each observation is checked on its own first. A price that is not finite (``non_finite``), not
  positive (``non_positive``), stamped ahead of ``now`` by more than the clock skew adapters allow
  (``future``) or older than the heartbeat (``stale``) is set aside with that code.
- A source *agrees* when ``|price - m| <= tolerance * m``, ``m`` being the median of the sources
  compared (with an even count, the midpoint of the two middle prices). So two stocks 1.8 % apart
  agree at 1 %: each is 0.9 % from their midpoint.
- ``deviation_pct`` is ``max |price - m| / m * 100`` over the sources compared: the agreeing side
  when a value is stored (validated means at most the tolerance), every usable source when they
  disagree, ``None`` when a single source stands.

The decision on the usable observations:

1. The sources within tolerance of the median of all, narrowed until they agree around their own
   median: when at least two and more than half of all, they are the agreeing side.
2. Else, given the last good price: the sources within tolerance of it, narrowed the same way,
   when any are left, are the agreeing side.
3. Else *quarantined* for ``disagreement``; otherwise the sources off the side are outliers.

A side of one source is *single_source*, unless it lies more than the jump threshold from the last
good price (``jump``: no second source confirms it). With no usable observation at all the decision
is quarantined with the primary's code.

The stored value is the median observation of the agreeing side; with an even count, of the two
middle ones the primary's, else the lower one, so with two sources it is the primary's.
Observations are sorted by provider and the primary is named explicitly, so the same inputs in any
order give the same decision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from operator import attrgetter

from finhub.model import MAX_CLOCK_SKEW, AssetType, Observation
from finhub.validation.heartbeat import market_age, stale_before
from finhub.validation.policy import DEFAULT_POLICY, Limits, ValidationPolicy


class Status(StrEnum):
    VALIDATED = "validated"
    SINGLE_SOURCE = "single_source"
    QUARANTINED = "quarantined"


class Reason(StrEnum):
    """Why an observation, or a whole decision, was set aside (stable codes, stored as is)."""

    NON_FINITE = "non_finite"
    NON_POSITIVE = "non_positive"
    FUTURE = "future"
    STALE = "stale"
    DISAGREEMENT = "disagreement"
    JUMP = "jump"


@dataclass(frozen=True, slots=True)
class LastGood:
    """The asset's last stored good price and its market time."""

    price: float
    timestamp: datetime

    def __post_init__(self) -> None:
        if not (math.isfinite(self.price) and self.price > 0):
            raise ValueError(f"a last good price must be finite and positive, got {self.price}")


@dataclass(frozen=True, slots=True)
class Decision:
    """The judgement on one asset's observations; see the module documentation for the rules."""

    status: Status
    symbol: str
    #: Market time of the stored observation, or of the primary's when quarantined.
    timestamp: datetime
    #: The price to store and the provider it came from; ``None`` when quarantined.
    value: float | None
    provider: str | None
    reason: Reason | None
    detail: str
    #: Providers whose values back the stored one, sorted; empty when quarantined.
    sources: tuple[str, ...]
    deviation_pct: float | None
    #: (provider, code) for each observation set aside on its own, sorted by provider.
    rejected: tuple[tuple[str, Reason], ...]
    #: Every observation considered, sorted by provider.
    observations: tuple[Observation, ...]

    @property
    def outliers(self) -> tuple[str, ...]:
        """Providers set aside on their own (bad value, stale, future, or outvoted)."""
        return tuple(provider for provider, _ in self.rejected)

    @property
    def stored(self) -> Observation | None:
        """The observation whose value is stored."""
        return next((o for o in self.observations if o.provider == self.provider), None)


def decide(
    observations: Iterable[Observation],
    *,
    primary: str,
    now: datetime,
    last_good: LastGood | None = None,
    policy: ValidationPolicy = DEFAULT_POLICY,
) -> Decision:
    """Judge one asset's observations, one per provider; ``primary`` names the primary's provider.

    Raises ``ValueError`` for inputs no caller should send: no observations, two assets, two
    observations from one provider, a primary without an observation, naive datetimes.
    """
    obs = tuple(sorted(observations, key=_provider))
    _check_inputs(obs, primary, now)
    limits = policy.limits(obs[0].symbol, obs[0].asset_type)
    latest, cutoff = _bounds(obs[0].asset_type, now, limits.heartbeat)
    usable: list[Observation] = []
    rejected: list[tuple[Observation, Reason]] = []
    for o in obs:
        problem = _problem(o, latest, cutoff)
        if problem is None:
            usable.append(o)
        else:
            rejected.append((o, problem))

    def finish(status: Status, chosen: Observation | None, reason: Reason | None, detail: str,
               side: Sequence[Observation] = (), deviation: float | None = None) -> Decision:
        anchor = chosen or next(o for o in obs if o.provider == primary)
        if rejected:
            rejected.sort(key=_rejected_provider)
            detail += "; set aside: " + "; ".join(_why(o, r, now, limits) for o, r in rejected)
        return Decision(
            status=status, symbol=anchor.symbol, timestamp=anchor.timestamp,
            value=chosen.price if chosen else None, provider=chosen.provider if chosen else None,
            reason=reason, detail=detail, sources=tuple(sorted(o.provider for o in side)),
            deviation_pct=deviation, rejected=tuple((o.provider, r) for o, r in rejected), observations=obs)

    if not usable:
        return finish(Status.QUARANTINED, None, dict((o.provider, r) for o, r in rejected)[primary],
                      "no usable price")
    usable.sort(key=_price)
    side, by_last_good = _agreeing_side(usable, limits.tolerance, last_good)
    if side is None:
        median, deviation = _spread(usable)
        return finish(Status.QUARANTINED, None, Reason.DISAGREEMENT,
                      f"{_listing(usable)} differ by up to {deviation:.3g} % from their median {median:.10g} "
                      f"(tolerance {_pct(limits.tolerance)}) and nothing breaks the tie", deviation=deviation)
    if len(side) < len(usable):
        agreeing = {o.provider for o in side}
        rejected += [(o, Reason.DISAGREEMENT) for o in usable if o.provider not in agreeing]
    note = "; confirmed by the last good price" if by_last_good else ""

    if len(side) > 1:
        median, deviation = _spread(side)
        return finish(Status.VALIDATED, _median_observation(side, primary), None,
                      f"{len(side)} sources within {deviation:.3g} % of their median {median:.10g} "
                      f"(tolerance {_pct(limits.tolerance)}){note}", side, deviation)
    only = side[0]
    if last_good is not None and abs(only.price - last_good.price) > limits.jump * last_good.price:
        move = abs(only.price - last_good.price) / last_good.price
        return finish(Status.QUARANTINED, None, Reason.JUMP,
                      f"{_listing(side)} is {_pct(move)} from the last good price {last_good.price:.10g} "
                      f"of {last_good.timestamp:%Y-%m-%d %H:%M}Z (threshold {_pct(limits.jump)}) "
                      "and no second source confirms it")
    return finish(Status.SINGLE_SOURCE, only, None, f"{_listing(side)}, a single source{note}", side)


# Sort keys in C: decide() runs for every quote (see scripts/bench_validation.py).
_provider = attrgetter("provider")
_price = attrgetter("price", "provider")


def _rejected_provider(pair: tuple[Observation, Reason]) -> str:
    return pair[0].provider


def _check_inputs(obs: Sequence[Observation], primary: str, now: datetime) -> None:
    if not obs:
        raise ValueError("no observations to decide on")
    first, providers = obs[0], [o.provider for o in obs]
    for i, o in enumerate(obs):  # sorted by provider: a repeated one is next to its twin
        if i and o.provider == obs[i - 1].provider:
            raise ValueError(f"one observation per provider, got {providers}")
        if o.symbol != first.symbol or o.asset_type != first.asset_type:
            raise ValueError(f"observations of two assets: {first.symbol} and {o.symbol}")
        if o.timestamp.tzinfo is None:
            raise ValueError(f"{o.provider}: market time must be timezone-aware")
    if primary not in providers:
        raise ValueError(f"primary {primary!r} has no observation among {providers}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")


@lru_cache(maxsize=64)
def _bounds(asset_type: AssetType, now: datetime, heartbeat: timedelta) -> tuple[datetime, datetime]:
    """The latest market time not in the future, and the stale cut-off (a batch shares one ``now``)."""
    return now + MAX_CLOCK_SKEW, stale_before(asset_type, now, heartbeat)


def _problem(o: Observation, latest: datetime, cutoff: datetime) -> Reason | None:
    """What is wrong with one observation on its own, if anything."""
    if not math.isfinite(o.price):
        return Reason.NON_FINITE
    if o.price <= 0:
        return Reason.NON_POSITIVE
    if o.timestamp > latest:
        return Reason.FUTURE
    if o.timestamp < cutoff:
        return Reason.STALE
    return None


def _median(by_price: Sequence[Observation]) -> float:
    half = len(by_price) // 2
    if len(by_price) % 2:
        return by_price[half].price
    low, high = by_price[half - 1].price, by_price[half].price
    return low + (high - low) / 2  # no overflow near the float limit


def _near(by_price: Sequence[Observation], reference: float, tolerance: float) -> list[Observation]:
    band = tolerance * reference
    return [o for o in by_price if abs(o.price - reference) <= band]


def _agreeing_side(
    by_price: list[Observation], tolerance: float, last_good: LastGood | None,
) -> tuple[list[Observation] | None, bool]:
    """The sources that agree, and whether the last good price picked them; ``None``: no side.

    ``by_price`` and the side are sorted by price.
    """
    if len(by_price) == 1:
        return by_price, False
    agree = _consensus(by_price, _median(by_price), tolerance)
    if len(agree) >= 2 and 2 * len(agree) > len(by_price):
        return agree, False
    if last_good is not None:
        near_last = _consensus(by_price, last_good.price, tolerance)
        if near_last:
            return near_last, True
    return None, False


def _consensus(by_price: list[Observation], reference: float, tolerance: float) -> list[Observation]:
    """The sources within tolerance of ``reference``, narrowed until they agree around their own median."""
    side = _near(by_price, reference, tolerance)
    while side:
        narrower = _near(side, _median(side), tolerance)
        if len(narrower) == len(side):
            break
        side = narrower
    return side


def _spread(by_price: Sequence[Observation]) -> tuple[float, float]:
    """The median and the largest deviation from it, in %."""
    median = _median(by_price)
    largest = max(by_price[-1].price - median, median - by_price[0].price)
    return median, largest / median * 100


def _median_observation(by_price: Sequence[Observation], primary: str) -> Observation:
    half = len(by_price) // 2
    if len(by_price) % 2:
        return by_price[half]
    low, high = by_price[half - 1], by_price[half]
    return high if high.provider == primary else low


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.3g} %"


def _listing(group: Iterable[Observation]) -> str:
    return ", ".join(f"{o.provider} {o.price:.10g}" for o in group)


def _why(o: Observation, reason: Reason, now: datetime, limits: Limits) -> str:
    if reason == Reason.STALE:
        clock = "market" if o.asset_type == AssetType.STOCK else "wall-clock"
        return (f"{o.provider} stale (market time {o.timestamp:%Y-%m-%d %H:%M}Z is "
                f"{market_age(o.asset_type, o.timestamp, now)} of {clock} time old, heartbeat {limits.heartbeat})")
    if reason == Reason.FUTURE:
        return f"{o.provider} future (market time {o.timestamp:%Y-%m-%d %H:%M:%S}Z is ahead of {now:%H:%M:%S}Z)"
    return f"{o.provider} {o.price:.10g} ({reason})"
