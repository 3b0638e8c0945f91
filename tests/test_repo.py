"""Repository hygiene run with the suite: ruff, and every tutorial's .py/.ipynb pair in sync."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = REPO / "tutorials"


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(REPO)], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


#: the device tool carries 64 MiB (tree + data pack); the pack needs about 13 MiB at least (LPIPS-alex
#: 9.4, the TAEF2 encoder 2.6, a few training images): docs/training.md, "Training on a GPU"
TREE_LIMIT_MIB = 50


def test_the_tracked_tree_leaves_room_for_the_gpu_data_pack():
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    files = [REPO / name for name in listed.stdout.decode().split("\0") if name]
    mib = sum(f.stat().st_size for f in files if f.is_file()) / 2**20
    assert mib <= TREE_LIMIT_MIB, (f"the tracked tree is {mib:.1f} MiB, over {TREE_LIMIT_MIB} MiB: a GPU call could "
                                   "not carry the data pack; shrink checkpoints (float16, published_weights) or "
                                   "notebook outputs (python tutorials/execute.py --compact-only)")


def _cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_every_tutorial_is_a_pair():
    scripts = {p.stem for p in TUTORIALS.glob("[0-9][0-9]_*.py")}
    notebooks = {p.stem for p in TUTORIALS.glob("[0-9][0-9]_*.ipynb")}
    assert scripts, "no tutorials found"
    assert scripts == notebooks, f"unpaired: {sorted(scripts ^ notebooks)}"


@pytest.mark.parametrize("script", sorted(TUTORIALS.glob("[0-9][0-9]_*.py")), ids=lambda p: p.name)
def test_tutorial_pair_is_in_sync(script):
    notebook = script.with_suffix(".ipynb")
    py_cells, ipynb_cells = _cells(jupytext.read(script)), _cells(jupytext.read(notebook))
    assert py_cells == ipynb_cells, (
        f"{script.name} and {notebook.name} differ; run `jupytext --sync {script.relative_to(REPO)}`"
    )
    formats = jupytext.read(notebook).metadata.get("jupytext", {}).get("formats", "")
    assert "py:percent" in formats, f"pair {notebook.name} with `jupytext --set-formats ipynb,py:percent`"


@pytest.mark.parametrize("script", sorted(TUTORIALS.glob("[0-9][0-9]_*.py")), ids=lambda p: p.name)
def test_tutorials_never_hide_exceptions(script):
    """A notebook cell that catches an exception can hide a failure from the CI run. Allowed only:
    ``except SomeSpecificError as err:`` whose body uses ``err`` (a cell that shows a guard firing)."""
    import ast

    source = "\n".join(line for line in script.read_text().splitlines()
                       if not line.lstrip().startswith(("%", "!")))  # IPython magics
    bad = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ExceptHandler):
            continue
        broad = node.type is None or (isinstance(node.type, ast.Name)
                                      and node.type.id in ("Exception", "BaseException"))
        used = node.name is not None and any(
            isinstance(n, ast.Name) and n.id == node.name for b in node.body for n in ast.walk(b))
        if broad or not used:
            bad.append(node.lineno)
    assert not bad, f"{script.name} catches and hides exceptions at lines {bad}; let them fail loudly"


# ---- the README is a front door; docs/ holds the rest -------------------------------------------

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").rglob("*.md"))
README_MAX_LINES = 220
#: wording about how the project was built, not about what it is: numbered work periods,
#: tracker numbers ("issue 4", "#12")
WORK_UNIT = "s[e]ssion"  # the word for a unit of the builders' work, spelled so this file does not use it
BUILD_WORDING = re.compile(rf"(?i)\b{WORK_UNIT}[- ]?\d+|\bCPU {WORK_UNIT}|\bthis {WORK_UNIT}\b|\bissue[- ]?#?\d+|(?<![\w&/])#\d+\b")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(line.lstrip("#")) for line in path.read_text().splitlines() if re.match(r"#{1,6} ", line)}


def _broken_links(path: Path) -> list[str]:
    broken = []
    for match in LINK.finditer(path.read_text()):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target} (no {dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest})")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading '#{anchor}' in {dest.name})")
    return broken


def test_readme_is_a_short_front_door():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, (f"README.md has {len(lines)} lines, over {README_MAX_LINES}: move "
                                            "results to docs/results.md, training to docs/training.md")
    text = README.read_text().replace("--max-s" + "essions", "")
    assert not re.search(WORK_UNIT, text.lower()), "README.md speaks of how the project was built: say what it is"


@pytest.mark.parametrize("path", [README, *DOCS, REPO / "CHANGELOG.md"], ids=lambda p: str(p.relative_to(REPO)))
def test_docs_do_not_speak_of_how_they_were_built(path):
    bad = [f"{n}: {line.strip()}" for n, line in enumerate(path.read_text().splitlines(), 1)
           if BUILD_WORDING.search(line)]
    assert not bad, f"{path.name} refers to how it was built (work periods, tracker numbers):\n" + "\n".join(bad)


@pytest.mark.parametrize("path", [README, *DOCS, REPO / "CHANGELOG.md", REPO / "DESIGN.md"],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(path):
    broken = _broken_links(path)
    assert not broken, f"{path.relative_to(REPO)} has broken links:\n" + "\n".join(broken)


def test_the_readme_keeps_the_test_command_that_ci_runs():
    text = README.read_text()
    block = re.search(r"<!-- test-command -->\n```bash\n(.+?)\n```\n<!-- /test-command -->", text, re.S)
    assert block, "README.md lost the test command between <!-- test-command --> markers (.ci/run runs it)"
    assert "pytest" in block.group(1) and 'pip install -e ".[dev]"' in block.group(1)


def test_every_shipped_checkpoint_has_a_model_card():
    import json

    names = json.loads((REPO / "assets" / "checkpoints" / "registry.json").read_text())
    cards = {p.stem for p in (REPO / "docs" / "model_cards").glob("*.md")}
    assert set(names) == cards, f"model cards missing: {sorted(set(names) - cards)}, extra: {sorted(cards - set(names))}"


def test_readme_headline_numbers_are_in_the_results_files_they_cite():
    """Every number of a headline row that names a results file must appear in that file."""
    text = README.read_text()
    section = text.split("## Headline results", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|") and "benchmarks/results/" in line]
    assert rows, "no headline row cites a results file"
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        source = REPO / re.search(r"`(benchmarks/results/[^`]+)`", row).group(1)
        assert source.exists(), f"{source.relative_to(REPO)} (cited in the README) does not exist"
        quoted = source.read_text()
        for cell in cells[1:-1]:
            if re.fullmatch(r"-?\d+\.\d+", cell):
                assert re.search(rf"(?<![\d.]){re.escape(cell)}", quoted), (
                    f"README headline {cell} is not in {source.relative_to(REPO)} (row: {cells[0]})")


def _imports_of(module: str, path: Path, modules: set[str]) -> set[str]:
    """The package modules ``module`` imports anywhere in its file (function-level imports too)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module or ""
            targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names]
        else:
            continue
        for t in targets:
            while t not in modules and "." in t:
                t = t.rsplit(".", 1)[0]
            if t in modules and t != module:
                found.add(t)
    return found


def test_no_module_imports_one_that_imports_it_back():
    files = {}
    for path in (REPO / "jscc_lab").rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {m: _imports_of(m, p, set(files)) for m, p in files.items()}
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}  # a package's own __init__

    def reaches(start: str, goal: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == goal:
                    return trail + [goal]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
        return None

    loops = [" -> ".join(loop) for m in sorted(graph) if (loop := reaches(m, m))]
    assert not loops, "import cycles: " + "; ".join(loops[:3])
