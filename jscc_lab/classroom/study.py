"""A two-alternative forced-choice (2AFC) user study: design, crash-safe recording, analysis.

The seed paper's headline (about 50 % channel-bandwidth saving at perceptually similar quality)
comes from people comparing images. This module lets a class run that study:

* :func:`make_trials` builds a randomised trial list: "ours at CBR r" against "a reference system
  at CBR c" for several c, sides and order shuffled per participant, with attention checks (the
  original against a badly degraded copy, where one answer is obviously right);
* :class:`ResultsFile` appends every answer as one JSON line, flushed and fsync'ed, so a kernel
  restart loses nothing; reopening it resumes where the participant stopped, and a corrupt file
  is refused with the line number;
* :func:`fit_preference` fits ``P(prefer ours) = sigmoid(a + b log c)`` over the reference CBR
  ``c`` and reports the CBR where participants are indifferent (the just-noticeable point of
  equality), the bandwidth saving ``1 - r / c_eq``, and a bootstrap confidence interval over
  participants;
* :func:`simulate_answers` draws synthetic participants with a known saving, for teaching and
  testing (always labelled as simulated).

* :func:`user_study` (:class:`UserStudy`) the notebook widget a participant answers in: the logic
  above does the work, so it is tested without a browser.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import torch

from .explorer_widget import png_bytes

__all__ = [
    "Trial",
    "make_trials",
    "ResultsFile",
    "fit_preference",
    "PreferenceFit",
    "simulate_answers",
    "ATTENTION",
    "UserStudy",
    "user_study",
    "attention_distortion",
]

ATTENTION = "attention"  # kind of a trial whose right answer is known
_KEYS = {"participant": str, "trial": int, "kind": str, "image": str, "cbr_ours": float,
         "cbr_ref": float, "left": str, "choice": str, "prefers_ours": bool, "time": float}


@dataclass(frozen=True)
class Trial:
    """One 2AFC comparison. ``left`` says which system is drawn on the left (``"ours"`` or
    ``"ref"``); for an attention trial ``"ours"`` is the original and ``"ref"`` the degraded copy."""

    index: int
    kind: str  # "compare" or ATTENTION
    image: str
    cbr_ours: float
    cbr_ref: float
    left: str


def make_trials(images, cbr_ours: float, cbr_refs, participant: str, repeats: int = 1,
                attention_every: int = 8, seed: int = 0) -> list[Trial]:
    """A shuffled trial list for one participant (deterministic in ``participant`` and ``seed``).

    Every (image, reference CBR) pair appears ``repeats`` times with random sides; one attention
    trial is inserted per ``attention_every`` comparisons (at least one).
    """
    images, cbr_refs = list(images), [float(c) for c in cbr_refs]
    if not images:
        raise ValueError("images must name at least one image")
    if not cbr_refs or any(not (c > 0 and math.isfinite(c)) for c in cbr_refs):
        raise ValueError(f"cbr_refs must be a non-empty list of CBRs > 0, got {cbr_refs}")
    if not (cbr_ours > 0 and math.isfinite(cbr_ours)):
        raise ValueError(f"cbr_ours must be a CBR > 0, got {cbr_ours}")
    if repeats < 1 or attention_every < 1:
        raise ValueError("repeats and attention_every must be >= 1")
    rng = random.Random(f"{seed}:{participant}")
    items = [("compare", im, c) for im in images for c in cbr_refs for _ in range(repeats)]
    rng.shuffle(items)
    n_attention = max(1, len(items) // attention_every)
    for _ in range(n_attention):
        items.insert(rng.randrange(len(items) + 1), (ATTENTION, rng.choice(images), 0.0))
    return [Trial(i, kind, im, float(cbr_ours), c, rng.choice(("ours", "ref")))
            for i, (kind, im, c) in enumerate(items)]


class ResultsFile:
    """Append-only JSON-lines record of answers that survives kernel restarts.

    Each line holds one answer (keys: participant, trial, kind, image, cbr_ours, cbr_ref,
    left, choice ("left"/"right"), prefers_ours, time). Opening an existing file validates every
    line; a bad one raises ``ValueError`` naming the file and line.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.records: list[dict] = self._load() if self.path.exists() else []

    def _load(self) -> list[dict]:
        records = []
        with open(self.path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(
                        f"{self.path}, line {number}: not valid JSON ({err.msg}); the results "
                        "file is corrupt: fix or remove that line, keep a backup of the file"
                    ) from None
                problem = _validate(record)
                if problem:
                    raise ValueError(f"{self.path}, line {number}: {problem}")
                records.append(record)
        return records

    def answered(self, participant: str) -> set[int]:
        """Trial indices this participant has already answered."""
        return {r["trial"] for r in self.records if r["participant"] == participant}

    def record(self, participant: str, trial: Trial, choice: str, time: float) -> dict:
        """Append one answer (``choice`` is ``"left"`` or ``"right"``); duplicates are refused."""
        if choice not in ("left", "right"):
            raise ValueError(f'choice must be "left" or "right", got {choice!r}')
        if trial.index in self.answered(participant):
            raise ValueError(f"participant {participant!r} already answered trial {trial.index}")
        chosen = trial.left if choice == "left" else ("ref" if trial.left == "ours" else "ours")
        record = {"participant": str(participant), "trial": trial.index, "kind": trial.kind,
                  "image": trial.image, "cbr_ours": trial.cbr_ours, "cbr_ref": trial.cbr_ref,
                  "left": trial.left, "choice": choice, "prefers_ours": chosen == "ours",
                  "time": float(time)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.records.append(record)
        return record


def _validate(record) -> str | None:
    if not isinstance(record, dict):
        return "each line must be a JSON object"
    for key, kind in _KEYS.items():
        if key not in record:
            return f"missing key {key!r}"
        value = record[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float \
            else isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            return f"key {key!r} must be {kind.__name__}, got {value!r}"
    if record["choice"] not in ("left", "right") or record["left"] not in ("ours", "ref"):
        return "choice must be left/right and left must be ours/ref"
    if record["kind"] not in ("compare", ATTENTION):
        return f"kind must be 'compare' or '{ATTENTION}'"
    return None


@dataclass
class PreferenceFit:
    """Result of :func:`fit_preference` (CBRs as fractions of the source size)."""

    cbr_ours: float
    cbr_equal: float  # reference CBR at which participants are indifferent
    saving: float  # 1 - cbr_ours / cbr_equal
    saving_ci: tuple[float, float]
    intercept: float
    slope: float  # per unit of log CBR
    n_participants: int
    n_answers: int
    attention_pass_rate: float
    extrapolated: bool  # the point of equality lies outside the tested CBRs

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        lo, hi = self.saving_ci
        flag = " (extrapolated beyond the tested CBRs)" if self.extrapolated else ""
        return (f"equal preference at reference CBR {self.cbr_equal:.4f} "
                f"(1/{1 / self.cbr_equal:.1f}) vs ours at {self.cbr_ours:.4f}: "
                f"bandwidth saving {100 * self.saving:.0f} % "
                f"[95 % CI {100 * lo:.0f}, {100 * hi:.0f}]{flag}; "
                f"{self.n_participants} participants, {self.n_answers} answers, "
                f"attention checks passed {100 * self.attention_pass_rate:.0f} %")


def _logistic_fit(x: np.ndarray, y: np.ndarray, iters: int = 50) -> tuple[float, float]:
    """Maximum-likelihood ``(a, b)`` of ``P(y=1) = sigmoid(a + b x)`` by Newton's method
    (with a tiny ridge so perfectly separated data stay finite)."""
    X = np.stack([np.ones_like(x), x], axis=1)
    w = np.zeros(2)
    ridge = 1e-3 * np.eye(2)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(X @ w)))
        grad = X.T @ (y - p) - ridge @ w
        hess = (X * (p * (1 - p))[:, None]).T @ X + ridge
        step = np.linalg.solve(hess, grad)
        w += step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def fit_preference(records, n_boot: int = 1000, seed: int = 0,
                   min_attention: float = 0.75) -> PreferenceFit:
    """Fit preference for "ours" vs the reference CBR and the bandwidth saving at indifference.

    Participants who pass fewer than ``min_attention`` of their attention checks are excluded.
    The 95 % interval resamples participants (the unit of replication) ``n_boot`` times.
    """
    records = list(records)
    for i, r in enumerate(records):
        problem = _validate(r)
        if problem:
            raise ValueError(f"records[{i}]: {problem}")
    checks = [r for r in records if r["kind"] == ATTENTION]
    keep = set()
    for p in {r["participant"] for r in records}:
        mine = [r["prefers_ours"] for r in checks if r["participant"] == p]
        if not mine or np.mean(mine) >= min_attention:
            keep.add(p)
    compare = [r for r in records if r["kind"] == "compare" and r["participant"] in keep]
    if not compare:
        raise ValueError("no comparison answers from participants who passed the attention checks")
    cbr_ours = {r["cbr_ours"] for r in compare}
    if len(cbr_ours) != 1:
        raise ValueError(f"all comparisons must use one CBR for ours, got {sorted(cbr_ours)}")
    cbr_ours = cbr_ours.pop()
    tested = sorted({r["cbr_ref"] for r in compare})
    if len(tested) < 2:
        raise ValueError("need comparisons at two or more reference CBRs to fit a curve")

    def solve(rows):
        x = np.log([r["cbr_ref"] for r in rows])
        y = np.array([r["prefers_ours"] for r in rows], dtype=float)
        a, b = _logistic_fit(x, y)
        if b >= 0:  # preference for ours must fall as the reference gets more bandwidth
            return a, b, math.nan
        return a, b, math.exp(-a / b)

    a, b, c_eq = solve(compare)
    if not math.isfinite(c_eq):
        raise ValueError("preference for ours does not fall with the reference CBR; "
                         "no point of equal preference can be estimated")
    by_participant = {}
    for r in compare:
        by_participant.setdefault(r["participant"], []).append(r)
    people = sorted(by_participant)
    rng = np.random.default_rng(seed)
    savings = []
    for _ in range(n_boot):
        rows = [r for p in rng.choice(people, size=len(people)) for r in by_participant[p]]
        c = solve(rows)[2]
        if math.isfinite(c):
            savings.append(1.0 - cbr_ours / c)
    lo, hi = (np.percentile(savings, [2.5, 97.5]) if savings else (math.nan, math.nan))
    attention_rate = float(np.mean([r["prefers_ours"] for r in checks])) if checks else math.nan
    return PreferenceFit(
        cbr_ours=cbr_ours, cbr_equal=c_eq, saving=1.0 - cbr_ours / c_eq,
        saving_ci=(float(lo), float(hi)), intercept=a, slope=b, n_participants=len(people),
        n_answers=len(compare), attention_pass_rate=attention_rate,
        extrapolated=not (tested[0] <= c_eq <= tested[-1]),
    )


def simulate_answers(trials_by_participant: dict, true_saving: float, slope: float = 4.0,
                     lapse: float = 0.02, bias_sd: float = 0.3, seed: int = 0) -> list[dict]:
    """SIMULATED participants with a known saving, for teaching and tests (not real data).

    Participant ``p`` prefers ours over the reference at CBR ``c`` with probability
    ``sigmoid(slope * (log c_eq - log c) + bias_p)``, ``c_eq = cbr_ours / (1 - true_saving)``,
    ``bias_p ~ N(0, bias_sd)``; with probability ``lapse`` an answer is a coin flip. Attention
    trials are answered correctly unless lapsing. Returns records like :class:`ResultsFile` rows.
    """
    if not 0 <= true_saving < 1:
        raise ValueError(f"true_saving must be in [0, 1), got {true_saving}")
    rng = np.random.default_rng(seed)
    out = []
    for p, trials in trials_by_participant.items():
        bias = rng.normal(0.0, bias_sd)
        for t in trials:
            if t.kind == ATTENTION:
                prob = 1.0
            else:
                c_eq = t.cbr_ours / (1.0 - true_saving)
                prob = 1.0 / (1.0 + math.exp(-(slope * (math.log(c_eq) - math.log(t.cbr_ref)) + bias)))
            if rng.random() < lapse:
                prob = 0.5
            prefers = bool(rng.random() < prob)
            chosen = "ours" if prefers else "ref"
            out.append({"participant": str(p), "trial": t.index, "kind": t.kind, "image": t.image,
                        "cbr_ours": t.cbr_ours, "cbr_ref": t.cbr_ref, "left": t.left,
                        "choice": "left" if chosen == t.left else "right",
                        "prefers_ours": prefers, "time": float(rng.uniform(1.0, 6.0))})
    return out


# ---------------------------------------------------------------------------------------------
# the study widget
# ---------------------------------------------------------------------------------------------


def attention_distortion(x: torch.Tensor, factor: int = 8) -> torch.Tensor:
    """An obviously worse copy for attention checks: ``factor``-times down- then up-sampled."""
    h, w = x.shape[-2:]
    small = torch.nn.functional.interpolate(x, size=(max(1, h // factor), max(1, w // factor)),
                                            mode="area")
    return torch.nn.functional.interpolate(small, size=(h, w), mode="nearest")


class UserStudy:
    """A 2AFC study session for one participant (see :func:`user_study`).

    ``original(image)`` returns the ``(1, 3, H, W)`` original of an image identifier and
    ``reconstruct(image, system, cbr)`` (``system`` is ``"ours"`` or ``"ref"``) a reconstruction;
    attention trials show the original against :func:`attention_distortion` of it.
    Answers go to ``results_path`` one JSON line at a time; a new session with the same
    participant resumes at the first unanswered trial.
    """

    def __init__(self, original, reconstruct, results_path, participant: str, images, cbr_ours: float,
                 cbr_refs, repeats: int = 1, seed: int = 0, clock=time.monotonic):
        if not participant or not isinstance(participant, str):
            raise ValueError("participant must be a non-empty string (a pseudonym, not a name)")
        self.original, self.reconstruct = original, reconstruct
        self.participant, self.clock = participant, clock
        self.results = ResultsFile(results_path)
        self.trials = make_trials(images, cbr_ours, cbr_refs, participant, repeats=repeats, seed=seed)
        self.progress = widgets.HTML()
        self.reference = widgets.Image(format="png")
        self.left = widgets.Image(format="png")
        self.right = widgets.Image(format="png")
        self.left_button = widgets.Button(description="Left is closer", button_style="info",
                                          layout=widgets.Layout(width="48%"))
        self.right_button = widgets.Button(description="Right is closer", button_style="info",
                                           layout=widgets.Layout(width="48%"))
        self.left_button.on_click(lambda _: self.answer("left"))
        self.right_button.on_click(lambda _: self.answer("right"))
        self.widget = widgets.VBox([
            self.progress,
            widgets.HTML("<b>Reference</b>"), self.reference,
            widgets.HTML("<b>Which of these two looks closer to the reference?</b>"),
            widgets.HBox([self.left, self.right]),
            widgets.HBox([self.left_button, self.right_button]),
        ])
        self.current: Trial | None = None
        self._shown_at = 0.0
        self._next()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    @property
    def remaining(self) -> list[Trial]:
        done = self.results.answered(self.participant)
        return [t for t in self.trials if t.index not in done]

    def _next(self) -> None:
        todo = self.remaining
        n_done = len(self.trials) - len(todo)
        if not todo:
            self.current = None
            self.progress.value = (f"<b>Done: all {len(self.trials)} comparisons recorded in "
                                   f"{self.results.path}. Thank you!</b>")
            self.left_button.disabled = self.right_button.disabled = True
            return
        self.current = todo[0]
        t = self.current
        original = self.original(t.image)
        if t.kind == ATTENTION:
            ours, ref = original, attention_distortion(original)
        else:
            ours, ref = self.reconstruct(t.image, "ours", t.cbr_ours), self.reconstruct(t.image, "ref", t.cbr_ref)
        shown = (ours, ref) if self.current.left == "ours" else (ref, ours)
        self.reference.value = png_bytes(original)
        self.left.value, self.right.value = png_bytes(shown[0]), png_bytes(shown[1])
        self.progress.value = (f"Participant <code>{self.participant}</code>: "
                               f"comparison {n_done + 1} of {len(self.trials)}")
        self._shown_at = self.clock()

    def answer(self, choice: str) -> dict:
        """Record ``"left"`` or ``"right"`` for the current trial and show the next one."""
        if self.current is None:
            raise RuntimeError("the study is finished: no trial is waiting for an answer")
        record = self.results.record(self.participant, self.current, choice,
                                     time=self.clock() - self._shown_at)
        self._next()
        return record


def user_study(original, reconstruct, results_path, participant: str, images, cbr_ours: float, cbr_refs,
               repeats: int = 1, seed: int = 0) -> UserStudy:
    """Start (or resume) a 2AFC study for ``participant``; display ``study.widget``.

    Parameters
    ----------
    original : callable ``image -> (1, 3, H, W)`` tensor of the original
    reconstruct : callable ``(image, system, cbr) -> (1, 3, H, W)``, ``system`` "ours" or "ref"
    results_path : JSON-lines file shared by all participants (appended, never rewritten)
    participant : a pseudonym; reusing it resumes that participant's session
    images : image identifiers passed to ``stimuli`` through ``trial.image``
    cbr_ours, cbr_refs : CBR of our system and the reference CBRs it is compared against
    """
    return UserStudy(original, reconstruct, Path(results_path), participant, images, cbr_ours, cbr_refs,
                     repeats=repeats, seed=seed)
