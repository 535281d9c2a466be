"""The one interface every market-data provider adapter implements.

An adapter turns a request (assets, an interval and a date range) into calls through its client
library, and the answers into :class:`Observation` values. It classifies every failure once, into
the :class:`ProviderError` hierarchy:

- "retry later" (:class:`RetryLater`): :class:`RateLimited`, :class:`QuotaExhausted`,
  :class:`Unavailable` — nothing is wrong with the request; try again after a while;
- "fix the request" (:class:`FixRequest`): :class:`BadSymbol`, :class:`Rejected` — retrying cannot help;
- "bad data" (:class:`BadData`): :class:`BadResponse` — the provider answered, but not with a
  usable price (malformed, NaN, zero, negative, future-dated).

Adapters know nothing of Dramatiq, Redis or the database.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

from finhub.model import MAX_CLOCK_SKEW, Asset, Observation, RankedCoin

# --- errors ---------------------------------------------------------------------------------------

class ProviderError(Exception):
    """Base of every adapter error; ``provider`` names who failed, ``category`` what to do."""

    category: ClassVar[str] = "bad_data"

    def __init__(self, provider: str, message: str) -> None:
        self.provider = provider
        self.message = message
        super().__init__(f"{provider}: {message}")


class RetryLater(ProviderError):
    """Nothing is wrong with the request: try again later."""

    category = "retry_later"

    def __init__(self, provider: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(provider, message)
        #: Seconds to wait before the next call, when the provider said so.
        self.retry_after = retry_after


class RateLimited(RetryLater):
    """The provider throttled us (HTTP 429, a per-minute "Note")."""


class QuotaExhausted(RetryLater):
    """A longer quota is spent (Alpha Vantage's daily "Information")."""


class Unavailable(RetryLater):
    """5xx, timeout, refused or reset connection."""


class BudgetRefused(RetryLater):
    """finhub's own budget refused a request before it was sent (see :mod:`providers.metering`):
    nothing reached the provider; ``window`` names the full window (``per_second`` … ``min_spacing``)."""

    def __init__(self, provider: str, window: str | None, retry_after: float) -> None:
        super().__init__(provider, f"budget spent ({window})", retry_after)
        self.window = window


class FixRequest(ProviderError):
    """The request itself is wrong: retrying the same request cannot help."""

    category = "fix_request"


class BadSymbol(FixRequest):
    """The provider does not know this symbol (unknown, delisted or renamed)."""

    def __init__(self, provider: str, symbol: str, message: str = "unknown symbol") -> None:
        super().__init__(provider, f"{symbol}: {message}")
        self.symbol = symbol


class Rejected(FixRequest):
    """The provider refused the request as a whole: HTTP 401/403 (key, plan or access), 404 or another 4xx."""


class BadData(ProviderError):
    """The provider answered, but not with usable data."""

    category = "bad_data"


class BadResponse(BadData):
    """Malformed body, or a price that is NaN, infinite, zero, negative or future-dated."""


# --- data -----------------------------------------------------------------------------------------

@dataclass(slots=True)
class Quotes:
    """What a batched call returned: good observations, and an error for each symbol that failed."""

    observations: list[Observation] = field(default_factory=list)
    errors: dict[str, ProviderError] = field(default_factory=dict)

    def extend(self, other: Quotes) -> None:
        self.observations.extend(other.observations)
        self.errors.update(other.errors)


@dataclass(frozen=True)
class Reach:
    """What one call of a provider can answer for one interval, as the provider documents (or
    enforces) it: how far back its bars go and how much of the range one call covers. A history
    range is split into the fewest calls within these, and what lies beyond ``lookback`` is
    reported as not servable, never silently cut off."""

    #: Bars that started before ``now - lookback`` cannot be fetched (None: no such limit).
    lookback: timedelta | None = None
    #: One call covers at most this much of the range (None: any span).
    span: timedelta | None = None
    #: One call covers one calendar month (Alpha Vantage's ``month=YYYY-MM``), in this time zone.
    month_zone: str | None = None
    #: Where the limit comes from, shown by the dry run.
    source: str = ""


@dataclass(frozen=True, slots=True)
class CorporateAction:
    """A split or a dividend of one stock, on its ex-date (New York), as a provider reports it."""

    symbol: str
    day: date
    kind: str              # "split" or "dividend"
    value: float           # the split's ratio (4.0 for 4:1) or the dividend's amount per share
    source: str


# --- the interface --------------------------------------------------------------------------------

class Provider(ABC):
    """A market-data source. Subclasses set ``name`` and ``batch_size``."""

    name: ClassVar[str]
    #: Assets answered by one quote call.
    batch_size: int = 1

    @abstractmethod
    def supports(self, asset: Asset) -> bool:
        """Whether this provider has a name for ``asset``."""

    def quotes(self, assets: Sequence[Asset]) -> Quotes:
        """Latest prices, ``batch_size`` assets a call. Unsupported assets are reported as BadSymbol.

        Raises a :class:`RetryLater` when no call could be answered; per-symbol problems go to
        ``Quotes.errors`` so that one bad symbol never costs the good ones.
        """
        result, served = Quotes(), []
        for asset in assets:
            if self.supports(asset):
                served.append(asset)
            else:
                result.errors[asset.symbol] = BadSymbol(self.name, asset.symbol, f"no {self.name} name for it")
        for i in range(0, len(served), self.batch_size):
            result.extend(self.quote_batch(served[i:i + self.batch_size]))
        return result

    @abstractmethod
    def quote_batch(self, assets: Sequence[Asset]) -> Quotes:
        """One call's worth of quotes (at most ``batch_size`` supported assets)."""

    @abstractmethod
    def history(self, asset: Asset, interval: str, start: datetime, end: datetime) -> list[Observation]:
        """Bars of ``interval`` whose market time lies in [start, end), oldest first."""

    def reach(self, asset: Asset, interval: str) -> Reach | None:
        """How this provider serves ``asset``'s bars of ``interval`` (None: it does not serve them).
        An adapter declares its limits here; by default any range in one call."""
        return Reach() if self.supports(asset) else None

    def history_and_actions(self, asset: Asset, interval: str, start: datetime,
                            end: datetime) -> tuple[list[Observation], list[CorporateAction]]:
        """:meth:`history`, with the splits and dividends the same answer carried (in the range)."""
        return self.history(asset, interval, start, end), []

    def top_cryptos(self, n: int) -> list[RankedCoin]:
        """The ``n`` largest coins by market cap."""
        raise NotImplementedError(f"{self.name} serves no crypto ranking")

    def trending(self) -> list[RankedCoin]:
        """The provider's trending coins, in its order."""
        raise NotImplementedError(f"{self.name} serves no trending list")


# --- helpers for adapters -------------------------------------------------------------------------

def utcnow() -> datetime:
    return datetime.now(UTC)


def check_price(provider: str, symbol: str, value: object, what: str = "price") -> float:
    """``value`` as a finite positive float, else :class:`BadResponse` naming the symbol."""
    if isinstance(value, bool):
        raise BadResponse(provider, f"{symbol}: {what} is not a number: {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise BadResponse(provider, f"{symbol}: {what} is not a number: {value!r:.60}") from None
    if not math.isfinite(number) or number <= 0:
        raise BadResponse(provider, f"{symbol}: {what} must be finite and positive, got {number}")
    return number


def optional_number(value: object) -> float | None:
    """A finite non-negative float, or ``None`` for anything else (volumes, market caps)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def check_timestamp(provider: str, symbol: str, value: object, now: datetime | None = None) -> datetime:
    """Seconds since the epoch (or an aware datetime) as an aware UTC datetime, not in the future."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise BadResponse(provider, f"{symbol}: market time has no time zone")
        moment = value.astimezone(UTC)
    else:
        seconds = optional_number(value)
        if not seconds:
            raise BadResponse(provider, f"{symbol}: market time is not a timestamp: {value!r:.60}")
        try:
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise BadResponse(provider, f"{symbol}: market time out of range: {value!r:.60}") from None
    if moment > (now or utcnow()) + MAX_CLOCK_SKEW:
        raise BadResponse(provider, f"{symbol}: market time {moment.isoformat()} is in the future")
    return moment
