"""ADJSCC-style SNR-adaptive deep JSCC (Xu, Ai, Chen, Yang, Wang & Wang, IEEE TCSVT 2021).

The backbone the perceptual paper's code builds on: x4 downsampling, GDN / IGDN with PReLU,
and an SNR attention (AF) module after every hidden layer so that **one model serves a range
of SNRs** (trained with the SNR sampled per image). ``width=256`` is the paper's model;
narrower widths share the code and train on a CPU.
"""

from __future__ import annotations

from torch import nn

from ..channels import latent_channels as _latent_channels
from .base import JSCCModel
from .layers import GDN, SNRAttention, conv, deconv, init_conv_weights

__all__ = ["ADJSCC", "ADJSCCEncoder", "ADJSCCDecoder"]


class _Stage(nn.Module):
    """conv -> GDN (or IGDN) -> PReLU -> SNR attention."""

    def __init__(self, layer: nn.Module, channels: int, inverse: bool):
        super().__init__()
        self.layer = layer
        self.gdn = GDN(channels, inverse=inverse)
        self.act = nn.PReLU(channels)
        self.attention = SNRAttention(channels)

    def forward(self, x, snr_db):
        return self.attention(self.act(self.gdn(self.layer(x))), snr_db)


class ADJSCCEncoder(nn.Module):
    """Image ``(N, 3, H, W)`` + SNR ``(N,)`` -> real latent ``(N, C, H/4, W/4)``.

    9x9/2, 5x5/2, then three 5x5/1 convs (the last one to ``C`` channels, no activation:
    power normalisation follows).
    """

    def __init__(self, latent_channels: int, width: int = 256):
        super().__init__()
        self.stages = nn.ModuleList([
            _Stage(conv(3, width, 9, 2), width, inverse=False),
            _Stage(conv(width, width, 5, 2), width, inverse=False),
            _Stage(conv(width, width, 5, 1), width, inverse=False),
            _Stage(conv(width, width, 5, 1), width, inverse=False),
        ])
        self.head = conv(width, latent_channels, 5, 1)

    def forward(self, x, snr_db):
        for stage in self.stages:
            x = stage(x, snr_db)
        return self.head(x)


class ADJSCCDecoder(nn.Module):
    """Real latent ``(N, C, h, w)`` + SNR ``(N,)`` -> image ``(N, 3, 4h, 4w)`` in ``[0, 1]``."""

    def __init__(self, latent_channels: int, width: int = 256):
        super().__init__()
        self.stages = nn.ModuleList([
            _Stage(deconv(latent_channels, width, 5, 1), width, inverse=True),
            _Stage(deconv(width, width, 5, 1), width, inverse=True),
            _Stage(deconv(width, width, 5, 1), width, inverse=True),
            _Stage(deconv(width, width, 5, 2), width, inverse=True),
        ])
        self.head = deconv(width, 3, 9, 2)

    def forward(self, z, snr_db):
        for stage in self.stages:
            z = stage(z, snr_db)
        return self.head(z).sigmoid()


class ADJSCC(JSCCModel):
    """SNR-adaptive deep JSCC with GDN and attention modules (ADJSCC, Xu et al. 2021).

    Parameters
    ----------
    cbr : channel bandwidth ratio; ``C = 96 * cbr`` latent channels (``1/12`` -> 8,
        ``1/48`` -> 2); valid CBRs are multiples of 1/96.
    width : feature channels of the hidden layers (paper: 256; 64 trains on a CPU).
    channel : channel module (default AWGN; e.g. ``RayleighFading()``).
    default_snr_db : SNR assumed by ``encode(x)`` / ``decode(y)`` when none is given.

    Call: ``model(x, snr_db, generator=None) -> x_hat``; ``encode(x, snr_db=None) -> s``
    ``(N, k)`` complex with unit power per image; ``decode(y, snr_db, size=None) -> x_hat``.

    Example
    -------
    >>> import torch
    >>> model = ADJSCC(cbr=1/12, width=32)
    >>> x = torch.rand(1, 3, 37, 53)
    >>> model(x, torch.tensor([5.0])).shape
    torch.Size([1, 3, 37, 53])
    """

    def __init__(self, cbr="1/12", width: int = 256, channel: nn.Module | None = None,
                 default_snr_db: float = 10.0):
        c = _latent_channels(cbr, downsample=4)
        super().__init__(latent_channels=c, downsample=4, channel=channel,
                         default_snr_db=default_snr_db)
        self.width = width
        self.encoder = ADJSCCEncoder(c, width)
        self.decoder = ADJSCCDecoder(c, width)
        init_conv_weights(self)
