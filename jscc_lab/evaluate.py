"""Sweeps over SNR x CBR for any system, result tables, and bandwidth saving at matched quality.

A *system* is anything that turns images into reconstructions over a channel (see
:mod:`jscc_lab.systems`, which every input below becomes):

* a JSCC model ``model(x, snr_db, generator=None) -> x_hat`` (its CBR is ``model.cbr``);
  realism-conditioned models also get ``beta=`` when :func:`sweep` is given betas;
* a callable ``fn(x, snr_db, cbr) -> x_hat`` (or a dict / object holding ``x_hat``), e.g. a
  separate source-channel coding baseline wrapped with ``functools.partial``; it receives
  ``generator=`` too when its signature accepts it;
* a mapping ``{cbr: model_or_callable}``: one model per CBR (the usual deep JSCC zoo);
* a rate-adaptive model (``model.cbrs``, ``model(x, snr_db, cbr=...)``): its CBRs are swept.

:func:`sweep` returns one row (a dict) **per image** and operating point, so that confidence
intervals can be bootstrapped over images; :func:`summarize` averages rows into a table and
:func:`format_table` prints it; :func:`reconstruct` gives back the images behind chosen rows
(for figures). Channel noise is seeded per ``(seed, image, SNR)`` by
:func:`jscc_lab.systems.noise_generator`: every system sees the same noise realisations (common
random numbers), which makes comparisons sharper, and the explorer and the demo draw the same.

:func:`bandwidth_saving` answers the question of the perceptual JSCC paper: at CBR ``r`` our
system reaches mean quality ``q``; what CBR does a reference system need to reach ``q``? Its
measured curve is interpolated linearly in ``log(CBR)``; the saving is ``1 - r / CBR_needed``.
Outside the reference's measured CBR range nothing is extrapolated: the result is a bound
(``"> 66.7 %"``: even at its largest measured CBR the reference is worse). Confidence intervals
come from a paired bootstrap over images.

Example
-------
>>> from jscc_lab.evaluate import bandwidth_saving
>>> ref = {1/96: [20.0, 20.0], 1/48: [22.0, 22.0], 1/24: [24.0, 24.0]}   # PSNR per image
>>> result = bandwidth_saving([23.0, 23.0], ref, metric="psnr", cbr=1/48)
>>> round(result.cbr_needed * 24 * 2 ** 0.5, 6), str(result)[:6]      # halfway in log-CBR
(1.0, '29.3 %')
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .systems import SeparateSystem, System, as_system, transmit

__all__ = [
    "sweep",
    "reconstruct",
    "separate_coding",
    "summarize",
    "format_table",
    "json_ready",
    "curve",
    "cbr_for_quality",
    "monotone_fit",
    "reference_cbrs",
    "bandwidth_saving",
    "BandwidthSaving",
]


# ---------------------------------------------------------------------------------------------
# sweeps
# ---------------------------------------------------------------------------------------------


def _as_image_list(images) -> list[torch.Tensor]:
    """``(N, 3, H, W)`` tensor or list of ``(n, 3, H, W)`` tensors -> list of ``(1, 3, H, W)``."""
    if isinstance(images, torch.Tensor):
        images = [images]
    if not isinstance(images, Sequence) or not images or not all(isinstance(t, torch.Tensor) for t in images):
        raise TypeError("images must be an (N, 3, H, W) tensor or a non-empty list of (n, 3, H, W) tensors")
    out = []
    for t in images:
        if t.ndim == 3:
            t = t[None]
        if t.ndim != 4 or t.shape[1] != 3:
            raise ValueError(f"images must have shape (N, 3, H, W), got {tuple(t.shape)}")
        out.extend(t[i : i + 1] for i in range(t.shape[0]))
    return out


def _plan(system, cbrs) -> tuple[System, list[float]]:
    """``(system, [cbr, ...])`` to run for ``system`` at ``cbrs`` (see :func:`sweep`): the
    :class:`~jscc_lab.systems.System` and the CBRs it serves that were asked for (all of them
    for ``cbrs=None``)."""
    if isinstance(system, nn.Module) and not getattr(system, "rate_adaptive", False) and cbrs is not None:
        raise ValueError("a single model has one CBR (model.cbr); pass a mapping {cbr: model} "
                         "or a rate-adaptive model (model.cbrs) to sweep CBRs")
    if not isinstance(system, (System, nn.Module, Mapping)) and not callable(system):
        raise TypeError(f"system must be a model, a callable or a mapping {{cbr: system}}, got {type(system).__name__}")
    sys_ = as_system(system)
    if cbrs is None:
        if sys_.cbrs is None:
            raise ValueError("a callable system needs cbrs=[...] to evaluate at")
        return sys_, list(sys_.cbrs)
    return sys_, [sys_.check_cbr(c) for c in cbrs]


def _precision(system: System, device, amp: str) -> bool:
    """Whether the deep models of ``system`` run under bf16 autocast on ``device``
    (:func:`jscc_lab.precision.choose_amp`; ``amp`` checked before any work)."""
    from .precision import check_amp, choose_amp

    check_amp(amp)
    if not system.autocast:
        return False
    return choose_amp(torch.device(device) if device is not None else system.device, amp)[0]


def sweep(system, images, snrs_db: Sequence[float], metrics: Sequence[str] = ("psnr", "lpips"),
          cbrs: Sequence[float] | None = None, betas: Sequence[float | None] = (None,),
          name: str = "system", seed: int = 0, device=None, amp: str = "auto") -> list[dict]:
    """Evaluate ``system`` on ``images`` at every SNR (x CBR x realism ``beta``), per image.

    Every reconstruction is made by :func:`jscc_lab.systems.transmit` (the one way the explorer
    and the demo run a system too): image ``i`` gets the noise of
    :func:`jscc_lab.systems.noise_generator` ``(seed, i, snr_db)``.

    Input
    -----
    system : a :class:`~jscc_lab.systems.System`, a model, a callable ``fn(x, snr_db, cbr)`` or a
        mapping ``{cbr: model_or_callable}`` (see the module docstring).
    images : ``(N, 3, H, W)`` in ``[0, 1]`` or a list of such tensors (sizes may differ, e.g.
        Kodak's portrait images); each image is sent on its own with its own seeded noise.
    snrs_db : channel SNRs in dB.
    metrics : names known to :func:`jscc_lab.metrics.evaluate` (``"psnr"``, ``"ms_ssim"``,
        ``"lpips"``, ``"lpips_vgg"``, ``"dists"``, ...).
    cbrs : CBRs to evaluate: required for a system that serves any CBR (a plain callable,
        separate coding), a subset of the system's ``cbrs`` otherwise (``None``: all of them);
        ``None`` for a single-CBR model (its own CBR).
    betas : realism weights to sweep for realism-conditioned systems (``None`` = the model's
        default; systems without a realism input must use ``(None,)``).
    name : value of the ``"system"`` column.
    seed : noise seed; noise depends on ``(seed, image index, SNR)`` only.
    device : where to run (default: the model's device, else CPU).
    amp : precision of the models: ``"auto"`` (bf16 autocast where
        :func:`jscc_lab.precision.choose_amp` finds it measurably faster), ``"bf16"`` or
        ``"none"`` (fp32). Metrics are always computed in fp32, on fp32 reconstructions.

    Output
    ------
    List of rows ``{"system", "cbr", "cbr_used", "snr_db", "beta", "image", <metric>: float, ...}``,
    one per image and operating point, in the order CBR, SNR, beta, image. ``cbr`` is the
    operating point asked for, ``cbr_used`` the CBR the system actually used on that image
    (symbols sent / ``3 H W``, at most ``cbr``).
    """
    from .metrics import Scorer

    if isinstance(metrics, str):
        metrics = (metrics,)
    score = Scorer(metrics, max_bytes=2**31)  # each original's LPIPS/DISTS features once
    system, plan = _plan(system, cbrs)
    for snr in snrs_db:
        if isinstance(snr, bool) or not isinstance(snr, numbers.Real) or not math.isfinite(snr):
            raise ValueError(f"snrs_db must be finite numbers (dB), got {snr!r}")
    xs = _as_image_list(images)
    bf16 = _precision(system, device, amp)
    rows = []
    for cbr in plan:
        used = [system.cbr_used(x.shape[-2], x.shape[-1], cbr) for x in xs]
        for snr in snrs_db:
            for beta in betas:
                x_hats = [transmit(system, x, snr, cbr, beta=beta, seed=seed, image=i, device=device, bf16=bf16)
                          for i, x in enumerate(xs)]
                for i, (x, x_hat) in enumerate(zip(xs, x_hats)):
                    scores = score(x.cpu(), x_hat)  # x_hat is on the CPU already
                    row = {"system": name, "cbr": cbr, "cbr_used": used[i], "snr_db": float(snr),
                           "beta": None if beta is None else float(beta), "image": i}
                    row.update({m: float(scores[m][0]) for m in metrics})
                    rows.append(row)
    return rows


def reconstruct(system, images, snr_db: float, cbr: float | None = None, beta: float | None = None,
                indices: Sequence[int] | None = None, seed: int = 0, device=None,
                amp: str = "auto") -> list[torch.Tensor]:
    """The reconstructions that :func:`sweep` scored, to show them beside its rows.

    Input
    -----
    system, images, seed, device, amp : as for :func:`sweep` (the same image list, so that image
        numbers and hence the noise realisations match).
    snr_db : one channel SNR in dB.
    cbr : the operating point of a mapping, callable or rate-adaptive system (``None`` for a
        single-CBR system: its own).
    beta : realism weight of a realism-conditioned model (``None`` = its default).
    indices : image numbers (the ``"image"`` column of the rows) to reconstruct; default all.

    Output
    ------
    List of ``(1, 3, H, W)`` CPU tensors in ``[0, 1]``, one per index, equal to what
    :func:`sweep` computed for those rows.
    """
    sys_ = as_system(system)
    if cbr is None:
        if sys_.cbrs is None or len(sys_.cbrs) != 1:
            raise ValueError("pass cbr= for a mapping, a callable or a rate-adaptive system"
                             + (f" (one of {list(sys_.cbrs)})" if sys_.cbrs else ""))
        cbr = sys_.cbrs[0]
    elif isinstance(system, nn.Module) and not getattr(system, "rate_adaptive", False):
        if not math.isclose(float(cbr), sys_.cbrs[0], rel_tol=1e-9):
            raise ValueError(f"the model's CBR is {sys_.cbrs[0]}, not {cbr}")
    cbr = sys_.check_cbr(cbr)
    xs = _as_image_list(images)
    indices = range(len(xs)) if indices is None else list(indices)
    bad = [i for i in indices if not 0 <= i < len(xs)]
    if bad:
        raise ValueError(f"indices {bad} are outside the {len(xs)} images")
    bf16 = _precision(sys_, device, amp)
    return [transmit(sys_, xs[i], snr_db, cbr, beta=beta, seed=seed, image=i, device=device, bf16=bf16)
            for i in indices]


def separate_coding(codec: str = "hevc", channel_code: str = "capacity", **kwargs) -> SeparateSystem:
    """A separate source-channel coding baseline as a sweep system
    (:class:`~jscc_lab.systems.SeparateSystem`, called ``system(x, snr_db, cbr, generator=None)``).

    Wraps :func:`jscc_lab.baselines.separate_transmit` (``codec`` ``"hevc"`` = the BPG
    stand-in; ``channel_code`` ``"capacity"`` = ideal code at the Shannon bound, ``"ldpc"`` = 5G
    LDPC with the best MCS per image); ``kwargs`` go to it (e.g. ``mcs=``, ``channel=``).
    """
    return SeparateSystem(codec, channel_code, **kwargs)


def summarize(rows: Sequence[dict], by: Sequence[str] = ("system", "cbr", "snr_db", "beta")) -> list[dict]:
    """Average per-image rows into one row per group ``by``: ``{..by.., "n", <metric>: mean,
    <metric>_sem: standard error of the mean}``, in first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(k) for k in by), []).append(row)
    keys = set(by) | {"image"}
    out = []
    for key, members in groups.items():
        metric_names = [k for k, v in members[0].items() if k not in keys and isinstance(v, (int, float))]
        summary = dict(zip(by, key))
        summary["n"] = len(members)
        for m in metric_names:
            values = np.array([r[m] for r in members], dtype=float)
            summary[m] = float(values.mean())
            summary[f"{m}_sem"] = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")
        out.append(summary)
    return out


def json_ready(value):
    """``value`` (nested dicts / lists) with every non-finite float as ``None``, so that
    ``json.dumps(..., allow_nan=False)`` writes valid JSON (a one-image group's undefined standard
    error, the infinite PSNR of an exact copy)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def _scalar(v) -> bool:
    return not isinstance(v, (dict, list))


def json_text(doc, level: int = 0) -> str:
    """``doc`` as valid JSON (:func:`json_ready`: non-finite floats as ``null``), indented, but with
    every object whose values are numbers, strings or lists of them (and every list of numbers or
    strings) on one line: a results file of thousands of per-image rows stays one row per line
    (small, and readable in a diff)."""
    doc = json_ready(doc) if level == 0 else doc
    if isinstance(doc, dict):
        one_line = all(_scalar(v) or (isinstance(v, list) and all(map(_scalar, v))) for v in doc.values())
    else:
        one_line = _scalar(doc) or all(map(_scalar, doc))
    if one_line:
        return json.dumps(doc, allow_nan=False)
    pad, inner = " " * level, " " * (level + 1)
    if isinstance(doc, dict):
        items = [f"{inner}{json.dumps(str(k))}: {json_text(v, level + 1)}" for k, v in doc.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    return "[\n" + ",\n".join(f"{inner}{json_text(v, level + 1)}" for v in doc) + f"\n{pad}]"


def _significant(doc, digits: int, key: str = ""):
    """``doc`` with every float rounded to ``digits`` significant digits, except under a key that
    names a CBR (``cbr``, ``cbrs``, ``cbr_used``: fractions such as 1/48 stay exact)."""
    if isinstance(doc, float):
        return doc if "cbr" in key else float(f"{doc:.{digits}g}")
    if isinstance(doc, dict):
        return {k: _significant(v, digits, str(k)) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [_significant(v, digits, key) for v in doc]
    return doc


def save_json(doc, path, digits: int | None = None) -> Path:
    """Write ``doc`` to ``path`` as valid JSON (:func:`json_text`), creating the folder; returns
    the path. ``digits``: round every float but CBRs to that many significant digits (smaller
    files; measurements rarely carry more than four)."""
    path = Path(path)
    if digits is not None:
        doc = _significant(json_ready(doc), digits)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json_text(doc) + "\n")
    return path


def format_table(rows: Sequence[dict], columns: Sequence[str] | None = None, digits: int = 3) -> str:
    """Markdown table of ``rows`` (e.g. from :func:`summarize`); CBRs print as ``1/48``."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())

    def cell(key, value):
        if value is None:
            return "-"
        if key == "cbr" and isinstance(value, float) and value > 0 and abs(1 / value - round(1 / value)) < 1e-6:
            return f"1/{round(1 / value)}"
        if isinstance(value, float):
            return f"{value:.{digits}f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(c, r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def curve(rows: Sequence[dict], metric: str, **where) -> dict[float, np.ndarray]:
    """Per-image values of ``metric`` per CBR from :func:`sweep` rows matching ``where``
    (e.g. ``system="adjscc", snr_db=10.0``): ``{cbr: (N,) array ordered by image}``."""
    selected = [r for r in rows if all(r.get(k) == v for k, v in where.items())]
    if not selected:
        raise ValueError(f"no rows match {where}")
    out: dict[float, dict[int, float]] = {}
    for r in selected:
        per_image = out.setdefault(float(r["cbr"]), {})
        if r["image"] in per_image:
            raise ValueError(f"several rows for image {r['image']} at CBR {r['cbr']}: narrow the selection {where}")
        per_image[r["image"]] = float(r[metric])
    return {c: np.array([v[i] for i in sorted(v)]) for c, v in sorted(out.items())}


# ---------------------------------------------------------------------------------------------
# bandwidth saving at matched quality
# ---------------------------------------------------------------------------------------------


def reference_cbrs(low: float = 1 / 128, high: float = 1 / 6, max_step: float = 2 ** 0.25) -> list[float]:
    """A geometric CBR grid from ``low`` to ``high`` (both included) whose neighbours differ by
    at most the factor ``max_step``: the points a reference curve is measured at, dense enough
    that interpolating between them adds little error (default 19 points, ratio 1.185)."""
    if not (0 < low < high) or max_step <= 1:
        raise ValueError(f"need 0 < low < high and max_step > 1, got {low}, {high}, {max_step}")
    n = math.ceil(math.log(high / low) / math.log(max_step) - 1e-9)
    return [low * (high / low) ** (i / n) for i in range(n + 1)]


def monotone_fit(values: Sequence[float]) -> np.ndarray:
    """The non-decreasing sequence closest to ``values`` in least squares (pool adjacent
    violators): a measured quality curve made monotone in CBR before it is interpolated."""
    blocks: list[list[float]] = []  # [mean, weight]
    for v in np.asarray(values, dtype=float):
        blocks.append([v, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m2, w2), (m1, w1) = blocks.pop(), blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2])
    return np.concatenate([np.full(int(w), m) for m, w in blocks])


INTERPOLATIONS = ("pchip", "linear")


def cbr_for_quality(cbrs: Sequence[float], quality: Sequence[float], target: float,
                    higher_is_better: bool, method: str = "pchip") -> tuple[str, float]:
    """Smallest CBR at which a measured curve reaches ``target``, interpolated in ``log(CBR)``.

    The curve is first made monotone (:func:`monotone_fit`), then interpolated by a monotone
    cubic (``"pchip"``, the default) or piecewise linearly (``"linear"``) in ``log(CBR)``.
    Returns ``("=", cbr)`` when the curve crosses ``target`` inside its measured range,
    ``("<", min_cbr)`` when it is already at least as good at its smallest CBR (the needed CBR
    is at most that; not extrapolated) and ``(">", max_cbr)`` when it never gets there.
    """
    if method not in INTERPOLATIONS:
        raise ValueError(f"method must be one of {INTERPOLATIONS}, got {method!r}")
    order = np.argsort(np.asarray(cbrs, dtype=float))
    c = np.asarray(cbrs, dtype=float)[order]
    g = np.asarray(quality, dtype=float)[order] * (1 if higher_is_better else -1)
    t = float(target) * (1 if higher_is_better else -1)
    if len(c) < 2 or (c <= 0).any() or len(set(c.tolist())) != len(c):
        raise ValueError(f"the reference curve needs >= 2 distinct positive CBRs, got {c.tolist()}")
    if not np.isfinite(g).all() or not math.isfinite(t):
        raise ValueError("quality values must be finite")
    g = monotone_fit(g)
    if g[0] >= t:
        return "<", float(c[0])
    if g[-1] < t:
        return ">", float(c[-1])
    x = np.log(c)
    i = int(np.flatnonzero((g[:-1] < t) & (t <= g[1:]))[0])
    if method == "linear":
        w = (t - g[i]) / (g[i + 1] - g[i])
        return "=", float(math.exp(x[i] + w * (x[i + 1] - x[i])))
    from scipy.interpolate import PchipInterpolator
    from scipy.optimize import brentq

    f = PchipInterpolator(x, g)
    if f(x[i + 1]) - t == 0:
        return "=", float(c[i + 1])
    return "=", float(math.exp(brentq(lambda v: float(f(v)) - t, x[i], x[i + 1], xtol=1e-10)))


def _saving_of(cbr: float, kind: str, cbr_needed: float) -> float:
    """Signed saving for the bootstrap: +inf / -inf stand for the censored bounds."""
    if kind == ">":
        return math.inf
    if kind == "<":
        return -math.inf
    return 1.0 - cbr / cbr_needed


@dataclass
class BandwidthSaving:
    """Result of :func:`bandwidth_saving`.

    ``saving`` is ``1 - cbr / cbr_needed`` (a fraction; 0.5 = half the bandwidth) when the
    reference reaches our quality inside its measured range (``bound == "="``). Otherwise
    ``saving`` is ``None``, ``bound`` is ``">"`` (the reference is worse even at its largest
    measured CBR: the saving exceeds ``limit``) or ``"<"`` (the reference is at least as good
    at its smallest measured CBR: the saving is below ``limit``). ``ci`` is the bootstrap
    percentile interval; an end is ``+inf`` / ``-inf`` when that share of bootstrap resamples
    fell above / below the reference's measured range (printed as a bound, ``"> 75.0 %"`` /
    ``"< -100.0 %"``); ``(nan, nan)`` without bootstrap. ``interpolation_error`` is how far the
    saving moves when the reference curve is interpolated linearly instead of by the monotone
    cubic (a fraction; ``None`` for a bound): the error the bootstrap interval does not hold.
    """

    metric: str
    cbr: float
    quality: float
    bound: str
    cbr_needed: float | None
    saving: float | None
    limit: float | None
    ci: tuple[float, float]
    confidence: float
    n_images: int
    n_boot: int
    reference_range: tuple[float, float] = field(default=(0.0, 0.0))
    interpolation_error: float | None = None

    def __str__(self) -> str:
        def pct(v):
            return f"{100 * v + 0.0:.1f} %"

        if self.bound == "=":
            head = pct(self.saving)
        else:
            head = f"{self.bound} {pct(self.limit)}"
        def end(v):
            if v == math.inf:
                return f"> {pct(1 - self.cbr / self.reference_range[1])}"
            if v == -math.inf:
                return f"< {pct(1 - self.cbr / self.reference_range[0])}"
            return pct(v)

        notes = []
        if self.n_boot:
            notes.append(f"{100 * self.confidence:g} % CI {end(self.ci[0])} .. {end(self.ci[1])}")
        if self.interpolation_error is not None:
            notes.append(f"interpolation +- {100 * self.interpolation_error:.1f} %")
        return head + (f" ({'; '.join(notes)})" if notes else "")

    def as_row(self) -> dict:
        """Flat dict for tables."""
        return {"metric": self.metric, "cbr": self.cbr, "quality": self.quality,
                "cbr_needed": self.cbr_needed, "saving": str(self)}

    def _estimate(self, value: float | None, bound: str) -> dict:
        """``{"saving", "bound", "bound_value"}`` of one estimate: ``saving`` a fraction, or
        ``None`` with ``bound`` ``"above"`` / ``"below"`` and the value it is bounded by."""
        if bound == ">" or value == math.inf:
            limit = self.limit if bound == ">" else 1 - self.cbr / self.reference_range[1]
            return {"saving": None, "bound": "above", "bound_value": float(limit)}
        if bound == "<" or value == -math.inf:
            limit = self.limit if bound == "<" else 1 - self.cbr / self.reference_range[0]
            return {"saving": None, "bound": "below", "bound_value": float(limit)}
        return {"saving": float(value), "bound": None, "bound_value": None}

    def as_dict(self) -> dict:
        """Numeric dict for JSON: every number finite or ``None`` (``json.dumps(...,
        allow_nan=False)`` accepts it).

        ``saving`` is the fraction when the reference reaches our quality in its measured range;
        otherwise ``None``, with ``bound`` ``"above"`` (the saving exceeds ``bound_value``) or
        ``"below"`` (it is below ``bound_value``); ``bound`` is ``None`` for an exact value.
        ``ci`` is ``None`` without bootstrap, else ``{"confidence", "low", "high"}`` whose ends
        have the same ``{"saving", "bound", "bound_value"}`` form. ``text`` is ``str(self)``.
        """
        ci = None
        if self.n_boot:
            ci = {"confidence": float(self.confidence), "low": self._estimate(self.ci[0], "="),
                  "high": self._estimate(self.ci[1], "=")}
        return {"metric": self.metric, "cbr": float(self.cbr), "quality": float(self.quality),
                "cbr_needed": None if self.cbr_needed is None else float(self.cbr_needed),
                **self._estimate(self.saving, self.bound), "ci": ci,
                "n_images": int(self.n_images), "n_boot": int(self.n_boot),
                "reference_range": [float(c) for c in self.reference_range],
                "interpolation_error": self.interpolation_error, "text": str(self)}


def bandwidth_saving(ours, reference: Mapping[float, Sequence[float]], metric: str, cbr: float,
                     higher_is_better: bool | None = None, n_boot: int = 2000,
                     confidence: float = 0.95, seed: int = 0) -> BandwidthSaving:
    """Channel-bandwidth saving of our system at CBR ``cbr`` over a reference, at equal quality.

    The reference's mean curve is made monotone and interpolated by a monotone cubic in
    ``log(CBR)`` (:func:`cbr_for_quality`); measure it on a dense grid
    (:func:`reference_cbrs`), since the curve bends between factor-2 CBRs.

    Input
    -----
    ours : per-image values ``(N,)`` of ``metric`` for our system at CBR ``cbr``.
    reference : ``{cbr: (N,) per-image values}`` of the reference system on **the same images
        in the same order** (e.g. from :func:`curve`), at >= 2 CBRs.
    metric : its name; the direction is looked up in :func:`jscc_lab.metrics.higher_is_better`
        unless ``higher_is_better`` is given.
    cbr : our CBR ``r``.
    n_boot : bootstrap resamples of the images (0 = no interval); ours and the reference are
        resampled together (paired).
    confidence : two-sided level of the percentile interval.
    seed : bootstrap seed.

    Output
    ------
    :class:`BandwidthSaving`; ``str(result)`` reads e.g. ``"52.3 % (95 % CI 47.0 % .. 57.9 %)"``
    or ``"> 66.7 % (...)"`` when the reference never reaches our quality in its measured range.
    """
    if higher_is_better is None:
        from .metrics import higher_is_better as _hib

        higher_is_better = _hib(metric)
    if not (isinstance(cbr, numbers.Real) and cbr > 0):
        raise ValueError(f"cbr must be a positive number, got {cbr!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise ValueError(f"n_boot must be an int >= 0, got {n_boot!r}")
    ours = np.asarray(ours, dtype=float).reshape(-1)
    if not isinstance(reference, Mapping) or len(reference) < 2:
        raise ValueError("reference must be a mapping {cbr: per-image values} with at least 2 CBRs")
    by_cbr = {float(c): np.asarray(v, dtype=float).reshape(-1) for c, v in reference.items()}
    ref_cbrs = sorted(by_cbr)
    if len({v.size for v in by_cbr.values()}) != 1:
        raise ValueError("every CBR of the reference curve must hold the same number of images")
    ref = np.stack([by_cbr[c] for c in ref_cbrs])
    n = ours.size
    if n == 0 or ref.shape[1] != n:
        raise ValueError(f"ours has {n} images but the reference curve has {ref.shape[1]} per CBR; "
                         "evaluate both on the same images")

    def estimate(idx, method="pchip"):
        target = ours[idx].mean()
        return target, cbr_for_quality(ref_cbrs, ref[:, idx].mean(axis=1), target, higher_is_better,
                                       method)

    all_idx = np.arange(n)
    quality, (kind, needed) = estimate(all_idx)
    _, (kind_lin, needed_lin) = estimate(all_idx, "linear")
    interpolation_error = (abs(cbr / needed_lin - cbr / needed) if kind == kind_lin == "=" else None)
    ci = (math.nan, math.nan)
    if n_boot:
        rng = np.random.default_rng(seed)
        samples = np.sort([_saving_of(cbr, *estimate(rng.integers(0, n, n))[1]) for _ in range(n_boot)])
        alpha = 1 - confidence
        lo = samples[int(math.floor(alpha / 2 * (n_boot - 1)))]
        hi = samples[int(math.ceil((1 - alpha / 2) * (n_boot - 1)))]
        ci = (float(lo), float(hi))  # +-inf: that share of resamples fell outside the range
    return BandwidthSaving(
        metric=metric, cbr=float(cbr), quality=float(quality), bound=kind,
        cbr_needed=needed if kind == "=" else None,
        saving=1 - cbr / needed if kind == "=" else None,
        limit=None if kind == "=" else 1 - cbr / needed,
        ci=ci, confidence=confidence, n_images=n, n_boot=n_boot,
        reference_range=(ref_cbrs[0], ref_cbrs[-1]), interpolation_error=interpolation_error,
    )
