"""PSNR: the pixel-wise distortion every JSCC paper reports."""

from __future__ import annotations

import torch

from ._checks import check_pair


def psnr(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, per image, over all pixels and the three channels.

    Higher is better; range ``(-inf, +inf]``, in practice 10-50 dB for 8-bit images. The peak
    is 1 (images in ``[0, 1]``), so the value equals the usual 8-bit PSNR with peak 255.

    Input
    -----
    x, x_hat : ``(N, 3, H, W)`` float tensors in ``[0, 1]`` (reference, reconstruction).

    Output
    ------
    ``(N,)`` float32. Identical images give ``+inf`` (an explicit, documented value, not a
    cap): average with care, e.g. ``psnr(x, x_hat).clamp(max=100)`` or the mean MSE.

    Example
    -------
    >>> x = torch.full((1, 3, 8, 8), 0.5)
    >>> psnr(x, x + 0.1).round()
    tensor([20.])
    """
    check_pair(x, x_hat)
    mse = (x.float() - x_hat.float()).square().mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(1.0 / mse)


def color_bias(x: torch.Tensor, x_hat: torch.Tensor, channel: int) -> torch.Tensor:
    """Mean signed colour shift of one RGB ``channel`` (0, 1, 2), per image: ``mean(x_hat - x)``.

    A diagnostic, not a quality score: 0 is best, the sign says which way the colour moved (a
    cyan cast is a negative red and positive blue bias). ``(N, 3, H, W)`` in, ``(N,)`` out.
    """
    check_pair(x, x_hat)
    if channel not in (0, 1, 2):
        raise ValueError(f"channel must be 0, 1 or 2 (R, G, B), got {channel!r}")
    return (x_hat[:, channel].float() - x[:, channel].float()).mean(dim=(1, 2))


def chroma_ratio(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Colourfulness kept, per image: mean chroma ``max(RGB) - min(RGB)`` of ``x_hat`` over that of
    ``x``. 1 is best; below 1 the reconstruction is washed out, above 1 over-saturated.
    ``(N, 3, H, W)`` in, ``(N,)`` out (``nan`` for a grey original)."""
    check_pair(x, x_hat)

    def chroma(im):
        return (im.float().amax(dim=1) - im.float().amin(dim=1)).mean(dim=(1, 2))

    return chroma(x_hat) / chroma(x)


def periodic_error(x: torch.Tensor, x_hat: torch.Tensor, period: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pattern, error)``: the luma error in 8-bit levels, mean removed, cropped from the top left
    to multiples of ``period`` (``(N, H', W')``), and its part that repeats every ``period`` pixels
    (``(N, period, period)``: the error averaged over the pixels of each phase). Unchecked values
    (a training loss sees unclamped ``x_hat``); :func:`fixed_pattern` is the checked metric."""
    if not isinstance(period, int) or period < 2:
        raise ValueError(f"period must be an integer >= 2 (pixels), got {period!r}")
    h, w = (s // period * period for s in x.shape[-2:])
    if min(h, w) < 2 * period:
        raise ValueError(f"images must be at least {2 * period} px per side for period={period} (two repeats), "
                         f"got {tuple(x.shape[-2:])}")
    weights = 255 * torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)
    e = ((x_hat[..., :h, :w].float() - x[..., :h, :w].float()) * weights).sum(1)
    e = e - e.mean(dim=(1, 2), keepdim=True)
    return e.reshape(len(e), h // period, period, w // period, period).mean(dim=(1, 3)), e


def fixed_pattern(x: torch.Tensor, x_hat: torch.Tensor, period: int = 16) -> torch.Tensor:
    """The part of the luma error that repeats every ``period`` pixels: the error averaged over all
    pixels of the same phase ``(i mod period, j mod period)``, in 8-bit levels, mean removed.
    ``(N, 3, H, W)`` in ``[0, 1]`` in, ``(N, period, period)`` out; tile it to see the grid a
    decoder stamps on every image (:func:`grid_rms` is its size)."""
    check_pair(x, x_hat)
    return periodic_error(x, x_hat, period)[0]


def grid_rms(x: torch.Tensor, x_hat: torch.Tensor, period: int = 16) -> torch.Tensor:
    """Fixed-pattern (grid / checkerboard) artefact, per image: the RMS amplitude, in 8-bit levels,
    of the part of the luma error that repeats every ``period`` pixels in both directions.

    A decoder that upsamples from a coarse grid can stamp a faint pattern locked to it (period 16
    for symbols at 1/16 resolution; every 8-, 4- or 2-pixel pattern, the checkerboard included,
    also repeats every 16). That part is :func:`fixed_pattern`; its mean square is corrected for
    the floor a random error of the same power leaves in such an average (``var / n``, ``n``
    pixels per phase), so an error without a grid scores about 0. Measured on 6 Kodak 256 crops at
    CBR 1/48, 10 dB: HEVC 0.2 levels, the published TAEF2 autoencoder alone 0.5, the perceptual
    ADJSCC model that shows a visible fine grid 2.6. A diagnostic, not a quality score.

    Input: ``(N, 3, H, W)`` in ``[0, 1]``, ``H, W >= 2 * period`` (cropped to multiples of
    ``period`` from the top left, where the models' grids start). Output: ``(N,)`` float32.
    """
    check_pair(x, x_hat)
    pattern, e = periodic_error(x, x_hat, period)
    floor = e.square().mean(dim=(1, 2)) / (e.shape[1] * e.shape[2] / period**2)
    return (pattern.square().mean(dim=(1, 2)) - floor).clamp_min(0).sqrt()
