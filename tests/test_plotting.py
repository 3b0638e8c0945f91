"""Tests of jscc_lab.plotting: the figures have the panels, curves and labels they promise."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from jscc_lab.plotting import plot_quality_vs_cbr, show_images


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_show_images_one_panel_per_image_with_titles(generator):
    images = [torch.rand(1, 3, 8, 8, generator=generator) for _ in range(5)]
    fig = show_images(images, [f"panel {i}" for i in range(5)], ncols=3)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(fig.axes) == 6 and [ax.get_title() for ax in titled] == [f"panel {i}" for i in range(5)]


def test_plot_quality_vs_cbr_curves_points_and_cbr_ticks():
    rng = np.random.default_rng(0)
    cbrs = [1 / 96, 1 / 48, 1 / 24]
    curves = {"HEVC + capacity": {c: rng.random(6) for c in cbrs},
              "HEVC + 5G LDPC": {c: rng.random(6) for c in cbrs}}
    points = {"ours": (1 / 48, np.full(6, 0.3))}
    ax = plot_quality_vs_cbr(curves, "DISTS", points=points)
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "DISTS"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1/96", "1/48", "1/24"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [*curves, "ours"]
    data = [bars.lines[0] for bars in ax.containers]  # one error-bar plot per label
    assert [len(line.get_xdata()) for line in data] == [3, 3, 1]  # our model is a single marker
    assert data[0].get_ydata()[1] == pytest.approx(np.mean(curves["HEVC + capacity"][1 / 48]))
    fig, axes = plt.subplots(1, 2)
    assert plot_quality_vs_cbr(curves, "LPIPS", ax=axes[1]) is axes[1]
