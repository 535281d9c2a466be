"""CoinGecko through pycoingecko: the whole crypto universe in one ``simple/price`` call, rankings,
trending and ``market_chart/range`` history."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pycoingecko import CoinGeckoAPI

from finhub.config import Secret, Settings
from finhub.logs import get_logger
from finhub.model import BAR_PERIOD, Asset, AssetType, Observation, RankedCoin
from providers import _http
from providers.base import (
    BadResponse,
    BadSymbol,
    Provider,
    ProviderError,
    Quotes,
    Reach,
    check_price,
    check_timestamp,
    optional_number,
    utcnow,
)
from providers.metering import metered_session

#: API base per plan: the keyless and demo plans share the public host, pro has its own.
HOSTS = {"keyless": "https://api.coingecko.com/api/v3/", "demo": "https://api.coingecko.com/api/v3/",
         "pro": "https://pro-api.coingecko.com/api/v3/"}
#: The header carrying each plan's key.
KEY_HEADERS = {"demo": "x-cg-demo-api-key", "pro": "x-cg-pro-api-key"}
#: Coins per ``coins/markets`` page (CoinGecko's maximum).
MARKETS_PAGE = 250
#: Bar intervals history takes from ``market_chart/range``. Its points are prices, not OHLC bars:
#: each bar is stored close-only (no open/high/low), as the first point inside its UTC period, and
#: only for the interval whose granularity CoinGecko served (5-minute points for 5m, hourly for 1h,
#: daily or finer for 1d and 1wk), never resampled into another interval.
INTERVALS = ("5m", "1h", "1d", "1wk")
#: CoinGecko's granularity is automatic: 5-minute points only for a range within the last day from
#: now, hourly for a range of up to 90 days, daily beyond. The keyless and demo plans reach back
#: 365 days ("Public API users are limited to querying historical data within the past 365 days").
_DOCS = "CoinGecko coins/{id}/market_chart/range (automatic granularity)"
REACH = {"5m": Reach(lookback=timedelta(days=1), span=timedelta(days=1),
                     source=f"{_DOCS}: 5-minute points only within the last day"),
         "1h": Reach(lookback=timedelta(days=365), span=timedelta(days=90),
                     source=f"{_DOCS}: hourly points for ranges up to 90 days; keyless/demo reach back 365 days"),
         "1d": Reach(lookback=timedelta(days=365), source=f"{_DOCS}: keyless/demo reach back 365 days"),
         "1wk": Reach(lookback=timedelta(days=365), source=f"{_DOCS}: keyless/demo reach back 365 days")}

#: What a pycoingecko call raises besides ValueError: either client's transport errors, a bad body.
_CALL_ERRORS: tuple[type[BaseException], ...] = (*_http.CLIENT_ERRORS, UnicodeDecodeError)


class CoinGeckoProvider(Provider):
    name = "coingecko"

    def __init__(self, url: str | None = None, api_key: Secret | None = None, plan: str = "demo",
                 timeout: float = 10.0, batch_size: int = 250) -> None:
        """``plan``: what kind of key ``api_key`` is (``demo`` or ``pro``); without a key, keyless."""
        self.client = CoinGeckoAPI(retries=0)
        plan = plan if api_key else "keyless"
        # The key travels in its plan's header, on its plan's host (a demo key on the pro host, or the
        # reverse, is refused with error 10010/10011), never in the URL.
        self.client.api_base_url = url if url else HOSTS[plan]
        if not self.client.api_base_url.endswith("/"):
            self.client.api_base_url += "/"
        if api_key and plan in KEY_HEADERS:
            self.client.session.headers[KEY_HEADERS[plan]] = api_key.reveal()
        metered_session(self.name, self.client.session)
        self.client.request_timeout = timeout
        self.batch_size = batch_size
        self.plan = plan
        self._last = threading.local()
        self.client.session.hooks["response"].append(self._remember)

    @classmethod
    def from_settings(cls, settings: Settings) -> CoinGeckoProvider:
        """The adapter; without a key, one warning recommending the free demo key."""
        s = settings.providers.coingecko
        if not s.api_key:
            get_logger(__name__).warning(
                "CoinGecko without an API key: the keyless public API is shared by everyone behind this IP "
                "and heavily throttled; get the free demo key (coingecko.com/en/api) and set "
                "FINHUB_COINGECKO_API_KEY", provider=cls.name)
        return cls(s.url, s.api_key, s.plan, s.timeout, s.batch_size)

    def _remember(self, response, *args, **kwargs):
        self._last.response = response

    def _call(self, method, *args, **kwargs):
        """Run a pycoingecko call; every failure leaves as a ProviderError."""
        self._last.response = None
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except ValueError as exc:  # pycoingecko raises ValueError(body) for JSON error bodies
            raise self._classify_body(exc) from None
        except _CALL_ERRORS as exc:
            raise _http.from_exception(self.name, exc, self._last.response) from None

    def _classify_body(self, exc: ValueError) -> ProviderError:
        response = self._last.response
        body = exc.args[0] if exc.args else None
        if isinstance(body, dict):
            status = body.get("status")
            code = status.get("error_code") if isinstance(status, dict) else None
            if code == 429 or (response is not None and response.status_code == 429):
                return _http.from_status(self.name, response) or _http.RateLimited(self.name, "HTTP 429") \
                    if response is not None else _http.RateLimited(self.name, "HTTP 429")
            if response is not None and response.status_code == 404:
                return BadSymbol(self.name, "?", str(body.get("error", "not found"))[:100])
        return _http.from_exception(self.name, exc, response)

    def supports(self, asset: Asset) -> bool:
        return asset.coingecko_id is not None

    def quote_batch(self, assets: Sequence[Asset]) -> Quotes:
        ids = ",".join(a.coingecko_id for a in assets if a.coingecko_id)
        data = self._call("get_price", ids=ids, vs_currencies="usd", include_market_cap="true",
                          include_24hr_vol="true", include_last_updated_at="true")
        if not isinstance(data, dict):
            raise BadResponse(self.name, f"simple/price answered {type(data).__name__}, not an object")
        fetched, result = utcnow(), Quotes()
        for asset in assets:
            entry = data.get(asset.coingecko_id)
            if not isinstance(entry, dict) or "usd" not in entry:
                result.errors[asset.symbol] = BadSymbol(self.name, asset.symbol,
                                                        f"no price for id {asset.coingecko_id!r} "
                                                        "(unknown, renamed or deprecated)")
                continue
            try:
                result.observations.append(Observation(
                    symbol=asset.symbol, asset_type=AssetType.CRYPTO,
                    price=check_price(self.name, asset.symbol, entry["usd"]),
                    timestamp=check_timestamp(self.name, asset.symbol, entry.get("last_updated_at"), fetched),
                    provider=self.name, fetched_at=fetched,
                    market_cap=optional_number(entry.get("usd_market_cap")),
                    volume=optional_number(entry.get("usd_24h_vol"))))
            except BadResponse as exc:
                result.errors[asset.symbol] = exc
        return result

    def reach(self, asset: Asset, interval: str) -> Reach | None:
        if not self.supports(asset) or interval not in REACH:
            return None
        reach = REACH[interval]
        # A paid plan is not held to the 365 days (the 5-minute points stay a last-day thing).
        return reach if self.plan != "pro" or interval == "5m" else Reach(span=reach.span, source=reach.source)

    def history(self, asset: Asset, interval: str, start: datetime, end: datetime) -> list[Observation]:
        if interval not in INTERVALS:
            raise ValueError(f"unknown interval {interval!r}")
        if not self.supports(asset):
            raise BadSymbol(self.name, asset.symbol, "no CoinGecko id")
        try:
            data = self._call("get_coin_market_chart_range_by_id", asset.coingecko_id, "usd",
                              int(start.timestamp()), int(end.timestamp()))
        except BadSymbol:
            raise BadSymbol(self.name, asset.symbol, f"unknown id {asset.coingecko_id!r}") from None
        if not isinstance(data, dict) or not isinstance(data.get("prices"), list):
            raise BadResponse(self.name, f"{asset.symbol}: market_chart has no price list")
        caps, volumes = _by_time(data.get("market_caps")), _by_time(data.get("total_volumes"))
        fetched, bars, seen = utcnow(), [], set()
        for point in data["prices"]:
            if not isinstance(point, list) or len(point) != 2:
                continue
            try:
                moment = check_timestamp(self.name, asset.symbol, point[0] / 1000 if _is_number(point[0]) else None,
                                         fetched)
                price = check_price(self.name, asset.symbol, point[1])
            except BadResponse:
                continue  # one bad point does not spoil the series
            bucket = moment.strftime("%G-%V") if interval == "1wk" else \
                int(moment.timestamp() // BAR_PERIOD[interval].total_seconds())
            if not start <= moment < end or bucket in seen:
                continue
            seen.add(bucket)
            bars.append(Observation(asset.symbol, AssetType.CRYPTO, price, moment, self.name, fetched, interval,
                                    market_cap=caps.get(point[0]), volume=volumes.get(point[0])))
        return bars

    def top_cryptos(self, n: int) -> list[RankedCoin]:
        coins: list[RankedCoin] = []
        for page in range(1, (n - 1) // MARKETS_PAGE + 2):
            rows = self._call("get_coins_markets", "usd", order="market_cap_desc",
                              per_page=min(MARKETS_PAGE, n), page=page)
            if not isinstance(rows, list):
                raise BadResponse(self.name, "coins/markets answered no list")
            coins += [c for c in (self._ranked(row, len(coins) + i + 1) for i, row in enumerate(rows)) if c]
            if len(rows) < min(MARKETS_PAGE, n):
                break
        return coins[:n]

    def _ranked(self, row: object, position: int) -> RankedCoin | None:
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            return None
        try:
            stamp = datetime.fromisoformat(str(row.get("last_updated")).replace("Z", "+00:00"))
            stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        except ValueError:
            stamp = utcnow()
        rank = row.get("market_cap_rank")
        return RankedCoin(rank=rank if isinstance(rank, int) and rank > 0 else position, coingecko_id=row["id"],
                          symbol=str(row.get("symbol", "")).upper(), name=str(row.get("name", "")),
                          price=_positive(row.get("current_price")), market_cap=optional_number(row.get("market_cap")),
                          volume_24h=optional_number(row.get("total_volume")), timestamp=stamp)

    def trending(self) -> list[RankedCoin]:
        data = self._call("get_search_trending")
        if not isinstance(data, dict) or not isinstance(data.get("coins"), list):
            raise BadResponse(self.name, "search/trending has no coin list")
        now, coins = utcnow(), list[RankedCoin]()
        for entry in data["coins"]:
            item = entry.get("item") if isinstance(entry, dict) else None
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            details = item["data"] if isinstance(item.get("data"), dict) else {}
            coins.append(RankedCoin(rank=len(coins) + 1, coingecko_id=item["id"],
                                    symbol=str(item.get("symbol", "")).upper(), name=str(item.get("name", "")),
                                    price=_positive(details.get("price")),
                                    market_cap=optional_number(_dollars(details.get("market_cap"))),
                                    volume_24h=optional_number(_dollars(details.get("total_volume"))),
                                    timestamp=now))
        return coins


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _by_time(points: object) -> dict:
    if not isinstance(points, list):
        return {}
    return {p[0]: optional_number(p[1]) for p in points if isinstance(p, list) and len(p) == 2}


def _positive(value: object) -> float | None:
    number = optional_number(value)
    return number if number else None


def _dollars(value: object) -> object:
    """``"$1,234,567"`` (trending's format) as a number; anything else unchanged."""
    if isinstance(value, str):
        try:
            return float(value.replace("$", "").replace(",", ""))
        except ValueError:
            return None
    return value
