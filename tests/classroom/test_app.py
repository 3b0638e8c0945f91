"""The explorer served by ``jscc-lab explore`` (Voila), driven in a real headless Chromium
(Playwright), and its load test (``benchmarks/explorer_load.py``, whose helpers this file uses).

The browser tests need the system Chromium (``apt-get install -y chromium``, as docs/results.md says)
and the ``playwright`` package; they skip with the reason only when no browser is installed.
Screenshots go to ``test-artifacts/explorer.png`` and ``explorer_load.png``, the load test's
numbers to ``test-artifacts/explorer_load.json``.
"""

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import load_script

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
load = load_script("benchmarks/explorer_load.py")



def browser_test(test):
    """Slow, and skipped (saying why) without a Chromium."""
    test = pytest.mark.skipif(load.CHROMIUM is None, reason="no Chromium on PATH: apt-get install -y chromium")(test)
    return pytest.mark.slow(test)


@pytest.fixture(scope="module")
def explorer_url(tmp_path_factory):
    proc, url = load.start_explorer(tmp_path_factory.mktemp("voila") / "explore.log")
    yield url
    load.stop_explorer(proc)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_explore_prints_ready_and_a_signal_ends_every_process(tmp_path, sig):
    pytest.importorskip("psutil")
    proc, url = load.start_explorer(tmp_path / "explore.log")
    stopped = load.stop_explorer(proc, sig)
    log = (tmp_path / "explore.log").read_text()
    assert f"jscc-lab explore: ready at {url}" in log
    assert stopped["exit_code"] == 0 and f"stopped ({sig.name})" in log
    assert len(stopped["pids"]) >= 2 and stopped["left"] == []  # jscc-lab and Voila, by pid


def test_explore_refuses_a_port_in_use_in_one_line():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "jscc_lab.cli", "explore", "--port", str(port),
                                 "--no-browser"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and f"port {port}" in result.stderr and "--port" in result.stderr


@browser_test
def test_explorer_page_reacts_to_the_snr_slider(explorer_url):
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=load.CHROMIUM, args=load.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(explorer_url, timeout=120_000)
        # the status line ends with the redraw time once the first render is done
        status = page.locator(".widget-html-content", has_text=" ms").first
        status.wait_for(timeout=180_000)
        images = page.locator("img.widget-image")
        page.wait_for_function("document.querySelectorAll('img.widget-image[src^=\"blob:\"], "
                               "img.widget-image[src^=\"data:\"]').length >= 2", timeout=60_000)
        assert page.locator(".widget-html-content", has_text="Ready").count() == 1
        assert page.locator(".widget-html-content", has_text="zoomed ×4").count() >= 3
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


SESSIONS = 4  # N >= 4 students


@browser_test
def test_a_room_of_students(tmp_path):
    """N sessions one after another, then together: every page renders and reacts, the cap holds,
    memory stays below ``load.GIB_PER_SESSION`` per page and returns to the baseline with the
    kernels, an unconnected kernel is culled, SIGTERM leaves no process behind (by pid)."""
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("psutil")
    ARTIFACTS.mkdir(exist_ok=True)
    out = load.run(sessions=SESSIONS, cull_idle=20, log_dir=tmp_path,
                   screenshot=ARTIFACTS / "explorer_load.png")
    (ARTIFACTS / "explorer_load.json").write_text(json.dumps(out, indent=1))
    print(load.report(out))
    assert load.failures(out) == []


def test_a_kernels_own_fork_is_not_counted_as_a_kernel():
    """The load test once saw 5 kernels under a cap of 4: a child a kernel forks carries the
    kernel's command line; only ipykernel processes whose parent is not one are kernels."""

    class Proc:
        def __init__(self, pid, ppid, cmd):
            self.pid, self._ppid, self._cmd = pid, ppid, cmd

        def cmdline(self):
            return self._cmd

        def ppid(self):
            return self._ppid

    kernel = ["python", "-m", "ipykernel_launcher", "-f", "k.json"]
    tree = [Proc(1, 0, ["jscc-lab", "explore"]), Proc(2, 1, kernel), Proc(3, 1, kernel),
            Proc(4, 2, kernel), Proc(5, 3, ["uname", "-p"])]
    assert load.count_kernels(tree) == 2
    assert load.count_kernels(tree[:1]) == 0
