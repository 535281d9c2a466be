"""The tables finhub stores into (SQLAlchemy Core), shared by the queries and the migrations."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from finhub.model import AssetType

ASSET_TYPES = tuple(str(t) for t in AssetType)
#: How far a stored price can be trusted (see finhub.validation).
VALIDATION_STATUSES = ("validated", "single_source")


class UTCDateTime(TypeDecorator):
    """An aware datetime, stored in UTC; naive values are refused.

    PostgreSQL keeps ``timestamptz``. SQLite keeps fixed-width text ``YYYY-MM-DD HH:MM:SS.ffffff``
    in UTC, which sorts correctly (so ``MAX(timestamp)`` works) and reads naturally in ``sqlite3``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(26))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: finhub stores only timezone-aware UTC times")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


#: Converts market times to and from the database outside a statement (aggregates come back raw).
UTC_TIME = UTCDateTime()


metadata = MetaData()
_id = BigInteger().with_variant(Integer, "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid



def _observed() -> list[Column]:
    """What identifies an observation: the columns both tables start with (new objects each call)."""
    return [Column("id", _id, primary_key=True, autoincrement=True),
            Column("symbol", String(20), nullable=False),
            Column("asset_type", String(10), nullable=False),
            Column("interval", String(8), nullable=False),
            Column("timestamp", UTCDateTime(), nullable=False)]


def _values() -> list[Column]:
    """What a price row says of its moment: the columns both price tables share (new objects each call)."""
    return [Column("price", Float, nullable=False),
            Column("open", Float),
            Column("high", Float),
            Column("low", Float),
            Column("volume", Float),
            Column("market_cap", Float),
            Column("source", String(20), nullable=False),
            Column("validation_status", String(16), nullable=False),
            Column("sources", String(100), nullable=False),
            Column("max_deviation_pct", Float),
            # migration 0006: on a validated row whose sources disagreed, the one set aside and its price
            Column("outlier_source", String(20)),
            Column("outlier_price", Float),
            Column("created_at", UTCDateTime(), nullable=False),
            Column("updated_at", UTCDateTime(), nullable=False)]


prices = Table(
    "assets_assetpriceshistoric", metadata,
    *_observed(),
    *_values(),
    # INCLUDE: the backward seek for a (symbol, interval)'s newest row is an index-only scan on
    # PostgreSQL (migration 0004).
    UniqueConstraint("symbol", "interval", "timestamp", name="uq_prices_symbol_interval_timestamp",
                     postgresql_include=["price", "validation_status"]),
    Index("ix_prices_timestamp", "timestamp"),
)

#: A copy of each (symbol, interval)'s newest history row, kept by every write to the history in
#: finhub.storage.prices (migration 0005): "latest price per symbol" reads a few hundred rows here
#: instead of seeking the history's index once per symbol.
latest = Table(
    "assets_latestprice", metadata,
    Column("symbol", String(20), primary_key=True),
    Column("interval", String(8), primary_key=True),
    Column("asset_type", String(10), nullable=False),
    Column("timestamp", UTCDateTime(), nullable=False),
    *_values(),
)

quarantine = Table(
    "assets_pricequarantine", metadata,
    *_observed(),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("observations", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("symbol", "interval", "timestamp", name="uq_quarantine_symbol_interval_timestamp"),
    Index("ix_quarantine_created_at", "created_at"),
)

#: Columns a caller supplies for a price row (the rest are filled in on write).
PRICE_FIELDS = ("symbol", "asset_type", "interval", "timestamp", "price", "open", "high", "low", "volume",
                "market_cap", "source", "validation_status", "sources", "max_deviation_pct", "outlier_source",
                "outlier_price")


def _ranking(name: str) -> Table:
    return Table(
        name, metadata,
        Column("id", _id, primary_key=True, autoincrement=True),
        Column("snapshot_at", UTCDateTime(), nullable=False),
        Column("rank", Integer, nullable=False),
        Column("coingecko_id", String(100), nullable=False),
        Column("symbol", String(40), nullable=False),
        Column("name", String(200), nullable=False),
        Column("price", Float),
        Column("market_cap", Float),
        Column("volume_24h", Float),
        UniqueConstraint("snapshot_at", "coingecko_id", name=f"uq_{name}_snapshot_coin"),
        Index(f"ix_{name}_snapshot_at", "snapshot_at"),
    )


#: Snapshots of the top cryptos by market cap, and of CoinGecko's trending list.
top_cryptos = _ranking("assets_topcrypto")
trending_cryptos = _ranking("assets_trendingcrypto")

#: Per asset and trading day: open, high, low, close from the stored prices, and the pivot levels
#: those give for the *next* trading day (see finhub.jobs.aggregation).
daily_levels = Table(
    "assets_dailylevels", metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("symbol", String(20), nullable=False),
    Column("asset_type", String(10), nullable=False),
    Column("day", Date, nullable=False),
    *(Column(name, Float, nullable=False) for name in ("open", "high", "low", "close", "pp", "r1", "r2", "s1", "s2")),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("symbol", "day", name="uq_dailylevels_symbol_day"),
)

#: Splits and dividends per stock and ex-date, as the provider's chart events carried them
#: (finhub.jobs.history stores them when bars are fetched): ``ratio`` for a split (4.0 for 4:1),
#: ``amount`` per share for a dividend.
corporate_actions = Table(
    "assets_corporateactions", metadata,
    Column("id", _id, primary_key=True, autoincrement=True),
    Column("symbol", String(20), nullable=False),
    Column("date", Date, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("ratio", Float),
    Column("amount", Float),
    Column("source", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("symbol", "date", "kind", name="uq_corporateactions_symbol_date_kind"),
)
