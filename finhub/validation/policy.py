"""The validation policy: tolerances, jump thresholds and heartbeats per asset type and per asset."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from types import MappingProxyType

from finhub.config import SettingsError, ValidationSettings
from finhub.model import AssetType
from finhub.universe import Universe


@dataclass(frozen=True, slots=True)
class Limits:
    """How far sources may disagree, how far a lone price may move, how long a price stays current.

    ``tolerance`` and ``jump`` are fractions (0.01 is 1 %). A source agrees when it lies within
    ``tolerance`` of the median of the sources compared. A price no second source confirms is a
    jump when it is more than ``jump`` away from the last good price. A price is stale when its
    market time is older than ``heartbeat``: wall-clock time for crypto, time NYSE was open for
    stocks.
    """

    tolerance: float
    jump: float
    heartbeat: timedelta

    def __post_init__(self) -> None:
        # A price within tolerance of the last good one must never count as a jump.
        if not 0 < self.tolerance < self.jump:
            raise ValueError(f"need 0 < tolerance < jump, got tolerance={self.tolerance}, jump={self.jump}")
        if self.heartbeat <= timedelta(0):
            raise ValueError(f"heartbeat must be positive, got {self.heartbeat}")


#: Stocks: 1 % agreement (the issue's default); a 20 % move, more than a large cap's typical
#: earnings day, needs a second source; 30 minutes of trading (six missed 5-minute refreshes).
STOCK_LIMITS = Limits(tolerance=0.01, jump=0.20, heartbeat=timedelta(minutes=30))
#: Crypto: 2 % agreement (the issue's default); a 30 % move needs a second source; 15 minutes
#: (CoinGecko refreshes major coins every minute or two; crypto is polled every 2 minutes).
CRYPTO_LIMITS = Limits(tolerance=0.02, jump=0.30, heartbeat=timedelta(minutes=15))


@dataclass(frozen=True)
class ValidationPolicy:
    """Limits per asset type, and whole :class:`Limits` for the assets that need their own.

    Example: ``ValidationPolicy(assets={"SHIB": replace(CRYPTO_LIMITS, tolerance=0.05)})``.
    """

    stock: Limits = STOCK_LIMITS
    crypto: Limits = CRYPTO_LIMITS
    assets: Mapping[str, Limits] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "assets", MappingProxyType(dict(self.assets)))

    def limits(self, symbol: str, asset_type: AssetType) -> Limits:
        """The limits for one asset: its own if configured, else its asset type's."""
        own = self.assets.get(symbol)
        if own is not None:
            return own
        return self.stock if asset_type == AssetType.STOCK else self.crypto


DEFAULT_POLICY = ValidationPolicy()


def policy_from_settings(settings: ValidationSettings, universe: Universe) -> ValidationPolicy:
    """The policy of the ``validation`` settings; per-asset overrides start from their asset type's.

    Raises :class:`SettingsError` for an override of an unknown asset or with tolerance >= jump.
    """
    def limits(prefix: str) -> Limits:
        return Limits(tolerance=getattr(settings, f"{prefix}tolerance_pct") / 100,
                      jump=getattr(settings, f"{prefix}jump_pct") / 100,
                      heartbeat=timedelta(seconds=getattr(settings, f"{prefix}heartbeat")))

    stock, crypto = limits("stock_"), limits("crypto_")
    assets = {}
    for symbol, own in settings.assets.items():
        key = f"validation.assets.{symbol}"
        if symbol not in universe:
            raise SettingsError(key, "not an asset of the universe")
        base = stock if universe[symbol].asset_type == AssetType.STOCK else crypto
        changes = {name: own[f"{name}_pct"] / 100 for name in ("tolerance", "jump") if f"{name}_pct" in own}
        if "heartbeat" in own:
            changes["heartbeat"] = timedelta(seconds=own["heartbeat"])
        try:
            assets[symbol] = replace(base, **changes)
        except ValueError as exc:
            raise SettingsError(key, str(exc)) from None
    return ValidationPolicy(stock=stock, crypto=crypto, assets=assets)
