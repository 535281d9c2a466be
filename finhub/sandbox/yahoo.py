"""Yahoo Finance as yfinance meets it: cookie, crumb, v7 multi-symbol quote, v8 chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from finhub.calendar import calendar, is_open, last_close
from finhub.sandbox import assets, generator, samples
from finhub.sandbox.controls import State
from finhub.sandbox.http import Request, Response, json_response, text_response

#: The crumb of the recorded getcrumb exchange.
CRUMB = "haT3oykhHqZ"
NOT_FOUND = {"code": "Not Found", "description": "No data found, symbol may be delisted"}
MAX_BARS = 20_000


def endpoint(path: str) -> str:
    if path.startswith("/v8/finance/chart/"):
        return "/v8/finance/chart"
    return path


def over_quota(request: Request) -> Response:
    if request.path == "/v1/test/getcrumb":
        return text_response("Edge: Too Many Requests", 429)
    return text_response("Too Many Requests", 429)


def handle(request: Request, state: State) -> Response | None:
    path = request.path
    if path in ("/", "/consent"):  # fc.yahoo.com / guce.yahoo.com: no cookie set (see notes)
        return text_response("<html><body>ok</body></html>", content_type="text/html")
    if path == "/v1/test/getcrumb":
        return text_response(CRUMB)
    if path == "/v7/finance/quote":
        return _quote(request, state)
    if path.startswith("/v8/finance/chart/"):
        return _chart(path.rsplit("/", 1)[-1], request, state)
    return None


def _market_time(symbol: str, now: datetime, stale: float) -> datetime:
    moment = generator.floor_minute(now)
    if not assets.is_yahoo_crypto(symbol) and not is_open(moment):
        moment = last_close(moment)
    return moment - timedelta(seconds=stale)


def _quote(request: Request, state: State) -> Response:
    symbols = [s for s in request.query.get("symbols", "").split(",") if s]
    controls = state.controls["yahoo"]
    if controls.replay:
        sample = samples.find("yahoo", "quote", set(symbols), request.query, request.now.date())
        if sample:
            return Response(200, samples.read(sample.file))
    result = []
    for symbol in symbols:
        if symbol in controls.unknown_symbols:
            continue  # Yahoo leaves symbols it has never heard of out of the result
        if symbol in assets.DELISTED_STOCKS:
            result.append({"language": "en-US", "region": "US", "quoteType": "NONE", "triggerable": False,
                           "customPriceAlertConfidence": "NONE", "corporateActions": [], "esgPopulated": False,
                           "hasPrePostMarketData": False, "tradeable": False, "cryptoTradeable": False,
                           "symbol": symbol})
            continue
        result.append(_quote_entry(symbol, request.now, controls))
    return json_response({"quoteResponse": {"result": result, "error": None}})


def _quote_entry(symbol: str, now: datetime, controls) -> dict:
    canonical = assets.from_yahoo(symbol)
    crypto = assets.is_yahoo_crypto(symbol)
    moment = _market_time(symbol, now, controls.stale_for(symbol) or controls.stale_for(canonical))
    skew = controls.skew_for(symbol) or controls.skew_for(canonical)
    day_start = moment.replace(hour=0, minute=0)
    open_, high, low, _, volume = generator.bar(canonical, day_start, moment - day_start + timedelta(minutes=1),
                                                "yahoo", skew)
    price = generator.price(canonical, moment, "yahoo", skew)
    return {
        "language": "en-US", "region": "US", "quoteType": "CRYPTOCURRENCY" if crypto else "EQUITY",
        "typeDisp": "Cryptocurrency" if crypto else "Equity", "currency": "USD",
        "shortName": f"{canonical} (sandbox)", "regularMarketPrice": price,
        "regularMarketTime": int(moment.timestamp()), "regularMarketOpen": open_,
        "regularMarketDayHigh": max(high, price), "regularMarketDayLow": min(low, price),
        "regularMarketVolume": int(volume), "marketCap": int(generator.market_cap(canonical, moment)),
        "marketState": "REGULAR" if crypto or is_open(now) else "CLOSED",
        "exchange": "CCC" if crypto else "NMS", "exchangeTimezoneName": "UTC" if crypto else "America/New_York",
        "gmtOffSetMilliseconds": 0 if crypto else -18000000, "market": "ccc_market" if crypto else "us_market",
        "tradeable": False, "triggerable": True, "sourceInterval": 15, "exchangeDataDelayedBy": 0,
        "symbol": symbol,
    }


def _chart(symbol: str, request: Request, state: State) -> Response:
    controls = state.controls["yahoo"]
    q = request.query
    if symbol in assets.DELISTED_STOCKS or symbol in controls.unknown_symbols:
        return json_response({"chart": {"result": None, "error": NOT_FOUND}}, status=404)
    now = request.now
    if "period1" in q:
        start = datetime.fromtimestamp(int(float(q["period1"])), UTC)
        end = datetime.fromtimestamp(int(float(q.get("period2", now.timestamp()))), UTC)
    else:  # range=1d etc.: yfinance's time-zone probe
        start, end = now - timedelta(days=5), now
    interval = q.get("interval", "1d")
    refused = _beyond_reach(interval, start, end, now)
    if refused:
        return json_response({"chart": {"result": None, "error": {
            "code": "Unprocessable Entity",
            "description": f"{interval} data not available for startTime={int(start.timestamp())} and "
                           f"endTime={int(end.timestamp())}. {refused}"}}}, 422)
    if controls.replay and interval == "1d":
        sample = samples.find("yahoo", "chart", {symbol}, q, now.date(),
                              span=(int(start.timestamp()), int(end.timestamp())))
        if sample:
            return Response(200, samples.read(sample.file))
    canonical = assets.from_yahoo(symbol)
    crypto = assets.is_yahoo_crypto(symbol)
    skew = controls.skew_for(symbol) or controls.skew_for(canonical)
    pre_post = q.get("includePrePost") in ("true", "True")
    starts, length = _bar_starts(crypto, interval, start, min(end, now), pre_post)
    if starts is None:
        return json_response({"chart": {"result": None, "error": {
            "code": "Bad Request", "description": f"Invalid input - interval={interval} is not supported."}}}, 400)
    starts = [s for s in starts if controls.has_bar((symbol, canonical), s)]
    splits = controls.splits.get(symbol, ()) or controls.splits.get(canonical, ())
    bars = [_as_traded(generator.bar(canonical, s, length, "yahoo", skew), s, splits) for s in starts[:MAX_BARS]]
    quote = {"open": [b[0] for b in bars], "high": [b[1] for b in bars], "low": [b[2] for b in bars],
             "close": [b[3] for b in bars], "volume": [int(b[4]) for b in bars]}
    last = generator.price(canonical, generator.floor_minute(now), "yahoo", skew)
    meta = {
        "currency": "USD", "symbol": symbol, "exchangeName": "CCC" if crypto else "NMS",
        "instrumentType": "CRYPTOCURRENCY" if crypto else "EQUITY", "firstTradeDate": 345479400,
        "regularMarketTime": int(now.timestamp()), "hasPrePostMarketData": not crypto,
        "gmtoffset": 0 if crypto else -18000, "timezone": "UTC" if crypto else "EST",
        "exchangeTimezoneName": "UTC" if crypto else "America/New_York", "regularMarketPrice": last,
        "chartPreviousClose": last, "priceHint": 2, "dataGranularity": interval, "range": q.get("range", ""),
        "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
    }
    if interval in INTRADAY:
        periods = _trading_periods(crypto, start, min(end, now))
        trading: object = {"pre": periods, "regular": periods, "post": periods} if pre_post else periods
        meta["tradingPeriods"] = trading  # type: ignore[assignment]  # a JSON value of another shape
    result = {"meta": meta, "timestamp": [int(s.timestamp()) for s in starts[:MAX_BARS]],
              "indicators": {"quote": [quote], "adjclose": [{"adjclose": quote["close"]}]}}
    events = _split_events(splits, start, min(end, now))
    if events:
        result["events"] = {"splits": events}
    if not bars:
        result.pop("timestamp")
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
    return json_response({"chart": {"result": [result], "error": None}})


#: Bar lengths of the intervals the chart serves (yfinance asks 15m for 30m, and says 60m or 1h).
LENGTHS = {"1m": timedelta(minutes=1), "2m": timedelta(minutes=2), "5m": timedelta(minutes=5),
           "15m": timedelta(minutes=15), "30m": timedelta(minutes=30), "60m": timedelta(hours=1),
           "1h": timedelta(hours=1), "90m": timedelta(minutes=90), "1d": timedelta(days=1), "1wk": timedelta(weeks=1)}
INTRADAY = tuple(name for name, length in LENGTHS.items() if length < timedelta(days=1))
#: How far back Yahoo serves each intraday interval, and the most one 1m request may span.
LOOKBACK = {"1m": timedelta(days=30), **dict.fromkeys(("2m", "5m", "15m", "30m", "90m"), timedelta(days=60)),
            "60m": timedelta(days=730), "1h": timedelta(days=730)}
MAX_1M_SPAN = timedelta(days=7)


def _beyond_reach(interval: str, start: datetime, end: datetime, now: datetime) -> str | None:
    """Yahoo's refusal of an intraday range it does not serve, or None."""
    if interval == "1m" and end - start > MAX_1M_SPAN:
        return "Only 7 days worth of 1m granularity data are allowed to be fetched per request."
    lookback = LOOKBACK.get(interval)
    if lookback is not None and start < now - lookback:
        return f"The requested range must be within the last {lookback.days} days."
    return None


def _split_day(entry) -> tuple[datetime, float, bool]:
    """A ``splits`` control entry ``[YYYY-MM-DD, ratio, announced]``: the split's session open, ratio, whether shown."""
    day, ratio, *shown = entry
    opened = calendar().session_open(day).to_pydatetime()
    return opened, float(ratio), bool(shown[0]) if shown else True


def _as_traded(bar: tuple, start: datetime, splits) -> tuple:
    """A bar as the chart serves it: prices before a split Yahoo has not announced yet are as traded
    (``ratio`` times the adjusted level), announced splits are adjusted away (Yahoo's close is)."""
    factor = 1.0
    for entry in splits:
        opened, ratio, shown = _split_day(entry)
        if not shown and start < opened:
            factor *= ratio
    if factor == 1.0:
        return bar
    open_, high, low, close, volume = bar
    return open_ * factor, high * factor, low * factor, close * factor, volume / factor


def _split_events(splits, start: datetime, end: datetime) -> dict:
    """The chart's ``events.splits`` for the announced splits in [start, end)."""
    events = {}
    for entry in splits:
        opened, ratio, shown = _split_day(entry)
        if shown and start <= opened < end:
            stamp = int(opened.timestamp())
            numerator = int(ratio) if float(ratio).is_integer() else ratio
            events[str(stamp)] = {"date": stamp, "numerator": numerator, "denominator": 1,
                                  "splitRatio": f"{numerator}:1"}
    return events


def _trading_periods(crypto: bool, start: datetime, end: datetime) -> list:
    """Yahoo's ``tradingPeriods`` for intraday charts: one ``[{start, end, ...}]`` per session."""
    zone, offset = ("UTC", 0) if crypto else ("EST", -18000)
    if crypto:
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        spans = []
        while day < end:
            spans.append((day, day + timedelta(days=1)))
            day += timedelta(days=1)
    else:
        cal = calendar()
        sessions = cal.sessions_in_range(start.date(), end.date()) if start.date() <= end.date() else []
        spans = [(cal.session_open(s).to_pydatetime(), cal.session_close(s).to_pydatetime()) for s in sessions]
    return [[{"timezone": zone, "start": int(a.timestamp()), "end": int(b.timestamp()), "gmtoffset": offset}]
            for a, b in spans]


def _bar_starts(crypto: bool, interval: str, start: datetime, end: datetime, prepost: bool = False):
    """Bar start times in [start, end) and the bar length, or (None, None) for an unknown interval;
    ``prepost``: a stock's intraday bars from 4:00 to 20:00 New York (17:00 after an early close)."""
    if interval not in LENGTHS:
        return None, None
    length = LENGTHS[interval]
    if crypto:
        step = length.total_seconds()  # intraday: on the UTC grid of the bar length
        first = datetime.fromtimestamp(-(-start.timestamp() // step) * step, UTC)
        if length >= timedelta(days=1):
            first = start.replace(hour=0, minute=0, second=0, microsecond=0)
        if length == timedelta(weeks=1):
            first -= timedelta(days=first.weekday())
        starts: list[datetime] = []
        t = first
        while t < end and len(starts) < MAX_BARS:
            if t >= start or length == timedelta(weeks=1):
                starts.append(t)
            t += length
        return starts, length
    cal = calendar()
    lo = max(start, cal.first_session.tz_localize("UTC").to_pydatetime())
    hi = min(end, cal.last_session.tz_localize("UTC").to_pydatetime())
    if lo >= hi:
        return [], length
    # An intraday range starting at 00:00 UTC may hold the end of the previous day's post-market.
    first_day = lo.date() - timedelta(days=1) if prepost and length < timedelta(days=1) else lo.date()
    sessions = cal.sessions_in_range(max(first_day, cal.first_session.date()), hi.date())
    opens = [cal.session_open(s).to_pydatetime() for s in sessions]
    closes = [cal.session_close(s).to_pydatetime() for s in sessions]
    if interval == "1d":
        return [o for o in opens if start <= o < end], length
    if interval == "1wk":
        weeks = sorted({(o - timedelta(days=o.weekday())).replace(hour=o.hour, minute=o.minute) for o in opens})
        return [w for w in weeks if w < end], length
    before, after = (timedelta(hours=5, minutes=30), timedelta(hours=4)) if prepost else (timedelta(0), timedelta(0))
    starts = []
    for o, c in zip(opens, closes):
        t = o - before
        while t < c + after:
            if start <= t < end:
                starts.append(t)
            t += length
    return starts, length
