"""Validation through real workers: ``--once`` with the sandbox skewing Yahoo's BTC by 5 %."""

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from finhub.universe import build_universe
from tests.pipeline.conftest import ROOT

UNIVERSE = build_universe()


@pytest.mark.slow  # a real driver and workers
def test_a_skewed_crypto_is_quarantined_and_every_other_crypto_validated(env, sandbox, tmp_path):
    env["FINHUB_DATABASE_URL"] = f"sqlite:///{tmp_path}/finhub.db"
    sandbox.configure("yahoo", skew={"BTC-USD": 5.0})
    try:
        run = subprocess.run([sys.executable, str(ROOT / "start_background_jobs.py"), "--once", "--workers", "2",
                              "--timeout", "90"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=150)
    finally:
        sandbox.configure("yahoo", skew={})
    assert run.returncode == 0, run.stderr[-3000:]
    db = create_engine(env["FINHUB_DATABASE_URL"])
    with db.connect() as c:
        rows = {s: (status, sources) for s, status, sources in c.execute(text(
            "SELECT symbol, validation_status, sources FROM assets_assetpriceshistoric WHERE asset_type = 'crypto'"))}
        quarantined = c.execute(text("SELECT symbol, reason FROM assets_pricequarantine")).all()
    assert quarantined == [("BTC", "disagreement")]
    assert set(rows) == {a.symbol for a in UNIVERSE.cryptos} - {"BTC"}
    assert set(rows.values()) == {("validated", "coingecko,yahoo")}
    status = subprocess.run([sys.executable, "-m", "finhub", "status"], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    (job,) = [line for line in status.stdout.splitlines() if "validate_and_store" in line]
    assert " ok " in job and " single-source, " in job and " quarantined" in job  # the last batch's counts
