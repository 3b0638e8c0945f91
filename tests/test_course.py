"""``jscc-lab course build``: the instructor and student notebooks and their grading (nbgrader).

- every exercise of every tutorial has a grading spec, and its answer names are new to the lesson;
- the student release holds no line of any solution (code, text, hidden test) that the lesson
  does not also hold, keeps every exercise prompt, the lesson's cells and their stored outputs,
  and gives each exercise an empty answer cell;
- the build is deterministic (byte-identical notebooks);
- nbgrader's autograder gives full marks to the instructor's notebook and less to the untouched
  student notebook (tutorial 01 in quick mode, the fastest: about 10 s a run).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader")

from jscc_lab import course  # noqa: E402
from jscc_lab.cli import main  # noqa: E402

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))
NAMES = [p.stem for p in NOTEBOOKS]
FASTEST = "01_channels"  # quick mode: 01 about 10 s a run, the others 20 s to minutes


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("course")
    course.build(out, log=lambda *_: None)
    return out


def _read(out: Path, release: str, name: str):
    return nbformat.read(out / release / name / f"{name}.ipynb", as_version=4)


def _solution_lines(nb) -> set[str]:
    """Stripped lines of the instructor's solutions: solution code regions, hidden tests, and the
    cells a release drops; minus lines the lesson itself holds (``plt.show()``, ``)``, ...)."""
    lines, lesson = set(), set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        text = cell.source
        if cell.metadata.get(course.KEY, {}).get("release") == "instructor" or meta.get("solution"):
            lines.update(text.splitlines())
        elif "### BEGIN HIDDEN TESTS" in text:
            lines.update(text.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].splitlines())
            lesson.update(text.split("### BEGIN HIDDEN TESTS")[0].splitlines())
        else:
            lesson.update(text.splitlines())
    markers = {"### BEGIN SOLUTION", "### END SOLUTION"}
    return {s for s in (line.strip() for line in lines) if s and len(s) > 3} - {
        line.strip() for line in lesson} - markers


# ---- the grading specs -----------------------------------------------------------------------


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=NAMES)
def test_every_exercise_has_a_grading_spec(notebook):
    nb = nbformat.read(notebook, as_version=4)
    numbers = sorted(course.exercise_prompts(nb))
    assert sorted(course.SPECS.get(notebook.stem, {})) == numbers, \
        f"jscc_lab.course.SPECS[{notebook.stem!r}] must grade exactly the exercises {numbers}"
    for n, spec in course.SPECS[notebook.stem].items():
        assert spec.points + spec.prose > 0, f"exercise {n} is worth no points"
        assert bool(spec.points) == bool(spec.hidden) == bool(spec.answer), f"exercise {n}: a test needs " \
            "an answer contract and a hidden check, and a contract needs a test"
    course.source_notebook(nb, notebook.stem, warn=pytest.fail)  # raises on an answer name the lesson uses


def test_an_answer_name_used_by_the_lesson_is_refused():
    nb = nbformat.read(TUTORIALS / "01_channels.ipynb", as_version=4)
    spec = course.Exercise("Leave it in `x`.", ("x",), "", "assert x", "assert x", points=1)
    with pytest.raises(ValueError, match="'x' already occurs in the lesson"):
        course.source_notebook(nb, "01_channels", specs={1: spec})


# ---- the student release ---------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_holds_no_solution_text(built, name):
    solution = _solution_lines(_read(built, "instructor", name))
    assert solution, "the instructor's notebook has no solution lines"
    student = "\n".join(c.source for c in _read(built, "student", name).cells)
    student_lines = {line.strip() for line in student.splitlines()}
    leaked = sorted(solution & student_lines)
    assert not leaked, f"solution lines in the student notebook: {leaked[:5]}"
    assert "BEGIN SOLUTION" not in student and "HIDDEN TESTS" not in student
    assert not re.search(r"^###\s+Solution to exercise", student, re.M | re.I)


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_keeps_prompts_lesson_and_outputs(built, name):
    original = nbformat.read(TUTORIALS / f"{name}.ipynb", as_version=4)
    student = _read(built, "student", name)
    prompts = course.exercise_prompts(original)
    exercises = next(c for c in original.cells if c.cell_type == "markdown" and course.EXERCISES.search(c.source))
    assert exercises.source in [c.source for c in student.cells], "the Exercises cell changed"
    for n, prompt in prompts.items():
        own = [c.source for c in student.cells if c.source.startswith(f"### Exercise {n}\n")]
        assert len(own) == 1 and prompt in own[0], f"exercise {n}: its prompt is not above its answer cell"

    end = original.cells.index(exercises)
    lesson = original.cells[:end]
    assert [(c.source, c.get("outputs")) for c in student.cells[:end]] == \
        [(c.source, c.get("outputs")) for c in lesson], "the lesson or its stored outputs changed"
    assert sum(len(c.get("outputs", [])) for c in lesson) > 0
    # what follows the solutions (clean up, further reading) is kept too
    in_solutions = {i for idx in course.solution_sections(original).values() for i in idx}
    after = [c.source for i, c in enumerate(original.cells) if i > max(in_solutions)]
    if after:
        assert [c.source for c in student.cells[-len(after):]] == after


@pytest.mark.parametrize("name", NAMES)
def test_each_exercise_gets_empty_answer_cells_and_its_test(built, name):
    student = _read(built, "student", name)
    for n, spec in course.SPECS[name].items():
        meta = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in student.cells}
        code = meta[f"exercise_{n}_code"]
        assert code.source == "# YOUR CODE HERE\nraise NotImplementedError()" and not code.outputs
        if spec.points:
            test = meta[f"exercise_{n}_test"]
            assert test.metadata["nbgrader"]["points"] == spec.points and spec.visible in test.source
        if spec.prose:
            answer = meta[f"exercise_{n}_answer"]
            assert answer.source == "YOUR ANSWER HERE" and answer.metadata["nbgrader"]["points"] == spec.prose


def test_lesson_checks_are_graded(built):
    nb = _read(built, "student", FASTEST)
    checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("lesson_check")]
    assert checks and all(course.is_lesson_check(c.source) and c.metadata["nbgrader"]["points"] > 0 for c in checks)


def test_the_build_is_deterministic(built, tmp_path):
    course.build(tmp_path / "again", log=lambda *_: None)
    for release in ("instructor", "student"):
        for path in sorted((built / release).glob("*/*.ipynb")):
            again = tmp_path / "again" / path.relative_to(built)
            assert path.read_bytes() == again.read_bytes(), f"{path.relative_to(built)} differs between builds"


def test_cli_builds_and_refuses_a_full_folder(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["course", "build", str(out), "--only", FASTEST]) == 0
    assert (out / "student" / FASTEST / f"{FASTEST}.ipynb").is_file()
    assert (out / "nbgrader_config.py").is_file() and (out / "gradebook.db").is_file()
    assert "autograded" in capsys.readouterr().out
    assert main(["course", "build", str(out), "--only", FASTEST]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["course", "build", str(out), "--only", FASTEST, "--force"]) == 0


# ---- grading ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_autograder_full_marks_for_instructor_less_for_untouched_student(tmp_path):
    out = tmp_path / "course"
    course.build(out, names=[FASTEST], log=lambda *_: None)
    for student, release in (("instructor", "instructor"), ("untouched", "student")):
        folder = out / "submitted" / student / FASTEST
        folder.mkdir(parents=True)
        shutil.copy(out / release / FASTEST / f"{FASTEST}.ipynb", folder)
    env = {**os.environ, "JSCC_LAB_QUICK": "1"}
    nbgrader = [sys.executable, "-m", "nbgrader"]
    run = subprocess.run([*nbgrader, "autograde", FASTEST], cwd=out, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    teacher = course.scores(out, FASTEST, "instructor")
    untouched = course.scores(out, FASTEST, "untouched")
    assert teacher["max_auto"] > 0 and teacher["auto"] == teacher["max_auto"], teacher
    assert untouched["auto"] < untouched["max_auto"], untouched
    # the lesson checks still pass on the untouched notebook: only the exercises' points are lost
    lesson = sum(c.metadata["nbgrader"]["points"] for c in _read(out, "student", FASTEST).cells
                 if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("lesson_check"))
    assert untouched["auto"] == lesson, untouched
    # text answers: the instructor's wait for a grader, the untouched ones score 0 without one
    prose = sum(1 for s in course.SPECS[FASTEST].values() if s.prose)
    assert teacher["manual"] == prose and untouched["manual"] == 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_set_up_cell_installs_jscc_lab_from_the_given_source_only_where_it_is_missing(path, monkeypatch, capsys):
    import importlib.util

    nb = course.with_source(nbformat.read(path, as_version=4), "git+https://example.org/o/jscc_lab")
    (cell,) = [c.source for c in nb.cells if course.SOURCE_LINE.replace('""', '"git+https://example.org/o/jscc_lab"')
               in c.source]
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    exec(cell, {})  # installed here: nothing is installed
    assert calls == [] and "jscc_lab: device" in capsys.readouterr().out
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    exec(cell, {})  # as on Colab: installs from the source
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", "git+https://example.org/o/jscc_lab"]]
    monkeypatch.delenv("JSCC_LAB_SOURCE", raising=False)
    untouched = [c.source for c in nbformat.read(path, as_version=4).cells if course.SOURCE_LINE in c.source][0]
    with pytest.raises(ModuleNotFoundError, match="JSCC_LAB_SOURCE"):
        exec(untouched, {})  # no source given: says how to get the package
    with pytest.raises(ValueError, match="pip requirement"):
        course.with_source(nb, "two words")
