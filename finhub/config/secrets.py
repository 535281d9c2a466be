"""Secret values: API keys and URLs that may hold a password. ``repr`` and ``str`` never show them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit


class Secret:
    """A value that must not be printed: ``repr`` and ``str`` show ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


class SecretUrl(Secret):
    """A URL that may hold a password: ``str`` shows it with the password replaced by ``***``."""

    __slots__ = ()

    def __str__(self) -> str:
        return redact_url(self._value)

    def __repr__(self) -> str:
        return f"SecretUrl({str(self)!r})"


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


#: Query parameters that carry an API key: their values never leave a process in a message.
SECRET_PARAMS = ("apikey", "api_key", "x_cg_demo_api_key", "x_cg_pro_api_key")
_SECRET_PARAM = re.compile(r"(?i)\b(" + "|".join(re.escape(p) for p in SECRET_PARAMS)
                           + r"|x[-_]cg[-_][a-z]+[-_]api[-_]key)=([^&\s'\"<>),;]*)")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@'\"<>]*):([^/\s@'\"<>]*)@")


def strip_secrets(text: str) -> str:
    """``text`` (a URL, or a message holding URLs) with API-key query values and URL passwords as ``***``.

    Used before any error message is built from a library's exception (``providers/_http.py``), and
    again by the log processor and the Redis writers as a second line of defence.
    """
    if not text:
        return text
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", text)
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{m.group(2)}:***@", text)
