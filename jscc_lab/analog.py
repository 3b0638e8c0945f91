"""Uncoded analog transmission: pixels sent directly as channel symbols (CBR = 1/2).

Each pair of (mean-removed) pixel values becomes one complex symbol, scaled to unit power, sent
through a channel, and scaled back. It is the simplest joint source-channel scheme: no
compression at all, yet it degrades gracefully with SNR, the property deep JSCC keeps at far
lower bandwidth.
"""

from __future__ import annotations

import torch

from .channels import AWGN, complex_to_real, real_to_complex

__all__ = ["analog_transmit"]


def analog_transmit(x: torch.Tensor, snr_db, channel=None, generator=None, lmmse: bool = False) -> torch.Tensor:
    """Send images ``x`` ``(N, 3, H, W)`` as ``3HW/2`` complex symbols each; return ``x_hat``.

    ``channel`` defaults to :class:`~jscc_lab.channels.AWGN`. The receiver knows each image's
    mean and power scale (two side numbers per image, not counted in the CBR). Output is
    clamped to ``[0, 1]``. ``lmmse=True``: over AWGN the receiver shrinks what it receives by
    ``SNR / (1 + SNR)``, the linear MMSE estimate of a unit-power symbol, the estimate a
    :class:`~jscc_lab.channels.RayleighFading` channel's MMSE equaliser already makes per fade
    (so the two receivers compare like with like); without it the AWGN receiver takes ``y`` as is.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"x must be a (N, 3, H, W) image tensor, got {getattr(x, 'shape', type(x))}")
    if x.shape[1] * x.shape[2] * x.shape[3] % 2:
        raise ValueError(f"3*H*W must be even to pair pixels into complex symbols, got {tuple(x.shape)}")
    channel = AWGN() if channel is None else channel
    flat = x.reshape(x.shape[0], -1).float()
    mean = flat.mean(dim=1, keepdim=True)
    centred = flat - mean
    scale = centred.square().mean(dim=1, keepdim=True).sqrt().clamp_min(1e-8) * (2**0.5)
    # unit power per complex symbol: each carries two reals of variance scale^2 / 2
    s = real_to_complex(centred / scale)
    y = channel(s, snr_db, generator=generator)
    if lmmse and isinstance(channel, AWGN):
        snr = 10 ** (torch.as_tensor(snr_db, dtype=torch.float32).reshape(-1, 1) / 10)
        y = y * (snr / (1 + snr))
    x_hat = complex_to_real(y) * scale + mean
    return x_hat.reshape_as(x).clamp(0, 1)
