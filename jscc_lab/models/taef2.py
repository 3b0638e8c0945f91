"""TAEF2: a tiny pretrained image autoencoder (Ollin Boer Bohan, MIT licence), ported.

A conv-only encoder maps an RGB image in ``[0, 1]`` to a **32-channel latent at 1/8
resolution**; a GAN-trained decoder maps it back. Each half has about 1.34 M parameters and costs
about 0.5 MFLOP per pixel. Sent as analog symbols, the latent is exactly CBR 1/12
(``32 * HW / 64`` reals = ``HW / 4`` complex symbols for ``3 HW`` source values).

The layout follows the published weights (``madebyollin/taesd``, files ``taef2_encoder.pth`` and
``taef2_decoder.pth``; found by :mod:`jscc_lab.weights`) and loads them with a strict
``load_state_dict``, so any mismatch is an error, never a partly random network:

* ``Block``: ``relu(conv3(relu(conv3(relu(conv3(x))))) + x)``; a *mid-block* first adds
  ``conv1x1(relu(GroupNorm(4)(conv1x1(x -> 4C)))) `` to ``x``.
* encoder: conv3(3->64), Block, then 3 x [conv3 stride 2 (no bias), 3 Blocks] (the last three
  are mid-blocks), conv3(64->32).
* decoder: ``3 tanh(z / 3)``, conv3(32->64), ReLU, 3 mid-blocks, then 3 x [nearest x2,
  conv3 (no bias), Blocks (3, 3, 1)], conv3(64->3).

Example
-------
>>> import torch
>>> from jscc_lab.models.taef2 import TAEF2Encoder, TAEF2Decoder
>>> enc, dec = TAEF2Encoder(), TAEF2Decoder()        # random weights; taef2() loads the real ones
>>> z = enc(torch.rand(1, 3, 64, 64)); z.shape
torch.Size([1, 32, 8, 8])
>>> dec(z).shape
torch.Size([1, 3, 64, 64])
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import FP32Conv2d

__all__ = ["TAEF2Encoder", "TAEF2Decoder", "taef2", "LATENT_CHANNELS", "DOWNSAMPLE"]

#: latent channels and spatial downsampling of TAEF2
LATENT_CHANNELS, DOWNSAMPLE = 32, 8
_W = 64  # feature width of every block


def _conv(c_in: int, c_out: int, **kwargs) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1, **kwargs)


class _Block(nn.Module):
    """Residual block of TAESD: three 3x3 convs with ReLUs plus the input; optional mid-block
    channel mixer (1x1 -> GroupNorm(4) -> ReLU -> 1x1) added first. Shape-preserving."""

    def __init__(self, channels: int = _W, mid: bool = False):
        super().__init__()
        self.conv = nn.Sequential(_conv(channels, channels), nn.ReLU(), _conv(channels, channels),
                                  nn.ReLU(), _conv(channels, channels))
        self.skip = nn.Identity()
        self.fuse = nn.ReLU()
        self.pool = None
        if mid:
            hidden = 4 * channels
            self.pool = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.GroupNorm(4, hidden),
                                      nn.ReLU(), nn.Conv2d(hidden, channels, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + self.skip(x))


class _Clamp(nn.Module):
    """Soft clamp ``3 tanh(z / 3)`` the decoder applies to its input latent."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z / 3) * 3


class TAEF2Encoder(nn.Sequential):
    """Images ``(N, 3, H, W)`` in ``[0, 1]`` -> latent ``(N, 32, H/8, W/8)`` (H, W multiples of 8)."""

    def __init__(self):
        layers = [FP32Conv2d(3, _W, 3, padding=1), _Block()]  # the image in: fp32 under autocast
        for stage in range(3):
            layers += [_conv(_W, _W, stride=2, bias=False)] + [_Block(mid=stage == 2) for _ in range(3)]
        layers.append(_conv(_W, LATENT_CHANNELS))
        super().__init__(*layers)


class TAEF2Decoder(nn.Sequential):
    """Latent ``(N, 32, h, w)`` -> images ``(N, 3, 8h, 8w)`` (unclamped; about ``[0, 1]``)."""

    def __init__(self):
        layers = [_Clamp(), _conv(LATENT_CHANNELS, _W), nn.ReLU()] + [_Block(mid=True) for _ in range(3)]
        for blocks in (3, 3, 1):
            layers += [nn.Upsample(scale_factor=2), _conv(_W, _W, bias=False)]
            layers += [_Block() for _ in range(blocks)]
        layers.append(FP32Conv2d(_W, 3, 3, padding=1))  # the image out: fp32 under autocast
        super().__init__(*layers)


def taef2(pretrained: bool = True) -> tuple[TAEF2Encoder, TAEF2Decoder]:
    """``(encoder, decoder)`` of TAEF2 in float32, with the published weights (strict load).

    The weight files come from :func:`jscc_lab.weights.load_weights` (``$JSCC_LAB_DATA/weights``
    first, then a pinned, hash-checked download); ``pretrained=False`` gives random weights.
    """
    encoder, decoder = TAEF2Encoder(), TAEF2Decoder()
    if pretrained:
        from ..weights import load_weights

        encoder.load_state_dict(load_weights("taef2_encoder"), strict=True)
        decoder.load_state_dict(load_weights("taef2_decoder"), strict=True)
    return encoder, decoder
