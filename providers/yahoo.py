"""Yahoo Finance through yfinance: quotes batched through the multi-symbol v7 quote endpoint on
yfinance's own session/cookie/crumb machinery (``YfData``), history bars through ``Ticker.history``.

yfinance itself asks v7 for one symbol at a time; the endpoint answers many. 50 symbols a call is
the default: it keeps the URL short (~400 characters), one answer under ~150 KB, and is what
yahoo-finance2's batching has used against the real service without errors; the setting allows
more, at the risk of the undocumented limit.

With a base URL configured (the sandbox, tests) yfinance gets a ``requests.Session`` whose adapter
sends every ``https://*.yahoo.com`` request to that base, path and query kept. Without one it keeps
its own curl_cffi session, which impersonates a browser (plain ``requests`` gets throttled).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import requests
import yfinance as yf
from yfinance.data import YfData
from yfinance.exceptions import YFException, YFInvalidPeriodError, YFRateLimitError, YFTickerMissingError

from finhub.config import Settings
from finhub.model import EXCHANGE_TZ, Asset, Observation
from providers import _http
from providers.base import (
    BadResponse,
    BadSymbol,
    BudgetRefused,
    CorporateAction,
    Provider,
    ProviderError,
    Quotes,
    RateLimited,
    Reach,
    check_price,
    check_timestamp,
    optional_number,
    utcnow,
)
from providers.metering import MeteredAdapter, MeteredCurlSession

QUOTE_URL = "https://query1.finance.yahoo.com/v7/finance/quote"
# yfinance 1.7 still passes inplace= to pandas 3.1, which warns on every history call.
warnings.filterwarnings("ignore", message=r"The inplace keyword in DataFrame", module=r"yfinance")
#: yfinance's interval names for ours (yfinance asks Yahoo for 15m bars and resamples them to 30m:
#: Yahoo answered 30m requests with 60m bars).
INTERVALS = {"1m": "1m", "2m": "2m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "1h", "90m": "90m",
             "1d": "1d", "1wk": "1wk"}
_SOURCE = "Yahoo v8 chart (its error answers; yfinance 1.7 scrapers/history.py)"
_LAST_60_DAYS = Reach(lookback=timedelta(days=60), source=f"{_SOURCE}: intraday bars reach back 60 days")
#: What one chart request serves per interval. 1m: the last 30 days, at most 7 days a request
#: ("Only 7 days worth of 1m granularity data are allowed to be fetched per request", "The requested
#: range must be within the last 30 days"); 2m to 90m: the last 60 days (yfinance: "Intraday data
#: cannot extend last 60 days"); 1h: the last 730 days (yfinance's period="max" for 1h/60m); daily
#: and weekly bars: no limit.
REACH = {"1m": Reach(lookback=timedelta(days=30), span=timedelta(days=7),
                     source=f"{_SOURCE}: 1m bars reach back 30 days, 7 days a request"),
         **dict.fromkeys(("2m", "5m", "15m", "30m", "90m"), _LAST_60_DAYS),
         "1h": Reach(lookback=timedelta(days=730), source=f"{_SOURCE}: 1h bars reach back 730 days"),
         "1d": Reach(source=_SOURCE), "1wk": Reach(source=_SOURCE)}
_cache_lock = threading.Lock()
_cache_dir: str | None = None


_deadline = threading.local()


@contextmanager
def deadline(seconds: float):
    """Bound every HTTP request made inside, together, to ``seconds`` (see :class:`RewriteToBase`)."""
    _deadline.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _deadline.at = None


class RewriteToBase(MeteredAdapter):
    """Send every ``*.yahoo.com`` request to ``base``, keeping path and query (after it was admitted
    under its real host).

    It also holds each request to what is left of the current :func:`deadline`: yfinance's own
    cookie and crumb requests use a fixed 30 s, and one quote can take three requests.
    """

    def __init__(self, base: str, **kwargs) -> None:
        super().__init__(YahooProvider.name, OPTIONAL_HOSTS, **kwargs)
        self.base = urlsplit(base)

    def transmit(self, request, **kwargs):
        parts = urlsplit(request.url)
        if parts.hostname and (parts.hostname == "yahoo.com" or parts.hostname.endswith(".yahoo.com")):
            request.url = urlunsplit((self.base.scheme, self.base.netloc, self.base.path.rstrip("/") + parts.path,
                                      parts.query, ""))
        at = getattr(_deadline, "at", None)
        if at is not None:
            left = at - time.monotonic()
            if left <= 0:
                raise requests.Timeout(f"deadline passed before {parts.path}")
            kwargs["timeout"] = left
        return super().transmit(request, **kwargs)


def _use_cache_dir(folder: str) -> None:
    """Point yfinance's caches (time zones, cookies) at ``folder`` and make it raise, once per process."""
    global _cache_dir
    with _cache_lock:
        if _cache_dir != folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            yf.set_tz_cache_location(folder)
            yf.cache.set_cache_location(folder)
            # Raise instead of logging "possibly delisted" and returning an empty frame.
            yf.config.debug.hide_exceptions = False
            _cache_dir = folder


#: yfinance ignores fc.yahoo.com's answer (it wants the cookie) and carries on without it when the
#: host is unreachable (DNS blocklists): its failures do not stop a call (see providers.metering).
OPTIONAL_HOSTS = frozenset({"fc.yahoo.com"})


class YahooProvider(Provider):
    name = "yahoo"

    def __init__(self, url: str | None = None, timeout: float = 10.0, batch_size: int = 50,
                 cache_dir: str = "var/yfinance-cache", adjusted: bool = True, prepost: bool = False) -> None:
        """``adjusted``: history prices adjusted for splits and dividends (yfinance's auto_adjust);
        ``prepost``: intraday bars of the pre- and post-market hours too."""
        self.timeout = timeout
        self.batch_size = batch_size
        self.adjusted = adjusted
        self.prepost = prepost
        # Every request yfinance sends goes through this session, whose transport admits it first.
        self.session: requests.Session | MeteredCurlSession
        if url:
            self.session = requests.Session()
            self.session.mount("https://", RewriteToBase(url))
            self.session.headers["User-Agent"] = "Mozilla/5.0 (finhub)"
        else:  # yfinance's default kind of session: curl_cffi impersonating a browser
            self.session = MeteredCurlSession(self.name, OPTIONAL_HOSTS, impersonate="chrome")
        _use_cache_dir(cache_dir)

    @classmethod
    def from_settings(cls, settings: Settings) -> YahooProvider:
        s = settings.providers.yahoo
        return cls(s.url, s.timeout, s.batch_size, str(Path(settings.data_dir) / "yfinance-cache"),
                   adjusted=settings.history.adjusted, prepost=settings.history.prepost)

    def supports(self, asset: Asset) -> bool:
        return asset.yahoo is not None

    def _data(self) -> YfData:
        # YfData is a process-wide singleton: hand it our session before each use.
        data = YfData(session=self.session)
        if isinstance(self.session, requests.Session):
            # yfinance remembers only curl_cffi cookies: with a requests session it would fetch the
            # fc.yahoo.com cookie before every request. The base URL's server sets none (see
            # docs/providers.md); the crumb is what matters.
            data._cookie = True
        return data

    def _get(self, url: str, params: dict) -> requests.Response:
        data = self._data()
        try:
            with deadline(self.timeout):
                response = data.get(url, params=params, timeout=self.timeout)
        except YFRateLimitError:
            self._forget_crumb(data)
            raise RateLimited(self.name, "HTTP 429 Too Many Requests") from None
        except BudgetRefused:
            # The metered transport refused a request (see providers.metering): a crumb fetched before
            # it is good, and forgetting it would spend the next attempt's first request on it again.
            raise
        except ProviderError:  # a failure the metered transport raised: the crumb may be an error body
            self._forget_crumb(data)
            raise
        except (*_http.CLIENT_ERRORS, YFException, AttributeError, KeyError) as exc:
            # requests' or curl_cffi's errors (whichever session yfinance holds); AttributeError/KeyError:
            # yfinance's cookie traps (see docs/providers.md); the call failed.
            self._forget_crumb(data)
            raise _http.from_exception(self.name, exc) from None
        failure = _http.from_status(self.name, response)
        if failure is not None:
            self._forget_crumb(data)
            raise failure
        return response

    @staticmethod
    def _forget_crumb(data: YfData) -> None:
        # yfinance keeps a getcrumb 429 body ("Edge: Too Many Requests") as the crumb and sends
        # it on every later call: make it fetch a fresh one next time.
        data._crumb = None

    def quote_batch(self, assets: Sequence[Asset]) -> Quotes:
        response = self._get(QUOTE_URL, {"symbols": ",".join(a.yahoo for a in assets if a.yahoo), "formatted": "false"})
        try:
            body = response.json()
            entries = body["quoteResponse"]["result"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BadResponse(self.name, f"v7 quote: unusable body ({type(exc).__name__}): "
                                         f"{response.text[:80]!r}") from None
        if not isinstance(entries, list):
            raise BadResponse(self.name, "v7 quote: result is not a list")
        by_symbol = {e["symbol"]: e for e in entries if isinstance(e, dict) and isinstance(e.get("symbol"), str)}
        fetched, result = utcnow(), Quotes()
        for asset in assets:
            entry = by_symbol.get(asset.yahoo)
            try:
                result.observations.append(self._observation(asset, entry, fetched))
            except (BadSymbol, BadResponse) as exc:
                result.errors[asset.symbol] = exc
        return result

    def _observation(self, asset: Asset, entry: dict | None, fetched: datetime) -> Observation:
        if entry is None:
            raise BadSymbol(self.name, asset.symbol, f"{asset.yahoo} is not in Yahoo's answer (unknown symbol)")
        if entry.get("quoteType") == "NONE" or "regularMarketPrice" not in entry:
            raise BadSymbol(self.name, asset.symbol, f"{asset.yahoo} has no quote (delisted or renamed?)")
        price = check_price(self.name, asset.symbol, entry["regularMarketPrice"])
        return Observation(
            symbol=asset.symbol, asset_type=asset.asset_type, price=price,
            timestamp=check_timestamp(self.name, asset.symbol, entry.get("regularMarketTime"), fetched),
            provider=self.name, fetched_at=fetched,
            open=optional_number(entry.get("regularMarketOpen")) or None,
            high=optional_number(entry.get("regularMarketDayHigh")) or None,
            low=optional_number(entry.get("regularMarketDayLow")) or None,
            volume=optional_number(entry.get("regularMarketVolume")),
            market_cap=optional_number(entry.get("marketCap")) or None)

    def reach(self, asset: Asset, interval: str) -> Reach | None:
        return REACH.get(interval) if self.supports(asset) else None

    def history(self, asset: Asset, interval: str, start: datetime, end: datetime) -> list[Observation]:
        return self.history_and_actions(asset, interval, start, end)[0]

    def history_and_actions(self, asset: Asset, interval: str, start: datetime,
                            end: datetime) -> tuple[list[Observation], list[CorporateAction]]:
        """Bars, and the splits and dividends of the chart's ``events`` (yfinance's ``actions``)."""
        if interval not in INTERVALS:
            raise ValueError(f"unknown interval {interval!r}")
        if not self.supports(asset):
            raise BadSymbol(self.name, asset.symbol, "no Yahoo symbol")
        self._data()
        # yfinance answers a past range from an in-process cache of 64 answers: a range fetched again
        # (after a split, or by --force) must come from Yahoo, and 1m answers are ~1 MB each.
        YfData.cache_get.cache_clear()
        ticker = yf.Ticker(asset.yahoo, session=self.session)
        try:
            with deadline(self.timeout):
                frame = ticker.history(start=start, end=end, interval=INTERVALS[interval],
                                       auto_adjust=self.adjusted, actions=True, prepost=self.prepost,
                                       timeout=self.timeout)
        except YFRateLimitError:
            raise RateLimited(self.name, "HTTP 429 Too Many Requests") from None
        except (YFTickerMissingError, YFInvalidPeriodError) as exc:
            raise BadSymbol(self.name, asset.symbol, str(exc)[:200]) from None
        except (*_http.CLIENT_ERRORS, YFException) as exc:
            # the time-zone probe raises an HTTPError (requests' or curl_cffi's) for unknown symbols
            error = _http.from_exception(self.name, exc)
            if getattr(getattr(exc, "response", None), "status_code", None) == 404:
                error = BadSymbol(self.name, asset.symbol, "unknown to Yahoo (HTTP 404)")
            raise error from None
        except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise BadResponse(self.name, f"{asset.symbol}: yfinance could not read the chart: "
                                         f"{type(exc).__name__}: {exc}"[:200]) from None
        return self._bars(asset, interval, frame, start, end), self._actions(asset, frame, start, end)

    def _actions(self, asset: Asset, frame: pd.DataFrame, start: datetime, end: datetime) -> list[CorporateAction]:
        """The frame's nonzero ``Dividends`` and ``Stock Splits`` (yfinance puts an event on the first bar
        of its ex-date) whose day lies in the range."""
        if frame is None or frame.empty:
            return []
        first, last = start.astimezone(EXCHANGE_TZ).date(), end.astimezone(EXCHANGE_TZ).date()
        found = []
        for column, kind in (("Dividends", "dividend"), ("Stock Splits", "split")):
            if column not in frame.columns:
                continue
            for moment, value in frame[column].items():
                amount = optional_number(value)
                day = moment.date()  # the frame is in the exchange's time zone
                if amount and first <= day <= last:
                    found.append(CorporateAction(asset.symbol, day, kind, amount, self.name))
        return found

    def _bars(self, asset: Asset, interval: str, frame: pd.DataFrame, start: datetime, end: datetime):
        fetched = utcnow()
        if frame is None or frame.empty:
            return []
        frame = frame.dropna(subset=["Close"])
        index = frame.index.tz_convert(UTC) if frame.index.tz else frame.index.tz_localize(UTC)
        bars = []
        for moment, row in zip(index.to_pydatetime(), frame.itertuples()):
            if not start <= moment < end:
                continue
            try:
                bars.append(Observation(asset.symbol, asset.asset_type,
                                        check_price(self.name, asset.symbol, row.Close),
                                        check_timestamp(self.name, asset.symbol, moment, fetched), self.name,
                                        fetched, interval, open=optional_number(row.Open) or None,
                                        high=optional_number(row.High) or None, low=optional_number(row.Low) or None,
                                        volume=optional_number(row.Volume)))
            except BadResponse:
                continue  # a NaN or zero bar (often the partial last one) is skipped, not stored
        return bars


