"""The from-scratch alternative to :class:`~jscc_lab.models.taejscc.TAEJSCC`: the same channel
layers around a learned (not pretrained) analysis / synthesis transform.

What the literature uses at low CBR (NTSCC, WITT, SwinJSCC send a grid at 1/16 resolution) is a
transform trained end to end with the channel. Here the pretrained TAEF2 encoder and decoder are
replaced by Balle-style transforms of ``transform_width`` channels (three 5x5 stride-2
convolutions with GDN down to a 32-channel latent at 1/8 resolution; transposed convolutions with
inverse GDN back up), randomly initialised; everything else is TAEJSCC's: the latent regrouped to
128 channels at 1/16, SNR- and CBR-conditioned residual adapters, symbols ordered by importance
(the first ``m`` of 128 sent for CBR ``m / 1536``), power normalisation, any channel, one
rate-adaptive checkpoint for ``model.cbrs``. So the two families differ only in where the image
transform comes from, which is what the comparison on equal CPU time measures.

Example
-------
>>> import torch
>>> from jscc_lab.models.scratchjscc import ScratchJSCC
>>> model = ScratchJSCC(width=32, blocks=1, transform_width=32)
>>> model(torch.rand(2, 3, 64, 64), 10.0, cbr="1/48").shape
torch.Size([2, 3, 64, 64])
"""

from __future__ import annotations

from torch import nn

from .layers import GDN, conv, deconv
from .taef2 import LATENT_CHANNELS
from .taejscc import DEFAULT_CBRS, TAEJSCC

__all__ = ["ScratchJSCC", "AnalysisTransform", "SynthesisTransform"]


class AnalysisTransform(nn.Sequential):
    """Images ``(N, 3, H, W)`` -> latent ``(N, 32, H/8, W/8)``: three 5x5 stride-2 convs with GDN,
    then a 3x3 conv to the 32 latent channels (``H``, ``W`` multiples of 8)."""

    def __init__(self, width: int = 128):
        super().__init__(conv(3, width, 5, 2), GDN(width), conv(width, width, 5, 2), GDN(width),
                         conv(width, width, 5, 2), GDN(width), conv(width, LATENT_CHANNELS, 3))


class SynthesisTransform(nn.Sequential):
    """Latent ``(N, 32, h, w)`` -> images ``(N, 3, 8h, 8w)`` (unclamped; the last bias starts at
    0.5, mid-grey): a 3x3 conv, then three 5x5 stride-2 transposed convs with inverse GDN."""

    def __init__(self, width: int = 128):
        super().__init__(conv(LATENT_CHANNELS, width, 3), GDN(width, inverse=True),
                         deconv(width, width, 5, 2), GDN(width, inverse=True),
                         deconv(width, width, 5, 2), GDN(width, inverse=True), deconv(width, 3, 5, 2))
        nn.init.constant_(self[-1].bias, 0.5)


class ScratchJSCC(TAEJSCC):
    """TAEJSCC with learned transforms instead of TAEF2 (see the module docstring).

    Parameters
    ----------
    width, blocks, cbrs, channel, default_snr_db, default_cbr, cond_dim : as for
        :class:`~jscc_lab.models.taejscc.TAEJSCC` (the adapters, the CBRs served).
    transform_width : channels of the analysis and synthesis transforms.

    Call and contract exactly as :class:`~jscc_lab.models.taejscc.TAEJSCC` (``forward``,
    ``encode``, ``decode`` with ``cbr=``; ``model.cbrs``); ``ae_encoder`` / ``ae_decoder`` are the
    learned transforms, trained with everything else.
    """

    published_weights: dict = {}  # every weight is learned: nothing is left to a published file

    def __init__(self, width: int = 192, blocks: int = 4, cbrs=DEFAULT_CBRS, channel: nn.Module | None = None,
                 default_snr_db: float = 10.0, default_cbr: str | None = None, cond_dim: int = 64,
                 transform_width: int = 128):
        if isinstance(transform_width, bool) or not isinstance(transform_width, int) or transform_width < 1:
            raise ValueError(f"transform_width must be an int >= 1, got {transform_width!r}")
        super().__init__(width=width, blocks=blocks, cbrs=cbrs, channel=channel, default_snr_db=default_snr_db,
                         default_cbr=default_cbr, pretrained=False, cond_dim=cond_dim)
        self.transform_width = transform_width
        self.ae_encoder = AnalysisTransform(transform_width)
        self.ae_decoder = SynthesisTransform(transform_width)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, transform_width={self.transform_width}"
