"""Build a graded course from the tutorials: ``jscc-lab course build OUT``.

``OUT`` becomes an `nbgrader <https://nbgrader.readthedocs.io>`_ course folder with one
assignment per tutorial (the assignment id is the notebook's name, e.g. ``01_channels``):

- ``OUT/instructor/NN_topic/NN_topic.ipynb``: the notebook as it is, with every solution and
  every stored output, plus the grading cells (nbgrader's *source* folder);
- ``OUT/student/NN_topic/NN_topic.ipynb``: the same notebook with the solutions' text, code and
  outputs removed (nbgrader's *release* folder). The lesson and its stored outputs stay; each
  exercise keeps its prompt and gets an empty answer cell (code, and a text cell where the
  exercise asks for an explanation) and, where it has a checkable result, a test cell;
- ``OUT/nbgrader_config.py``: the settings the ``nbgrader`` commands need in ``OUT`` (folder
  names, which cells a student release drops, execution time-outs);
- ``OUT/gradebook.db``: nbgrader's database with the assignments, their graded cells and points.

How the notebooks are graded:

- **Lesson checks**: every code cell outside the solutions that asserts a lesson's claim (an
  ordering or closeness check on a computed number, as ``tests/test_tutorials.py`` defines a
  lesson assert) is an autograded test cell worth ``LESSON_POINTS``: it passes when the student
  ran the notebook and it reproduced the claim.
- **Exercises**: each exercise's expected result is a test cell after its answer cell. The
  answer cell states which name(s) to leave the result in; the test checks the type in plain
  view and the value in a hidden part (``### BEGIN HIDDEN TESTS``), which nbgrader removes
  from the student release and puts back when it grades. An untouched answer cell raises
  ``NotImplementedError`` and leaves the name undefined, so its test fails.
- **Explanations**: where an exercise asks *why* (open prose), a manually graded text cell with
  points; nbgrader's formgrader shows it to the grader. A text cell left as released scores 0
  without a grader's look.

Why nbgrader (0.9): it is the Jupyter project's own grader and the established one for
Jupyter courses; it installs from PyPI with no service behind it, and runs offline on a lab
server or a laptop. Its cell metadata covers everything the course needs in one format:
solution regions, autograded tests with points and hidden parts, manually graded text answers
with points, read-only cells that it restores before grading, and a gradebook with CSV export.
It also carries the whole workflow (release, collect from JupyterHub or an LMS zip, autograde,
formgrade, feedback). otter-grader (also installable here) grades in Docker containers by
default and hands written answers to Gradescope as PDFs; for a lab that runs on a local
JupyterHub and has explanation questions graded in place, nbgrader fits better.

The build is deterministic: the same tutorials give byte-identical notebooks. It never edits
``tutorials/``; it transforms copies.
"""

from __future__ import annotations

import ast
import copy
import re
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"

#: points of one lesson check
LESSON_POINTS = 1

SOLUTION = re.compile(r"^###\s+Solution to exercise\s+(\d+)\b", re.IGNORECASE)
EXERCISES = re.compile(r"^##\s+Exercises\s*$", re.M)
HEADING = re.compile(r"^(#{1,6})\s")
#: the metadata key of this module: {"release": "instructor"} marks cells a student release drops
KEY = "jscc_lab"

CONFIG = '''\
"""nbgrader settings of this course, written by `jscc-lab course build`.

Run the nbgrader commands in this folder, e.g. `nbgrader autograde 01_channels`."""

from nbgrader.preprocessors import (
    CheckCellMetadata, ClearHiddenTests, ClearMarkScheme, ClearSolutions, ComputeChecksums,
    IncludeHeaderFooter, InstantiateTests, LockCells, SaveCells,
)

from jscc_lab.course import StudentRelease

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "jscc_lab"
c.CourseDirectory.source_directory = "instructor"
c.CourseDirectory.release_directory = "student"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# the student release keeps the lesson's stored outputs: StudentRelease replaces nbgrader's
# ClearOutput, clearing only the solutions' outputs and dropping the solutions' other cells
c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter, InstantiateTests, LockCells, ClearSolutions, StudentRelease,
    CheckCellMetadata, ComputeChecksums, SaveCells, ClearHiddenTests, ClearMarkScheme,
    ComputeChecksums, CheckCellMetadata,
]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# some cells train models on the CPU for minutes; nbgrader's default is 30 s a cell
c.Execute.timeout = 3600
c.Execute.kernel_name = "python3"
'''


@dataclass(frozen=True)
class Exercise:
    """How one exercise is graded.

    ``answer`` (markdown) tells the student which names to leave the result in; ``record`` is
    code appended to the worked solution (inside its solution region) that sets those names
    from the solution's own variables; ``visible`` and ``hidden`` are the test's two parts;
    ``points`` the test's points (0: no test, the answer is prose only); ``prose`` the points of
    a manually graded text answer (0: none)."""

    answer: str = ""
    names: tuple[str, ...] = ()
    record: str = ""
    visible: str = ""
    hidden: str = ""
    points: int = 0
    prose: int = 0


E = Exercise
#: per tutorial (its file name without suffix) and exercise number; the numbers the hidden tests
#: accept hold for a full run and for JSCC_LAB_QUICK=1 (smaller budgets)
SPECS: dict[str, dict[int, Exercise]] = {
    "01_channels": {
        1: E("Leave the measured variance of the real part in `real_noise_variance` (a float).",
             ("real_noise_variance",), "real_noise_variance = noise.real.var().item()",
             "assert isinstance(real_noise_variance, float)",
             "assert abs(real_noise_variance - 0.05) < 0.005", points=2),
        2: E("Leave the extra SNR (in dB) that Rayleigh fading needs in `extra_snr_db` (a float).",
             ("extra_snr_db",), "extra_snr_db = snr_ray - snr_awgn",
             "assert isinstance(extra_snr_db, float)",
             "assert 16.5 < extra_snr_db < 18.0", points=2),
        3: E("Leave the encoder's CBR (counted in complex channel uses) in `encoder_cbr` (a float).",
             ("encoder_cbr",), "encoder_cbr = cbr(channel_uses(1 / 12, 256, 256), 256, 256)",
             "assert isinstance(encoder_cbr, float)",
             "assert abs(encoder_cbr - 1 / 12) < 1e-6", points=1, prose=1),
        4: E(prose=2),
    },
    "02_separate_coding": {
        1: E("Leave the gap to the Shannon limit (dB) per MCS in `gaps_to_limit` (a dict: MCS name "
             "-> gap).", ("gaps_to_limit",), "",
             "assert set(gaps_to_limit) == {m.name for m in baselines.MCS_TABLE}",
             "assert all(1.0 < gap < 5.0 for gap in gaps_to_limit.values())\n"
             "assert max(gaps_to_limit[m.name] for m in baselines.MCS_TABLE if m.modulation == '256qam') > "
             "max(gaps_to_limit[m.name] for m in baselines.MCS_TABLE if m.modulation == 'qpsk')",
             points=2, prose=1),
        2: E("Leave HEVC's PSNR gain over JPEG (dB) in `hevc_gain_db` (a float).",
             ("hevc_gain_db",), "hevc_gain_db = gain['hevc'] - gain['jpeg']",
             "assert isinstance(hevc_gain_db, float)",
             "assert hevc_gain_db > 0.5", points=2),
        3: E("Leave the fraction of images lost at the 30 % outage target in `lost_at_30` (a float "
             "in [0, 1]).", ("lost_at_30",), "lost_at_30 = float(r.failure_rate)",
             "assert 0.0 <= lost_at_30 <= 1.0",
             "assert 0.1 < lost_at_30 < 0.6", points=1, prose=1),
    },
    "03_deep_jscc": {
        1: E("Leave the PSNR (dB) over block fading at each SNR of `SNRS_DB` in `fading_curve` (a "
             "list).", ("fading_curve",), "",
             "assert len(fading_curve) == len(SNRS_DB)",
             "# quick mode sends one small crop: a single lucky fade can beat AWGN there\n"
             "assert settings.quick() or fading_curve[-1] < shipped_curves[f'CBR {CBR}'][-1]", points=1, prose=1),
        2: E("Leave the number of complex channel uses in `uses_768x512` (an int).",
             ("uses_768x512",), "uses_768x512 = k",
             "assert isinstance(uses_768x512, int)",
             "assert uses_768x512 == 98_304", points=2),
        3: E("Leave the training config in `range_config` and the trained model in `range_model`.",
             ("range_config", "range_model"), "",
             "assert isinstance(range_model, torch.nn.Module)",
             "assert range_config.snr_db_min == 0.0 and range_config.snr_db_max == 20.0",
             points=1, prose=2),
        4: E("Leave the PSNR change (dB) from telling both ends 10 dB over the 20 dB channel in "
             "`wrong_snr_change_db` (a float; negative when it costs).", ("wrong_snr_change_db",),
             "wrong_snr_change_db = told[10.0] - told[20.0]",
             "assert isinstance(wrong_snr_change_db, float)",
             "assert abs(wrong_snr_change_db) < 1.0", points=1, prose=1),
    },
    "04_pretrained_autoencoder": {
        1: E("Leave the mean PSNRs (dB) in `psnr_zeroed_half` (CBR 1/12, last half zeroed) and "
             "`psnr_sent_1_24` (sent at CBR 1/24), floats.", ("psnr_zeroed_half", "psnr_sent_1_24"),
             "psnr_zeroed_half = psnr(images, x_half).mean().item()\n"
             "psnr_sent_1_24 = psnr(images, x_24).mean().item()",
             "assert isinstance(psnr_zeroed_half, float) and isinstance(psnr_sent_1_24, float)",
             "assert abs(psnr_zeroed_half - psnr_sent_1_24) < 1.5", points=1, prose=1),
        2: E("Leave the mean PSNRs (dB) at each SNR of `SNRS_DB` in `awgn_psnr` and `fading_psnr` "
             "(lists).", ("awgn_psnr", "fading_psnr"),
             "awgn_psnr, fading_psnr = fading['AWGN'], fading['block Rayleigh (MMSE, perfect CSI)']",
             "assert len(awgn_psnr) == len(fading_psnr) == len(SNRS_DB)",
             "# quick mode sends one small crop: a single lucky fade can beat AWGN there\n"
             "assert settings.quick() or fading_psnr[-1] < awgn_psnr[-1]", points=2),
        3: E("Leave the mean PSNR (dB) with `m = 4` coefficients sent at 10 dB in "
             "`noisy_truncated_psnr` (a float).", ("noisy_truncated_psnr",),
             "noisy_truncated_psnr = psnr(images, decoder(z_hat).clamp(0, 1)).mean().item()  # m = 4",
             "assert isinstance(noisy_truncated_psnr, float)",
             "assert abs(noisy_truncated_psnr - truncated_psnr[4]) < 1.0", points=1, prose=1),
    },
    "05_measuring_quality": {
        1: E("Leave the mean gap, grayscale minus RGB MS-SSIM, in `msssim_gap` (a float).",
             ("msssim_gap",), "msssim_gap = float((gray - rgb).mean())",
             "assert isinstance(msssim_gap, float)",
             "assert 0.0 < msssim_gap < 0.1", points=1, prose=1),
        2: E("Leave the fraction of JPEG's bits that HEVC-intra saves at 30 dB in `hevc_bit_saving` "
             "(a float; 0.5 = half).", ("hevc_bit_saving",),
             "hevc_bit_saving = 1 - needed['HEVC'] / needed['JPEG']",
             "assert isinstance(hevc_bit_saving, float)",
             "assert 0.1 < hevc_bit_saving < 0.8", points=2),
        3: E("Leave, at noise level 1.5, the MSE of the posterior sample and of `sign(Y)` relative to "
             "MMSE in `posterior_ratio` and `sign_ratio` (floats).", ("posterior_ratio", "sign_ratio"),
             "posterior_ratio = float(mse(sample) / mse(mmse_y))  # noise_std = 1.5\n"
             "sign_ratio = float(mse(np.sign(y)) / mse(mmse_y))",
             "assert isinstance(posterior_ratio, float) and isinstance(sign_ratio, float)",
             "assert 1.8 < posterior_ratio < 2.2 and 1.0 < sign_ratio < posterior_ratio",
             points=2, prose=1),
    },
    "06_perceptual_loss": {
        1: E("Leave the change (%) of each metric from the start, per network trained on, in "
             "`metric_change` (a dict: `{'alex': {'lpips': ..., 'lpips_vgg': ...}, 'vgg': {...}}`).",
             ("metric_change",), "metric_change = change",
             "assert set(metric_change) == {'alex', 'vgg'}\n"
             "assert all(set(v) == {'lpips', 'lpips_vgg'} for v in metric_change.values())",
             "assert settings.quick() or metric_change['alex']['lpips'] < metric_change['alex']['lpips_vgg']",
             points=1, prose=2),
        2: E("Leave the PSNR (dB) and LPIPS-alex of a tinted copy of `x` in `tint_psnr` and "
             "`tint_lpips` (floats).", ("tint_psnr", "tint_lpips"),
             "tint_psnr, tint_lpips = psnr(x, tinted).item(), lpips_alex(x, tinted).item()",
             "assert isinstance(tint_psnr, float) and isinstance(tint_lpips, float)",
             "assert tint_psnr < psnr(x, blurred).item() and tint_lpips < lpips_alex(x, blurred).item()",
             points=1, prose=1),
        3: E("Leave the MSE term at 20 and 30 dB in `mse_term_20db` and `mse_term_30db`, and the "
             "PSNR (dB) of equal weight in `equal_weight_psnr_db` (floats).",
             ("mse_term_20db", "mse_term_30db", "equal_weight_psnr_db"),
             "mse_term_20db, mse_term_30db = (0.01 * 255**2 * 10 ** (-p / 10) for p in (20, 30))\n"
             "equal_weight_psnr_db = 10 * math.log10(0.01 * 255**2 / 0.2)",
             "assert all(isinstance(v, float) for v in (mse_term_20db, mse_term_30db, equal_weight_psnr_db))",
             "assert abs(mse_term_20db - 6.50) < 0.01 and abs(mse_term_30db - 0.650) < 0.001\n"
             "assert abs(equal_weight_psnr_db - 35.1) < 0.1", points=2),
        4: E("Leave the mean LPIPS of each answer against the unseen plausible originals in "
             "`answer_lpips` (a dict keyed like `answers`).", ("answer_lpips",), "answer_lpips = score",
             "assert set(answer_lpips) == set(answers)",
             "assert settings.quick() or answer_lpips['MSE answer (mean)'] > answer_lpips['one plausible original']",
             points=1, prose=2),
    },
    "07_adversarial_training": {
        1: E(prose=2),
        2: E("Leave the config of the run in `r1_config`.", ("r1_config",), "r1_config = cfg",
             "assert hasattr(r1_config, 'r1_weight')",
             "assert r1_config.r1_weight == 1.0", points=1, prose=1),
        3: E(prose=2),
        4: E("Leave the largest difference (8-bit levels) between two decodings of the same received "
             "`y` at the same `beta` in `same_y_diff` (a float), and the difference maps in `change_maps` (a "
             "dict: name -> map).", ("same_y_diff", "change_maps"), "",
             "assert isinstance(same_y_diff, float) and len(change_maps) == 3",
             "assert same_y_diff < 0.5  # the decoder is deterministic\n"
             "assert float(next(iter(change_maps.values())).mean()) > 0  # noise draws change the output at beta 0 too",
             points=1, prose=1),
    },
    "08_full_system_gpu": {
        1: E("Leave the sweep of HEVC + 5G LDPC in `rows_ldpc` (rows of `sweep`, system name "
             "`'hevc+ldpc'`).", ("rows_ldpc",), "",
             "assert len(rows_ldpc) > 0",
             "assert len(curve(rows_ldpc, METRICS[-1], system='hevc+ldpc')) == len(REF_CBRS)",
             points=1, prose=1),
        2: E("Leave the spread (standard deviation, dB) of PSNR across images of our system in "
             "`image_spread_db`, and of the paired differences to the PSNR model in "
             "`paired_spread_db` (floats).", ("image_spread_db", "paired_spread_db"),
             "image_spread_db, paired_spread_db = float(a.std()), float((a - b).std())",
             "assert isinstance(image_spread_db, float) and isinstance(paired_spread_db, float)",
             "assert paired_spread_db < image_spread_db", points=1, prose=2),
        3: E("Leave the savings at beta = 0 in `savings_beta0` (a dict: metric -> the result of "
             "`bandwidth_saving`, for each of `METRICS[1:]`).", ("savings_beta0",),
             "savings_beta0 = {m: bandwidth_saving(curve(rows, m, system='perceptual', beta=0.0)[CBRS[0]],\n"
             "                                     curve(rows, m, system='hevc+capacity'), metric=m,\n"
             "                                     cbr=CBRS[0], n_boot=N_BOOT, seed=SEED)\n"
             "                 for m in METRICS[1:]}",
             "assert set(savings_beta0) == set(METRICS[1:])",
             "assert all(hasattr(s, 'saving') for s in savings_beta0.values())", points=1, prose=1),
    },
    "09_explorer": {
        1: E("Leave, per metric, the SNRs (dB) of `EXERCISE_SNRS_DB` at which separate coding is "
             "better in `wins` (a dict with keys `'PSNR'` and `'LPIPS'`, each a list).", ("wins",), "",
             "assert set(wins) == {'PSNR', 'LPIPS'}",
             "assert settings.quick() or (EXERCISE_SNRS_DB[-1] in wins['PSNR'] and EXERCISE_SNRS_DB[0] not in wins['PSNR'])",
             points=2, prose=1),
        2: E(prose=2),
    },
    "10_user_study": {
        1: E("Leave the ratio of the mean interval widths, half the class over the whole class, in "
             "`width_ratio` (a float).", ("width_ratio",), "width_ratio = float(width_half / width_all)",
             "assert isinstance(width_ratio, float)",
             "assert 1.1 < width_ratio < 1.8 if not settings.quick() else 0.7 < width_ratio < 2.5",
             points=1, prose=1),
        2: E("Leave the fit in `fit_far`.", ("fit_far",), "",
             "assert hasattr(fit_far, 'extrapolated')",
             "assert fit_far.extrapolated", points=1, prose=1),
        3: E("Leave the width of the interval from resampling answers in `width_answers` (a float).",
             ("width_answers",), "",
             "assert isinstance(width_answers, float)",
             "assert width_answers < hi - lo", points=1, prose=1),
    },
}


# ---- reading a tutorial ----------------------------------------------------------------------


def _code(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _heading_level(source: str) -> int | None:
    match = HEADING.match(source.lstrip())
    return len(match.group(1)) if match else None


def is_lesson_check(source: str) -> bool:
    """Whether a code cell asserts a lesson's claim: an ordering (``<``, ``>=``, ...) or closeness
    (``allclose``, ``isclose``, ``approx``) check on a number, not on a shape or a length."""
    try:
        tree = ast.parse(_code(source))
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        test = ast.unparse(node.test)
        if re.search(r"\.shape\b|\blen\(|\bisinstance\(|\.ndim\b|\.dtype\b", test):
            continue
        ordering = any(isinstance(op, (ast.Lt, ast.Gt, ast.LtE, ast.GtE))
                       for n in ast.walk(node.test) if isinstance(n, ast.Compare) for op in n.ops)
        if ordering or re.search(r"\b(allclose|isclose|approx)\(", test):
            return True
    return False


def exercise_prompts(nb) -> dict[int, str]:
    """The numbered prompts of the notebook's ``## Exercises`` cell: ``{number: text}``."""
    for cell in nb.cells:
        match = EXERCISES.search(cell.source) if cell.cell_type == "markdown" else None
        if match:
            text = cell.source[match.end():]
            parts = re.split(r"^(\d+)\.\s", text, flags=re.M)
            return {int(n): textwrap.dedent("   " + body).strip() for n, body in zip(parts[1::2], parts[2::2])}
    raise ValueError("the notebook has no '## Exercises' cell")


def solution_sections(nb) -> dict[int, list[int]]:
    """``{exercise number: indices of its solution cells}``, heading first; a section runs to the
    next heading of level 1-3."""
    sections: dict[int, list[int]] = {}
    current = None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            match = SOLUTION.match(cell.source.lstrip())
            level = _heading_level(cell.source)
            if match:
                current = int(match.group(1))
                sections[current] = []
            elif level is not None and level <= 3:
                current = None
        if current is not None:
            sections[current].append(i)
    return sections


# ---- the instructor (nbgrader source) notebook -----------------------------------------------


def _nbgrader(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def _new_cell(kind: str, cell_id: str, source: str, nbgrader: dict | None = None):
    """A ``"markdown"`` or ``"code"`` cell with a fixed id and optional nbgrader metadata."""
    import nbformat

    make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
    cell = make(source)
    cell.id = cell_id
    if nbgrader:
        cell.metadata["nbgrader"] = nbgrader
    return cell


def _markdown(cell_id: str, source: str, nbgrader: dict | None = None):
    return _new_cell("markdown", cell_id, source, nbgrader)


def _code_cell(cell_id: str, source: str, nbgrader: dict | None = None):
    return _new_cell("code", cell_id, source, nbgrader)


def _instructor_only(cell):
    cell.metadata[KEY] = {"release": "instructor"}
    return cell


def _check_fresh(nb, name: str, names: tuple[str, ...], before: int) -> None:
    """An answer name must not occur in the lesson's code: otherwise an untouched student
    notebook would already define it and its test could pass."""
    for cell in nb.cells[:before]:
        for answer in names:
            if cell.cell_type == "code" and re.search(rf"\b{re.escape(answer)}\b", cell.source):
                raise ValueError(f"{name}: the answer name {answer!r} already occurs in the lesson's code; "
                                 "choose another in jscc_lab.course.SPECS")


def _exercise_text(n: int, prompt: str, spec: Exercise) -> str:
    lines = [f"### Exercise {n}", "", prompt, ""]
    if spec.points:
        lines.append(f"*Answer in code* in the cell below. {spec.answer} The test cell after it "
                     f"checks the result ({spec.points} point{'s' * (spec.points > 1)}; part of the "
                     "check is hidden until grading).")
    else:
        lines.append("*Work in code* in the cell below if it helps.")
    if spec.prose:
        lines.append("")
        lines.append(f"*Answer in words* in the text cell at the end of this exercise "
                     f"({spec.prose} point{'s' * (spec.prose > 1)}, graded by hand).")
    return "\n".join(lines)


#: the kernel every tutorial runs in (stored in each notebook, so Jupyter does not ask for one)
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def source_notebook(nb, name: str, specs: dict[int, Exercise] | None = None, warn=print):
    """The instructor's notebook: ``nb`` (not changed) with nbgrader metadata on the lesson checks,
    the solutions turned into solution regions, and per exercise a prompt cell, a test cell and a
    text answer cell as its :class:`Exercise` says."""
    nb = copy.deepcopy(nb)
    specs = SPECS.get(name, {}) if specs is None else specs
    nb.metadata.setdefault("kernelspec", dict(KERNELSPEC))
    prompts = exercise_prompts(nb)
    sections = solution_sections(nb)
    exercises_at = next(i for i, c in enumerate(nb.cells)
                        if c.cell_type == "markdown" and EXERCISES.search(c.source))
    in_solution = {i for cells in sections.values() for i in cells}
    first_solution = {cells[0]: n for n, cells in sections.items()}
    section_end = {cells[-1]: n for n, cells in sections.items()}

    cells, checks = [], 0
    for i, cell in enumerate(nb.cells):
        if i in first_solution:
            n = first_solution[i]
            spec = specs.get(n)
            if spec is None:
                warn(f"{name}: exercise {n} has no grading spec in jscc_lab.course.SPECS; "
                     "it is graded by hand (2 points)")
                spec = Exercise(prose=2)
            _check_fresh(nb, name, spec.names, exercises_at)
            cells.append(_markdown(f"exercise-{n}", _exercise_text(n, prompts.get(n, ""), spec),
                                   _nbgrader(f"exercise_{n}", locked=True)))
        if i in in_solution:
            n = next(k for k, idx in sections.items() if i in idx)
            spec = specs.get(n) or Exercise(prose=2)
            code_cells = [j for j in sections[n] if nb.cells[j].cell_type == "code"]
            if code_cells and i == code_cells[0]:
                record = f"\n{spec.record}" if spec.record else ""
                cell.source = f"### BEGIN SOLUTION\n{cell.source}{record}\n### END SOLUTION"
                cell.metadata["nbgrader"] = _nbgrader(f"exercise_{n}_code", solution=True)
            else:
                _instructor_only(cell)
            cells.append(cell)
        elif cell.cell_type == "code" and i < exercises_at and is_lesson_check(cell.source):
            checks += 1
            cell.metadata["nbgrader"] = _nbgrader(f"lesson_check_{checks}", grade=True, locked=True,
                                                  points=LESSON_POINTS)
            cells.append(cell)
        else:
            cells.append(cell)
        if i in section_end:
            n = section_end[i]
            spec = specs.get(n) or Exercise(prose=2)
            if spec.points:
                test = (f"# Test of exercise {n} ({spec.points} point{'s' * (spec.points > 1)}): "
                        f"do not edit this cell.\n{spec.visible}\n"
                        f"### BEGIN HIDDEN TESTS\n{spec.hidden}\n### END HIDDEN TESTS")
                cells.append(_code_cell(f"exercise-{n}-test", test,
                                        _nbgrader(f"exercise_{n}_test", grade=True, locked=True,
                                                  points=spec.points)))
            if spec.prose:
                cells.append(_markdown(
                    f"exercise-{n}-answer",
                    f"*Model answer: the text of the solution to exercise {n} above.*",
                    _nbgrader(f"exercise_{n}_answer", grade=True, solution=True, points=spec.prose)))
    nb.cells = cells
    return nb


# ---- the student release: nbgrader's ClearOutput replaced by this ------------------------------


def _student_release_class():
    from nbgrader.preprocessors.base import NbGraderPreprocessor

    class StudentRelease(NbGraderPreprocessor):
        """Drops the cells marked instructor-only (a solution's heading, text and further code
        cells) and clears the outputs of the solution cells; every other cell keeps its stored
        outputs (the lesson's figures and numbers)."""

        def preprocess(self, nb, resources):
            nb.cells = [c for c in nb.cells if c.metadata.get(KEY, {}).get("release") != "instructor"]
            for cell in nb.cells:
                if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                    cell.outputs = []
                    cell.execution_count = None
                    cell.metadata.pop("execution", None)
            return nb, resources

    return StudentRelease


def __getattr__(name):  # StudentRelease is built on first use, so importing this module stays cheap
    if name == "StudentRelease":
        cls = _student_release_class()
        globals()["StudentRelease"] = cls
        return cls
    raise AttributeError(name)


# ---- the build ---------------------------------------------------------------------------------


def _write(nb, path: Path) -> None:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def _nbgrader_config(out: Path):
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(out)).load_config()
    config.CourseDirectory.root = str(out)
    config.Exchange.root = str(out / "exchange")  # not used by generate_assignment
    return config


SOURCE_LINE = 'SOURCE = os.environ.get("JSCC_LAB_SOURCE", "")'


def with_source(nb, source: str):
    """``nb`` whose set-up cell installs jscc_lab from ``source`` (a pip requirement such as
    ``git+https://github.com/OWNER/jscc_lab``) where it is missing, as on Colab or Binder
    (``JSCC_LAB_SOURCE`` still overrides it). A notebook without that cell is a ``ValueError``."""
    if not re.fullmatch(r"[\w.+-]+(@|://)?[^\s\"'\\]*", source or ""):
        raise ValueError(f"source must be a pip requirement without spaces or quotes, e.g. "
                         f"git+https://github.com/OWNER/jscc_lab; got {source!r}")
    cells = [c for c in nb.cells if c.cell_type == "code" and SOURCE_LINE in c.source]
    if len(cells) != 1:
        raise ValueError(f"expected one set-up cell with `{SOURCE_LINE}`, found {len(cells)}")
    cells[0].source = cells[0].source.replace(SOURCE_LINE, SOURCE_LINE.replace('""', f'"{source}"'))
    return nb


def build(out, tutorials=TUTORIALS, names: list[str] | None = None, force: bool = False,
          log=print, source: str | None = None) -> list[str]:
    """Write the course folder ``out`` (see the module docstring) from the notebooks in
    ``tutorials`` (all ``NN_*.ipynb``, or those in ``names``); returns the assignment ids.

    ``out`` must be empty or new unless ``force``: then its ``instructor/``, ``student/`` and
    ``gradebook.db`` are replaced (submissions and grades elsewhere in it are left alone).
    ``source``: where the notebooks' set-up cell installs jscc_lab from when it is missing
    (Colab, Binder; see :func:`with_source`)."""
    import nbformat

    out, tutorials = Path(out), Path(tutorials)
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out} is not empty; build into a new folder, or pass --force to "
                              "replace its instructor/ and student/ notebooks and its gradebook.db")
    paths = sorted(tutorials.glob("[0-9][0-9]_*.ipynb"))
    if names:
        paths = [p for p in paths if p.stem in names]
        if missing := sorted(set(names) - {p.stem for p in paths}):
            raise FileNotFoundError(f"no tutorial {', '.join(missing)} in {tutorials}")
    if not paths:
        raise FileNotFoundError(f"no tutorials NN_*.ipynb in {tutorials}")
    for sub in ("instructor", "student"):
        shutil.rmtree(out / sub, ignore_errors=True)
    (out / "gradebook.db").unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(CONFIG, encoding="utf-8")

    ids = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if source:
            nb = with_source(nb, source)
        _write(source_notebook(nb, path.stem, warn=log), out / "instructor" / path.stem / path.name)
        ids.append(path.stem)

    from nbgrader.apps import NbGraderAPI

    api = NbGraderAPI(config=_nbgrader_config(out))
    for assignment in ids:
        result = api.generate_assignment(assignment, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not release {assignment}:\n{result.get('error') or result.get('log')}")
        released = out / "student" / assignment / f"{assignment}.ipynb"
        _write(nbformat.read(released, as_version=4), released)  # the same formatting as instructor/
        log(f"{assignment}: instructor/{assignment}/, student/{assignment}/")
    return ids


def scores(out, assignment: str, student: str) -> dict:
    """The autograded result of one submission from the gradebook: ``{"auto": points scored by
    the tests, "max_auto": their maximum, "manual": text answers that wait for a grader,
    "max": all points}``."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(out) / 'gradebook.db'}") as gb:
        submission = gb.find_submission(assignment, student)
        auto = max_auto = 0.0
        manual = 0
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.cell.cell_type == "code":
                    auto += grade.auto_score or 0.0
                    max_auto += grade.max_score
                elif grade.needs_manual_grade:
                    manual += 1
        return {"auto": auto, "max_auto": max_auto, "manual": manual, "max": submission.max_score}


def summary(out) -> str:
    """A short table of the assignments in ``out/instructor`` and their points."""
    import nbformat

    rows = []
    for path in sorted(Path(out, "instructor").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
        auto = sum(m.get("points", 0) for m, c in zip(meta, nb.cells) if m.get("grade") and c.cell_type == "code")
        hand = sum(m.get("points", 0) for m, c in zip(meta, nb.cells) if m.get("grade") and c.cell_type == "markdown")
        rows.append(f"{path.parent.name:28s} {auto:3d} autograded + {hand:2d} by hand = {auto + hand:3d} points")
    return "\n".join(rows)


__all__ = ["Exercise", "SPECS", "build", "exercise_prompts", "is_lesson_check", "scores",
           "solution_sections", "source_notebook", "summary"]
