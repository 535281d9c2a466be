"""The dashboard at ``/``: one server-rendered page drawn from the status document, with a price
chart drawn here as SVG. It loads only finhub's own ``/static`` files (no CDN, no third-party code);
its script swaps the ``#live`` part for a fresh copy every few seconds and sends the trigger buttons'
POSTs with the token typed into the page (kept in the browser's localStorage, never in the page)."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any

from finhub.runtime.context import Context
from finhub.runtime.status import DB_ERRORS, iso
from finhub.storage import recent_quarantined
from finhub.web.history import series

#: Chart ranges: how far back, and the bar interval drawn beside the quotes.
RANGES = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30), "1y": timedelta(days=365),
          "5y": timedelta(days=5 * 365)}
#: Most points drawn per series.
POINTS = 400
#: Chart size in SVG units.
WIDTH, HEIGHT, PAD = 900, 300, 48
#: Colour per validation status.
STATUS_COLOURS = {"validated": "#1a7f37", "single_source": "#bf8700"}


def render(ctx: Context, doc: dict[str, Any], symbol: str | None, span: str) -> str:
    """The whole page from the status document ``doc``, with ``symbol``'s chart over ``span`` (one of
    :data:`RANGES`)."""
    now = datetime.fromisoformat(doc["generated_at"])
    assets = doc["assets"] or []
    symbol = symbol or ("AAPL" if any(a["symbol"] == "AAPL" for a in assets) else
                        assets[0]["symbol"] if assets else None)
    ranges = "".join(f'<option{" selected" if r == span else ""}>{r}</option>' for r in RANGES)
    return rf"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>finhub</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/dashboard.css"><script src="/static/dashboard.js" defer></script></head>
<body>
<header><h1>finhub</h1>
<form id="chart-form" method="get" action="/">chart <input name="symbol" id="symbol" size="8" required
value="{escape(symbol or "")}" pattern="[A-Za-z0-9.\-^=]{{1,20}}" title="a symbol; or click an asset below">
<select name="range" id="range">{ranges}</select> <button type="submit">show</button></form>
<label class="token">token <input id="token" type="password" autocomplete="off" placeholder="FINHUB_WEB_TOKEN">
</label><span id="trigger-result" role="status"></span></header>
<main id="live">{live(ctx, doc, symbol, span, now)}</main>
</body></html>"""


def live(ctx: Context, doc: dict[str, Any], symbol: str | None, span: str, now: datetime) -> str:
    """The part of the page the script refreshes."""
    return "\n".join([
        f'<p class="generated">as of <time id="generated">{escape(doc["generated_at"])}</time></p>',
        _attention(doc), _freshness(doc, span), _chart(ctx, symbol, span, now), _queues(doc), _scheduler(doc),
        _providers(doc), _jobs(doc), _quarantine(ctx),
    ])


def _attention(doc: dict) -> str:
    if not doc["attention"]:
        return '<section id="attention" class="ok"><h2>All well</h2><p>nothing needs attention</p></section>'
    items = "".join(f"<li>{escape(a)}</li>" for a in doc["attention"])
    return f'<section id="attention" class="warn"><h2>Needs attention</h2><ul>{items}</ul></section>'


def _freshness(doc: dict, span: str) -> str:
    if doc["assets"] is None:
        return f'<section id="freshness"><h2>Freshness</h2>{_down(doc, "database")}</section>'
    q = doc["quotes"]
    # Thousands of assets: one short link each (its chart), the details in a title only when not fresh.
    chips = "".join(
        f'<a class="asset" data-symbol="{escape(a["symbol"])}" data-freshness="{a["freshness"]}" '
        f'href="?symbol={escape(a["symbol"])}&amp;range={span}"'
        + (f' title="{escape(_asset_title(a))}">' if a["freshness"] != "fresh" else ">")
        + f'{escape(a["symbol"])} <small>{_age(a["age_s"])}</small></a>' for a in doc["assets"])
    return (f'<section id="freshness"><h2>Freshness</h2><p>{q["fresh"]} fresh, {q["stale"]} stale, {q["none"]} '
            f'without a quote, of {q["active"]} active assets (stale first)</p><div class="assets">{chips}</div>'
            "</section>")


def _asset_title(a: dict) -> str:
    if a["market_time"] is None:
        return f"{a['symbol']} ({a['asset_type']}): no quote stored"
    return (f"{a['symbol']} ({a['asset_type']}): {a['freshness']}, {a['price']:g} from {a['source']} at "
            f"{a['market_time']}, {a['validation_status']}")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _table(headers: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _down(doc: dict, service: str) -> str:
    return f'<p class="down">{escape(doc[service]["problem"] or "")}</p>'


def _queues(doc: dict) -> str:
    if doc["queues"] is None:
        return f'<section id="queues"><h2>Queues</h2>{_down(doc, "redis")}</section>'
    rows = [[escape(q), *(str(d[k]) for k in ("waiting", "delayed", "in_flight", "dead", "live_workers"))]
            for q, d in doc["queues"].items()]
    return ('<section id="queues"><h2>Queues</h2>'
            + _table(["queue", "waiting", "delayed", "in flight", "dead", "live workers"], rows, "") + "</section>")


def _scheduler(doc: dict) -> str:
    if doc["scheduler"] is None or doc["workers"] is None:
        return f'<section id="workers"><h2>Scheduler and workers</h2>{_down(doc, "redis")}</section>'
    s = doc["scheduler"]
    lease = (f"lease held by pid {s['holder_pid']}" if s["lease_held"]
             else '<strong class="bad">no driver holds the scheduler lease</strong>')
    rows = [[escape(w["host"] or "?"), str(w["pid"] or "?"), escape(", ".join(w["queues"])), _age(w["age_s"]),
             f'{w["last_beat_s"]:.1f} s'] for w in doc["workers"]]
    return (f'<section id="workers"><h2>Scheduler and workers</h2><p>scheduler: {lease}</p>'
            + _table(["host", "pid", "queues", "age", "last heartbeat"], rows, "no live worker") + "</section>")


def _providers(doc: dict) -> str:
    if doc["providers"] is None:
        return f'<section id="providers"><h2>Providers</h2>{_down(doc, "redis")}</section>'
    cards = []
    for p in doc["providers"]:
        b = p["breaker"]
        bars = "".join(
            f'<div class="quota"><span class="window">{escape(w["window"])}</span>'
            f'<span class="bar"><span style="width:{min(100, 100 * w["used"] / w["limit"]):.0f}%"></span></span>'
            f'<span class="count">{w["used"]}/{w["limit"]}</span></div>' for w in p["windows"]) or "<p>no limit</p>"
        error = f'<p class="error">last error: {escape(b["last_error"])}</p>' if b["last_error"] else ""
        calls = ", ".join(f"{k} {v}" for k, v in p["calls"].items() if v) or "none yet"
        cards.append(f'<div class="provider" data-provider="{escape(p["provider"])}"><h3>{escape(p["provider"])}'
                     f'{"" if p["enabled"] else " (off)"} <span class="breaker {b["state"]}">{b["state"]}</span></h3>'
                     f'{bars}<p>calls: {escape(calls)}; 429s: {p["rate_limited"]}</p>{error}</div>')
    return f'<section id="providers"><h2>Providers</h2><div class="cards">{"".join(cards)}</div></section>'


def _jobs(doc: dict) -> str:
    if doc["jobs"] is None:
        return f'<section id="jobs"><h2>Jobs</h2>{_down(doc, "redis")}</section>'
    rows = [[escape(j["job"]), escape(j["schedule"] or "-"), escape(j["last_run"] or "-"),
             f'<span class="outcome {escape(j["outcome"] or "")}">{escape(j["outcome"] or "-")}</span>',
             escape(j["detail"] or ""), escape(j["next_run"] or "-"),
             f'<button type="button" class="trigger" data-job="{escape(j["job"])}">run now</button>'
             if j["can_trigger"] else ""] for j in doc["jobs"]]
    return ('<section id="jobs"><h2>Jobs</h2>'
            + _table(["job", "schedule", "last run", "outcome", "detail", "next run", ""], rows, "") + "</section>")


def _quarantine(ctx: Context) -> str:
    try:
        found = recent_quarantined(ctx.engine, 20)
    except DB_ERRORS:
        return '<section id="quarantine"><h2>Quarantine</h2><p class="down">database unreachable</p></section>'
    rows = [[escape(iso(q["created_at"]) or ""), escape(q["symbol"]), escape(q["interval"]),
             escape(iso(q["timestamp"]) or ""), escape(q["reason"]), escape(_observations(q["observations"])),
             escape(q["detail"][:200])] for q in found]
    return ('<section id="quarantine"><h2>Quarantine (latest 20)</h2>'
            + _table(["when", "symbol", "interval", "market time", "reason", "sources", "detail"], rows,
                     "nothing quarantined") + "</section>")


def _observations(observations: Any) -> str:
    if isinstance(observations, list):
        return ", ".join(f"{o.get('provider', o.get('source', '?'))} {o.get('price', '?')}" for o in observations
                         if isinstance(o, dict))
    return str(observations)[:200]


def _chart(ctx: Context, symbol: str | None, span: str, now: datetime) -> str:
    title = f"{escape(symbol)}, last {span}" if symbol else "no asset"
    if symbol is None:
        return f'<section id="chart"><h2>Chart: {title}</h2></section>'
    start = now - RANGES[span]
    try:
        quotes = series(ctx.engine, symbol, "quote", start, POINTS)
        bars = series(ctx.engine, symbol, "1d", start, POINTS)
    except DB_ERRORS:
        return f'<section id="chart"><h2>Chart: {title}</h2><p class="down">database unreachable</p></section>'
    return (f'<section id="chart" data-symbol="{escape(symbol)}"><h2>Chart: {title}</h2>'
            f"{chart_svg(symbol, quotes, bars, start, now)}</section>")


def chart_svg(symbol: str, quotes: list[dict], bars: list[dict], start: datetime, end: datetime) -> str:
    """Quotes as a line with a dot per point, daily bars as high-low ticks with open and close marks,
    each coloured by its validation status, over [start, end]."""
    lows = [r["low"] or r["price"] for r in bars] + [r["price"] for r in quotes]
    highs = [r["high"] or r["price"] for r in bars] + [r["price"] for r in quotes]
    legend = "".join(f'<tspan fill="{c}">● {s}</tspan> ' for s, c in STATUS_COLOURS.items())
    head = (f'<svg class="chart" role="img" aria-label="{escape(symbol)} price chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'xmlns="http://www.w3.org/2000/svg"><rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>')
    if not lows:
        return head + (f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no prices stored in this range'
                       "</text></svg>")
    low, high = min(lows), max(highs)
    if high == low:
        low, high = low * 0.99, high * 1.01
    span = max((end - start).total_seconds(), 1)

    def x(moment: datetime) -> float:
        return PAD + (WIDTH - 2 * PAD) * min(max((moment - start).total_seconds() / span, 0), 1)

    def y(price: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (price - low) / (high - low)

    parts = [head, f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
             f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
             f'<text x="{PAD - 4}" y="{PAD}" text-anchor="end" font-size="11">{high:.6g}</text>',
             f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" text-anchor="end" font-size="11">{low:.6g}</text>',
             f'<text x="{PAD}" y="{HEIGHT - PAD + 16}" font-size="11">{escape(iso(start) or "")}</text>',
             f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 16}" text-anchor="end" font-size="11">'
             f'{escape(iso(end) or "")}</text>',
             f'<text x="{WIDTH - PAD}" y="{PAD - 12}" text-anchor="end" font-size="12">{legend}'
             f'<tspan fill="#555">| bars 1d: {len(bars)}, quotes: {len(quotes)}</tspan></text>']
    if len(bars) > 1:
        closes = " ".join(f"{x(r['timestamp']):.1f},{y(r['price']):.1f}" for r in bars)
        parts.append(f'<polyline class="closes" fill="none" stroke="#8c959f" stroke-width="1" points="{closes}"/>')
    for r in bars:
        colour = STATUS_COLOURS.get(r["validation_status"], "#555")
        at = x(r["timestamp"])
        parts.append(f'<g class="bar {r["validation_status"]}" stroke="{colour}"><line x1="{at:.1f}" '
                     f'y1="{y(r["high"] or r["price"]):.1f}" x2="{at:.1f}" y2="{y(r["low"] or r["price"]):.1f}"/>'
                     f'<line x1="{at - 3:.1f}" y1="{y(r["open"] or r["price"]):.1f}" x2="{at:.1f}" '
                     f'y2="{y(r["open"] or r["price"]):.1f}"/><line x1="{at:.1f}" y1="{y(r["price"]):.1f}" '
                     f'x2="{at + 3:.1f}" y2="{y(r["price"]):.1f}"/></g>')
    if quotes:
        path = " ".join(f"{x(r['timestamp']):.1f},{y(r['price']):.1f}" for r in quotes)
        parts.append(f'<polyline class="quotes" fill="none" stroke="#0969da" stroke-width="1.5" points="{path}"/>')
        parts += [f'<circle class="quote {r["validation_status"]}" cx="{x(r["timestamp"]):.1f}" '
                  f'cy="{y(r["price"]):.1f}" r="2.5" fill="{STATUS_COLOURS.get(r["validation_status"], "#555")}">'
                  f'<title>{escape(iso(r["timestamp"]) or "")} {r["price"]:g} {escape(r["source"])} '
                  f'{escape(r["validation_status"])}</title></circle>' for r in quotes]
    return "".join(parts) + "</svg>"


def login_page() -> str:
    """What a browser without the token gets off loopback: a field that stores it as a cookie."""
    return """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>finhub: token</title>
<link rel="stylesheet" href="/static/dashboard.css"><script src="/static/dashboard.js" defer></script></head>
<body><header><h1>finhub</h1></header><main><p>This server is not on loopback: enter its token (FINHUB_WEB_TOKEN).</p>
<form id="login"><input id="login-token" type="password" autocomplete="off"> <button>enter</button></form></main>
</body></html>"""
