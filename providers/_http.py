"""Turning HTTP-level failures of ``requests`` into the provider error hierarchy, once."""

from __future__ import annotations

import json

import requests

from providers.base import BadResponse, ProviderError, RateLimited, Unavailable


def retry_after(response: requests.Response | None) -> float | None:
    """Seconds from a ``Retry-After`` header, when it is a number."""
    if response is None:
        return None
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def from_status(provider: str, response: requests.Response, what: str = "") -> ProviderError | None:
    """The error an HTTP status means (None for 2xx and for 4xx a caller must interpret)."""
    status = response.status_code
    if status == 429:
        return RateLimited(provider, f"HTTP 429 Too Many Requests{what}", retry_after(response))
    if status >= 500:
        return Unavailable(provider, f"HTTP {status}{what}")
    return None


def from_exception(provider: str, exc: BaseException, response: requests.Response | None = None) -> ProviderError:
    """Classify an exception raised by ``requests`` or while decoding the answer."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        return Unavailable(provider, f"{type(exc).__name__}: {exc}"[:300])
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        response = exc.response
    if response is not None:
        known = from_status(provider, response)
        if known is not None:
            return known
        if response.status_code >= 400:
            return BadResponse(provider, f"HTTP {response.status_code}: {response.text[:120]!r}")
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
        return BadResponse(provider, f"body is not JSON: {exc}"[:300])
    return BadResponse(provider, f"{type(exc).__name__}: {exc}"[:300])
