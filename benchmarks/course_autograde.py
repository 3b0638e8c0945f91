"""Autograde every assignment of the course: the instructor's notebook must get full marks, the
untouched student release fewer (only its lesson checks pass).

Builds the course (``jscc_lab.course.build``), submits the instructor notebook and the untouched
student notebook of each tutorial as two "students", runs ``nbgrader autograde`` under
``JSCC_LAB_QUICK=1`` (the notebooks' small budgets) and prints the points per assignment.
``tests/test_course.py`` runs the same check on tutorial 01 in CI; this script covers all ten.

Run::

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 python benchmarks/course_autograde.py \\
        --txt benchmarks/results/course_autograde.txt
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def autograde(out: Path, names: list[str]) -> list[dict]:
    """Rows ``{assignment, instructor, untouched, max, seconds, ok}`` (automatic points)."""
    from jscc_lab import course

    course.build(out, names=names, log=lambda *_: None)
    rows = []
    for name in names:
        for student, release in (("instructor", "instructor"), ("untouched", "student")):
            folder = out / "submitted" / student / name
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(out / release / name / f"{name}.ipynb", folder)
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", name], cwd=out,
                             env={**os.environ, "JSCC_LAB_QUICK": "1"}, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if run.returncode != 0:
            rows.append({"assignment": name, "error": (run.stdout + run.stderr)[-2000:], "seconds": seconds})
            continue
        teacher, untouched = course.scores(out, name, "instructor"), course.scores(out, name, "untouched")
        rows.append({"assignment": name, "instructor": teacher["auto"], "untouched": untouched["auto"],
                     "max": teacher["max_auto"], "seconds": round(seconds, 1),
                     "ok": teacher["auto"] == teacher["max_auto"] and untouched["auto"] < untouched["max_auto"]})
        print(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    from jscc_lab.course import TUTORIALS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", default=None, metavar="NN_topic")
    parser.add_argument("--txt", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    names = args.only or sorted(p.stem for p in TUTORIALS.glob("[0-9][0-9]_*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="jscc_lab-course-") as tmp:
        rows = autograde(Path(tmp) / "course", names)
    lines = ["| assignment | instructor (auto points) | untouched student release | max | seconds | as expected |",
             "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['assignment']} | autograde failed | | | {r['seconds']:.0f} | no |")
        else:
            lines.append(f"| {r['assignment']} | {r['instructor']:g} | {r['untouched']:g} | {r['max']:g} | "
                         f"{r['seconds']:.0f} | {'yes' if r['ok'] else 'NO'} |")
    text = "\n".join(lines)
    print(text)
    for r in rows:
        if "error" in r:
            print(f"\n{r['assignment']}:\n{r['error']}")
    if args.txt:
        args.txt.write_text("$ python benchmarks/course_autograde.py (JSCC_LAB_QUICK=1 inside)\n\n" + text + "\n")
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
