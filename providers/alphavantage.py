"""Alpha Vantage through alpha_vantage: GLOBAL_QUOTE for stocks, CURRENCY_EXCHANGE_RATE for crypto
in USD, TIME_SERIES_DAILY for history. One symbol a call; 25 calls a day on a free key.

The library calls ``requests.get`` without a timeout and reads its base URL from a class
attribute. :class:`_Bounded` overrides its one HTTP method for finhub's clients only: a session
with a timeout, the configured base URL, and the error classification, per instance.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import requests
from alpha_vantage.alphavantage import AlphaVantage
from alpha_vantage.foreignexchange import ForeignExchange
from alpha_vantage.timeseries import TimeSeries

from finhub.config import Secret, Settings
from finhub.logs import get_logger
from finhub.model import EXCHANGE_TZ, Asset, AssetType, Listing, Observation, day_start
from providers import _http
from providers.base import (
    BadResponse,
    BadSymbol,
    Provider,
    ProviderError,
    QuotaExhausted,
    Quotes,
    RateLimited,
    Reach,
    check_price,
    check_timestamp,
    optional_number,
    utcnow,
)
from providers.metering import metered_session

#: A GLOBAL_QUOTE carries only the trading day: its price is stamped at that day's US close.
US_CLOSE = time(16, 0)
#: TIME_SERIES_DAILY ``compact`` holds the last 100 trading days (~140 calendar days).
COMPACT_SPAN = timedelta(days=135)
#: TIME_SERIES_INTRADAY's interval names for ours: 1min to 60min.
INTRADAY = {"1m": "1min", "5m": "5min", "15m": "15min", "30m": "30min", "1h": "60min"}
#: TIME_SERIES_INTRADAY with ``month=YYYY-MM`` and ``outputsize=full`` answers one calendar month
#: (New York time) of bars a call, any month since 2000-01; ``extended_hours=false`` keeps to the
#: regular session. Its bar times are New York wall-clock times.
INTRADAY_REACH = Reach(month_zone="America/New_York",
                       source="Alpha Vantage TIME_SERIES_INTRADAY: one calendar month a call (month=YYYY-MM)")


def _month_of(start: datetime, end: datetime) -> str:
    """The one calendar month (New York) [start, end) lies in, as ``YYYY-MM``; a range across months
    is a request to split first (see :class:`Reach`)."""
    first, last = start.astimezone(EXCHANGE_TZ), (end - timedelta(seconds=1)).astimezone(EXCHANGE_TZ)
    if (first.year, first.month) != (last.year, last.month):
        raise ValueError("TIME_SERIES_INTRADAY answers one calendar month a call: split the range by month")
    return f"{first:%Y-%m}"


def _bar_time(label: str, asset: Asset) -> datetime:
    """A series key as a market time: a day (daily bars, at the day's start) or a New York wall-clock time."""
    if len(label) == 10:
        return day_start(datetime.strptime(label, "%Y-%m-%d").date(), asset.asset_type)
    return datetime.strptime(label, "%Y-%m-%d %H:%M:%S").replace(tzinfo=EXCHANGE_TZ).astimezone(UTC)


#: The columns of a LISTING_STATUS answer.
LISTING_FIELDS = ("symbol", "name", "exchange", "assetType", "ipoDate", "delistingDate", "status")


def _date_or_none(value: str | None) -> date | None:
    """``1999-11-18``; ``null`` or anything else is None."""
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None


class _Bounded:
    """Mixin for alpha_vantage clients: the library's HTTP call with a timeout and finhub's errors."""

    def _bind(self, base: str | None, timeout: float, session: requests.Session) -> None:
        self._finhub_base, self._finhub_timeout, self._finhub_session = base, timeout, session

    def _get(self, url: str) -> requests.Response:
        """GET ``url`` (built on the library's base URL) with the timeout; transport and status errors classified."""
        if self._finhub_base:
            url = self._finhub_base.rstrip("?") + "?" + url[len(AlphaVantage._ALPHA_VANTAGE_API_URL):]
        try:
            response = self._finhub_session.get(url, timeout=self._finhub_timeout)
        except _http.CLIENT_ERRORS as exc:
            raise _http.from_exception(AlphaVantageProvider.name, exc) from None
        known = _http.from_status(AlphaVantageProvider.name, response)
        if known is not None:
            raise known
        return response

    def _handle_api_call(self, url: str):
        return self._body(self._get(url))

    def _body(self, response: requests.Response):
        """The JSON answer, or the error its notes mean."""
        name = AlphaVantageProvider.name
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, requests.JSONDecodeError) as exc:
            raise _http.from_exception(name, exc, response) from None
        if not isinstance(body, dict) or not body:
            raise BadResponse(name, f"answered {str(body)[:80]!r}")
        if "Information" in body:
            raise QuotaExhausted(name, str(body["Information"])[:200])
        if "Note" in body:
            raise RateLimited(name, str(body["Note"])[:200], retry_after=60.0)
        if "Error Message" in body:
            raise _RequestRejected(name, str(body["Error Message"])[:200])
        return body


class _RequestRejected(ProviderError):
    """An ``Error Message`` body; the adapter turns it into BadSymbol for the symbol it asked."""


class _Quotes(_Bounded, TimeSeries):
    pass


class _Rates(_Bounded, ForeignExchange):
    pass


def _library(call, *args, **kwargs):
    """Run an alpha_vantage call: its own KeyError/TypeError/pandas errors on odd bodies are bad data."""
    try:
        return call(*args, **kwargs)
    except ProviderError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise BadResponse(AlphaVantageProvider.name, f"unreadable answer: {type(exc).__name__}: {exc}"[:200]) from None


class AlphaVantageProvider(Provider):
    name = "alphavantage"
    batch_size = 1

    def __init__(self, api_key: Secret, url: str | None = None, timeout: float = 10.0, clock=utcnow) -> None:
        """``clock`` says what "now" is when choosing compact (last 100 days) or full history."""
        self.clock = clock
        session = metered_session(self.name)
        self.stocks = _Quotes(key=api_key.reveal(), output_format="json")
        self.rates = _Rates(key=api_key.reveal(), output_format="json")
        for client in (self.stocks, self.rates):
            client._bind(url, timeout, session)

    @classmethod
    def from_settings(cls, settings: Settings) -> AlphaVantageProvider | None:
        """The adapter, or None (with one log line) when no API key is configured."""
        s = settings.providers.alphavantage
        if not s.api_key:
            get_logger(__name__).info("Alpha Vantage is off: set FINHUB_ALPHAVANTAGE_API_KEY to use it",
                                      provider=cls.name)
            return None
        return cls(s.api_key, s.url, s.timeout)

    def supports(self, asset: Asset) -> bool:
        return asset.alphavantage is not None

    def listings(self) -> list[Listing]:
        """Every active US listing, in one LISTING_STATUS call (a CSV: symbol, name, exchange,
        assetType, ipoDate, delistingDate, status). Rows without a symbol are left out."""
        response = self.stocks._get(f"{AlphaVantage._ALPHA_VANTAGE_API_URL}function=LISTING_STATUS"
                                    f"&apikey={self.stocks.key}")
        text = response.text
        if text.lstrip().startswith("{"):  # throttled or refused: a JSON note instead of the CSV
            self.stocks._body(response)
            raise BadResponse(self.name, f"LISTING_STATUS answered JSON: {text[:80]!r}")
        reader = csv.DictReader(io.StringIO(text))
        if not set(LISTING_FIELDS) <= set(reader.fieldnames or ()):
            raise BadResponse(self.name, f"LISTING_STATUS is not the listings CSV: {text[:80]!r}")
        return [Listing(row["symbol"].strip(), row["name"] or "", row["exchange"] or "", row["assetType"] or "",
                        _date_or_none(row["ipoDate"]), row["status"] or "")
                for row in reader if row["symbol"] and row["symbol"].strip()]

    def quote_batch(self, assets: Sequence[Asset]) -> Quotes:
        result = Quotes()
        for asset in assets:  # batch_size is 1: one call each
            try:
                result.observations.append(self._quote(asset))
            except (BadSymbol, BadResponse) as exc:
                result.errors[asset.symbol] = exc
            except _RequestRejected as exc:
                result.errors[asset.symbol] = BadSymbol(self.name, asset.symbol, exc.message)
        return result

    def _quote(self, asset: Asset) -> Observation:
        fetched = utcnow()
        if asset.asset_type == AssetType.CRYPTO:
            data, _ = _library(self.rates.get_currency_exchange_rate, asset.alphavantage, "USD")
            if not isinstance(data, dict) or "5. Exchange Rate" not in data:
                raise BadSymbol(self.name, asset.symbol, "no exchange rate")
            price = check_price(self.name, asset.symbol, data["5. Exchange Rate"])
            return Observation(asset.symbol, asset.asset_type, price, self._refreshed(asset, data, fetched),
                               self.name, fetched)
        data, _ = _library(self.stocks.get_quote_endpoint, asset.alphavantage)
        if not isinstance(data, dict) or not data:
            raise BadSymbol(self.name, asset.symbol, "empty Global Quote")
        price = check_price(self.name, asset.symbol, data.get("05. price"))
        close = self._close_of(asset, data.get("07. latest trading day"), fetched)
        return Observation(asset.symbol, asset.asset_type, price, close,
                           self.name, fetched, open=optional_number(data.get("02. open")),
                           high=optional_number(data.get("03. high")), low=optional_number(data.get("04. low")),
                           volume=optional_number(data.get("06. volume")))

    def _refreshed(self, asset: Asset, data: dict, now: datetime) -> datetime:
        try:
            moment = datetime.strptime(str(data.get("6. Last Refreshed")), "%Y-%m-%d %H:%M:%S")
            zone = ZoneInfo(str(data.get("7. Time Zone", "UTC")))
        except (ValueError, KeyError):
            raise BadResponse(self.name, f"{asset.symbol}: no usable '6. Last Refreshed'") from None
        return check_timestamp(self.name, asset.symbol, moment.replace(tzinfo=zone), now)

    def _close_of(self, asset: Asset, day: object, now: datetime) -> datetime:
        try:
            trading_day = datetime.strptime(str(day), "%Y-%m-%d").date()
        except ValueError:
            raise BadResponse(self.name, f"{asset.symbol}: no usable '07. latest trading day'") from None
        close = datetime.combine(trading_day, US_CLOSE, EXCHANGE_TZ)
        return check_timestamp(self.name, asset.symbol, min(close, now), now)

    def reach(self, asset: Asset, interval: str) -> Reach | None:
        if not self.supports(asset) or asset.asset_type != AssetType.STOCK:
            return None
        if interval == "1d":
            return Reach(source="Alpha Vantage TIME_SERIES_DAILY (compact: 100 days, full: 20+ years)")
        if interval in INTRADAY:
            return INTRADAY_REACH
        return None

    def history(self, asset: Asset, interval: str, start: datetime, end: datetime) -> list[Observation]:
        if interval != "1d" and interval not in INTRADAY:
            raise ValueError(f"Alpha Vantage serves daily and {'/'.join(INTRADAY)} bars, not {interval!r}")
        if not self.supports(asset) or asset.asset_type != AssetType.STOCK:
            raise BadSymbol(self.name, asset.symbol, "no Alpha Vantage stock symbol")
        fetched = utcnow()
        try:
            if interval == "1d":
                size = "compact" if self.clock() - start <= COMPACT_SPAN else "full"
                series, _ = _library(self.stocks.get_daily, asset.alphavantage, outputsize=size)
            else:
                series, _ = _library(self.stocks.get_intraday, asset.alphavantage, INTRADAY[interval],
                                     outputsize="full", month=_month_of(start, end), extended_hours="false")
        except _RequestRejected as exc:
            raise BadSymbol(self.name, asset.symbol, exc.message) from None
        if not isinstance(series, dict):
            raise BadResponse(self.name, f"{asset.symbol}: no {interval} series")
        bars = []
        for label, values in series.items():
            try:
                moment = _bar_time(str(label), asset)
                if not start <= moment < end or not isinstance(values, dict):
                    continue
                bars.append(Observation(asset.symbol, asset.asset_type,
                                        check_price(self.name, asset.symbol, values.get("4. close")), moment,
                                        self.name, fetched, interval, open=optional_number(values.get("1. open")),
                                        high=optional_number(values.get("2. high")),
                                        low=optional_number(values.get("3. low")),
                                        volume=optional_number(values.get("5. volume"))))
            except (BadResponse, ValueError):
                continue
        return sorted(bars, key=lambda o: o.timestamp)


