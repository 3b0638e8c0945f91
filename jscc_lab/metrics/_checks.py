"""Argument checks shared by every metric: the image convention of DESIGN.md."""

from __future__ import annotations

import torch

# float32 round-off of images stored as 8-bit / 255 can land a hair outside [0, 1]
RANGE_TOLERANCE = 1e-5


def check_image(t, name: str) -> None:
    """Raise ``TypeError`` / ``ValueError`` unless ``t`` is a real ``(N, 3, H, W)`` tensor in [0, 1]."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, 3, H, W), got {type(t).__name__}")
    if t.ndim != 4 or t.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3, H, W), got {tuple(t.shape)}")
    if t.is_complex() or not t.is_floating_point():
        raise TypeError(f"{name} must be a real floating-point tensor in [0, 1], got {t.dtype}")
    if t.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)}); give at least one 1x1 image")
    with torch.no_grad():
        low, high = torch.aminmax(t.detach())
        low, high = float(low), float(high)
    if not (low == low and high == high) or abs(low) == float("inf") or abs(high) == float("inf"):
        raise ValueError(f"{name} contains NaN or infinite values")
    if low < -RANGE_TOLERANCE or high > 1.0 + RANGE_TOLERANCE:
        raise ValueError(
            f"{name} has values in [{low:.4g}, {high:.4g}]; images must lie in [0, 1] "
            f"(clamp a reconstruction with {name}.clamp(0, 1), divide 8-bit data by 255)"
        )


def check_pair(x, x_hat) -> None:
    """Check both images and that they have the same shape and device."""
    check_image(x, "x")
    check_image(x_hat, "x_hat")
    if x.shape != x_hat.shape:
        raise ValueError(
            f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}"
        )
    if x.device != x_hat.device:
        raise ValueError(f"x and x_hat must be on the same device, got {x.device} and {x_hat.device}")
