"""Cross-source validation: the rules that decide whether a price is stored, and how it is trusted."""

from finhub.validation.heartbeat import market_age
from finhub.validation.policy import CRYPTO_LIMITS, DEFAULT_POLICY, STOCK_LIMITS, Limits, ValidationPolicy
from finhub.validation.rules import Decision, LastGood, Reason, Status, decide

__all__ = ["CRYPTO_LIMITS", "DEFAULT_POLICY", "STOCK_LIMITS", "Decision", "LastGood", "Limits", "Reason",
           "Status", "ValidationPolicy", "decide", "market_age"]
