"""finhub: a background market-data collector keeping a SQL history of stock and crypto prices.

``finhub.read_prices(["AAPL"], "1d", "2026-01-01")`` hands the stored history to pandas (see
:func:`finhub.export.read_prices`); the rest is reached through the ``finhub`` command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas


def read_prices(symbols=None, interval: str = "1d", start=None, end=None, database: str | None = None
                ) -> pandas.DataFrame:
    """The stored prices as a typed DataFrame: see :func:`finhub.export.read_prices`."""
    from finhub.export import read_prices as read  # pyarrow and pandas load only when asked

    return read(symbols, interval, start, end, database)
