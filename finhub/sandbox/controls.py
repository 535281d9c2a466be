"""What the sandbox is told to do, per provider, and what it has counted."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime

PROVIDERS = ("yahoo", "coingecko", "alphavantage")
#: Quota windows the sandbox enforces, in seconds.
WINDOWS = {"per_second": 1, "per_minute": 60, "per_hour": 3600, "per_day": 86400, "per_month": 30 * 86400}
#: How many answers the served log keeps.
SERVED_LOG = 100_000


@dataclass(frozen=True)
class Controls:
    """How one provider misbehaves. Symbols are the provider's own (AAPL, BTC-USD, bitcoin)."""

    quotas: dict = field(default_factory=dict)       # window name -> calls allowed
    rate_limit_style: str = "json"                   # coingecko 429 body: json or html
    latency: float = 0.0                             # seconds added to every answer
    error_rate: float = 0.0                          # share of answers that are 5xx
    malformed: float = 0.0                           # share of answers with a broken body
    hang: bool = False                               # accept, never answer
    body: bytes | None = None                        # serve exactly this for every request
    status: int = 200
    content_type: str = "application/json"
    skew: dict = field(default_factory=dict)         # symbol (or "*") -> percent
    stale: dict = field(default_factory=dict)        # symbol (or "*") -> seconds behind
    unknown_symbols: tuple = ()
    gaps: dict = field(default_factory=dict)         # symbol -> [[first, last], ...] UTC days with no history bar
    replay: bool = True                              # serve recorded samples for recorded requests
    splits: dict = field(default_factory=dict)       # symbol -> [[YYYY-MM-DD, ratio, announced], ...] (Yahoo chart)

    def skew_for(self, symbol: str) -> float:
        return float(self.skew.get(symbol, self.skew.get("*", 0.0)))

    def stale_for(self, symbol: str) -> float:
        return float(self.stale.get(symbol, self.stale.get("*", 0.0)))

    def has_bar(self, symbols: tuple[str, ...], moment: datetime) -> bool:
        """Whether history holds a bar (or chart point) at ``moment`` for the symbol known by ``symbols``."""
        day = moment.astimezone(UTC).date().isoformat()
        return not any(first <= day <= last for s in symbols for first, last in self.gaps.get(s, ()))


def parse_controls(values: dict) -> dict:
    """Check and normalise control values (from Python or JSON); raises ValueError on a bad one."""
    known = {f.name for f in fields(Controls)}
    out = {}
    for key, value in values.items():
        if key not in known:
            raise ValueError(f"unknown control {key!r} (known: {', '.join(sorted(known))})")
        if key == "quotas" and any(w not in WINDOWS for w in value):
            raise ValueError(f"unknown quota window in {value!r} (known: {', '.join(WINDOWS)})")
        if key == "body" and isinstance(value, str):
            value = value.encode()
        if key == "unknown_symbols":
            value = tuple(value)
        out[key] = value
    return out


class State:
    """Controls, clock and counters, shared by the server's threads."""

    def __init__(self, initial: dict[str, dict] | None = None, time_scale: float = 1.0) -> None:
        self._lock = threading.Lock()
        #: Window lengths in seconds, shrunk like finhub's by its ``time_scale`` setting.
        self.windows = {name: seconds * time_scale for name, seconds in WINDOWS.items()}
        self._initial = {p: Controls(**parse_controls((initial or {}).get(p, {}))) for p in PROVIDERS}
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.controls = dict(self._initial)
            self.clock: datetime | None = None
            self.calls: dict[str, Counter] = defaultdict(Counter)
            self.over_quota: Counter = Counter()
            self.injected_errors: Counter = Counter()
            self._history: dict[str, deque] = defaultdict(deque)
            self._served: dict[str, list[float]] = defaultdict(list)
            #: every well-formed answer: (provider, endpoint, query, the sandbox's "now"), newest last
            self.served: deque = deque(maxlen=SERVED_LOG)
            #: the same answers by request path (which names the symbol of a chart): (provider, path, query)
            self.paths: deque = deque(maxlen=SERVED_LOG)

    def configure(self, provider: str, **values) -> None:
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}")
        with self._lock:
            self.controls[provider] = replace(self.controls[provider], **parse_controls(values))

    def now(self) -> datetime:
        return self.clock or datetime.now(UTC)

    def count(self, provider: str, endpoint: str) -> bool:
        """Count a call; False when it is over one of the provider's quotas (then it is not served)."""
        quotas = self.controls[provider].quotas
        with self._lock:
            self.calls[provider][endpoint] += 1
            if not quotas:
                return True
            now = time.monotonic()
            history = self._history[provider]
            longest = max(self.windows[w] for w in quotas)
            while history and history[0] < now - longest:
                history.popleft()
            for window, limit in quotas.items():
                if sum(1 for t in history if t > now - self.windows[window]) >= limit:
                    self.over_quota[provider] += 1
                    return False
            history.append(now)
            self._served[provider].append(now)
            return True

    def over_quota_window(self, provider: str) -> str:
        """The longest window currently full (decides Alpha Vantage's daily vs per-minute answer)."""
        now = time.monotonic()
        history = self._history[provider]
        full = [w for w, limit in self.controls[provider].quotas.items()
                if sum(1 for t in history if t > now - self.windows[w]) >= limit]
        return max(full, key=lambda w: self.windows[w]) if full else "per_minute"

    def log_served(self, provider: str, endpoint: str, request) -> None:
        with self._lock:
            self.served.append((provider, endpoint, dict(request.query), request.now))
            self.paths.append((provider, request.path, dict(request.query)))

    def served_at(self, provider: str) -> list[float]:
        """Monotonic arrival times of the provider's calls served under a quota, since the last reset."""
        with self._lock:
            return list(self._served[provider])

    def snapshot(self) -> dict:
        with self._lock:
            return {"calls": {p: dict(c) for p, c in self.calls.items()},
                    "over_quota": dict(self.over_quota), "injected_errors": dict(self.injected_errors)}
