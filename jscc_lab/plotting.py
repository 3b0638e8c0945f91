"""Figures used by the notebooks, the demo and the README: image grids and curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

__all__ = ["show_images", "plot_curves"]


def show_images(images, titles=None, ncols: int | None = None, size: float = 3.0, axes=None):
    """Show a list of ``(1, 3, H, W)`` / ``(3, H, W)`` tensors (or one ``(N, 3, H, W)``) in a grid.

    Returns the matplotlib figure.
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
    """Plot several named curves ``{label: ys}`` over a shared ``x``; returns the axes."""
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
