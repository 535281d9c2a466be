"""CoinGecko's API v3 as pycoingecko meets it: simple/price, coins/markets, search/trending,
coins/{id}/market_chart[/range]."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from finhub.sandbox import assets, generator, levels, samples
from finhub.sandbox.controls import State
from finhub.sandbox.http import Request, Response, json_response, text_response
from finhub.universe import DEFAULT_CRYPTOS

PREFIX = "/api/v3/"
HTML_429 = ("<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
            "<h1>429 Too Many Requests</h1><p>cloudflare</p></body></html>")


def endpoint(path: str) -> str:
    rest = path[len(PREFIX):]
    if rest.startswith("coins/") and rest.count("/") >= 2 and not rest.startswith("coins/markets"):
        return PREFIX + "coins/{id}/" + rest.split("/", 2)[2]
    return path


def over_quota(request: Request, style: str) -> Response:
    if style == "html":
        return text_response(HTML_429, 429, "text/html; charset=UTF-8")
    return Response(429, samples.error_body("coingecko_429"), headers={"retry-after": "60"})


def handle(request: Request, state: State) -> Response | None:
    rest = request.path[len(PREFIX):]
    if rest == "ping":
        return json_response({"gecko_says": "(V3) To the Moon!"})
    if rest == "simple/price":
        return _simple_price(request, state)
    if rest == "coins/markets":
        return _markets(request, state)
    if rest == "search/trending":
        return _trending(request, state)
    parts = rest.split("/")
    if len(parts) >= 3 and parts[0] == "coins" and parts[2] == "market_chart":
        return _market_chart(parts[1], parts[3:] == ["range"], request, state)
    return None


def _simple_price(request: Request, state: State) -> Response:
    q = request.query
    ids = [i for i in q.get("ids", "").split(",") if i]
    currencies = [c for c in q.get("vs_currencies", "").lower().split(",") if c]
    if not ids or not currencies:
        return json_response({"error": "Missing parameter ids or vs_currencies"}, 400)
    controls = state.controls["coingecko"]
    if controls.replay:
        sample = samples.find("coingecko", "simple/price", set(ids), q, request.now.date())
        if sample:
            return Response(200, samples.read(sample.file))
    out: dict[str, dict] = {}
    for coin in ids:
        if coin in controls.unknown_symbols:
            continue  # CoinGecko omits ids it does not know, with HTTP 200
        if coin in assets.DEPRECATED_COIN_IDS:
            out[coin] = {}
            continue
        symbol = assets.from_coingecko(coin)
        moment = generator.floor_minute(request.now) - timedelta(seconds=controls.stale_for(coin) or
                                                                 controls.stale_for(symbol))
        skew = controls.skew_for(coin) or controls.skew_for(symbol)
        entry = {}
        for currency in currencies:
            if currency != "usd":
                continue
            entry["usd"] = generator.price(symbol, moment, "coingecko", skew)
            if q.get("include_market_cap") == "true":
                entry["usd_market_cap"] = generator.market_cap(symbol, moment, "coingecko")
            if q.get("include_24hr_vol") == "true":
                entry["usd_24h_vol"] = generator.volume(symbol, moment) * entry["usd"]
            if q.get("include_24hr_change") == "true":
                before = generator.price(symbol, moment - timedelta(days=1), "coingecko", skew)
                entry["usd_24h_change"] = (entry["usd"] / before - 1) * 100
        if q.get("include_last_updated_at") == "true":
            entry["last_updated_at"] = int(moment.timestamp())
        out[coin] = entry
    return json_response(out)


def _ranking(now: datetime) -> list[str]:
    """Canonical symbols ranked by generated market cap: the universe's coins and the coins of the
    recorded top-100 and trending lists (their recorded supply, at generated prices)."""
    symbols = [a.symbol for a in DEFAULT_CRYPTOS if a.coingecko_id not in assets.DEPRECATED_COIN_IDS]
    symbols += [c.symbol for c in levels.recorded_coins() if c.symbol not in symbols]
    return sorted(symbols, key=lambda s: -generator.market_cap(s, now, "coingecko"))


def _name(symbol: str) -> str:
    """A coin's name: as recorded, else CoinGecko's id capitalised (``bitcoin`` -> ``Bitcoin``)."""
    coin = levels.coin_by_symbol().get(symbol)
    return coin.name if coin is not None else assets.coingecko_id(symbol).replace("-", " ").title()


def _markets(request: Request, state: State) -> Response:
    q = request.query
    if q.get("vs_currency", "").lower() != "usd":
        return json_response({"error": "invalid vs_currency"}, 400)
    if state.controls["coingecko"].replay:
        sample = samples.find("coingecko", "coins/markets", set(), {"page": "1", "per_page": "100", **q},
                              request.now.date())
        if sample and "ids" not in q:
            return Response(200, samples.read(sample.file))
    per_page, page = min(int(q.get("per_page", 100)), 250), int(q.get("page", 1))
    now = generator.floor_minute(request.now)
    ranked = _ranking(now)
    if "ids" in q:
        wanted = set(q["ids"].split(","))
        ranked = [s for s in ranked if assets.coingecko_id(s) in wanted]
    rows = []
    for rank, symbol in enumerate(ranked[(page - 1) * per_page: page * per_page], start=(page - 1) * per_page + 1):
        price = generator.price(symbol, now, "coingecko")
        rows.append({"id": assets.coingecko_id(symbol), "symbol": symbol.lower(), "name": _name(symbol),
                     "current_price": price, "market_cap": generator.market_cap(symbol, now, "coingecko"),
                     "market_cap_rank": rank, "total_volume": generator.volume(symbol, now) * price,
                     "high_24h": price * 1.01, "low_24h": price * 0.99, "last_updated": now.isoformat()[:19] + ".000Z"})
    return json_response(rows)


def _trending(request: Request, state: State) -> Response:
    """The recorded trending coins, in their recorded order, at generated prices."""
    if state.controls["coingecko"].replay:
        sample = samples.find("coingecko", "search/trending", set(), request.query, request.now.date())
        if sample:
            return Response(200, samples.read(sample.file))
    now = generator.floor_minute(request.now)
    ranked = _ranking(now)
    btc = generator.price("BTC", now, "coingecko")
    coins = []
    for score, coin_id in enumerate(levels.trending_ids()):
        symbol = assets.from_coingecko(coin_id)
        price = generator.price(symbol, now, "coingecko")
        coins.append({"item": {
            "id": coin_id, "coin_id": 1000 + score, "name": _name(symbol), "symbol": symbol,
            "market_cap_rank": ranked.index(symbol) + 1 if symbol in ranked else None, "slug": coin_id,
            "price_btc": price / btc, "score": score,
            "data": {"price": price, "price_btc": str(price / btc),
                     "market_cap": f"${generator.market_cap(symbol, now, 'coingecko'):,.0f}",
                     "total_volume": f"${generator.volume(symbol, now) * price:,.0f}"}}})
    return json_response({"coins": coins, "nfts": [], "categories": []})


def _market_chart(coin: str, ranged: bool, request: Request, state: State) -> Response:
    q = request.query
    controls = state.controls["coingecko"]
    if coin in controls.unknown_symbols or coin in assets.DEPRECATED_COIN_IDS:
        return Response(404, samples.error_body("coingecko_404"))
    now = request.now
    if ranged:
        start = datetime.fromtimestamp(int(float(q["from"])), UTC)
        end = min(datetime.fromtimestamp(int(float(q["to"])), UTC), now)
        if controls.replay:
            sample = samples.find("coingecko", "market_chart/range", {coin}, q, now.date(),
                                  span=(int(start.timestamp()), int(end.timestamp())))
            if sample:
                return Response(200, samples.read(sample.file))
    else:
        start, end = now - timedelta(days=float(q.get("days", 1))), now
    span = end - start
    step = timedelta(minutes=5) if span <= timedelta(days=1) else (
        timedelta(hours=1) if span <= timedelta(days=90) else timedelta(days=1))
    first = start.replace(second=0, microsecond=0)
    if step == timedelta(days=1):
        first = first.replace(hour=0, minute=0) + (timedelta(days=1) if first.hour or first.minute else timedelta(0))
    elif step == timedelta(hours=1):
        first = first.replace(minute=0) + (timedelta(hours=1) if first.minute else timedelta(0))
    symbol = assets.from_coingecko(coin)
    skew = controls.skew_for(coin) or controls.skew_for(symbol)
    points: list[datetime] = []
    t = first
    while t <= end and len(points) < 20_000:
        if controls.has_bar((coin, symbol), t):
            points.append(t)
        t += step
    ms = [int(p.timestamp() * 1000) for p in points]
    prices = [generator.price(symbol, p, "coingecko", skew) for p in points]
    return json_response({
        "prices": [[m, p] for m, p in zip(ms, prices)],
        "market_caps": [[m, generator.market_cap(symbol, p, "coingecko")] for m, p in zip(ms, points)],
        "total_volumes": [[m, generator.volume(symbol, p) * v] for m, p, v in zip(ms, points, prices)],
    })
