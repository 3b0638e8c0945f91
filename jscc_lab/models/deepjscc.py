"""Deep JSCC of Bourtsoulatze, Kurka & Gunduz (2019), the classic teaching model.

Five 5x5 conv layers with PReLU down (x4), five transposed convs up, sigmoid output; the
encoder output is power-normalised and sent as complex symbols. Trained at one SNR it still
degrades gracefully at others (no SNR input). Small enough for CIFAR-10 on a laptop.
"""

from __future__ import annotations

from torch import nn

from ..channels import latent_channels as _latent_channels
from .base import JSCCModel
from .layers import conv, deconv, init_conv_weights

__all__ = ["DeepJSCC"]


class _Chain(nn.Module):
    """``nn.Sequential`` that ignores the SNR argument (the 2019 model is not SNR-aware)."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x, snr_db=None):
        return self.layers(x)


class DeepJSCC(JSCCModel):
    """Bourtsoulatze et al. (2019) deep JSCC: conv encoder/decoder, x4 downsampling, PReLU.

    Parameters
    ----------
    cbr : channel bandwidth ratio (``1/12``, ``"1/6"``, ...); sets ``C = 96 * cbr`` latent
        channels (see :func:`jscc_lab.channels.latent_channels`).
    width : channels of the inner layers (paper: 32; the first layer has ``width // 2``).
    channel : channel module (default AWGN).

    Call: ``model(x, snr_db, generator=None) -> x_hat``; ``encode(x) -> s`` ``(N, k)`` complex;
    ``decode(y, snr_db) -> x_hat``.

    Example
    -------
    >>> import torch
    >>> model = DeepJSCC(cbr="1/6")
    >>> model(torch.rand(2, 3, 32, 32), 10.0).shape
    torch.Size([2, 3, 32, 32])
    """

    def __init__(self, cbr="1/6", width: int = 32, channel: nn.Module | None = None):
        c = _latent_channels(cbr, downsample=4)
        super().__init__(latent_channels=c, downsample=4, channel=channel)
        w1, w = width // 2, width
        self.encoder = _Chain(
            conv(3, w1, 5, 2), nn.PReLU(w1),
            conv(w1, w, 5, 2), nn.PReLU(w),
            conv(w, w, 5, 1), nn.PReLU(w),
            conv(w, w, 5, 1), nn.PReLU(w),
            conv(w, c, 5, 1), nn.PReLU(c),
        )
        self.decoder = _Chain(
            deconv(c, w, 5, 1), nn.PReLU(w),
            deconv(w, w, 5, 1), nn.PReLU(w),
            deconv(w, w, 5, 1), nn.PReLU(w),
            deconv(w, w1, 5, 2), nn.PReLU(w1),
            deconv(w1, 3, 5, 2), nn.Sigmoid(),
        )
        init_conv_weights(self)
