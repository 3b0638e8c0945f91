"""``evaluate``: every metric of a comparison in one call, batched, on lists of any image size."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import torch

from ._checks import check_pair
from .dists_metric import DISTS
from .lpips_metric import LPIPS
from .pixel import chroma_ratio, color_bias, grid_rms, psnr
from .structural import ms_ssim, ssim

#: metric name -> (factory of the callable, True when higher is better)
METRICS = {
    "psnr": (lambda: psnr, True),
    "ssim": (lambda: ssim, True),
    "ms_ssim": (lambda: ms_ssim, True),
    "ms_ssim_gray": (lambda: lambda x, x_hat: ms_ssim(x, x_hat, grayscale=True), True),
    "lpips": (lambda: LPIPS("alex"), False),
    "lpips_vgg": (lambda: LPIPS("vgg"), False),
    "dists": (lambda: DISTS(), False),
    # colour diagnostics (0, 0, 0 and 1 are best; "higher is better" only matters for savings)
    "bias_r": (lambda: lambda x, x_hat: color_bias(x, x_hat, 0), False),
    "bias_g": (lambda: lambda x, x_hat: color_bias(x, x_hat, 1), False),
    "bias_b": (lambda: lambda x, x_hat: color_bias(x, x_hat, 2), False),
    "chroma_ratio": (lambda: chroma_ratio, True),
    "grid": (lambda: grid_rms, False),  # fixed-pattern diagnostic, 8-bit levels RMS: 0 = none
}
DEFAULT_METRICS = ("psnr", "ms_ssim", "lpips", "dists")


def higher_is_better(name: str) -> bool:
    """Whether a larger value of metric ``name`` means a better reconstruction."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; valid names: {', '.join(METRICS)}")
    return METRICS[name][1]


def _as_batches(images, name: str) -> list[torch.Tensor]:
    if isinstance(images, torch.Tensor):
        return [images]
    if isinstance(images, Sequence) and not isinstance(images, (str, bytes)) and images:
        if all(isinstance(im, torch.Tensor) for im in images):
            return list(images)
    raise TypeError(
        f"{name} must be an (N, 3, H, W) tensor or a non-empty list of (n, 3, H, W) tensors, "
        f"got {type(images).__name__}"
    )


def _check_names(metrics) -> tuple[str, ...]:
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"metrics must be a non-empty selection of {', '.join(METRICS)}; got {list(metrics)}")
    return metrics


class Scorer:
    """Scores many reconstructions of the same originals, as sweeps and the explorer do.

    The backbone features of each original (LPIPS, DISTS) are computed once and kept, so a
    reconstruction costs one network pass instead of two; values equal :func:`evaluate`'s.
    Originals are recognised by content (a hash of their pixels), not by object identity.

    Parameters
    ----------
    metrics : names from :data:`METRICS`, as for :func:`evaluate`.
    max_bytes : memory kept for originals' features, least recently used dropped first (DISTS
        keeps ~200 MB per 768x512 image; give enough for every original a sweep cycles through).

    Call
    ----
    ``scorer(x, x_hat) -> {name: (N,) float32 on the CPU}``, ``x, x_hat`` ``(N, 3, H, W)`` in [0, 1].

    Example
    -------
    >>> score = Scorer(("psnr", "lpips"))                          # doctest: +SKIP
    >>> rows = [score(x, model(x, snr)) for snr in (0, 10, 20)]    # x's features computed once
    """

    def __init__(self, metrics: Sequence[str] = DEFAULT_METRICS, max_bytes: int = 2**32):
        self.metrics = _check_names(metrics)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise ValueError(f"max_bytes must be an int >= 0, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self.functions = {name: METRICS[name][0]() for name in self.metrics}
        self._references: OrderedDict = OrderedDict()  # key -> (bytes, {name: features})
        self._lock = threading.Lock()  # callers on several threads (the explorer's prefetch)
        self.hits = self.misses = 0

    def _reference_features(self, x: torch.Tensor) -> dict:
        digest = hashlib.sha1(x.detach().float().cpu().contiguous().numpy().tobytes()).hexdigest()
        key = (digest, tuple(x.shape), str(x.device))
        with self._lock:
            if key in self._references:
                self.hits += 1
                self._references.move_to_end(key)
                return self._references[key][1]
            self.misses += 1
        features = {name: fn.features(x) for name, fn in self.functions.items() if hasattr(fn, "features")}
        size = sum(f.numel() * f.element_size() for fs in features.values() for f in fs)
        with self._lock:
            self._references[key] = (size, features)
            while self._references and sum(v[0] for v in self._references.values()) > self.max_bytes:
                self._references.popitem(last=False)
        return features

    def __call__(self, x: torch.Tensor, x_hat: torch.Tensor) -> dict[str, torch.Tensor]:
        check_pair(x, x_hat)
        with torch.no_grad():
            reference = self._reference_features(x)
            out = {}
            for name, fn in self.functions.items():
                if name in reference:
                    value = fn.from_features(reference[name], fn.features(x_hat))
                else:
                    value = fn(x, x_hat)
                out[name] = value.float().cpu()
        return out


def evaluate(x, x_hat, metrics: Sequence[str] = DEFAULT_METRICS,
             batch_size: int = 4) -> dict[str, torch.Tensor]:
    """Compute several metrics per image, without gradients.

    Input
    -----
    x, x_hat : ``(N, 3, H, W)`` float tensors in ``[0, 1]``, or two lists of the same length of
        ``(n_i, 3, H_i, W_i)`` tensors (e.g. Kodak's landscape and portrait images), paired
        element by element.
    metrics : names from :data:`METRICS`: ``"psnr"``, ``"ssim"``, ``"ms_ssim"`` (RGB-averaged),
        ``"ms_ssim_gray"`` (on the luma), ``"lpips"`` (AlexNet), ``"lpips_vgg"``, ``"dists"``.
        :func:`higher_is_better` tells the direction of each.
    batch_size : images per forward pass (bounds memory for full-size images).

    Output
    ------
    ``{name: (N_total,) float32 tensor on the CPU}`` in the order of ``metrics``.

    Example
    -------
    >>> scores = evaluate(x, x_hat, metrics=("psnr", "lpips"))   # doctest: +SKIP
    >>> {k: v.mean().item() for k, v in scores.items()}          # doctest: +SKIP
    """
    metrics = _check_names(metrics)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    xs, x_hats = _as_batches(x, "x"), _as_batches(x_hat, "x_hat")
    if len(xs) != len(x_hats):
        raise ValueError(f"x and x_hat must be lists of the same length, got {len(xs)} and {len(x_hats)}")
    functions = {name: METRICS[name][0]() for name in metrics}
    results: dict[str, list[torch.Tensor]] = {name: [] for name in metrics}
    with torch.no_grad():
        for a, b in zip(xs, x_hats):
            for start in range(0, max(len(a), 1), batch_size):
                pair = a[start : start + batch_size], b[start : start + batch_size]
                for name, fn in functions.items():
                    results[name].append(fn(*pair).float().cpu())
    return {name: torch.cat(values) for name, values in results.items()}


def markdown_table(rows: dict[str, dict[str, torch.Tensor]], digits: int = 3,
                   label: str = "method") -> str:
    """Markdown table of per-image scores averaged over images, one row per method.

    ``rows`` maps a row label to an :func:`evaluate` result. Column headers carry the metric's
    direction (``psnr ↑``, ``lpips ↓``); PSNR is averaged over images in dB and shown with 2
    decimals, other metrics with ``digits``.
    """
    if not rows:
        raise ValueError("rows is empty; give {label: evaluate(...)} for at least one method")
    names = list(next(iter(rows.values())))
    arrow = {name: "↑" if higher_is_better(name) else "↓" for name in names}
    lines = [f"| {label} | " + " | ".join(f"{n} {arrow[n]}" for n in names) + " |",
             "|---|" + "---:|" * len(names)]
    for row, scores in rows.items():
        cells = [f"{scores[n].float().mean().item():.{2 if n == 'psnr' else digits}f}" for n in names]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
