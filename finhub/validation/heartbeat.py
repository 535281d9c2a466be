"""How long a price stays current: wall-clock time for crypto, time NYSE was open for stocks.

A stock price only ages while the market trades: Friday's close is still the current price on
Sunday and on Monday before the open, and the NYSE calendar of exchange-calendars supplies the
holidays and early closes. The sessions are turned into plain arrays once per process, and the
stock cut-off for one ``now`` is cached, so "is this price stale" is one comparison of datetimes.
"""

from __future__ import annotations

import bisect
import itertools
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache

from finhub.calendar import sessions
from finhub.model import AssetType

#: Earlier than any market time: nothing is stale.
_NEVER = datetime.min.replace(tzinfo=UTC)


@cache
def _sessions() -> tuple[list[float], list[float], list[float]]:
    """NYSE session opens and closes (POSIX seconds), and the open seconds before each session."""
    opens, closes = sessions()
    lengths = (close - open_ for open_, close in zip(opens, closes))
    before = list(itertools.accumulate(lengths, initial=0.0))[:-1]
    return opens, closes, before


def _open_seconds_until(moment: float) -> float:
    """Seconds NYSE was open from the calendar's first session up to ``moment``."""
    opens, closes, before = _sessions()
    i = bisect.bisect_right(opens, moment) - 1
    if i < 0:
        return 0.0
    return before[i] + min(moment, closes[i]) - opens[i]


def market_age(asset_type: AssetType, timestamp: datetime, now: datetime) -> timedelta:
    """How long a price stamped ``timestamp`` has been current at ``now`` (zero if not yet).

    Crypto: wall-clock time. Stocks: the time NYSE was open in between (the calendar covers
    20 years back to one year ahead of the process start).
    """
    if asset_type == AssetType.STOCK:
        seconds = _open_seconds_until(now.timestamp()) - _open_seconds_until(timestamp.timestamp())
        return timedelta(seconds=max(seconds, 0.0))
    return max(now - timestamp, timedelta(0))


def stale_before(asset_type: AssetType, now: datetime, heartbeat: timedelta) -> datetime:
    """The cut-off: a price is stale at ``now`` exactly when its market time is earlier than this.

    Equivalent to ``market_age(...) > heartbeat``, and cheap: a batch shares one ``now``.
    """
    if asset_type != AssetType.STOCK:
        return now - heartbeat
    return _stock_cutoff(now.timestamp(), heartbeat.total_seconds())


@lru_cache(maxsize=256)
def _stock_cutoff(now: float, heartbeat: float) -> datetime:
    target = _open_seconds_until(now) - heartbeat
    if target <= 0:
        return _NEVER
    opens, _, before = _sessions()
    # The earliest moment the open-seconds count reaches ``target``: at a session boundary that is
    # the close of the session before, not the next open.
    i = bisect.bisect_left(before, target) - 1
    return datetime.fromtimestamp(opens[i] + target - before[i], UTC)
