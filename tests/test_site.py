"""The website (``jscc-lab site build``): staging rules, and the built site opened page by page
in a real headless Chromium (every page renders its figures, every internal link and anchor
resolves, no console errors, no failed request)."""

import functools
import http.server
import json
import threading
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest
from conftest import load_script

from jscc_lab.site import WIDGET_MIME, WIDGET_NOTE, build_site, stage_sources, static_notebook

pytest.importorskip("myst_nb", reason="the site tools: pip install -e '.[site]'")
REPO = Path(__file__).resolve().parents[1]
CHROMIUM = load_script("benchmarks/explorer_load.py")


def test_a_widget_output_becomes_a_note_and_other_outputs_stay():
    nb = {"metadata": {"widgets": {"state": {}}}, "cells": [{"cell_type": "code", "outputs": [
        {"output_type": "display_data", "data": {WIDGET_MIME: {"model_id": "x"}, "text/plain": "VBox()"}},
        {"output_type": "display_data", "data": {"image/png": "iVBOR"}}]}]}
    page = static_notebook(nb)
    outs = page["cells"][0]["outputs"]
    assert outs[0]["data"] == {"text/markdown": WIDGET_NOTE} and outs[1]["data"] == {"image/png": "iVBOR"}
    assert "widgets" not in page["metadata"] and WIDGET_MIME in nb["cells"][0]["outputs"][0]["data"]


def test_staging_points_tutorial_links_at_pages_and_copies_linked_files(tmp_path):
    pages = stage_sources(tmp_path)
    index = (tmp_path / "index.md").read_text()
    assert "](tutorials/01_channels.ipynb)" in index and "](tutorials/01_channels.py)" not in index
    assert "](license.md)" in index and "](notice.md)" in index
    assert (tmp_path / "assets" / "figures" / "demo.jpg").is_file()  # a figure the README shows
    for name in pages:
        assert (tmp_path / f"{name}.md").is_file() or (tmp_path / f"{name}.ipynb").is_file()
    nb = json.loads((tmp_path / "tutorials" / "09_explorer.ipynb").read_text())
    assert "Run this notebook" in "".join(nb["cells"][1]["source"])
    assert not any(WIDGET_MIME in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
    assert (tmp_path / "tutorials" / "09_explorer.py").is_file()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    index = build_site(out)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield out, index, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.mark.slow
def test_the_site_builds_without_warnings(site):
    out, index, _ = site
    assert index.is_file()
    assert (out / "build-warnings.txt").read_text().strip() == ""
    for stem in ("01_channels", "10_user_study"):
        assert (out / "tutorials" / f"{stem}.html").is_file()
    downloads = {p.name for p in (out / "_downloads").rglob("*")}
    assert {"02_separate_coding.ipynb", "02_separate_coding.py"} <= downloads


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM.CHROMIUM is None, reason="no Chromium on PATH: apt-get install -y chromium")
def test_every_page_renders_and_every_internal_link_resolves(site):
    sync_api = pytest.importorskip("playwright.sync_api")
    out, _, base = site
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html") if "_static" not in p.parts)
    problems, anchors_wanted, visited = [], {}, {}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM.CHROMIUM, args=CHROMIUM.CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("console", lambda m: problems.append(f"{page.url}: console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("response", lambda r: problems.append(f"{page.url}: {r.status} for {r.url}")
                if r.status >= 400 else None)
        page.on("requestfailed", lambda r: problems.append(f"{page.url}: request failed {r.url}"))
        for name in pages:
            page.goto(base + name, wait_until="networkidle")
            broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
                                   ".map(i => i.src)")
            problems += [f"{name}: image not rendered {src}" for src in broken]
            visited[name] = set(page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)"))
            for href in page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)"):
                target, fragment = urldefrag(href)
                if not target.startswith(base):
                    continue  # external links are not followed (the site must work offline)
                rel = urlparse(target).path[len(urlparse(base).path):] or "index.html"
                if not (out / rel).exists():
                    problems.append(f"{name}: link to a missing file {rel}")
                elif rel.endswith(".html") and fragment:
                    anchors_wanted.setdefault(rel, set()).add((fragment, name))
        browser.close()
    for rel, wanted in anchors_wanted.items():
        problems += [f"{source}: link to a missing anchor {rel}#{frag}" for frag, source in wanted
                     if frag not in visited.get(rel, set())]
    assert not problems, "\n".join(sorted(set(problems))[:30])
    assert len(pages) >= 25


def test_site_build_refuses_an_unwritable_folder_in_one_line(capsys):
    from jscc_lab.cli import main

    assert main(["site", "build", "/proc/jscc_lab_site"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "OUT" in err
