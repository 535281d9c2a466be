"""The settings schema: one frozen dataclass per TOML table, every key with a type, a default, a
check and a one-line doc. :mod:`finhub.config.loader` fills it from the file and the environment."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from finhub.config.secrets import Secret, SecretUrl
from finhub.model import BAR_INTERVALS


class SettingsError(ValueError):
    """A setting is missing, unknown or invalid; ``str()`` is one line naming the key."""

    def __init__(self, key: str, problem: str, origin: str = "") -> None:
        self.key = key
        self.problem = problem
        self.origin = origin
        where = f"{origin}: " if origin else ""
        super().__init__(f"{where}{key}: {problem}")

# --- checks -------------------------------------------------------------------------------------

def _positive(value: float) -> str | None:
    return None if value > 0 else f"must be positive, got {value}"


def _http_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http(s) URL with a host, got {value!r}"
    return None


def _redis_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme in ("redis", "rediss") and parts.hostname:
        return None
    if parts.scheme == "unix" and parts.path:
        return None
    return "must be redis://host[:port][/db], rediss://… or unix:///path/to/socket"


def _database_url(value: str) -> str | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except ArgumentError:
        return "must be a SQLAlchemy URL such as sqlite:///var/finhub.db or postgresql://host/db"
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        return f"backend {url.get_backend_name()!r} is not supported (sqlite or postgresql)"
    return None


def _non_negative(value: float) -> str | None:
    return None if value >= 0 else f"must be zero or more, got {value}"


def _share(value: float) -> str | None:
    return None if 0 < value <= 1 else f"must be a fraction in (0, 1], got {value}"


def _provider_chain(value: list) -> str | None:
    if not value or any(name not in PROVIDER_NAMES for name in value) or len(set(value)) != len(value):
        return f"must be a non-empty list of distinct providers from {sorted(PROVIDER_NAMES)}, got {value!r}"
    return None


#: What ``quota.priority`` may order: the purposes competing for a scarce provider besides live quotes.
PRIORITY_PURPOSES = ("fallback", "validation", "spot_check", "history")


def _purposes(value: list) -> str | None:
    if any(v not in PRIORITY_PURPOSES for v in value) or len(set(value)) != len(value):
        return f"must be a list of distinct purposes from {list(PRIORITY_PURPOSES)}, got {value!r}"
    return None


def _intervals(value: list) -> str | None:
    if not value or any(v not in BAR_INTERVALS for v in value) or len(set(value)) != len(value):
        return f"must be a non-empty list of distinct intervals from {list(BAR_INTERVALS)}, got {value!r}"
    return None


#: Days each intraday interval is kept by default; every other interval keeps ``retention_days``.
DEFAULT_RETENTION = {"1m": 30, "2m": 60, "5m": 90, "15m": 180, "30m": 180, "90m": 365}


def _retention(value: dict) -> str | None:
    for interval, days in value.items():
        if interval not in (*BAR_INTERVALS, "quote"):
            return f"unknown interval {interval!r} (known: quote, {', '.join(BAR_INTERVALS)})"
        if isinstance(days, bool) or not isinstance(days, int) or days <= 0:
            return f"{interval}: days must be a positive whole number, got {days!r}"
    return None


def _timezone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r}"
    return None


def _clock_time(value: str) -> str | None:
    if re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        return None
    return f"must be HH:MM (24-hour), got {value!r}"


def _setting(default: Any = None, check=None, secret: bool = False, doc: str = ""):
    """A dataclass field with the metadata the loader uses."""
    meta = {"check": check, "secret": secret, "doc": doc}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


# --- the schema -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduleSettings:
    """How often each job runs, in seconds (cleanup runs daily at ``cleanup_at``)."""

    timezone: str = _setting("UTC", _timezone, doc="time zone of the scheduler's clock")
    crypto_quotes: int = _setting(360, _positive, doc="seconds between crypto quote refreshes")
    stock_quotes: int = _setting(300, _positive, doc="seconds between stock quote refreshes")
    health: int = _setting(60, _positive, doc="seconds between provider/queue health checks")
    validation_sweep: int = _setting(600, _positive, doc="seconds between re-checks of single-source rows")
    trending: int = _setting(3600, _positive, doc="seconds between trending-crypto snapshots")
    top_cryptos: int = _setting(21600, _positive, doc="seconds between top-crypto rankings")
    market_aggregation: int = _setting(1800, _positive, doc="seconds between daily-level/pivot updates")
    history: int = _setting(86400, _positive, doc="seconds between history bar refreshes")
    cleanup_at: str = _setting("00:00", _clock_time, doc="daily retention clean-up, HH:MM")
    history_intraday: int = _setting(900, _positive, doc="seconds between refreshes of intraday history bars "
                                                         "(stocks only while NYSE is open or just closed)")


@dataclass(frozen=True)
class QuotaSettings:
    """A provider's call budget, enforced in Redis across every worker (0 = no such limit).

    The purpose shares are ceilings on the provider's total use: a call for a purpose is made only
    while every window is below ``share`` of its limit, so lower-priority work (history, validation)
    stops early and leaves the rest to live quotes and to fallback from a failed provider.
    """

    per_second: int = _setting(0, _non_negative, doc="calls per second (0: no limit)")
    per_minute: int = _setting(0, _non_negative, doc="calls per minute (0: no limit)")
    per_hour: int = _setting(0, _non_negative, doc="calls per hour (0: no limit)")
    per_day: int = _setting(0, _non_negative, doc="calls per day (0: no limit)")
    per_month: int = _setting(0, _non_negative, doc="calls per 30 days (0: no limit)")
    min_spacing: float = _setting(0.0, _non_negative, doc="seconds between two calls")
    concurrency: int = _setting(0, _non_negative, doc="calls in flight at once (0: no limit)")
    quotes: float = _setting(0.9, _share, doc="share of each window live quotes may fill")
    fallback: float = _setting(1.0, _share, doc="share fallback from a failed provider may fill")
    validation: float = _setting(0.6, _share, doc="share cross-check calls may fill")
    spot_check: float = _setting(0.3, _share, doc="share routine spot checks and the sweep may fill")
    history: float = _setting(0.5, _share, doc="share history backfills may fill")
    priority: list[str] = _setting([], _purposes,
                                   doc="purposes in order (fallback, validation, spot_check, history): "
                                       "each keeps its share from those after it")

    def ceiling(self, purpose: str) -> float:
        """The share of each window ``purpose`` may fill: its own share, or, when ``priority`` lists it,
        what the purposes listed before it leave (each keeps its share from those after it)."""
        if purpose not in self.priority:
            return getattr(self, purpose)
        before = self.priority[:self.priority.index(purpose)]
        return round(1.0 - sum(getattr(self, p) for p in before), 9)

    def __post_init__(self) -> None:
        if self.priority and sum(getattr(self, p) for p in self.priority[:-1]) >= 1:
            raise SettingsError("quota.priority", "the shares of all but the last purpose listed must leave "
                                                  "room for the last (their sum below 1)")


@dataclass(frozen=True)
class YahooSettings:
    url: str | None = _setting(None, _http_url, doc="send every *.yahoo.com request here")
    timeout: float = _setting(10.0, _positive, doc="seconds, hard limit per HTTP call")
    batch_size: int = _setting(50, _positive, doc="symbols per v7 quote call")
    # No published quota; users meet 429s when pushing (see docs/providers.md): stay low. Three a second,
    # because yfinance's first quote of a process (cookie, crumb, quote) is a burst of three.
    quota: QuotaSettings = field(default_factory=lambda: QuotaSettings(
        per_second=3, per_minute=60, per_hour=1500, concurrency=2))


#: CoinGecko's plans as its pricing and docs pages state them (checked 2026-12): keyless (the public API,
#: per IP and shared with every neighbour, 5-15 calls a minute in practice, no published month), the free
#: demo key (30 a minute, 10,000 calls a month) and pro (Basic, the smallest paid plan: 250 a minute,
#: 100,000 a month; set ``providers.coingecko.quota`` to yours).
COINGECKO_PLANS = {
    "keyless": QuotaSettings(per_minute=5, min_spacing=1.0),
    "demo": QuotaSettings(per_minute=30, per_month=10_000),
    "pro": QuotaSettings(per_minute=250, per_month=100_000),
}


@dataclass(frozen=True)
class CoinGeckoSettings:
    """The quota's defaults follow the plan (keyless without a key, else ``plan``); a quota key set in
    the file or the environment to another value than the keyless default replaces the plan's."""

    url: str | None = _setting(None, _http_url, doc="API base, e.g. http://127.0.0.1:8900/api/v3/")
    api_key: Secret | None = _setting(None, secret=True, doc="demo or pro key; keyless without")
    plan: Literal["demo", "pro"] = _setting("demo", doc="what kind of key api_key is")
    timeout: float = _setting(10.0, _positive, doc="seconds, hard limit per HTTP call")
    batch_size: int = _setting(250, _positive, doc="coin ids per simple/price call")
    quota: QuotaSettings = field(default_factory=lambda: COINGECKO_PLANS["keyless"])

    @property
    def effective_plan(self) -> str:
        """``keyless`` without a key, else the key's plan."""
        return self.plan if self.api_key else "keyless"

    def __post_init__(self) -> None:
        keyless, plan = COINGECKO_PLANS["keyless"], COINGECKO_PLANS[self.effective_plan]
        chosen = {f.name: getattr(plan, f.name) for f in dataclasses.fields(QuotaSettings)
                  if getattr(self.quota, f.name) == getattr(keyless, f.name)}
        object.__setattr__(self, "quota", dataclasses.replace(self.quota, **chosen))


@dataclass(frozen=True)
class AlphaVantageSettings:
    url: str | None = _setting(None, _http_url, doc="API base, e.g. http://127.0.0.1:8900/query")
    api_key: Secret | None = _setting(None, secret=True, doc="without one the provider is off")
    timeout: float = _setting(10.0, _positive, doc="seconds, hard limit per HTTP call")
    # Free tier: 25 requests a day, about one a second. Scarce: with Yahoo down, stock fallback keeps 15
    # of the 25 from cross-checks (5), spot checks (3) and history (2) (see docs/quotas.md).
    quota: QuotaSettings = field(default_factory=lambda: QuotaSettings(
        per_second=1, per_minute=5, per_day=25, concurrency=1, fallback=0.6, validation=0.2, spot_check=0.12,
        history=0.08, priority=["fallback", "validation", "spot_check", "history"]))


@dataclass(frozen=True)
class ProvidersSettings:
    yahoo: YahooSettings = field(default_factory=YahooSettings)
    coingecko: CoinGeckoSettings = field(default_factory=CoinGeckoSettings)
    alphavantage: AlphaVantageSettings = field(default_factory=AlphaVantageSettings)


@dataclass(frozen=True)
class FallbackSettings:
    """Providers tried in order for each kind of data; one is skipped while its breaker is open,
    its budget for the purpose is spent, or it has no name for the asset."""

    stock_quote: list[str] = _setting(["yahoo", "alphavantage"], _provider_chain)
    crypto_quote: list[str] = _setting(["coingecko", "yahoo", "alphavantage"], _provider_chain)
    stock_history: list[str] = _setting(["yahoo", "alphavantage"], _provider_chain)
    crypto_history: list[str] = _setting(["yahoo", "coingecko"], _provider_chain)


@dataclass(frozen=True)
class HistorySettings:
    intervals: list[str] = _setting(["1d"], _intervals, doc="bar intervals the history job keeps fresh")
    adjusted: bool = _setting(True, doc="bars adjusted for splits and dividends (Yahoo's adjusted close); "
                                        "false: prices as traded")
    prepost: bool = _setting(False, doc="stock intraday bars of the pre- and post-market hours too "
                                        "(4:00-9:30 and the close to 20:00 New York)")


@dataclass(frozen=True)
class BreakerSettings:
    """Circuit breaker per provider, shared in Redis."""

    failures: int = _setting(5, _positive, doc="consecutive failures (or 429s) that open it")
    cooldown: float = _setting(60.0, _positive, doc="seconds open before one probe call decides")


@dataclass(frozen=True)
class AssetsSettings:
    """Changes to the default universe (see :mod:`finhub.universe`)."""

    remove: list[str] = _setting([], doc="symbols to drop from the defaults")
    stocks: list[dict] = _setting([], doc="extra stocks: {symbol, yahoo?, alphavantage?, delisted?}")
    cryptos: list[dict] = _setting([], doc="extra cryptos: {symbol, coingecko_id, yahoo?, alphavantage?}")


@dataclass(frozen=True)
class ValidationSettings:
    """Cross-checks between providers before a price is stored (see :mod:`finhub.validation`).

    Tolerance and jump are percentages; heartbeats are seconds (of NYSE open time for stocks).
    ``assets`` overrides them per asset: ``[validation.assets.SHIB] tolerance_pct = 5``.
    """

    stock_tolerance_pct: float = _setting(1.0, _positive, doc="stock sources agree within this % of their median")
    stock_jump_pct: float = _setting(20.0, _positive, doc="a lone stock price this % from the last good one is a jump")
    stock_heartbeat: float = _setting(1800.0, _positive, doc="seconds of NYSE open time before a stock price is stale")
    crypto_tolerance_pct: float = _setting(2.0, _positive, doc="crypto sources agree within this % of their median")
    crypto_jump_pct: float = _setting(30.0, _positive,
                                      doc="a lone crypto price this % from the last good one is a jump")
    crypto_heartbeat: float = _setting(900.0, _positive, doc="seconds before a crypto price is stale")
    crosscheck_crypto: bool = _setting(True, doc="cross-check every crypto quote with a second provider")
    stock_spot_checks: int = _setting(1, _non_negative, doc="stocks cross-checked per quote batch (besides jumps)")
    assets: dict = _setting({}, doc="per-asset overrides: {SYMBOL = {tolerance_pct?, jump_pct?, heartbeat?}}")
    crosscheck_wait: float = _setting(3.0, _non_negative,
                                      doc="seconds a batch's cross-checks wait, in all, for a provider's budget "
                                          "to have room")

    def __post_init__(self) -> None:
        for kind in ("stock", "crypto"):
            _check_limits(f"validation.{kind}_", getattr(self, f"{kind}_tolerance_pct"),
                          getattr(self, f"{kind}_jump_pct"))
        for symbol, own in self.assets.items():
            key = f"validation.assets.{symbol}"
            if not isinstance(own, dict):
                raise SettingsError(key, "must be a table of tolerance_pct, jump_pct, heartbeat")
            for name, value in own.items():
                if name not in ASSET_LIMIT_KEYS:
                    raise SettingsError(f"{key}.{name}", f"unknown key (known: {', '.join(ASSET_LIMIT_KEYS)})")
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise SettingsError(f"{key}.{name}", f"must be a positive number, got {value!r}")


#: What ``validation.assets.<SYMBOL>`` may override.
ASSET_LIMIT_KEYS = ("tolerance_pct", "jump_pct", "heartbeat")


def _check_limits(prefix: str, tolerance: float, jump: float) -> None:
    if tolerance >= jump:
        raise SettingsError(f"{prefix}tolerance_pct", f"must be below {prefix}jump_pct ({tolerance} >= {jump})")


@dataclass(frozen=True)
class Settings:
    data_dir: str = _setting("var", doc="where the SQLite file, logs and embedded Redis live")
    database_url: SecretUrl | None = _setting(None, _database_url, secret=True,
                                              doc="default sqlite:///<data_dir>/finhub.db")
    redis_url: SecretUrl | None = _setting(None, _redis_url, secret=True,
                                           doc="default: 127.0.0.1:6379 if it answers, else embedded")
    log_format: Literal["console", "json"] = _setting("console", doc="console (readable) or json (one object a line)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = _setting("INFO", doc="DEBUG, INFO, WARNING or ERROR")
    retention_days: int = _setting(365, _positive, doc="history older than this is deleted")
    database_outage_tolerance: float = _setting(600.0, _positive,
                                                doc="seconds a job retries (with backoff) while the database is "
                                                    "unreachable before its message is dead-lettered")
    time_scale: float = _setting(1.0, _positive, doc="benchmarks only: multiplies schedule intervals and quota "
                                                     "windows (0.002 runs a day in under 3 minutes)")
    web_token: Secret | None = _setting(None, secret=True, doc="bearer token the web API asks for on POST and off "
                                                                "loopback (finhub web)")
    worker_metrics_port: int | None = _setting(None, _positive, doc="workers serve dramatiq's Prometheus metrics "
                                                                    "on this port (127.0.0.1)")
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    providers: ProvidersSettings = field(default_factory=ProvidersSettings)
    fallback: FallbackSettings = field(default_factory=FallbackSettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    assets: AssetsSettings = field(default_factory=AssetsSettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    retention: dict = _setting(DEFAULT_RETENTION, _retention,
                               doc="days kept per interval, e.g. retention.1m = 30 (others: retention_days)")

    def retention_for(self, interval: str) -> int:
        """Days the history of ``interval`` is kept: ``retention.<interval>``, its default, else ``retention_days``."""
        return self.retention.get(interval, DEFAULT_RETENTION.get(interval, self.retention_days))

    @property
    def database(self) -> str:
        """The database URL to connect to (secret: do not log it, log ``str(...)``)."""
        if self.database_url is not None:
            return self.database_url.reveal()
        return f"sqlite:///{Path(self.data_dir) / 'finhub.db'}"


#: The providers finhub has adapters for: the tables of ``[providers]``.
PROVIDER_NAMES = frozenset(f.name for f in dataclasses.fields(ProvidersSettings))
