"""Splits and dividends: one row per stock, ex-date and kind.

Revision ID: 0007_corporate_actions
Revises: 0006_outlier_columns
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from finhub.storage.schema import UTCDateTime

revision = "0007_corporate_actions"
down_revision = "0006_outlier_columns"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "assets_corporateactions",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("ratio", sa.Float),
        sa.Column("amount", sa.Float),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("symbol", "date", "kind", name="uq_corporateactions_symbol_date_kind"),
    )


def downgrade() -> None:
    op.drop_table("assets_corporateactions")
