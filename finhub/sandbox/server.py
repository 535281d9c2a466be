"""The HTTP server: routes each request to its provider, applies the controls, counts calls."""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from finhub.sandbox import alphavantage, coingecko, yahoo
from finhub.sandbox.controls import State
from finhub.sandbox.http import Request, Response, json_response, text_response

ADMIN = "/_sandbox/"
ERROR_PAGE = "<html><head><title>{0}</title></head><body><h1>{0}</h1><p>sandbox fault</p></body></html>"
_ERRORS = itertools.cycle([(503, "503 Service Unavailable"), (500, "500 Internal Server Error"),
                           (502, "502 Bad Gateway")])


def provider_of(path: str) -> str:
    if path.startswith(coingecko.PREFIX):
        return "coingecko"
    if path == alphavantage.PATH:
        return "alphavantage"
    return "yahoo"


def _fraction_hit(state: State, provider: str, what: str, rate: float) -> bool:
    """Deterministic: every ⌈1/rate⌉-th call (by the call counter) is hit."""
    if rate <= 0:
        return False
    if rate >= 1:
        return True
    total = sum(state.calls[provider].values())
    return int(total * rate) != int((total - 1) * rate)


def answer(state: State, request: Request, stop: threading.Event) -> Response:
    """Everything the sandbox does with one provider request."""
    provider = provider_of(request.path)
    controls = state.controls[provider]
    endpoint = {"yahoo": lambda: yahoo.endpoint(request.path),
                "coingecko": lambda: coingecko.endpoint(request.path),
                "alphavantage": lambda: alphavantage.endpoint(request)}[provider]()
    if not state.count(provider, endpoint):
        if provider == "yahoo":
            return yahoo.over_quota(request)
        if provider == "coingecko":
            return coingecko.over_quota(request, controls.rate_limit_style)
        return alphavantage.over_quota(state.over_quota_window(provider))
    if controls.hang:
        stop.wait()
        return text_response("", 504)
    if controls.latency:
        time.sleep(controls.latency)
    if controls.body is not None:
        return Response(controls.status, controls.body, controls.content_type)
    if _fraction_hit(state, provider, "error", controls.error_rate):
        state.injected_errors[provider] += 1
        status, title = next(_ERRORS)
        return text_response(ERROR_PAGE.format(title), status, "text/html")
    handler = {"yahoo": yahoo.handle, "coingecko": coingecko.handle, "alphavantage": alphavantage.handle}[provider]
    try:
        response = handler(request, state)
    except (KeyError, ValueError) as exc:  # missing or malformed parameters
        return json_response({"error": f"bad request: {exc}"}, 400)
    if response is None:
        return text_response("Not Found", 404)
    if _fraction_hit(state, provider, "malformed", controls.malformed):
        response.body = response.body[: max(1, len(response.body) // 2)]
    elif response.status == 200:
        state.log_served(provider, endpoint, request)
    return response


def admin(state: State, method: str, path: str, body: bytes) -> Response:
    """``/_sandbox/{calls,stats,config,reset,clock}``."""
    from datetime import datetime

    name = path[len(ADMIN):]
    payload = json.loads(body or b"{}")
    if name == "calls":
        return json_response(state.snapshot()["calls"])
    if name == "stats":
        return json_response(state.snapshot())
    if name == "reset" and method == "POST":
        state.reset()
        return json_response({"ok": True})
    if name == "config":
        if method == "POST":
            provider = payload.pop("provider")
            state.configure(provider, **payload)
        return json_response({p: {k: (v.decode(errors="replace") if isinstance(v, bytes) else v)
                                  for k, v in c.__dict__.items()} for p, c in state.controls.items()})
    if name == "clock" and method == "POST":
        state.clock = datetime.fromisoformat(payload["now"]) if payload.get("now") else None
        return json_response({"now": state.now().isoformat()})
    return text_response("unknown admin endpoint", 404)


class Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, format, *args) -> None:  # quiet: tests and benchmarks hammer it
        pass

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        state = self.server.state
        try:
            if parts.path.startswith(ADMIN):
                response = admin(state, method, parts.path, body)
            else:
                request = Request(parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)), state.now())
                response = answer(state, request, self.server.stopping)
        except (ValueError, KeyError, TypeError) as exc:
            response = json_response({"error": str(exc)}, 400)
        if self.server.stopping.is_set():
            return
        body = b"" if response.status in (204, 304) or response.status < 200 else response.body
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port: int, state: State) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = state
        self.stopping = threading.Event()

    def handle_error(self, request, client_address) -> None:
        """Clients that time out and hang up are expected here; anything else is reported."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)
