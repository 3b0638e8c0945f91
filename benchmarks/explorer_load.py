"""Load test of the web app: ``jscc-lab explore`` under a room of headless Chromium sessions.

    python benchmarks/explorer_load.py [--sessions 4] [--cull-idle 20] [--json PATH]

On the loopback address only, bounded in count and time: starts ``jscc-lab explore`` (its own
process group, ``--max-sessions`` = the number of sessions), then

1. opens the sessions one after another (each: load, first render, one SNR step, close),
2. opens them all together (load, render, one SNR step in each), checks that one page more is
   refused (HTTP 503), closes them,
3. loads the page once without a browser (a kernel nobody connects to) and waits for the culler,
4. loads it once more and sends SIGTERM to ``jscc-lab explore``, then checks by process id that
   nothing of its process tree (Voila, kernels) is left.

Memory is the resident set (RSS) summed over the server's process tree (``jscc-lab`` + Voila +
kernels; shared library pages counted once per process, so an upper bound), sampled every
0.5 s. Times to first render come from the page itself (``performance.now()`` when the status
line, and then two images of the explorer, appear). Prints a table; ``--json`` keeps the numbers.
Playwright drives Debian's Chromium (``apt-get install -y chromium``); ``tests/test_webapp.py``
imports the helpers below and runs this with 4 sessions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-sync"]
GIB = 2**30
#: bound on the server tree's resident memory per open page (kernel), beyond the baseline
GIB_PER_SESSION = 1.5
#: what the server may keep after every page has closed (Voila's caches), beyond its baseline
AFTER_CLOSE_MIB = 150

#: marks, in page time (ms since navigation), when the status line and the explorer's images appear
MARK_SCRIPT = """(() => {
  const mark = () => {
    const texts = [...document.querySelectorAll('.widget-html-content')].map(e => e.textContent);
    if (window.__jsccStatus === undefined && texts.some(t => t.includes('Loading the models')))
      window.__jsccStatus = performance.now();
    if (window.__jsccRender === undefined && document.querySelectorAll(
        'img.widget-image[src^="blob:"], img.widget-image[src^="data:"]').length >= 2)
      window.__jsccRender = performance.now();
  };
  new MutationObserver(mark).observe(document, {subtree: true, childList: true, attributes: true,
                                                characterData: true});
})();"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_explorer(log_path, max_sessions: int = 8, cull_idle: int = 300, timeout: float = 90.0):
    """Start ``jscc-lab explore`` on 127.0.0.1 (a free port, no browser) in its own process
    group; wait for its ready line. Returns ``(process, url)``."""
    port = free_port()
    log = open(log_path, "w+")
    cmd = [sys.executable, "-m", "jscc_lab.cli", "explore", "--ip", "127.0.0.1", "--port", str(port),
           "--no-browser", "--max-sessions", str(max_sessions), "--cull-idle", str(cull_idle)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
                            env=dict(os.environ, JSCC_LAB_OFFLINE="1", PYTHONUNBUFFERED="1"))
    proc.log = log
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if f"ready at {url}" in Path(log_path).read_text():
            return proc, url
        time.sleep(0.25)
    proc.kill()
    raise RuntimeError(f"jscc-lab explore did not start:\n{Path(log_path).read_text()[-3000:]}")


def process_tree(pid: int) -> list:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def count_kernels(tree: list) -> int:
    """Kernels in a process tree: processes running ``ipykernel`` whose parent does not (a child a
    kernel forks, e.g. to run a command, carries the kernel's command line and is no second kernel)."""
    pids = {p.pid for p in tree if any("ipykernel" in part for part in _cmdline(p))}
    return sum(1 for p in tree if p.pid in pids and _ppid(p) not in pids)


def tree_stats(pid: int) -> tuple[int, int]:
    """``(bytes resident, kernels)`` of ``pid``'s process tree."""
    tree, rss = process_tree(pid), 0
    for p in tree:
        try:
            rss += p.memory_info().rss
        except Exception:  # noqa: BLE001  (ended meanwhile)
            pass
    return rss, count_kernels(tree)


def stop_explorer(proc, sig=signal.SIGTERM, timeout: float = 60.0) -> dict:
    """Send ``sig`` to ``jscc-lab explore``; wait. Returns its exit status, the seconds it took,
    the process ids its tree had and those still alive afterwards (checked by pid)."""
    import psutil

    tree = process_tree(proc.pid)
    kernels = count_kernels(tree)
    started = time.perf_counter()
    proc.send_signal(sig)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    seconds = time.perf_counter() - started
    _, alive = psutil.wait_procs(tree, timeout=5)
    alive = [p for p in alive if _status(p) not in (psutil.STATUS_ZOMBIE, None)]  # zombies hold nothing
    left = [p.pid for p in alive]
    for p in alive:  # never leave a stray server behind, even when the check fails
        p.kill()
    proc.log.close()
    return {"exit_code": code, "seconds": seconds, "pids": [p.pid for p in tree], "left": left,
            "kernels": kernels}


def _status(p):
    try:
        return p.status()
    except Exception:  # noqa: BLE001  (gone)
        return None


def _cmdline(p) -> list:
    try:
        return p.cmdline()
    except Exception:  # noqa: BLE001
        return []


def _ppid(p) -> int | None:
    try:
        return p.ppid()
    except Exception:  # noqa: BLE001  (gone)
        return None


class Sampler(threading.Thread):
    """Samples the server tree's RSS and kernel count every ``period`` seconds."""

    def __init__(self, pid: int, period: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.peak_rss = self.peak_kernels = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(self.period):
            rss, kernels = tree_stats(self.pid)
            self.peak_rss, self.peak_kernels = max(self.peak_rss, rss), max(self.peak_kernels, kernels)

    def reset(self):
        self.peak_rss = self.peak_kernels = 0


def wait_kernels(pid: int, count: int, timeout: float) -> float | None:
    """Seconds until ``pid``'s tree runs ``count`` kernels; ``None`` on timeout."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if tree_stats(pid)[1] == count:
            return time.perf_counter() - started
        time.sleep(0.25)
    return None


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.add_init_script(MARK_SCRIPT)
    page.goto(url, wait_until="commit", timeout=120_000)
    return page


def wait_rendered(page, timeout_s: float) -> dict:
    """Wait for the explorer's first render; ``{"status_s", "render_s", "ready"}``."""
    page.wait_for_function("window.__jsccRender !== undefined", timeout=timeout_s * 1000)
    page.locator(".widget-html-content", has_text="Ready").first.wait_for(timeout=30_000)
    marks = page.evaluate("[window.__jsccStatus, window.__jsccRender]")
    return {"status_s": None if marks[0] is None else marks[0] / 1000, "render_s": marks[1] / 1000}


def move_slider(page, timeout_s: float) -> float:
    """One step right on the SNR slider; seconds until the status line shows the new SNR."""
    status = page.locator(".widget-html-content", has_text=" ms").first
    status.wait_for(timeout=30_000)
    before = status.inner_text()
    snr = float(before.split(" dB")[0].rsplit(" ", 1)[-1])
    slider = page.locator("[role=slider]").first
    slider.focus()
    started = time.perf_counter()
    slider.press("ArrowRight")
    page.wait_for_function(
        "([want]) => [...document.querySelectorAll('.widget-html-content')]"
        ".some(e => e.innerText.includes(want) && e.innerText.includes(' ms'))",
        arg=[f", {snr + 1:g} dB, "], timeout=timeout_s * 1000)
    return time.perf_counter() - started


def get_page(url: str, timeout: float = 180.0) -> tuple[int, str]:
    """A plain HTTP GET (no browser: nothing connects to the kernel it starts)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def run(sessions: int = 4, cull_idle: int = 20, log_dir=None, render_timeout: float = 300.0,
        screenshot=None) -> dict:
    """Run the load test (see the module docstring); returns its numbers and checks."""
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        raise RuntimeError("no Chromium on PATH: apt-get install -y chromium")
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="explorer_load_"))
    started = time.perf_counter()
    proc, url = start_explorer(log_dir / "explore.log", max_sessions=sessions, cull_idle=cull_idle)
    close_wait = cull_idle + max(1, min(60, cull_idle // 4)) + 30  # the beacon, else the culler
    out: dict = {"sessions": sessions, "cull_idle_s": cull_idle, "url": url, "sequential": [],
                 "together": []}
    sampler = Sampler(proc.pid)
    try:
        time.sleep(2.0)
        out["baseline_rss"], out["baseline_kernels"] = tree_stats(proc.pid)
        sampler.start()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(sessions):  # 1. one after another
                page = open_page(browser, url)
                row = wait_rendered(page, render_timeout)
                row["kernels_open"] = tree_stats(proc.pid)[1]
                row["slider_s"] = move_slider(page, render_timeout)
                page.close(run_before_unload=True)
                row["kernel_gone_s"] = wait_kernels(proc.pid, 0, close_wait)
                page.context.close()
                out["sequential"].append(row)
            out["sequential_peak_rss"] = sampler.peak_rss
            sampler.reset()
            pages = [open_page(browser, url) for _ in range(sessions)]  # 2. together
            out["together"] = [wait_rendered(page, render_timeout) for page in pages]
            out["together_kernels"] = tree_stats(proc.pid)[1]
            out["busy_status"], busy_page = get_page(url, timeout=60)
            out["busy_says_so"] = "sessions are in use" in busy_page
            for page, row in zip(pages, out["together"]):
                row["slider_s"] = move_slider(page, render_timeout)
            if screenshot:
                pages[0].screenshot(path=str(screenshot), full_page=True)
            out["together_peak_rss"], out["together_peak_kernels"] = sampler.peak_rss, sampler.peak_kernels
            for page in pages:
                page.close(run_before_unload=True)
            out["together_kernels_gone_s"] = wait_kernels(proc.pid, 0, close_wait)
            browser.close()
        time.sleep(3.0)  # let the server settle
        out["after_close_rss"], out["after_close_kernels"] = tree_stats(proc.pid)
        status, _ = get_page(url)  # 3. a kernel nobody connects to: the culler ends it
        out["unconnected_status"] = status
        out["unconnected_kernels"] = tree_stats(proc.pid)[1]
        out["culled_after_s"] = wait_kernels(proc.pid, 0, cull_idle + 120)
        out["sigterm_page_status"], _ = get_page(url)  # 4. SIGTERM with a kernel running
        out["sigterm"] = stop_explorer(proc)
    finally:
        sampler.done.set()
        if proc.poll() is None:
            stop_explorer(proc, signal.SIGKILL)
    out["peak_rss"] = max(out.get("sequential_peak_rss", 0), out.get("together_peak_rss", 0))
    out["wall_s"] = time.perf_counter() - started
    return out


def failures(out: dict) -> list[str]:
    """The checks of a :func:`run` that failed (empty: all passed)."""
    n, base, rows = out["sessions"], out["baseline_rss"], out["sequential"] + out["together"]
    sigterm = out["sigterm"]
    checks = {
        "no kernel before any page": out["baseline_kernels"] == 0,
        f"{n} sessions one after another and {n} together": len(out["sequential"]) == len(out["together"]) == n,
        "every page showed its status line, then rendered and answered a slider step":
            all(r["status_s"] is not None and 0 < r["status_s"] <= r["render_s"] and r["slider_s"] > 0
                for r in rows),
        "one kernel per open page": all(r["kernels_open"] == 1 for r in out["sequential"])
            and out["together_kernels"] == out["together_peak_kernels"] == n,
        "a closed page's kernel ends": all(r["kernel_gone_s"] is not None for r in out["sequential"])
            and out["together_kernels_gone_s"] is not None and out["after_close_kernels"] == 0,
        f"page {n + 1} is refused with a reason (HTTP 503)": out["busy_status"] == 503 and out["busy_says_so"],
        f"memory while open <= baseline + {GIB_PER_SESSION} GiB per page":
            out["together_peak_rss"] <= base + n * GIB_PER_SESSION * GIB,
        f"memory after close <= baseline + {AFTER_CLOSE_MIB} MiB": out["after_close_rss"] <= base + AFTER_CLOSE_MIB * 2**20,
        "a kernel nobody connects to is culled": out["unconnected_status"] == 200
            and out["unconnected_kernels"] == 1 and out["culled_after_s"] is not None,
        "SIGTERM ends jscc-lab, Voila and the kernel, no pid left": sigterm["exit_code"] == 0
            and out["sigterm_page_status"] == 200 and sigterm["kernels"] >= 1 and sigterm["left"] == [],
    }
    return [name for name, ok in checks.items() if not ok]


def report(out: dict) -> str:
    def gib(b):
        return f"{b / GIB:.2f} GiB"

    def col(rows, key):
        values = [r[key] for r in rows if r.get(key) is not None]
        return f"median {statistics.median(values):.1f} s, max {max(values):.1f} s" if values else "n/a"

    def secs(value):
        return "never" if value is None else f"{value:.1f} s"

    n = out["sessions"]
    lines = [f"explorer load test: {n} sessions, Chromium headless on 127.0.0.1, cull after "
             f"{out['cull_idle_s']} s, {out['wall_s']:.0f} s in all",
             f"baseline (server, no page): {gib(out['baseline_rss'])}, {out['baseline_kernels']} kernels"]
    for phase in ("sequential", "together"):
        rows = out[phase]
        lines.append(f"{phase}: status line {col(rows, 'status_s')}; first render {col(rows, 'render_s')}; "
                     f"one SNR step {col(rows, 'slider_s')}")
    lines += [f"peak RSS one after another: {gib(out['sequential_peak_rss'])}; together: "
              f"{gib(out['together_peak_rss'])} with {out['together_peak_kernels']} kernels",
              f"page {n + 1} while {n} are open: HTTP {out['busy_status']}"
              f"{' (says the sessions are in use)' if out['busy_says_so'] else ''}",
              f"kernel gone after a page closed: {', '.join(secs(r['kernel_gone_s']) for r in out['sequential'])}"
              f"; all {n} together: {secs(out['together_kernels_gone_s'])}",
              f"after close: {gib(out['after_close_rss'])} (baseline + "
              f"{(out['after_close_rss'] - out['baseline_rss']) / 2**20:.0f} MiB), {out['after_close_kernels']} kernels",
              f"a page loaded without a browser: kernel culled after {secs(out['culled_after_s'])}",
              f"SIGTERM: exit {out['sigterm']['exit_code']} in {out['sigterm']['seconds']:.1f} s; "
              f"{len(out['sigterm']['pids'])} processes ({out['sigterm']['kernels']} kernels), "
              f"left: {out['sigterm']['left'] or 'none'}"]
    failed = failures(out)
    lines.append(f"checks failed: {'; '.join(failed)}" if failed else "checks: all passed")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=4, help="browser sessions (and --max-sessions)")
    parser.add_argument("--cull-idle", type=int, default=20, help="explore --cull-idle (seconds)")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)
    out = run(sessions=args.sessions, cull_idle=args.cull_idle)
    print(report(out))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    sys.exit(1 if failures(main()) else 0)
