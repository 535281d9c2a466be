"""Alpha Vantage's /query as alpha_vantage meets it: GLOBAL_QUOTE, CURRENCY_EXCHANGE_RATE,
TIME_SERIES_DAILY, TIME_SERIES_INTRADAY (by month), DIGITAL_CURRENCY_DAILY, and LISTING_STATUS's CSV
(:mod:`finhub.sandbox.listings`). Throttling answers HTTP 200 with a JSON note."""

from __future__ import annotations

from datetime import date, timedelta

from finhub.calendar import calendar, is_open, last_close
from finhub.sandbox import assets, generator, listings, samples
from finhub.sandbox.controls import State
from finhub.sandbox.http import Request, Response, json_response, text_response

PATH = "/query"
COMPACT_DAYS = 100
FULL_YEARS = 20


def endpoint(request: Request) -> str:
    return request.query.get("function", "(none)")


def over_quota(window: str) -> Response:
    daily = window in ("per_day", "per_month")
    return Response(200, samples.error_body("alphavantage_information" if daily else "alphavantage_note"))


def handle(request: Request, state: State) -> Response | None:
    q = request.query
    if not q.get("apikey"):
        return json_response({"Error Message": "the parameter apikey is invalid or missing. Please claim your free "
                                               "API key on (https://www.alphavantage.co/support/#api-key). It "
                                               "should take less than 20 seconds."})
    function = q.get("function")
    if function == "LISTING_STATUS":
        return text_response(listings.csv_text(q.get("state", "active").lower()), content_type="text/csv")
    handlers = {"GLOBAL_QUOTE": _global_quote, "CURRENCY_EXCHANGE_RATE": _exchange_rate,
                "TIME_SERIES_DAILY": _daily, "DIGITAL_CURRENCY_DAILY": _digital_daily,
                "TIME_SERIES_INTRADAY": _intraday}
    if function not in handlers:
        return Response(200, samples.error_body("alphavantage_error"))
    symbol = q.get("symbol") or q.get("from_currency") or ""
    controls = state.controls["alphavantage"]
    if controls.replay:
        sample = samples.find("alphavantage", function, {symbol}, q, request.now.date())
        if sample:
            return Response(200, samples.read(sample.file))
    if not symbol or symbol in controls.unknown_symbols or symbol in assets.DELISTED_STOCKS:
        if function == "GLOBAL_QUOTE":
            return json_response({"Global Quote": {}})
        return Response(200, samples.error_body("alphavantage_error"))
    return handlers[function](symbol, request, controls)


def _skew(symbol: str, controls) -> float:
    return controls.skew_for(symbol) or controls.skew_for(assets.from_alphavantage(symbol))


def _stale(symbol: str, controls) -> timedelta:
    return timedelta(seconds=controls.stale_for(symbol) or controls.stale_for(assets.from_alphavantage(symbol)))


def _number(value: float) -> str:
    return f"{value:.4f}"


def _global_quote(symbol: str, request: Request, controls) -> Response:
    now = generator.floor_minute(request.now) - _stale(symbol, controls)
    moment = now if is_open(now) else last_close(now)
    canonical, skew = assets.from_alphavantage(symbol), _skew(symbol, controls)
    day = moment.astimezone(calendar().tz).date()
    open_ = calendar().session_open(day.isoformat()).to_pydatetime() if calendar().is_session(day.isoformat()) \
        else moment
    o, h, low, _, volume = generator.bar(canonical, open_, max(moment - open_, timedelta(minutes=1)), "alphavantage",
                                         skew)
    price = generator.price(canonical, moment, "alphavantage", skew)
    previous = generator.price(canonical, last_close(open_), "alphavantage", skew)
    return json_response({"Global Quote": {
        "01. symbol": symbol, "02. open": _number(o), "03. high": _number(max(h, price)),
        "04. low": _number(min(low, price)), "05. price": _number(price), "06. volume": str(int(volume)),
        "07. latest trading day": day.isoformat(), "08. previous close": _number(previous),
        "09. change": _number(price - previous), "10. change percent": f"{(price / previous - 1) * 100:.4f}%"}})


def _exchange_rate(symbol: str, request: Request, controls) -> Response:
    if request.query.get("to_currency", "").upper() != "USD":
        return Response(200, samples.error_body("alphavantage_error"))
    moment = generator.floor_minute(request.now) - _stale(symbol, controls)
    rate = generator.price(assets.from_alphavantage(symbol), moment, "alphavantage", _skew(symbol, controls))
    return json_response({"Realtime Currency Exchange Rate": {
        "1. From_Currency Code": symbol, "2. From_Currency Name": symbol.title(),
        "3. To_Currency Code": "USD", "4. To_Currency Name": "United States Dollar",
        "5. Exchange Rate": f"{rate:.8f}", "6. Last Refreshed": moment.strftime("%Y-%m-%d %H:%M:%S"),
        "7. Time Zone": "UTC", "8. Bid Price": f"{rate * 0.9999:.8f}", "9. Ask Price": f"{rate * 1.0001:.8f}"}})


def _daily(symbol: str, request: Request, controls) -> Response:
    now = request.now
    full = request.query.get("outputsize") == "full"
    cal = calendar()
    start = max(now - timedelta(days=366 * FULL_YEARS if full else COMPACT_DAYS * 2),
                cal.first_session.tz_localize("UTC").to_pydatetime())
    sessions = [s for s in cal.sessions_in_range(start.date(), now.date()) if cal.session_open(s) <= now]
    if not full:
        sessions = sessions[-COMPACT_DAYS:]
    canonical, skew = assets.from_alphavantage(symbol), _skew(symbol, controls)
    series = {}
    for session in reversed(sessions):
        opened, closed = cal.session_open(session).to_pydatetime(), cal.session_close(session).to_pydatetime()
        o, h, low, c, v = generator.bar(canonical, opened, min(closed, now) - opened, "alphavantage", skew)
        series[session.date().isoformat()] = {"1. open": _number(o), "2. high": _number(h), "3. low": _number(low),
                                              "4. close": _number(c), "5. volume": str(int(v))}
    return json_response({"Meta Data": {
        "1. Information": "Daily Prices (open, high, low, close) and Volumes", "2. Symbol": symbol,
        "3. Last Refreshed": next(iter(series), now.date().isoformat()),
        "4. Output Size": "Full size" if full else "Compact", "5. Time Zone": "US/Eastern"},
        "Time Series (Daily)": series})


def _intraday(symbol: str, request: Request, controls) -> Response:
    """TIME_SERIES_INTRADAY with ``month=YYYY-MM``: that month's bars (regular hours unless
    ``extended_hours``), keyed by New York wall-clock time, newest first."""
    q, now = request.query, request.now
    names = {"1min": 1, "5min": 5, "15min": 15, "30min": 30, "60min": 60}
    minutes = names.get(q.get("interval", ""))
    if minutes is None:
        return Response(200, samples.error_body("alphavantage_error"))
    cal, zone = calendar(), calendar().tz
    year, month = (int(p) for p in (q.get("month") or now.astimezone(zone).strftime("%Y-%m")).split("-"))
    first = date(year, month, 1)
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    canonical, skew = assets.from_alphavantage(symbol), _skew(symbol, controls)
    length, series = timedelta(minutes=minutes), {}
    for session in reversed(cal.sessions_in_range(first.isoformat(), min(last, now.date()).isoformat())):
        opened, closed = cal.session_open(session).to_pydatetime(), cal.session_close(session).to_pydatetime()
        starts = []
        t = opened
        while t < min(closed, now):
            starts.append(t)
            t += length
        for t in reversed(starts):
            o, h, low, c, v = generator.bar(canonical, t, length, "alphavantage", skew)
            series[t.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")] = {
                "1. open": _number(o), "2. high": _number(h), "3. low": _number(low), "4. close": _number(c),
                "5. volume": str(int(v))}
    return json_response({"Meta Data": {
        "1. Information": f"Intraday ({q.get('interval')}) open, high, low, close prices and volume",
        "2. Symbol": symbol, "3. Last Refreshed": next(iter(series), ""), "4. Interval": q.get("interval"),
        "5. Output Size": "Full size", "6. Time Zone": "US/Eastern"},
        f"Time Series ({q.get('interval')})": series})


def _digital_daily(symbol: str, request: Request, controls) -> Response:
    now = request.now
    canonical, skew = assets.from_alphavantage(symbol), _skew(symbol, controls)
    series = {}
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for i in range(COMPACT_DAYS):
        start = day - timedelta(days=i)
        o, h, low, c, v = generator.bar(canonical, start, min(timedelta(days=1), now - start), "alphavantage", skew)
        series[start.date().isoformat()] = {"1. open": _number(o), "2. high": _number(h), "3. low": _number(low),
                                            "4. close": _number(c), "5. volume": _number(v)}
    return json_response({"Meta Data": {
        "1. Information": "Daily Prices and Volumes for Digital Currency", "2. Digital Currency Code": symbol,
        "3. Digital Currency Name": symbol.title(), "4. Market Code": request.query.get("market", "USD"),
        "5. Market Name": "United States Dollar", "6. Last Refreshed": now.strftime("%Y-%m-%d %H:%M:%S"),
        "7. Time Zone": "UTC"}, "Time Series (Digital Currency Daily)": series})


