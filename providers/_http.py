"""Turning HTTP-level failures into the provider error hierarchy, once, for both HTTP clients.

yfinance talks through a curl_cffi session, pycoingecko and Alpha Vantage through ``requests``; the
two raise unrelated exception classes (curl_cffi's are not ``requests`` exceptions). Every adapter
sends what its client raised here:

- no answer at all (DNS failure, refused or reset connection, TLS failure, timeout, a proxy that
  would not tunnel, a body cut short) → :class:`Unavailable` (retry later);
- HTTP 429 → :class:`RateLimited`; 5xx → :class:`Unavailable`;
- HTTP 401/403 (key, plan or access refused), 404 and other 4xx → :class:`Rejected` (fix the request);
- an answer that is not JSON (an HTML page, an empty body) → :class:`BadResponse` (bad data).

Messages never hold a URL's API key or password: they pass :func:`strip_secrets` before an error is
built (``requests`` puts the full URL, query included, into its connection errors).
"""

from __future__ import annotations

import json

import requests

from finhub.config.secrets import strip_secrets
from providers.base import BadResponse, ProviderError, RateLimited, Rejected, Unavailable

try:  # yfinance depends on curl_cffi; without it only requests' errors can occur
    from curl_cffi import CurlError
    from curl_cffi.requests import exceptions as curl_errors
except ImportError:  # pragma: no cover
    CurlError = curl_errors = None  # type: ignore[assignment,misc]

#: Exceptions of the HTTP clients themselves (no answer, or an answer the client refused to read).
CLIENT_ERRORS: tuple[type[BaseException], ...] = (requests.RequestException,) + (
    (CurlError,) if CurlError is not None else ())
#: Malformed requests: retrying the same URL cannot help.
_BAD_REQUEST = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader) + (
    (curl_errors.InvalidURL, curl_errors.MissingSchema, curl_errors.InvalidSchema, curl_errors.InvalidHeader)
    if curl_errors is not None else ())
#: The answer arrived but is not JSON.
_NOT_JSON = (json.JSONDecodeError, UnicodeDecodeError, requests.exceptions.JSONDecodeError) + (
    (curl_errors.JSONDecodeError,) if curl_errors is not None else ())


def message(exc: BaseException) -> str:
    """``Type: text`` of an exception, short, with no API key or URL password in it."""
    return strip_secrets(f"{type(exc).__name__}: {exc}")[:300]


def kind(exc: BaseException) -> str:
    """What happened on the wire, in words, for the error's message."""
    name = type(exc).__name__
    text = str(exc)
    if "DNS" in name or "resolve host" in text or "NameResolution" in text or "Name or service" in text:
        return "DNS failure"
    if "Proxy" in name or "resolve proxy" in text or "CONNECT" in text:
        return "proxy error"
    if "SSL" in name or "Certificate" in name or "SSL" in text or "certificate" in text:
        return "TLS error"
    if "Timeout" in name or "timed out" in text:
        return "timeout"
    if "refused" in text.lower():
        return "connection refused"
    if "reset" in text.lower():
        return "connection reset"
    return "no usable answer"


def retry_after(response) -> float | None:
    """Seconds from a ``Retry-After`` header, when it is a number."""
    if response is None:
        return None
    try:
        return float(response.headers.get("retry-after", "") or "")
    except (ValueError, TypeError):
        return None


def from_status(provider: str, response, what: str = "") -> ProviderError | None:
    """The error an HTTP status means (None for 1xx-3xx); ``response`` from requests or curl_cffi."""
    status = response.status_code
    if status == 429:
        return RateLimited(provider, f"HTTP 429 Too Many Requests{what}", retry_after(response))
    if status >= 500:
        return Unavailable(provider, f"HTTP {status}{what}", retry_after(response))
    if status in (401, 403):
        return Rejected(provider, f"HTTP {status}: access refused (API key or plan?){what}")
    if status >= 400:
        return Rejected(provider, f"HTTP {status}{what}")
    return None


def _response_of(exc: BaseException):
    response = getattr(exc, "response", None)
    return response if getattr(response, "status_code", None) else None


def from_exception(provider: str, exc: BaseException, response=None) -> ProviderError:
    """Classify an exception raised by ``requests``, by curl_cffi, or while decoding the answer."""
    if isinstance(exc, ProviderError):
        return exc
    response = _response_of(exc) or response
    if response is not None and response.status_code >= 400:
        known = from_status(provider, response)
        if known is not None:
            return known
    if isinstance(exc, _BAD_REQUEST):
        return Rejected(provider, message(exc))
    if isinstance(exc, _NOT_JSON):
        return BadResponse(provider, f"body is not JSON: {_body_hint(response)}{message(exc)}"[:300])
    if isinstance(exc, CLIENT_ERRORS):
        return Unavailable(provider, f"{kind(exc)}: {message(exc)}"[:300])
    return BadResponse(provider, message(exc))


def _body_hint(response) -> str:
    if response is None:
        return ""
    try:
        text = response.text
    except (AttributeError, UnicodeDecodeError, ValueError):
        return ""
    return "empty body; " if not text.strip() else f"{strip_secrets(text[:60])!r}; "
