"""The project website: the README, the tutorials with their stored outputs, the design notes,
the results and the course material, built with Sphinx + MyST-NB (``jscc-lab site build OUT``).

Sphinx with MyST-NB (the executable-books parser, as Sionna's docs use Sphinx on notebooks
committed with outputs) reads the notebooks as they are: ``nb_execution_mode = "off"``, nothing
is re-executed. The build stages a copy of the sources first:

* the README becomes the home page, and links to a tutorial's ``.py`` point at its page;
* each notebook keeps its outputs; an interactive widget (which needs a running kernel) is shown
  as a note on how to run it live, and every tutorial page starts with download links for its
  ``.ipynb`` / ``.py`` pair and how to open it without a local install;
* any local file a page links to (a results table, a config, a figure) is copied so the link
  works; ``LICENSE`` and ``NOTICE`` become pages;
* MathJax is served from the site itself (``sphinx-mathjax-offline``): the pages load nothing
  from the network.

Example
-------
>>> from jscc_lab.site import build_site
>>> index = build_site("site")          # doctest: +SKIP  (site/index.html)
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

__all__ = ["build_site", "stage_sources", "static_notebook", "TUTORIAL_HEADER"]

REPO = Path(__file__).resolve().parents[1]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("*Interactive widget: it needs a running kernel. Open this notebook in Jupyter "
               "(or Colab / Binder, see the top of the page) to use it.*")
#: first cell of every tutorial page (``{stem}``: the file name without suffix)
TUTORIAL_HEADER = (
    "```{{admonition}} Run this notebook\n"
    "Download {{download}}`{stem}.ipynb <{stem}.ipynb>` (with the outputs shown here) or its "
    "paired script {{download}}`{stem}.py <{stem}.py>`. It runs anywhere `jscc_lab` is installed "
    "(`pip install -e .` in a clone); on Colab or Binder its first code cell installs the package "
    "and fetches the data it needs (see the [instructor's guide](../docs/instructor_guide.md)).\n"
    "```\n"
)
DOC_PAGES = ("DESIGN.md", "CHANGELOG.md")
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
           'fill="#2b6cb0"/><text x="8" y="12" font-size="10" text-anchor="middle" fill="#fff" '
           'font-family="sans-serif">J</text></svg>')
_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")
_CONF = '''
project = "jscc_lab"
author = "jscc_lab contributors"
extensions = ["myst_nb"]
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 4
html_theme = "furo"
html_title = "jscc_lab: deep joint source-channel coding"
exclude_patterns = ["_build"]
html_copy_source = False
html_favicon = "favicon.svg"
suppress_warnings = ["myst.xref_missing", "misc.highlighting_failure"]
mathjax_path = "mathjax/tex-chtml.js"
MATHJAX = {mathjax!r}


def _copy_mathjax(app, exc):
    import shutil
    from pathlib import Path

    if exc is None:
        out = Path(app.outdir) / "_static" / "mathjax"
        (out / "output" / "chtml").mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(MATHJAX) / "tex-chtml.js", out / "tex-chtml.js")
        shutil.copytree(Path(MATHJAX) / "output" / "chtml" / "fonts", out / "output" / "chtml" / "fonts",
                        dirs_exist_ok=True)


def setup(app):
    app.connect("build-finished", _copy_mathjax)
'''


def _mathjax_dir() -> str:
    """MathJax 3 as shipped by the ``sphinx-mathjax-offline`` distribution (its files only: the
    distribution's module cannot be imported under its name)."""
    from importlib import metadata

    try:
        folder = metadata.distribution("sphinx-mathjax-offline").locate_file("sphinx-mathjax-offline/static/mathjax")
    except metadata.PackageNotFoundError:
        raise ModuleNotFoundError("the website needs its build tools: pip install -e \".[site]\"") from None
    return str(folder)


def static_notebook(nb: dict) -> dict:
    """``nb`` (notebook JSON) as a page shows it: widget views replaced by :data:`WIDGET_NOTE`
    (other outputs, e.g. a stored figure, kept) and the saved widget state dropped."""
    nb = json.loads(json.dumps(nb))
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_MIME in data:
                out["data"], out["metadata"] = {"text/markdown": WIDGET_NOTE}, {}
    return nb


def _rewrite_links(text: str, page: Path, repo: Path, src: Path) -> str:
    """Point tutorial ``.py`` links at their pages, ``LICENSE`` / ``NOTICE`` at theirs, and copy
    every other local file a link names into ``src`` (same relative place); a link to a folder
    (which a page cannot show) keeps its text only."""

    def fix(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = (repo / page.parent / path).resolve()
        if not resolved.is_relative_to(repo.resolve()) or not resolved.exists():
            return match.group(0)
        rel = resolved.relative_to(repo.resolve())
        if resolved.is_dir():
            return match.group(1)[1:-2]
        if rel.parent.name == "tutorials" and re.fullmatch(r"\d\d_[a-z_0-9]+\.py", rel.name):
            path = path[: -len(".py")] + ".ipynb"
        elif rel.as_posix() in ("LICENSE", "NOTICE"):
            path = path[: -len(rel.name)] + rel.name.lower() + ".md"
        elif rel.as_posix() == "README.md":
            path = path[: -len(rel.name)] + "index.md"
        elif resolved.is_file() and not (src / rel).exists():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(resolved, src / rel)
        return match.group(1) + path + ("#" + anchor if anchor else "") + match.group(3)

    return _LINK.sub(fix, text)


def _literal_page(title: str, text: str) -> str:
    return f"# {title}\n\n```text\n{text.rstrip()}\n```\n"


def stage_sources(src, repo=REPO) -> list[str]:
    """Write the site's sources into ``src`` (see the module doc); returns the page names of the
    table of contents."""
    repo, src = Path(repo), Path(src)
    src.mkdir(parents=True, exist_ok=True)
    tutorials = sorted((repo / "tutorials").glob("[0-9][0-9]_*.ipynb"))
    docs = sorted(p for p in (repo / "docs").rglob("*.md"))
    pages: dict[Path, str] = {Path("index.md"): (repo / "README.md").read_text()}
    for p in docs + [repo / name for name in DOC_PAGES]:
        pages[p.relative_to(repo)] = p.read_text()
    pages[Path("license.md")] = _literal_page("Licence", (repo / "LICENSE").read_text())
    pages[Path("notice.md")] = _literal_page("Third-party licences (NOTICE)", (repo / "NOTICE").read_text())
    for rel, text in pages.items():
        origin = Path("README.md") if rel == Path("index.md") else rel
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(_rewrite_links(text, origin, repo, src))
    (src / "tutorials").mkdir(exist_ok=True)
    for nb_path in tutorials:
        nb = static_notebook(json.loads(nb_path.read_text()))
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                cell["source"] = _rewrite_links(text, nb_path.relative_to(repo), repo, src)
        header = {"cell_type": "markdown", "id": "run-this-notebook", "metadata": {},
                  "source": TUTORIAL_HEADER.format(stem=nb_path.stem)}
        nb["cells"].insert(1, header)
        for i, cell in enumerate(nb["cells"]):
            cell.setdefault("id", f"cell-{i}")
        nb["nbformat_minor"] = max(nb.get("nbformat_minor", 0), 5)  # cell ids
        (src / "tutorials" / nb_path.name).write_text(json.dumps(nb))
        shutil.copy2(nb_path.with_suffix(".py"), src / "tutorials" / nb_path.with_suffix(".py").name)
    toc = {
        "Tutorials": [f"tutorials/{p.stem}" for p in tutorials],
        "Results and training": ["docs/results", "docs/training", "docs/troubleshooting"]
        + [f"docs/model_cards/{p.stem}" for p in sorted((repo / "docs" / "model_cards").glob("*.md"))],
        "Teaching": ["docs/instructor_guide", "docs/glossary", "docs/reading"],
        "Project": ["DESIGN", "CHANGELOG", "license", "notice"],
    }
    listed = [name for names in toc.values() for name in names]
    missing = [name for name in listed if not (src / f"{name}.md").exists() and not (src / f"{name}.ipynb").exists()]
    if missing:
        raise FileNotFoundError(f"site pages missing from the repository: {', '.join(missing)}")
    with open(src / "index.md", "a") as f:
        for caption, names in toc.items():
            f.write(f"\n```{{toctree}}\n:hidden:\n:caption: {caption}\n\n" + "\n".join(names) + "\n```\n")
    (src / "conf.py").write_text(_CONF.format(mathjax=_mathjax_dir()))
    (src / "favicon.svg").write_text(FAVICON)
    return listed


def build_site(out, repo=REPO, quiet: bool = True) -> Path:
    """Build the website into ``out`` (HTML); returns ``out/index.html``.

    Warnings of the build (a broken cross-reference, an unreadable page) are written to
    ``out/build-warnings.txt``; a failed build raises ``RuntimeError`` naming it."""
    import tempfile

    from sphinx.cmd.build import build_main

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    warnings = out / "build-warnings.txt"
    with tempfile.TemporaryDirectory(prefix="jscc_lab-site-") as tmp:
        src = Path(tmp) / "src"
        stage_sources(src, repo)
        args = ["-b", "html", "-w", str(warnings), "-d", str(Path(tmp) / "doctrees"), str(src), str(out)]
        if build_main((["-q"] if quiet else []) + args) != 0:
            raise RuntimeError(f"the site build failed; see {warnings}")
    return out / "index.html"
