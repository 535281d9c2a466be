"""What the web process reads less often than it is asked.

Aggregates over the whole history (rows per validation status, quarantine per reason) scan every
row: at a million rows that is most of a request's time. The web process recounts them in the
background every :data:`RECOUNT_EVERY` seconds and serves the last count meanwhile (:class:`Recounted`);
``finhub status`` counts anew each time. The status document itself is shared by the requests of one
short moment (:class:`Shared`): a few dashboards, a scrape and API calls read Redis and the database
once, not once each."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from finhub.logs import get_logger

#: Seconds between two recounts (a Prometheus scrape interval or two).
RECOUNT_EVERY = 30.0

T = TypeVar("T")
log = get_logger(__name__)


class Recounted(Generic[T]):
    """``count()``'s latest value: counted in the caller the first time (its errors raised there),
    then again in a background thread once it is ``every`` seconds old (its errors logged, the last
    value kept)."""

    def __init__(self, count: Callable[[], T], every: float = RECOUNT_EVERY) -> None:
        self.count, self.every = count, every
        self._value: T | None = None
        self._at = 0.0
        self._lock = threading.Lock()
        self._busy = False

    def __call__(self) -> T:
        with self._lock:
            if self._value is None:
                self._value, self._at = self.count(), time.monotonic()
            elif not self._busy and time.monotonic() - self._at >= self.every:
                self._busy = True
                threading.Thread(target=self._recount, name="finhub-recount", daemon=True).start()
            return self._value

    def _recount(self) -> None:
        try:
            value = self.count()
        except Exception as exc:  # noqa: BLE001 - the next request tries again; meanwhile the last count stands
            log.warning("could not recount the history", error=str(exc).splitlines()[0] if str(exc) else repr(exc))
            value = None
        with self._lock:
            if value is not None:
                self._value, self._at = value, time.monotonic()
            else:
                self._at = time.monotonic()
            self._busy = False


class Shared(Generic[T]):
    """``read()``'s value, shared by every caller for ``ttl`` seconds after it was read; callers
    that find it older wait for one new read (0: every call reads)."""

    def __init__(self, read: Callable[[], T], ttl: float) -> None:
        self.read, self.ttl = read, ttl
        self._value: T | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> T:
        if self.ttl <= 0:
            return self.read()
        with self._lock:
            if self._value is None or time.monotonic() - self._at >= self.ttl:
                self._value, self._at = self.read(), time.monotonic()
            return self._value
