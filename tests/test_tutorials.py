"""Every tutorial follows the notebook conventions of DESIGN.md ("Tutorials"):

- a **You will learn** block and its **Requirements** (time, CPU/GPU, data) before the first code;
- an ``## Exercises`` heading (a line of a markdown cell) followed in that cell by the numbered
  exercises ``1.``, ``2.``, ...;
- per exercise one worked solution, hidden by default: a markdown cell that starts with
  ``### Solution to exercise N`` and carries the cell metadata ``jp-MarkdownHeadingCollapsed: true``
  (JupyterLab and Notebook 7 open the heading folded, with the cells below it until the next
  heading of level 1-3), followed by at least one code cell, so CI executes the solution;
- at least one *lesson* ``assert`` outside the solutions: an ordering or closeness check on a
  number the notebook computed (``<``, ``>``, ``<=``, ``>=``, ``allclose``, ``isclose``), not a shape
  or a length;
- no stray repr as a cell's result: a cell does not end in a bare call of a plotting function or a
  matplotlib method that returns an artist (``<Axes ...>``, a second copy of a figure) or of
  ``manual_seed`` (``<torch._C.Generator ...>``); assign the value (or end the line with ``;``,
  which ruff rejects in the ``.py``);
- library progress bars off in notebooks (``progress=False``): tqdm's notebook widget is saved as
  a bar frozen at ``0/N``; the trainers then print plain log lines instead.
- scratch files in a ``tempfile.TemporaryDirectory`` whose ``.cleanup()`` is the last code cell,
  never ``tempfile.mkdtemp``: CI runs every notebook on each push, and ``pytest --nbval-lax`` kills
  the kernel without running finalizers, so each run left its checkpoints behind (up to 1.3 GB a
  run of notebook 07; 49 GB had piled up and filled the disk).

The checker runs on a small synthetic notebook too, to show it rejects each missing piece.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import pytest
from conftest import load_script

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
SOLUTION = re.compile(r"^###\s+Solution to exercise\s+(\d+)\b", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s")
EXERCISES = re.compile(r"^##\s+Exercises\s*$", re.M)
#: bare calls whose value Jupyter would show a second time (a figure) or as a repr
FIGURE_CALLS = {"show_images", "plot_curves", "plot_quality_vs_cbr", "manual_seed"}
#: receivers whose method calls return matplotlib artists, and the methods that return None
PLOT_RECEIVER = re.compile(r"^(plt|fig|figure|ax|axes|ax\d+)$")
HARMLESS = {"show", "tight_layout", "close", "savefig", "clf", "cla"}
#: library entry points that draw a tqdm bar unless progress=False
PROGRESS_CALLS = {"Trainer", "GANTrainer", "separation_sweep", "train", "train_perceptual"}


def _code(source: str) -> str:
    """Cell source without IPython magics and shell escapes, so that ``ast`` can parse it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _heading_level(source: str) -> int | None:
    match = HEADING.match(source.lstrip())
    return len(match.group(1)) if match else None


def _name(node) -> str:
    """The root name of ``a``, ``a.b``, ``a[0]``, ``a.b(...)`` ('' when there is none)."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def _is_lesson_assert(node: ast.Assert) -> bool:
    test = ast.unparse(node.test)
    if re.search(r"\.shape\b|\blen\(|\bisinstance\(|\.ndim\b|\.dtype\b", test):
        return False
    ordering = any(isinstance(op, (ast.Lt, ast.Gt, ast.LtE, ast.GtE))
                   for n in ast.walk(node.test) if isinstance(n, ast.Compare) for op in n.ops)
    closeness = re.search(r"\b(allclose|isclose|approx)\(", test) is not None
    return ordering or closeness


def _stray_repr(source: str) -> str | None:
    """The last statement of a code cell if Jupyter would display an unwanted value for it."""
    if source.rstrip().endswith(";"):
        return None
    body = ast.parse(_code(source)).body
    if not body or not isinstance(body[-1], ast.Expr) or not isinstance(body[-1].value, ast.Call):
        return None
    func = body[-1].value.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name in FIGURE_CALLS:
        return ast.unparse(body[-1])
    if isinstance(func, ast.Attribute) and PLOT_RECEIVER.match(_name(func.value)) and name not in HARMLESS:
        return ast.unparse(body[-1])
    return None


def check_tutorial(nb) -> list[str]:
    """Problems of one notebook (a jupytext/nbformat notebook) against the conventions; [] if none."""
    problems = []
    cells = nb.cells
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    intro = "\n".join(c.source for c in cells[:first_code] if c.cell_type == "markdown")
    if "**You will learn**" not in intro:
        problems.append("no **You will learn** block before the first code cell")
    if "**Requirements**" not in intro:
        problems.append("no **Requirements** block (time, CPU/GPU, data) before the first code cell")

    exercises_at = [i for i, c in enumerate(cells)
                    if c.cell_type == "markdown" and EXERCISES.search(c.source)]
    numbers: list[int] = []
    if len(exercises_at) != 1:
        problems.append(f"expected one '## Exercises' heading in a markdown cell, found {len(exercises_at)}")
    else:
        text = cells[exercises_at[0]].source
        text = text[EXERCISES.search(text).end():]
        text = text[:m.start()] if (m := re.search(r"^#{1,6}\s", text, re.M)) else text
        numbers = [int(n) for n in re.findall(r"^(\d+)\.\s", text, re.M)]
        if not numbers or numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"exercises must be numbered 1., 2., ... at the line start; found {numbers}")

    # solution sections: from a '### Solution to exercise N' cell to the next heading of level <= 3
    in_solution = [False] * len(cells)
    solutions: dict[int, int] = {}
    current = None
    for i, cell in enumerate(cells):
        if cell.cell_type == "markdown":
            match = SOLUTION.match(cell.source.lstrip())
            level = _heading_level(cell.source)
            if match:
                n = int(match.group(1))
                if n in solutions:
                    problems.append(f"two solutions to exercise {n}")
                if exercises_at and i < exercises_at[0]:
                    problems.append(f"the solution to exercise {n} comes before the exercises")
                if cell.metadata.get("jp-MarkdownHeadingCollapsed") is not True:
                    problems.append(f"the solution to exercise {n} is not hidden (cell metadata "
                                    "jp-MarkdownHeadingCollapsed=true on its heading)")
                current, solutions[n] = n, 0
            elif level is not None and level <= 3:
                current = None
        if current is not None:
            in_solution[i] = True
            solutions[current] += cell.cell_type == "code"
    for n in numbers:
        if n not in solutions:
            problems.append(f"exercise {n} has no '### Solution to exercise {n}' cell")
        elif solutions[n] == 0:
            problems.append(f"the solution to exercise {n} has no code cell (CI executes solutions)")
    for n in sorted(set(solutions) - set(numbers)):
        problems.append(f"a solution to exercise {n}, which does not exist")

    lesson = False
    for i, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        tree = ast.parse(_code(cell.source))
        if not in_solution[i] and any(isinstance(n, ast.Assert) and _is_lesson_assert(n)
                                      for n in ast.walk(tree)):
            lesson = True
        stray = _stray_repr(cell.source)
        if stray:
            problems.append(f"cell {i} ends in `{stray}`: Jupyter shows its value (a second figure "
                            "or a repr); assign it (`fig = ...`, `_ = ...`) or end the line with ';'")
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            func = call.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in PROGRESS_CALLS and not any(
                    k.arg == "progress" and isinstance(k.value, ast.Constant) and k.value.value is False
                    for k in call.keywords):
                problems.append(f"cell {i}: `{ast.unparse(call)[:60]}` draws a tqdm bar (saved frozen "
                                "at 0/N); pass progress=False")
    code_cells = [c.source for c in cells if c.cell_type == "code"]
    scratch = [t.id for c in code_cells for n in ast.walk(ast.parse(_code(c))) if isinstance(n, ast.Assign)
               and isinstance(n.value, ast.Call) and ast.unparse(n.value.func).endswith("TemporaryDirectory")
               for t in n.targets if isinstance(t, ast.Name)]
    if any("mkdtemp(" in c for c in code_cells):
        problems.append("tempfile.mkdtemp leaves its folder behind: use RUNS = tempfile.TemporaryDirectory() "
                        "and RUNS.cleanup() in the last code cell")
    for name in scratch:
        if f"{name}.cleanup()" not in code_cells[-1]:
            problems.append(f"the last code cell does not call {name}.cleanup(): the temporary folder outlives "
                            "the notebook")
    if not lesson:
        problems.append("no lesson assert (an ordering or closeness check on a computed number, not "
                        "a shape) in a code cell outside the solutions")
    return problems


@pytest.mark.parametrize("script", sorted(TUTORIALS.glob("[0-9][0-9]_*.py")), ids=lambda p: p.name)
def test_tutorial_follows_the_notebook_conventions(script):
    problems = check_tutorial(jupytext.read(script))
    assert not problems, f"{script.name}:\n- " + "\n- ".join(problems)


# ---- the checker itself, on a synthetic notebook -------------------------------------------------

GOOD = '''\
# %% [markdown]
# # 99 · A synthetic tutorial
#
# **You will learn**
# - that one plus one is two.
#
# **Requirements**: a CPU, a second.

# %%
import tempfile

import matplotlib.pyplot as plt
RUNS = tempfile.TemporaryDirectory()
total = 1 + 1
assert abs(total - 2) < 1e-9, "the lesson, on this notebook's own number"
fig, ax = plt.subplots()
_ = ax.plot([0, 1], [0, total])

# %% [markdown]
# ## Exercises
#
# 1. **Add.** Compute 2 + 2.
# 2. **Subtract.** Compute 2 - 2,
#    on two lines.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 1

# %%
assert 2 + 2 == 4

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 2

# %%
print(2 - 2)

# %% [markdown]
# Why: subtraction undoes addition.

# %% [markdown]
# ## Clean up

# %%
RUNS.cleanup()
'''


def _synthetic(text: str):
    return jupytext.reads(text, fmt="py:percent")


def test_checker_accepts_the_synthetic_notebook():
    assert check_tutorial(_synthetic(GOOD)) == []


@pytest.mark.parametrize("old, new, complaint", [
    ("# **You will learn**\n", "", "You will learn"),
    ("# **Requirements**: a CPU, a second.\n", "", "Requirements"),
    ("# ## Exercises\n", "# ## Things to try\n", "'## Exercises'"),
    ("# 2. **Subtract.**", "# - **Subtract.**", "exercise 2, which does not exist"),
    ("# %% [markdown] jp-MarkdownHeadingCollapsed=true\n# ### Solution to exercise 2\n",
     "# %% [markdown]\n# ### Solution to exercise 2\n", "exercise 2 is not hidden"),
    ("# %% [markdown] jp-MarkdownHeadingCollapsed=true\n# ### Solution to exercise 2\n\n# %%\nprint(2 - 2)\n",
     "", "exercise 2 has no"),
    ("# %%\nprint(2 - 2)\n", "", "exercise 2 has no code cell"),
    ('assert abs(total - 2) < 1e-9, "the lesson, on this notebook\'s own number"\n',
     "assert total.shape == ()\n", "no lesson assert"),
    ("_ = ax.plot([0, 1], [0, total])\n", "ax.plot([0, 1], [0, total])\n", "ends in `ax.plot"),
    ("_ = ax.plot([0, 1], [0, total])\n", "torch.Generator().manual_seed(0)\n", "ends in `torch.Generator"),
    ("print(2 - 2)\n", "print(2 - 2)\nrows = separation_sweep(x, [0.0], [1 / 12])\n", "pass progress=False"),
    ("# %%\nRUNS.cleanup()\n", "", "does not call RUNS.cleanup()"),
    ("RUNS = tempfile.TemporaryDirectory()\n", "OUT = tempfile.mkdtemp()\n", "tempfile.mkdtemp leaves"),
])
def test_checker_rejects_a_notebook_lacking_a_piece(old, new, complaint):
    assert old in GOOD
    problems = check_tutorial(_synthetic(GOOD.replace(old, new)))
    assert any(complaint in p for p in problems), problems


def test_the_lesson_assert_must_be_outside_the_solutions():
    text = GOOD.replace('assert abs(total - 2) < 1e-9, "the lesson, on this notebook\'s own number"\n', "")
    text = text.replace("print(2 - 2)\n", "assert 2 - 2 < 1\n")  # a lesson-like assert, but in a solution
    assert any("no lesson assert" in p for p in check_tutorial(_synthetic(text)))


def _execute_module():
    return load_script("tutorials/execute.py")


@pytest.mark.parametrize("notebook", sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.name)
def test_committed_outputs_are_compact(notebook):
    """Large photo figures are stored as JPEG (``python tutorials/execute.py``): the committed
    tree must fit the 64 MiB a GPU call carries (docs/training.md, "Training on a GPU")."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    saved = _execute_module().compact_outputs(nb)
    assert saved == 0, f"{notebook.name} holds PNG photo figures {saved // 1024} KiB larger than as JPEG: run " \
                       f"`python tutorials/execute.py --compact-only tutorials/{notebook.name}`"


def test_compacting_turns_a_large_photo_png_into_a_smaller_jpeg():
    import base64
    import io

    import nbformat
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    photo = (rng.random((300, 300, 3)) * 255).astype(np.uint8)
    small = np.zeros((20, 20, 3), np.uint8)
    cells = []
    for array in (photo, small):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, "PNG")
        cell = nbformat.v4.new_code_cell("x")
        cell.outputs = [nbformat.v4.new_output("display_data", data={
            "image/png": base64.b64encode(buffer.getvalue()).decode()})]
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    assert _execute_module().compact_outputs(nb, above_kib=16) > 0
    big, tiny = (c.outputs[0]["data"] for c in nb.cells)
    assert set(big) == {"image/jpeg"} and set(tiny) == {"image/png"}
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(big["image/jpeg"]))))
    assert decoded.shape == photo.shape and np.abs(decoded.astype(float) - photo).mean() < 20


def test_compacting_covers_the_saved_widget_state():
    """Output widgets (a figure drawn by interact) and Image widgets (the explorer's panels) keep
    their photos in the notebook's widget state: those become JPEG too."""
    import base64
    import io

    import nbformat
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((np.random.default_rng(1).random((300, 300, 3)) * 255).astype(np.uint8)).save(buffer, "PNG")
    png = base64.b64encode(buffer.getvalue()).decode()
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"version_major": 2, "version_minor": 0, "state": {
        "a": {"model_name": "OutputModel", "state": {"outputs": [{"output_type": "display_data",
                                                                "data": {"image/png": png}}]}},
        "b": {"model_name": "ImageModel", "state": {"format": "png"},
              "buffers": [{"path": ["value"], "encoding": "base64", "data": png}]},
        "c": {"model_name": "LayoutModel", "state": {}}}}}
    assert _execute_module().compact_outputs(nb, above_kib=16) > 0
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert set(state["a"]["state"]["outputs"][0]["data"]) == {"image/jpeg"}
    assert state["b"]["state"]["format"] == "jpeg"
    image = Image.open(io.BytesIO(base64.b64decode(state["b"]["buffers"][0]["data"])))
    assert image.format == "JPEG" and image.size == (300, 300)
    assert _execute_module().compact_outputs(nb, above_kib=16) == 0


# ---- numbers in prose are the notebook's own ------------------------------------------------

#: what in a markdown line is not prose: code spans, math, link targets
NOT_PROSE = re.compile(r"`[^`]*`|\$[^$]*\$|\]\([^)]*\)")
#: a decimal number or a percentage: what a sentence quoting a result looks like
RESULT_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?![\w.])|(?<![\w.])\d+(?:\.\d+)?\s?%")
#: numbers in prose that are not results of the notebook, with the reason
NOT_RESULTS = {
    "02_separate_coding": {"38.214": "the number of the 3GPP specification (TS 38.214)",
                           "1.53": "the shaping-loss constant 10 log10(pi e / 6), given with its formula"},
    "03_deep_jscc": {"27.4": "a cited literature value (WITT's CNN deep JSCC at CBR 1/48, 10 dB)"},
    "05_measuring_quality": {"0.01": "the tolerance to which the metrics are calibrated"},
    "10_user_study": {"75 %": "the definition of a just-noticeable difference",
                      "9.6": "arithmetic of a worked example (an 80 % saving at CBR 1/48 is 1/9.6)"},
}


def prose_numbers_missing_from_outputs(nb: dict) -> list[str]:
    """Result-like numbers (:data:`RESULT_NUMBER`) of the markdown cells of ``nb`` (notebook JSON)
    that no text output of the notebook contains. Code spans, math and link targets are skipped."""
    outputs = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            outputs.append("".join(out.get("text", "")))
            outputs += ["".join(v) if isinstance(v, list) else str(v)
                        for k, v in out.get("data", {}).items() if k.startswith("text/")]
    text = "\n".join(outputs)
    missing = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        source = NOT_PROSE.sub(" ", source)
        for match in RESULT_NUMBER.finditer(source):
            number = match.group(0)
            if number.replace(" ", "").rstrip("%") not in text:
                missing.append(number)
    return missing


@pytest.mark.parametrize("notebook", sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_every_result_quoted_in_prose_is_in_the_notebooks_outputs(notebook):
    import json

    missing = [n for n in prose_numbers_missing_from_outputs(json.loads(notebook.read_text()))
               if n not in NOT_RESULTS.get(notebook.stem, {})]
    assert not missing, (f"{notebook.name}: prose quotes {missing}, which no output of the committed run "
                         "prints: print it from the data, or (a constant, a cited value) add it to NOT_RESULTS "
                         "with the reason")


def test_the_prose_check_catches_a_number_no_output_prints():
    nb = {"cells": [{"cell_type": "markdown", "source": "PSNR rises by 0.74 dB, to 30 % more (`0.5` in code)."},
                    {"cell_type": "code", "source": "", "outputs": [{"text": "gain 0.74 dB"}]}]}
    assert prose_numbers_missing_from_outputs(nb) == ["30 %"]


@pytest.mark.parametrize("script", sorted(TUTORIALS.glob("[0-9][0-9]_*.py")), ids=lambda p: p.name)
def test_the_header_states_the_measured_run_time_the_readme_quotes(script):
    header = re.search(r"Full run: \*\*(\d+) s\*\* on one CPU thread", script.read_text())
    assert header, f"{script.name}: no 'Full run: **N s** on one CPU thread' in its header (tutorials/execute.py writes it)"
    readme = (TUTORIALS.parent / "README.md").read_text()
    row = re.search(r"\[`" + script.stem + r"`\].*?\((\d+) s full run on one thread\)", readme)
    assert row and row.group(1) == header.group(1), f"{script.name}: README and header disagree on the run time"


def test_execute_records_the_run_time_in_header_script_and_readme(tmp_path):
    import nbformat

    execute = _execute_module()
    script = tmp_path / "99_demo.py"
    script.write_text("# # 99\n# **Requirements**: Full run: **5 s** on one CPU thread.\n")
    readme = tmp_path / "README.md"
    readme.write_text("| [`99_demo`](tutorials/99_demo.py) | x | CPU, < 1 min (5 s full run on one thread) |\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "# 99\n**Requirements**: Full run: **5 s** on one CPU thread.")])
    execute.record_run_time(script.with_suffix(".ipynb"), nb, 131.4, readme=readme)
    assert "Full run: **131 s**" in nb.cells[0].source and "Full run: **131 s**" in script.read_text()
    assert "CPU, ~2 min (131 s full run on one thread)" in readme.read_text()


# ---- every committed notebook names its kernel -----------------------------------------------

@pytest.mark.parametrize("notebook", sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_every_notebook_names_its_kernel(notebook):
    import json

    from jscc_lab.course import KERNELSPEC

    assert json.loads(notebook.read_text())["metadata"].get("kernelspec") == KERNELSPEC, (
        f"{notebook.name}: no python3 kernelspec (Jupyter would ask for a kernel); add it to the .py header")


# ---- glossary terms are linked where a reader first meets them -------------------------------

GLOSSARY = TUTORIALS.parent / "docs" / "glossary.md"
#: glossary anchor -> how the term appears in prose (a regex)
GLOSSARY_TERMS = {
    "awgn": r"\bAWGN\b", "autoencoder-and-taef2": r"\b[Aa]utoencoder\b", "bandwidth-saving": r"[Bb]andwidth saving",
    "bler": r"\bBLER\b", "bpg-and-hevc-intra": r"\bBPG\b|\bHEVC\b", "bpp": r"\bbpp\b", "capacity": r"\b[Cc]apacity\b",
    "cbr": r"\bCBR\b", "cliff-effect": r"\b[Cc]liff\b", "csi": r"\bCSI\b", "deep-jscc": r"\b[Dd]eep JSCC\b",
    "dists": r"\bDISTS\b", "esn0": r"Es/N0", "film": r"\bFiLM\b", "gdn": r"\bGDN\b",
    "hinge-and-non-saturating-loss": r"\b[Hh]inge\b|non-saturating", "latent": r"\blatent\b", "ldpc": r"\bLDPC\b",
    "lpips": r"\bLPIPS\b", "mcs": r"\bMCS\b", "mmse-and-lmmse-equaliser": r"\bL?MMSE\b",
    "mode-collapse": r"\b[Mm]ode collapse|collapses? onto", "ms-ssim": r"MS-SSIM", "outage": r"\b[Oo]utages?\b",
    "patchgan": r"\bPatchGAN\b", "perception-distortion-trade-off": r"[Pp]erception-distortion", "psnr": r"\bPSNR\b",
    "qam": r"\bQAM\b|\bQPSK\b", "r1-penalty": r"\bR1\b", "rate-adaptive": r"\b[Rr]ate-adaptive\b",
    "rayleigh-block-and-fast-fading": r"\bRayleigh\b", "realism-knob-beta": r"[Rr]ealism knob",
    "separation-theorem": r"[Ss]eparation theorem", "snr": r"\bSNR\b", "snr-adaptive-adjscc": r"SNR-adaptive|\bADJSCC\b",
}


def first_mention(pattern: str, scripts: list[Path]) -> tuple[str, str, int] | None:
    """``(script stem, prose line, match start)`` of the first match of ``pattern`` in the markdown
    prose of ``scripts`` in order: headings, code spans, math and link targets are skipped."""
    for script in scripts:
        for cell in jupytext.read(script).cells:
            if cell.cell_type != "markdown":
                continue
            for line in cell.source.split("\n"):
                if line.lstrip().startswith("#"):
                    continue
                masked = NOT_PROSE.sub(lambda m: "\0" * len(m.group()), line)
                if match := re.search(pattern, masked):
                    return script.stem, line, match.start()
    return None


def test_every_glossary_term_is_linked_at_its_first_use_and_the_table_says_where():
    scripts = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))
    text = GLOSSARY.read_text()
    headings = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^### (.+)$", text, re.M)}
    table = dict(re.findall(r"^\| \[[^\]]+\]\(#([\w-]+)\) \| (\d\d)", text, re.M))
    assert set(GLOSSARY_TERMS) == headings == set(table), "GLOSSARY_TERMS, the glossary's entries and its table differ"
    problems = []
    for anchor, pattern in GLOSSARY_TERMS.items():
        found = first_mention(pattern, scripts)
        if found is None:
            problems.append(f"'{anchor}' is used in no tutorial's prose: drop it from GLOSSARY_TERMS or link it where it is used")
            continue
        stem, line, start = found
        link = re.compile(r"\[([^\]]*)\]\(\.\./docs/glossary\.md#" + re.escape(anchor) + r"\)")
        if not any(m.start() < start < m.end() for m in link.finditer(line)):
            problems.append(f"{stem}: first use of '{anchor}' is not a link to docs/glossary.md#{anchor}: {line.strip()}")
        if not stem.startswith(table[anchor]):
            problems.append(f"glossary table: '{anchor}' first used in {stem}, the table says {table[anchor]}")
    assert not problems, "\n".join(problems)


#: absolute paths of the machine that ran a notebook (its home, data, scratch and checkout folders)
MACHINE_PATH = re.compile(r"(?<![\w.$~])/(?:work|root|home|tmp|Users)/\S+")


@pytest.mark.parametrize("notebook", sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_stored_outputs_carry_no_paths_of_the_machine_that_ran_them(notebook):
    import json

    found = []
    for cell in json.loads(notebook.read_text())["cells"]:
        for out in cell.get("outputs", []):
            texts = [out.get("text", "")] + [v for k, v in out.get("data", {}).items() if k.startswith("text/")]
            found += MACHINE_PATH.findall("".join("".join(t) if isinstance(t, list) else str(t) for t in texts))
    assert not found, f"{notebook.name}: stored outputs print machine paths {found[:3]}: print names, not paths"
