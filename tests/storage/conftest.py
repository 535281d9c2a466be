"""Every storage test runs on SQLite and on the local PostgreSQL (database ``test``).

PostgreSQL runs get a private schema, dropped afterwards; they skip, saying why, only when the
server does not answer.
"""

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from finhub.storage import make_engine, migrate

POSTGRES_URL = os.environ.get("FINHUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_schema():
    """A fresh schema in the test database, or a skip when PostgreSQL is unreachable."""
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with admin.begin() as connection:
            schema = f"finhub_test_{uuid.uuid4().hex[:10]}"
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable: {str(exc).splitlines()[0]}")
    yield schema
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A URL plus engine options for an empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'finhub.db'}", {}
    schema = request.getfixturevalue("postgres_schema")
    with make_engine(POSTGRES_URL).begin() as connection:  # each test starts empty
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    return POSTGRES_URL, {"connect_args": {"options": f"-csearch_path={schema}"}}


@pytest.fixture
def engine(database_url):
    url, options = database_url
    engine = make_engine(url, **options)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(postgres_schema):
    """A migrated engine on the local PostgreSQL only, for locking behaviour SQLite does not have."""
    with make_engine(POSTGRES_URL).begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {postgres_schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {postgres_schema}"))
    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={postgres_schema}"})
    migrate(engine)
    yield engine
    engine.dispose()
