"""SSIM and MS-SSIM (Wang et al. 2003/2004) through the maintained ``pytorch-msssim`` package.

Colour convention: by default both are computed on R, G and B separately and averaged over the
channels, as deep JSCC papers report them. ``grayscale=True`` computes them on the luma
``0.2989 R + 0.5870 G + 0.1140 B`` (MATLAB's ``rgb2gray``), the convention of the authors'
MATLAB code and of the calibration values in ``$JSCC_LAB_DATA/calibration``; on those pairs the
two conventions differ by up to 0.05, so always say which one a table uses.
"""

from __future__ import annotations

import torch

from ._checks import check_pair

#: Gaussian window of the reference implementation: 11 taps, sigma 1.5
WIN_SIZE = 11
#: MS-SSIM scale weights of Wang, Simoncelli & Bovik (2003), finest scale first
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: the smaller image side must exceed this for 5 scales: (11 - 1) * 2**4
MS_SSIM_MIN_SIDE = (WIN_SIZE - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1)

_LUMA = (0.2989, 0.5870, 0.1140)


def luma(x: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` RGB -> ``(N, 1, H, W)`` luma ``0.2989 R + 0.5870 G + 0.1140 B`` (rgb2gray)."""
    weights = x.new_tensor(_LUMA).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


def _prepare(x, x_hat, grayscale: bool):
    check_pair(x, x_hat)
    if not isinstance(grayscale, bool):
        raise TypeError(f"grayscale must be True or False, got {grayscale!r}")
    x, x_hat = x.float(), x_hat.float()
    if grayscale:
        x, x_hat = luma(x), luma(x_hat)
    return x, x_hat


def ssim(x: torch.Tensor, x_hat: torch.Tensor, grayscale: bool = False) -> torch.Tensor:
    """Single-scale SSIM per image (11x11 Gaussian window, sigma 1.5, K = (0.01, 0.03)).

    Higher is better; range ``[-1, 1]``, 1 for identical images. Works on images of at least
    11x11 pixels (use it where :func:`ms_ssim` says the image is too small).

    Input
    -----
    x, x_hat : ``(N, 3, H, W)`` float tensors in ``[0, 1]``.
    grayscale : compute on the luma instead of averaging over R, G, B (see the module doc).

    Output
    ------
    ``(N,)`` float32.
    """
    import pytorch_msssim

    x, x_hat = _prepare(x, x_hat, grayscale)
    if min(x.shape[-2:]) < WIN_SIZE:
        raise ValueError(
            f"ssim needs images of at least {WIN_SIZE}x{WIN_SIZE} pixels (its Gaussian window), "
            f"got {tuple(x.shape[-2:])}"
        )
    return pytorch_msssim.ssim(x, x_hat, data_range=1.0, size_average=False, win_size=WIN_SIZE)


def ms_ssim(x: torch.Tensor, x_hat: torch.Tensor, grayscale: bool = False) -> torch.Tensor:
    """Multi-scale SSIM per image: 5 scales with the weights of Wang et al. (2003).

    Higher is better; range ``[0, 1]``, 1 for identical images (often reported in dB as
    ``-10 log10(1 - ms_ssim)``).

    Colour: by default MS-SSIM is computed on R, G and B separately and averaged over the three
    channels (the convention of deep JSCC papers); ``grayscale=True`` computes it on the luma
    ``0.2989 R + 0.5870 G + 0.1140 B``, the convention of the authors' MATLAB code and of the
    reference values in ``$JSCC_LAB_DATA/calibration`` (they differ by up to 0.05).

    Small images: the four 2x downsamplings need the smaller side to exceed 160 pixels
    (:data:`MS_SSIM_MIN_SIDE`); smaller images raise ``ValueError`` rather than silently
    computing a different metric. Evaluate larger crops, or use :func:`ssim` and say so.

    Input
    -----
    x, x_hat : ``(N, 3, H, W)`` float tensors in ``[0, 1]``.
    grayscale : compute on the luma instead of averaging over R, G, B.

    Output
    ------
    ``(N,)`` float32.

    Example
    -------
    >>> x = torch.rand(2, 3, 192, 192, generator=torch.Generator().manual_seed(0))
    >>> ms_ssim(x, x)
    tensor([1., 1.])
    """
    import pytorch_msssim

    x, x_hat = _prepare(x, x_hat, grayscale)
    if min(x.shape[-2:]) <= MS_SSIM_MIN_SIDE:
        raise ValueError(
            f"ms_ssim needs images whose smaller side exceeds {MS_SSIM_MIN_SIDE} pixels (5 scales "
            f"of an {WIN_SIZE}-pixel window), got {tuple(x.shape[-2:])}; evaluate larger crops "
            "(e.g. 256x256) or use jscc_lab.metrics.ssim for small images"
        )
    return pytorch_msssim.ms_ssim(
        x, x_hat, data_range=1.0, size_average=False, win_size=WIN_SIZE,
        weights=list(MS_SSIM_WEIGHTS),
    )
