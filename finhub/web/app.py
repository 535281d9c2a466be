"""The web app behind ``finhub web``: the REST API (OpenAPI at ``/openapi.json``), ``/metrics``,
``/healthz``, ``/readyz`` and the dashboard at ``/``, all read from the Redis and the database the
workers use.

Access: on a loopback address every read is open; off loopback every endpoint but the two health
checks needs ``Authorization: Bearer <web_token>`` (the page also takes it from its cookie). A
``POST`` always needs the header. Bad parameters are a 400 or 422 with a message; a service that
stops answering mid-request is a 503 naming it, never a 500.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Body, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from finhub.config import Settings
from finhub.config.secrets import strip_secrets
from finhub.runtime.context import Context
from finhub.runtime.status import (
    DB_ERRORS,
    REDIS_ERRORS,
    iso,
    quality_figures,
    readiness,
    redis_section,
    status_document,
)
from finhub.storage import latest_prices, recent_quarantined
from finhub.storage.counts import history_counts, quarantine_counts
from finhub.web import dashboard, history
from finhub.web.metrics import FinhubCollector, registry
from finhub.web.recount import Recounted, Shared

#: Symbols one ``/api/prices`` call may name.
MAX_SYMBOLS = 500
#: A symbol as finhub spells them (letters, digits, ``.-^=``).
SYMBOL = r"^[A-Za-z0-9.\-^=]{1,20}$"
#: ``since`` as a duration: 30m, 6h, 2d, 1w.
DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

#: An interval finhub stores (finhub.model.INTERVALS; a test keeps the two equal).
Interval = Literal["quote", "1m", "2m", "5m", "15m", "30m", "1h", "90m", "1d", "1wk"]


#: The endpoints that return one section of the status document: tag and description, by section.
SECTIONS = {
    "queues": ("status", "Per queue: waiting, delayed, in flight, dead, and the live workers consuming it."),
    "jobs": ("jobs", "Per job: its schedule, last run, outcome and detail, and next run (published by the active "
                     "driver)."),
    "providers": ("status", "Per provider: its breaker, calls and quota per window, calls left, calls per purpose, "
                            "429s."),
    "workers": ("status", "The live worker processes (recent dramatiq heartbeat): host, pid, queues, age."),
}


class TriggerBody(BaseModel):
    """Optional body of a trigger: only these assets (quote and history jobs)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt "symbol" must not trigger every asset
    symbols: list[Annotated[str, Field(pattern=SYMBOL)]] | None = Field(default=None, max_length=MAX_SYMBOLS)


class Triggered(BaseModel):
    job: str
    message_ids: list[str]


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """``since`` as a moment: a duration back from ``now`` (``6h``) or an ISO 8601 time (UTC if no zone)."""
    if not value:
        return None
    match = DURATION.match(value)
    if match:
        return now - timedelta(seconds=int(match[1]) * UNITS[match[2]])
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"since: {value!r} is neither a duration (30m, 6h, 2d) nor an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


#: Seconds the status document is shared by the requests that ask for it (see finhub.web.recount).
SHARED_FOR = 1.0


def create_app(settings: Settings, redis_url: str, loopback: bool = True, shared_for: float = SHARED_FOR) -> FastAPI:
    """The app over one :class:`Context`; ``loopback`` says whether it is bound to a loopback address;
    ``shared_for`` how long one read of the status document serves every request (0: none shares)."""
    ctx = Context(settings, redis_url)
    if redis_url:  # the actors' broker (a trigger sends through it) must use the same Redis
        os.environ["FINHUB_REDIS_URL"] = redis_url
    token = settings.web_token.reveal() if settings.web_token else None
    trigger_lock = threading.Lock()
    counts = Recounted(lambda: history_counts(ctx.engine))
    quarantined = Recounted(lambda: quarantine_counts(ctx.engine))

    quality = Recounted(lambda: quality_figures(ctx.engine))
    document = Shared(lambda: status_document(ctx, counts=counts, quality=quality), shared_for)
    # No /docs or /redoc: FastAPI's pages load their scripts from a CDN; /openapi.json is the reference.
    app = FastAPI(title="finhub", version="1", docs_url=None, redoc_url=None,
                  description="finhub's operator API: status, queues, jobs, providers, workers, prices, quarantine; "
                              "POST needs a bearer token (FINHUB_WEB_TOKEN).")
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 with what was wrong where, without the input: a body such as ``NaN`` cannot be echoed
        back as JSON (FastAPI's own handler then answered 500)."""
        return JSONResponse(status_code=422, content={"detail": [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()]})

    def authorized(request: Request, header_only: bool = False) -> bool:
        if token is None:
            return False

        def same(given: str) -> bool:  # as bytes: compare_digest refuses non-ASCII text
            return secrets.compare_digest(given.encode("utf-8", "replace"), token.encode())
        given = request.headers.get("authorization", "")
        if given.lower().startswith("bearer ") and same(given[7:].strip()):
            return True
        cookie = request.cookies.get("finhub_token")
        return not header_only and cookie is not None and same(cookie)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        if request.method == "POST" and not authorized(request, header_only=True):
            why = "set FINHUB_WEB_TOKEN and send it" if token is None else "send"
            return JSONResponse({"detail": f"a POST needs a bearer token: {why} as Authorization: Bearer <token>"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if not loopback and path not in ("/healthz", "/readyz") and not path.startswith("/static/") \
                and not authorized(request):
            if path == "/":
                return HTMLResponse(dashboard.login_page(), status_code=401)
            return JSONResponse({"detail": "this server is not on loopback: send Authorization: Bearer <token>"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        try:
            return await call_next(request)
        except REDIS_ERRORS as exc:
            return JSONResponse({"detail": strip_secrets(f"Redis stopped answering ({exc})")}, status_code=503)
        except DB_ERRORS as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            return JSONResponse({"detail": strip_secrets(f"database stopped answering ({reason})")}, status_code=503)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "not ready, with the reasons"}})
    def readyz() -> JSONResponse:
        """200 when Redis and the database answer, a scheduler holds the lease and every active asset
        has a fresh quote; otherwise 503 with the reasons."""
        reasons = readiness(ctx)
        return JSONResponse({"ready": not reasons, "reasons": reasons}, status_code=503 if reasons else 200)

    @app.get("/api/status", tags=["status"], response_class=JSONResponse)
    def api_status() -> JSONResponse:
        """Everything ``finhub status`` shows (``finhub status --json`` prints the same document)."""
        return JSONResponse(document())  # as it is: FastAPI's encoder costs ms per thousand assets

    def section(name: str):
        def read() -> dict[str, Any]:
            return {name: redis_section(ctx, name)}
        return read

    for name, (tag, description) in SECTIONS.items():
        app.add_api_route(f"/api/{name}", section(name), methods=["GET"], tags=[tag], name=f"api_{name}",
                          summary=f"Api {name.capitalize()}", description=description)

    @app.get("/api/prices", tags=["prices"])
    def api_prices(symbols: Annotated[str | None, Query(max_length=12_000, description="comma-separated; "
                                                        "default: every active asset")] = None,
                   interval: Interval = "quote") -> dict[str, Any]:
        """The newest stored price of each symbol (of ``interval``), with its validation status."""
        wanted = _symbols(symbols) if symbols else [a.symbol for a in ctx.universe if a.active]
        rows = latest_prices(ctx.engine, interval, wanted)
        return {"interval": interval, "prices": [_row(rows[s]) for s in wanted if s in rows],
                "missing": [s for s in wanted if s not in rows]}

    @app.get("/api/prices/{symbol}/history", tags=["prices"])
    def api_history(symbol: Annotated[str, PathParam(pattern=SYMBOL)], interval: Interval = "1d",
                    start: datetime | None = None, end: datetime | None = None,
                    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
                    after: Annotated[datetime | None, Query(description="the page after this market time (the "
                                                                        "previous page's next)")] = None
                    ) -> dict[str, Any]:
        """Stored rows of ``symbol`` in [start, end), oldest first, ``limit`` a page; ``next`` is the
        ``after`` of the next page (null on the last one)."""
        if symbol not in ctx.universe:
            raise HTTPException(404, f"unknown symbol {symbol!r} (finhub universe lists the assets)")
        rows, more = history.page(ctx.engine, symbol, interval, _aware(start, "start"), _aware(end, "end"),
                                  _aware(after, "after"), limit)
        return {"symbol": symbol, "interval": interval, "rows": [_row(r) for r in rows],
                "next": iso(rows[-1]["timestamp"]) if more else None}

    @app.get("/api/quarantine", tags=["prices"])
    def api_quarantine(since: Annotated[str | None, Query(max_length=40, description="30m, 6h, 2d or an ISO "
                                                          "8601 time")] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        """Recent rejections, newest first, with every source's value and the reason."""
        found = recent_quarantined(ctx.engine, limit, parse_since(since, datetime.now(UTC)))
        return {"quarantined": [_row(r) for r in found]}

    @app.post("/api/jobs/{job}/trigger", tags=["jobs"], response_model=Triggered,
              responses={404: {"description": "unknown job; the detail lists the jobs"},
                         401: {"description": "no or a wrong bearer token"}})
    def api_trigger(job: Annotated[str, PathParam(max_length=64)],
                    body: Annotated[TriggerBody | None, Body()] = None) -> Triggered:
        """Enqueue ``job`` once, now (for only ``symbols`` when given); returns the message ids."""
        from finhub.runtime.driver import UnknownJob, trigger

        try:
            with trigger_lock:  # building the job list imports the actors once
                ids = trigger(ctx, job, body.symbols if body else None)
        except UnknownJob as exc:
            raise HTTPException(404, {"message": str(exc), "jobs": exc.known}) from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        except RuntimeError as exc:  # the actors' broker is on another Redis (see driver.trigger)
            raise HTTPException(503, str(exc)) from None
        return Triggered(job=job, message_ids=ids)

    @app.get("/metrics", tags=["metrics"], response_class=Response)
    def metrics() -> Response:
        """Prometheus text format, read from Redis and the database now."""
        return Response(generate_latest(metric_registry), media_type=CONTENT_TYPE_LATEST)

    metric_registry = registry(FinhubCollector(document, quarantined))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page(symbol: Annotated[str | None, Query(pattern=SYMBOL)] = None,
             span: Annotated[str, Query(alias="range", pattern="^(" + "|".join(dashboard.RANGES) + ")$")] = "7d"
             ) -> HTMLResponse:
        """The dashboard."""
        return HTMLResponse(dashboard.render(ctx, document(), symbol, span))

    return app


def _symbols(given: str) -> list[str]:
    found = [s.strip() for s in given.split(",") if s.strip()]
    bad = [s for s in found if not re.match(SYMBOL, s)]
    if bad or not found or len(found) > MAX_SYMBOLS:
        raise HTTPException(400, f"symbols: comma-separated symbols, at most {MAX_SYMBOLS}"
                                 + (f"; not a symbol: {bad[0]!r}" if bad else ""))
    return list(dict.fromkeys(found))


def _aware(moment: datetime | None, name: str) -> datetime | None:
    if moment is None:
        return None
    if moment.year < 1900 or moment.year > 9000:
        raise HTTPException(400, f"{name}: out of range")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _row(row: dict) -> dict:
    """A stored row as JSON: times in ISO 8601 UTC."""
    return {k: iso(v) if isinstance(v, datetime) else v for k, v in row.items()}
