"""The provider sandbox: an HTTP server on loopback that speaks Yahoo's, CoinGecko's and Alpha
Vantage's APIs in the shapes of the recorded responses, with controls for quotas, faults, skew
and staleness, and counters of every call. See ``python -m finhub.sandbox --help``.

    with Sandbox(port=0) as sb:
        env = sb.env()                 # FINHUB_YAHOO_URL, FINHUB_COINGECKO_URL, FINHUB_ALPHAVANTAGE_URL
        sb.configure("coingecko", quotas={"per_minute": 5}, skew={"bitcoin": 5.0})
        sb.set_clock(datetime(2025, 2, 17, 15, tzinfo=timezone.utc))   # replay that day's recordings
        sb.calls()                     # {"coingecko": {"/api/v3/simple/price": 1}, ...}
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from finhub.sandbox.controls import State
from finhub.sandbox.server import SandboxServer


class Sandbox:
    """The sandbox server, run in a background thread (a context manager)."""

    def __init__(self, port: int = 0, time_scale: float = 1.0, **controls: dict[str, Any]) -> None:
        """``controls`` maps a provider name to its start-up controls, e.g. ``yahoo={"latency": 0.1}``;
        ``time_scale`` shrinks the quota windows as finhub's setting of that name does."""
        self.state = State(controls, time_scale)
        self._server = SandboxServer(port, self.state)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def coingecko_url(self) -> str:
        return f"{self.url}/api/v3/"

    @property
    def alphavantage_url(self) -> str:
        return f"{self.url}/query"

    def env(self) -> dict[str, str]:
        """The settings that point finhub at this sandbox."""
        return {"FINHUB_YAHOO_URL": self.url, "FINHUB_COINGECKO_URL": self.coingecko_url,
                "FINHUB_ALPHAVANTAGE_URL": self.alphavantage_url}

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self._server.serve_forever, name="finhub-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()  # releases hanging answers
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def configure(self, provider: str, **controls) -> None:
        """Change one provider's controls (merged into the current ones)."""
        self.state.configure(provider, **controls)

    def set_clock(self, now: datetime | None) -> None:
        """Freeze the sandbox's "now" (aware UTC), or unfreeze with None."""
        self.state.clock = now

    def calls(self) -> dict[str, dict[str, int]]:
        return self.state.snapshot()["calls"]

    def served(self) -> list[tuple[str, str, dict, datetime]]:
        """Every well-formed answer since the last reset (at most the newest 100,000): provider,
        endpoint, query parameters, and the sandbox's "now" (whose minute is the market time)."""
        with self.state._lock:
            return list(self.state.served)

    def requests(self) -> list[tuple[str, str, dict]]:
        """The answers of :meth:`served` by request path: provider, path, query parameters."""
        with self.state._lock:
            return list(self.state.paths)

    def stats(self) -> dict:
        return self.state.snapshot()

    def reset(self) -> None:
        self.state.reset()
