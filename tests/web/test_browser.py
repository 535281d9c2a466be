"""The dashboard in headless Chromium (Debian's ``chromium``, driven by Playwright for Python): after
``--once`` against the sandbox every active asset shows its freshness, AAPL's chart renders with its
validation status, the page refreshes itself in place, and a job's button enqueues exactly one
message. The screenshot is saved as ``var/dashboard.png`` for a person to look at."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from finhub.sandbox import Sandbox
from finhub.universe import build_universe
from tests.redis_dbs import WEB_DB, flushed
from tests.web.conftest import ROOT, TOKEN, clean_env, start_web, stop

CHROMIUM = Path("/usr/bin/chromium")
QUEUES = ("prices", "validation", "history", "maintenance")


@pytest.fixture
def web_db():
    yield from flushed(WEB_DB)


@pytest.mark.slow
def test_the_dashboard_in_headless_chromium(tmp_path, web_db):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed and ./scripts/test could not install it "
                    "(apt-get install -y chromium chromium-driver)")
    from playwright.sync_api import expect, sync_playwright

    with Sandbox() as sandbox:
        env = clean_env(**sandbox.env(), FINHUB_REDIS_URL=f"redis://127.0.0.1:6379/{WEB_DB}",
                        FINHUB_DATA_DIR=str(tmp_path / "var"), FINHUB_WEB_TOKEN=TOKEN, FINHUB_LOG_FORMAT="json",
                        FINHUB_ALPHAVANTAGE_API_KEY="sandbox", FINHUB_COINGECKO_QUOTA_PER_MINUTE="0",
                        FINHUB_COINGECKO_QUOTA_MIN_SPACING="0")
        for command in ([str(ROOT / "start_background_jobs.py"), "--once"],
                        ["-m", "finhub", "backfill", "--symbols", "AAPL", "--period", "3mo", "--sync"]):
            done = subprocess.run([sys.executable, *command], env=env, cwd=tmp_path, capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, done.stderr[-3000:]
        assert sum(web_db.llen(f"dramatiq:{q}") for q in QUEUES) == 0
        web, url = start_web(env)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                            args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                offline: list[str] = []
                page.on("request", lambda r: offline.append(r.url) if not r.url.startswith(url) else None)
                page.goto(f"{url}/?symbol=AAPL&range=1y")
                for asset in (a for a in build_universe() if a.active):
                    chip = page.locator(f'#freshness .asset[data-symbol="{asset.symbol}"]')
                    expect(chip).to_have_count(1)
                    expect(chip).to_have_attribute("data-freshness", "fresh")
                chart = page.locator('#chart[data-symbol="AAPL"] svg.chart')
                expect(chart).to_be_visible()
                assert chart.locator("g.bar").count() >= 40  # three months of daily bars
                assert chart.locator("circle.quote").count() == 1
                points = chart.locator("g.bar, circle.quote").count()
                assert chart.locator(".validated, .single_source").count() == points  # each shows its status
                page.select_option("#range", "7d")
                page.click("#chart-form button")
                page.wait_for_url("**range=7d**")
                assert 1 <= page.locator("#chart svg.chart g.bar").count() <= 7

                # It refreshes in place: the time stamp changes, the page is not reloaded.
                page.evaluate("window.stayed = true")
                stamp = page.inner_text("#generated")
                page.wait_for_function(f"document.getElementById('generated').textContent !== {stamp!r}",
                                       timeout=15000)
                assert page.evaluate("window.stayed") is True

                page.fill("#token", TOKEN)
                page.dispatch_event("#token", "change")
                page.click('button.trigger[data-job="health"]')
                expect(page.locator("#trigger-result")).to_contain_text("health: 1 message(s) enqueued")
                page.screenshot(path=str(_screenshot()), full_page=True)
                browser.close()
            assert offline == []  # everything the page loads is served by finhub
            assert [web_db.llen(f"dramatiq:{q}") for q in QUEUES] == [0, 0, 0, 1]
        finally:
            stop(web)


def _screenshot() -> Path:
    folder = ROOT / "var"
    folder.mkdir(exist_ok=True)
    return folder / "dashboard.png"
