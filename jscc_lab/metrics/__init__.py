"""Image quality metrics, all in the image convention of DESIGN.md.

Every metric takes ``(x, x_hat)``: reference and reconstruction, ``(N, 3, H, W)`` float tensors
in ``[0, 1]`` on one device, and returns a per-image ``(N,)`` tensor. Wrong types raise
``TypeError``, wrong shapes or values outside ``[0, 1]`` raise ``ValueError`` naming the argument.

=================  ==========  =====================================================
metric             better      notes
=================  ==========  =====================================================
:func:`psnr`       higher      dB, ``+inf`` for identical images
:func:`color_bias` 0           signed mean shift of one RGB channel (diagnostic)
:func:`chroma_ratio` 1         colourfulness kept (diagnostic)
:func:`grid_rms`   0           grid / checkerboard in the error, 8-bit levels (diagnostic)
:func:`fixed_pattern`          that grid itself, ``(N, period, period)``
:func:`ssim`       higher      ``[-1, 1]``, single scale, any image >= 11x11
:func:`ms_ssim`    higher      ``[0, 1]``, RGB-averaged or ``grayscale=True``; side > 160
:class:`LPIPS`     lower       ``[0, ~1]``, ``"alex"`` (evaluation) or ``"vgg"`` (loss)
:class:`DISTS`     lower       ``[0, 1]``, VGG16 structure + texture
:func:`evaluate`               several of them at once, batched, on lists of images
:class:`Scorer`                many reconstructions of one original, its features computed once
=================  ==========  =====================================================

LPIPS and DISTS need ImageNet backbone weights: ``$JSCC_LAB_DATA/weights`` first, then
torchvision's cache and download (never under ``JSCC_LAB_OFFLINE=1``); see
:mod:`jscc_lab.metrics.backbones`.

Example
-------
>>> import torch
>>> from jscc_lab.metrics import psnr, ms_ssim
>>> x = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
>>> x_hat = (x + 0.05 * torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
>>> round(psnr(x, x_hat).item(), 1)
26.2
"""

from .backbones import BackboneWeightsMissing, backbone_features
from .dists_metric import DISTS
from .evaluation import DEFAULT_METRICS, METRICS, Scorer, evaluate, higher_is_better, markdown_table
from .lpips_metric import LPIPS
from .pixel import chroma_ratio, color_bias, fixed_pattern, grid_rms, psnr
from .structural import MS_SSIM_MIN_SIDE, luma, ms_ssim, ssim

__all__ = [
    "psnr",
    "color_bias",
    "chroma_ratio",
    "grid_rms",
    "fixed_pattern",
    "ssim",
    "ms_ssim",
    "luma",
    "LPIPS",
    "DISTS",
    "evaluate",
    "Scorer",
    "higher_is_better",
    "markdown_table",
    "METRICS",
    "DEFAULT_METRICS",
    "MS_SSIM_MIN_SIDE",
    "BackboneWeightsMissing",
    "backbone_features",
]
