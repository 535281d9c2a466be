"""`start_background_jobs.py --once` against the sandbox: a row for every asset, and reruns add none."""

import uuid

import pytest
from sqlalchemy import create_engine, text

from finhub.universe import build_universe

ACTIVE = {a.symbol for a in build_universe() if a.active}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, env, tmp_path):
    if request.param == "sqlite":
        env["FINHUB_DATABASE_URL"] = f"sqlite:///{tmp_path}/finhub.db"
        yield create_engine(env["FINHUB_DATABASE_URL"])
        return
    schema = f"finhub_pipe_{uuid.uuid4().hex[:8]}"
    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        with admin.begin() as c:
            c.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    env["FINHUB_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    yield create_engine(env["FINHUB_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as c:
        c.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@pytest.mark.slow  # a real driver and workers, twice
def test_once_stores_every_asset_and_a_rerun_adds_no_duplicates(env, database, sandbox):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, str(root / "start_background_jobs.py"), "--once", "--workers", "2", "--timeout", "90"]
    first = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=150)
    assert first.returncode == 0, first.stderr[-3000:]
    with database.connect() as c:
        count = c.execute(text("SELECT COUNT(*) FROM assets_assetpriceshistoric;")).scalar()
        latest = c.execute(text("SELECT symbol, MAX(timestamp) as latest_update FROM assets_assetpriceshistoric "
                                "GROUP BY symbol ORDER BY latest_update DESC;")).all()
    assert {s for s, _ in latest} == ACTIVE and len(latest) == len(ACTIVE) == count
    second = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=150)
    assert second.returncode == 0, second.stderr[-3000:]
    with database.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM assets_assetpriceshistoric")).scalar() == count
        sources = dict(c.execute(text("SELECT symbol, source FROM assets_assetpriceshistoric")).all())
    assert sources["AAPL"] == "yahoo" and sources["BTC"] == "coingecko"
    assert "HES was delisted" in first.stderr and "MATIC was renamed POL" in first.stderr
