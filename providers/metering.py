"""Every HTTP request a provider's client library sends is admitted, one by one, at the transport.

A client library decides itself how many requests a call takes: yfinance fetches a cookie and a
crumb first, and after an error answer flips its cookie strategy and tries again (about ten
requests against a failing Yahoo). So finhub does not guess a call's cost: the caller opens a
:func:`budget` around the library call, and the transport every request of the provider passes
through (:class:`MeteredAdapter` for ``requests`` sessions, :class:`MeteredCurlSession` for
yfinance's curl_cffi session) asks it before each request:

- the budget reserves the request (the planner's quotas, in Redis); a refusal raises
  :class:`~providers.base.BudgetRefused` (retry later) inside the library call, nothing is sent;
- once the provider answered 429 or 5xx, or gave no answer, in this call, no further request is
  sent: the next one raises that failure instead (a provider already refusing us is the one not
  to hammer with retries). ``optional_hosts`` are exempt (fc.yahoo.com, whose answer yfinance
  ignores and which DNS blocklists often drop).

Outside any budget (the adapters' own tests, ``scripts/bench_providers.py``) requests go unmetered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from providers import _http
from providers.base import BudgetRefused, ProviderError

try:  # yfinance's default transport; without curl_cffi only requests sessions exist
    from curl_cffi import requests as curl_requests
except ImportError:  # pragma: no cover
    curl_requests = None  # type: ignore[assignment]


class Reservation(Protocol):
    """What a reservation answers (``finhub.planner.quota.Reservation``)."""

    @property
    def granted(self) -> bool: ...
    @property
    def retry_after(self) -> float: ...
    @property
    def window(self) -> str | None: ...


#: Failures that never reached the provider: it counted nothing, so neither does the budget.
UNSENT = frozenset({"DNS failure", "connection refused", "proxy error"})


class Budget:
    """The requests one library call may send to ``provider``: each one reserved by ``reserve``; one
    that never reached the provider is handed back by ``release``."""

    def __init__(self, provider: str, reserve: Callable[[], Reservation],
                 release: Callable[[], None] | None = None) -> None:
        self.provider = provider
        self.reserve = reserve
        self.release = release
        #: requests sent (reserved and handed to the transport)
        self.sent = 0
        #: the provider's failure in this call, once it failed
        self.failure: ProviderError | None = None

    def admit(self) -> None:
        """Reserve the next request, or raise why it must not be sent."""
        if self.failure is not None:
            raise self.failure
        reservation = self.reserve()
        if not reservation.granted:
            raise BudgetRefused(self.provider, reservation.window, reservation.retry_after)
        self.sent += 1

    def answered(self, status: int, response) -> None:
        if status == 429 or status >= 500:
            self.failure = _http.from_status(self.provider, response)

    def failed(self, exc: BaseException) -> None:
        self.failure = _http.from_exception(self.provider, exc)
        if self.release is not None and _http.kind(exc) in UNSENT:
            # Offline, a budget of 5 a minute spent on connections that never happened kept the
            # breaker from seeing its 5 failures for a minute.
            self.release()


_current: ContextVar[Budget | None] = ContextVar("finhub_provider_budget", default=None)


@contextmanager
def budget(provider: str, reserve: Callable[[], Reservation],
           release: Callable[[], None] | None = None) -> Iterator[Budget]:
    """Meter every request to ``provider`` made inside (in this thread) against ``reserve``."""
    opened = Budget(provider, reserve, release)
    token = _current.set(opened)
    try:
        yield opened
    finally:
        _current.reset(token)


def admit(provider: str) -> Budget | None:
    """Reserve a request to ``provider`` about to be sent, in the budget open in this thread (raising
    when it must not be sent); the budget, or None outside one. Transports call it; so may an adapter
    that is not HTTP (tests)."""
    opened = _current.get()
    if opened is None or opened.provider != provider:
        return None
    opened.admit()
    return opened


class _Meter:
    """The transport side: one provider's requests, its exempt hosts."""

    def __init__(self, provider: str, optional_hosts: frozenset[str]) -> None:
        self.provider = provider
        self.optional_hosts = optional_hosts

    def send(self, url: str, errors: type[BaseException] | tuple[type[BaseException], ...],
             transmit: Callable[[], Any]) -> Any:
        """Admit a request to ``url``, send it with ``transmit()``, and tell the budget how it went
        (``errors``: what the client library raises when no answer came; an exempt host tells nothing)."""
        opened = admit(self.provider)
        if opened is None or urlsplit(url).hostname in self.optional_hosts:
            return transmit()
        try:
            response = transmit()
        except errors as exc:
            opened.failed(exc)
            raise
        opened.answered(response.status_code, response)
        return response


class MeteredAdapter(HTTPAdapter):
    """A ``requests`` transport adapter that admits each request (redirects included) first.
    Subclasses change how a request is sent by overriding :meth:`transmit`."""

    def __init__(self, provider: str, optional_hosts: frozenset[str] = frozenset(), **kwargs) -> None:
        super().__init__(**kwargs)
        self.meter = _Meter(provider, optional_hosts)

    def send(self, request, **kwargs):  # type: ignore[override]  # forwards requests' keyword arguments
        return self.meter.send(request.url, requests.RequestException, lambda: self.transmit(request, **kwargs))

    def transmit(self, request, **kwargs):
        return super().send(request, **kwargs)


def metered_session(provider: str, session: requests.Session | None = None) -> requests.Session:
    """``session`` (a new one by default) with every http(s) request going through a MeteredAdapter."""
    session = session or requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, MeteredAdapter(provider))
    return session


if curl_requests is not None:
    class MeteredCurlSession(curl_requests.Session):
        """yfinance's own kind of session (curl_cffi, impersonating a browser) admitting each request.
        libcurl follows redirects inside one request: a redirect is not admitted separately."""

        def __init__(self, provider: str, optional_hosts: frozenset[str] = frozenset(), **kwargs) -> None:
            super().__init__(**kwargs)
            self.meter = _Meter(provider, optional_hosts)

        def request(self, method, url, *args, **kwargs):
            request = super().request
            return self.meter.send(url, _http.CLIENT_ERRORS, lambda: request(method, url, *args, **kwargs))
