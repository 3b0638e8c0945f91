"""Figures used by the notebooks, the demo and the README: image grids and curves."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from .channels import cbr_label

__all__ = ["show_images", "plot_curves", "plot_quality_vs_cbr"]


def show_images(images, titles=None, ncols: int | None = None, size: float = 3.0, axes=None):
    """Show a list of ``(1, 3, H, W)`` / ``(3, H, W)`` tensors (or one ``(N, 3, H, W)``) in a grid.

    Returns the matplotlib figure. In a notebook, assign it (``fig = show_images(...)``): a figure
    returned as a cell's last value is shown twice (once by the inline backend, once as the value).
    """
    if isinstance(images, torch.Tensor):
        images = list(images) if images.ndim == 4 else [images]
    images = [im[0] if im.ndim == 4 else im for im in images]
    n = len(images)
    ncols = ncols or n
    nrows = (n + ncols - 1) // ncols
    if axes is None:
        h, w = images[0].shape[-2:]
        title_lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles else 0
        fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols * w / max(h, w) + 0.2,
                                                        nrows * (size * h / max(h, w) + 0.2 * title_lines) + 0.2),
                                 squeeze=False)
        axes = axes.ravel()
    fig = axes[0].figure
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
            if titles is not None:
                ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig


def plot_curves(x, curves: dict, xlabel: str, ylabel: str, ax=None, title: str | None = None,
                **plot_kw):
    """Plot several named curves ``{label: ys}`` over a shared ``x``; returns the axes (in a
    notebook, assign them, ``ax = plot_curves(...)``, or their repr ends the cell's output)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for label, ys in curves.items():
        ax.plot(x, [float(v) for v in ys], marker="o", label=label, **plot_kw)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


def _mean_and_halfwidth(values, z: float) -> tuple[float, float]:
    values = np.asarray(values, dtype=float).reshape(-1)
    sem = values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else 0.0
    return float(values.mean()), z * float(sem)


def plot_quality_vs_cbr(curves: dict, metric: str, points: dict | None = None, ax=None,
                        z: float = 1.96, title: str | None = None, legend: bool = True):
    """Quality vs channel bandwidth ratio: mean over images with ``z`` x SEM error bars.

    Input
    -----
    curves : ``{label: {cbr: (N,) per-image values}}`` drawn as lines (reference systems; e.g.
        :func:`jscc_lab.evaluate.curve`).
    metric : the y-axis label (``"dists"``, ``"lpips"``, ...).
    points : ``{label: (cbr, (N,) per-image values)}`` drawn as single markers (our model), the
        first one largest, so that points at the same CBR stay visible.
    ax : axes to draw into (default a new figure).
    z : half-width of the error bars in standard errors (1.96: a normal 95 % interval).
    legend : draw the legend in the axes (``False`` to place one legend for several axes).

    Output
    ------
    The matplotlib axes; the x axis is log-scaled with ticks labelled ``1/96, 1/48, ...``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    ticks = set()
    for label, by_cbr in curves.items():
        cbrs = sorted(by_cbr)
        stats = [_mean_and_halfwidth(by_cbr[c], z) for c in cbrs]
        ax.errorbar(cbrs, [m for m, _ in stats], yerr=[h for _, h in stats], marker="o", ms=4,
                    capsize=3, label=label)
        ticks.update(cbrs)
    markers = [("*", 14), ("D", 6), ("P", 7), ("X", 7), ("s", 5)]
    for k, (label, (cbr, values)) in enumerate((points or {}).items()):
        mean, half = _mean_and_halfwidth(values, z)
        marker, size = markers[k % len(markers)]
        ax.errorbar([cbr], [mean], yerr=[half], marker=marker, ms=size, capsize=3,
                    linestyle="none", label=label)
        ticks.add(cbr)
    ax.set_xscale("log")
    ax.set_xticks(sorted(ticks), [cbr_label(c) for c in sorted(ticks)])
    ax.minorticks_off()
    ax.set_xlabel("CBR (channel uses per source value)")
    ax.set_ylabel(metric)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if legend:
        ax.legend(fontsize=8)
    return ax


def plot_training_curve(path, ax=None):
    """Validation PSNR (one line per operating point, e.g. ``10dB,cbr1/48``) of checkpoint
    ``path`` against the CPU-hours of every training stage behind it
    (:func:`jscc_lab.train.training_stages`: its ``init_from`` chain, or the stages an export
    recorded), stage boundaries marked with their objective and what was frozen. Wall-clock hours
    when a stage lacks CPU time. Returns ``(ax, summary)``, ``summary`` a one-line string."""
    from .checkpoints import load_checkpoint, training_stages

    stages = training_stages(path)
    own = [h for h in load_checkpoint(path)["metrics"]["history"] if any(k.startswith("psnr@") for k in h)]
    clock = "cpu_time_s" if all(st.get("cpu_time_s") for st in stages) else "wall_time_s"
    points, offset, ends = [], 0.0, []
    for i, st in enumerate(stages):  # steps convert to hours at each stage's mean pace
        val = st.get("validation") or (own if i == len(stages) - 1 else [])
        points += [(offset + h["step"] * st[clock] / st["steps"] / 3600, h)
                   for h in val if any(k.startswith("psnr@") for k in h)]
        offset += st[clock] / 3600
        frozen = st.get("freeze")
        what = "\nall trained" if frozen == [] else f"\n{'+'.join(frozen)} frozen" if frozen else ""
        ends.append((offset, f"{st.get('objective') or st.get('name')}{what}"))
    keys = sorted({k for _, h in points for k in h if k.startswith("psnr@")})
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4), layout="constrained")
    ax.set_xlim(0, offset * 1.02)
    for k in keys:
        ax.plot([x for x, _ in points], [h.get(k, np.nan) for _, h in points], marker="o", ms=3,
                label=k.replace("psnr@", ""))
    start, labels = 0.0, []
    for end, label in ends:
        ax.axvline(end, color="grey", ls=":", lw=1)
        labels.append((ax.text((start + end) / 2, ax.get_ylim()[0], label, fontsize=7, va="bottom", ha="center"),
                       start, end))
        start = end
    for text, a, b in labels:  # a label wider than its stage stands upright instead of overlapping
        span = ax.transData.transform((b, 0))[0] - ax.transData.transform((a, 0))[0]
        if text.get_window_extent().width > span:
            text.set_rotation(90)
    ax.set_xlabel("training CPU-hours, all stages" if clock == "cpu_time_s" else "training wall-clock hours, all stages")
    ax.set_ylabel("validation PSNR (dB), BSDS500 test crops")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    last = points[-1][1]
    summary = (f"{len(stages)} stage(s), {sum(st['steps'] for st in stages)} steps, {offset:.2f} {clock[:-7]} hours; "
               "last validation " + ", ".join(f"{k}={last[k]:.2f}" for k in keys))
    return ax, summary
