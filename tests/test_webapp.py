"""The explorer served by Voila, driven in a real headless Chromium (Playwright).

Needs the system Chromium (``apt-get install -y chromium``, as the README says) and the
``playwright`` package; skips with the reason only when no browser is installed.
A screenshot is saved to ``test-artifacts/explorer.png``.
"""

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from jscc_lab.apps import voila_command

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-sync"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH: apt-get install -y chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def explorer_url(tmp_path_factory):
    port = _free_port()
    log = open(tmp_path_factory.mktemp("voila") / "voila.log", "w+")
    env = dict(os.environ, JSCC_LAB_OFFLINE="1")
    proc = subprocess.Popen(voila_command(port=port, open_browser=False), stdout=log,
                            stderr=subprocess.STDOUT, env=env, cwd=REPO)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            urllib.request.urlopen(url, timeout=2).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
    if proc.poll() is not None:
        log.seek(0)
        pytest.fail(f"voila did not start:\n{log.read()[-3000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_explorer_page_reacts_to_the_snr_slider(explorer_url):
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(explorer_url, timeout=120_000)
        # the status line ends with the redraw time once the first render is done
        status = page.locator(".widget-html-content", has_text=" ms").first
        status.wait_for(timeout=180_000)
        images = page.locator("img.widget-image")
        page.wait_for_function("document.querySelectorAll('img.widget-image[src^=\"blob:\"], "
                               "img.widget-image[src^=\"data:\"]').length >= 2", timeout=60_000)
        metrics = page.locator(".widget-html-content", has_text="dB · LPIPS")
        before_status = status.inner_text()
        before_metric = metrics.first.inner_text()
        before_pixels = images.nth(2).screenshot()
        slider = page.locator("[role=slider]").first
        slider.focus()
        for _ in range(5):
            slider.press("ArrowRight")
        page.wait_for_function(
            "([old]) => [...document.querySelectorAll('.widget-html-content')]"
            ".some(e => e.innerText.includes(' ms') && e.innerText !== old)",
            arg=[before_status], timeout=120_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "explorer.png"), full_page=True)
        assert "15 dB" in status.inner_text() or "15 dB" in page.content()
        assert metrics.first.inner_text() != before_metric
        assert images.nth(2).screenshot() != before_pixels
        browser.close()
