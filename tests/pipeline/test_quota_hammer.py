"""Four real worker processes hammering one provider for a minute stay inside every one of its
windows as the provider (the sandbox) counts them, and still use nearly all of them."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from finhub.universe import build_universe
from tests.pipeline.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
CRYPTOS = [a.symbol for a in build_universe().cryptos if a.active]
#: CoinGecko's windows, the same for finhub and for the sandbox: per-second binds for the first
#: 25 s, per-minute for the rest of the minute, then both again as the first calls leave it.
QUOTAS = {"per_second": 2, "per_minute": 50}
HAMMER_SECONDS = 60
#: Past the minute, so the per-minute window is seen sliding (calls re-admitted as old ones leave).
OVERRUN_SECONDS = 5


@pytest.mark.slow
def test_four_workers_hammering_coingecko_never_exceed_a_window(env, sandbox, tmp_path):
    config = tmp_path / "finhub.toml"
    config.write_text('[fallback]\ncrypto_quote = ["coingecko"]\n')  # nowhere else to go
    env.update({"FINHUB_CONFIG": str(config), "FINHUB_DATABASE_URL": f"sqlite:///{tmp_path}/finhub.db",
                "FINHUB_COINGECKO_QUOTA_PER_SECOND": str(QUOTAS["per_second"]),
                "FINHUB_COINGECKO_QUOTA_PER_MINUTE": str(QUOTAS["per_minute"]),
                "FINHUB_COINGECKO_QUOTA_MIN_SPACING": "0", "FINHUB_COINGECKO_QUOTA_QUOTES": "1.0"})
    sandbox.configure("coingecko", quotas=QUOTAS)
    served = lambda: sum(sandbox.calls().get("coingecko", {}).values())  # noqa: E731
    over = lambda: sandbox.stats()["over_quota"].get("coingecko", 0)  # noqa: E731
    served_before, over_before = served(), over()
    # Far more demand than the windows allow: 300 messages, each worth one call.
    batches = [CRYPTOS[i % len(CRYPTOS):][:2] for i in range(300)]
    subprocess.run([sys.executable, "-c", f"import actors\nfor b in {batches!r}: actors.crypto_quotes.send(b)"],
                   env=env, cwd=ROOT, check=True, timeout=60)
    dramatiq = str(Path(sys.executable).with_name("dramatiq"))
    workers = [subprocess.Popen([dramatiq, "actors", "-p", "1", "-t", "4", "-Q", "prices"], env=env, cwd=ROOT,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(4)]
    try:
        assert wait_for(lambda: served() > served_before, 60, step=0.05), "no worker ever reached the provider"
        time.sleep(HAMMER_SECONDS - 0.5)  # the first call was seen within 50 ms of its arrival
        in_first_minute = served() - served_before
        time.sleep(OVERRUN_SECONDS + 0.5)
        in_all = served() - served_before
    finally:
        for proc in workers:
            os.killpg(proc.pid, signal.SIGKILL)
        for proc in workers:
            proc.wait(30)
        sandbox.configure("coingecko", quotas={})
    assert over() - over_before == 0, "the sandbox answered 429: a window was exceeded"
    # Work was done: nearly the whole per-minute quota in the first minute, and more once it slid.
    assert QUOTAS["per_minute"] * 0.9 <= in_first_minute <= QUOTAS["per_minute"]
    assert in_all > in_first_minute
