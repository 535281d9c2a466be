"""Alembic environment: runs on the connection finhub passes in, or on sqlalchemy.url."""

from alembic import context

from finhub.storage.engine import make_engine
from finhub.storage.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def _url() -> str:
    """-x url=..., then sqlalchemy.url, then finhub's own settings."""
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from finhub.config import load_settings

    return load_settings().database


if connection is None:
    with make_engine(_url()).begin() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
