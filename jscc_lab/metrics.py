"""Image quality metrics. Each takes ``(x, x_hat)`` in the image convention of DESIGN.md
(``(N, 3, H, W)`` float in ``[0, 1]``) and returns a per-image tensor of shape ``(N,)``.
"""

from __future__ import annotations

import torch

__all__ = ["psnr"]


def _check_pair(x, x_hat):
    for name, t in (("x", x), ("x_hat", x_hat)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape (N, 3, H, W), got {type(t).__name__}")
        if t.ndim != 4 or t.shape[1] != 3:
            raise ValueError(f"{name} must have shape (N, 3, H, W), got {tuple(t.shape)}")
        if t.is_complex() or not t.is_floating_point():
            raise TypeError(f"{name} must be a real floating-point tensor in [0, 1], got {t.dtype}")
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}")


def psnr(x: torch.Tensor, x_hat: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, per image, over all pixels and channels. Higher is better.

    ``x_hat`` is clamped to ``[0, data_range]`` first (what a viewer would display). Identical
    images give ``+inf``. Output: ``(N,)``.
    """
    _check_pair(x, x_hat)
    mse = (x.float() - x_hat.float().clamp(0, data_range)).square().mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(data_range**2 / mse)
