"""Alpha Vantage's LISTING_STATUS: every active US listing as one CSV, as the real one answers.

The real answer (``symbol,name,exchange,assetType,ipoDate,delistingDate,status``, then rows such
as ``A,Agilent Technologies Inc,NYSE,Stock,1999-11-18,null,Active``) holds some 12,000 listings on
NYSE, NASDAQ, NYSE ARCA, NYSE MKT and BATS, stocks and ETFs, among them preferred shares and units
whose symbols finhub refuses (``AHL-P-C``). The sandbox serves the default stocks that are still
listed plus a few thousand synthetic ones of the same kinds, the same for every request.
``state=delisted`` answers the dead names (HES, BRKS) with their delisting dates.
"""

from __future__ import annotations

import csv
import io
from functools import cache

from finhub.sandbox import assets, generator
from finhub.universe import DEFAULT_STOCKS

FIELDS = ("symbol", "name", "exchange", "assetType", "ipoDate", "delistingDate", "status")
#: Synthetic listings served besides the default stocks.
SYNTHETIC = 3000
#: (exchange, share of listings) for stocks and for ETFs.
STOCK_EXCHANGES = (("NASDAQ", 0.55), ("NYSE", 0.35), ("NYSE MKT", 0.10))
ETF_EXCHANGES = (("NYSE ARCA", 0.6), ("BATS", 0.2), ("NASDAQ", 0.2))
#: Share of synthetic listings that are ETFs, and that carry a symbol finhub refuses.
ETF_SHARE = 0.2
ODD_SHARE = 0.04
DELISTING_DATES = {"HES": "2025-07-18", "BRKS": "2021-12-01"}


def _pick(choices: tuple[tuple[str, float], ...], u: float) -> str:
    for value, share in choices:
        if u < share:
            return value
        u -= share
    return choices[-1][0]


def _letters(n: int) -> str:
    """The n-th symbol of 2 to 4 letters: AA, AB, ... ZZ, AAA, ..."""
    for width in (2, 3, 4):
        if n < 26 ** width:
            return "".join(chr(65 + n // 26 ** i % 26) for i in reversed(range(width)))
        n -= 26 ** width
    raise ValueError("too many symbols")


@cache
def active_rows() -> tuple[tuple[str, ...], ...]:
    """The active listings, sorted by symbol as the real answer is."""
    taken = {a.symbol for a in DEFAULT_STOCKS}
    rows = [(a.symbol, f"{a.symbol.title()} Inc", "NASDAQ" if _u(a.symbol, "x") < 0.5 else "NYSE", "Stock",
             "1990-01-02", "null", "Active") for a in DEFAULT_STOCKS if a.symbol not in assets.DELISTED_STOCKS]
    n, wanted = 0, len(rows) + SYNTHETIC
    while len(rows) < wanted:
        symbol = _letters(n * 7919 % 475228)  # spread over the 2-4 letter space, deterministic
        n += 1
        if symbol in taken or symbol in assets.DELISTED_STOCKS:
            continue
        taken.add(symbol)
        etf = _u(symbol, "etf") < ETF_SHARE
        exchange = _pick(ETF_EXCHANGES if etf else STOCK_EXCHANGES, _u(symbol, "exchange"))
        name = f"{symbol[:2].title()}{symbol[2:].lower()} " + ("Trust ETF" if etf else "Holdings, Inc")
        odd = _u(symbol, "odd")
        if odd < ODD_SHARE / 2:
            symbol += "-P-A"                       # a preferred share: two suffixes
        elif odd < ODD_SHARE:
            symbol += "-WS"                        # a warrant: finhub's pattern accepts one suffix
        year = 1980 + int(_u(symbol, "ipo") * 45)
        rows.append((symbol, name, exchange, "ETF" if etf else "Stock", f"{year}-0{1 + n % 9}-1{n % 10}", "null",
                     "Active"))
    return tuple(sorted(rows))


def _u(symbol: str, salt: str) -> float:
    return generator._unit(f"listing:{salt}:{symbol}")


def csv_text(state: str = "active") -> str:
    """The LISTING_STATUS body for ``state`` (active or delisted)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    if state == "delisted":
        writer.writerows((s, f"{s.title()} Corp", "NYSE", "Stock", "2000-01-03", day, "Delisted")
                         for s, day in sorted(DELISTING_DATES.items()))
    else:
        writer.writerows(active_rows())
    return out.getvalue()
