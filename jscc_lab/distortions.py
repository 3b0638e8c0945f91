"""Reference distortions for studying quality metrics: blur, noise, JPEG and HEVC-intra.

Every function takes images in the convention of DESIGN.md (``(N, 3, H, W)`` float in
``[0, 1]``) and returns images of the same shape and range. The codecs run at a fixed
*quality* setting and also report the bits they spent; coding at a target bit budget (the
separate source-channel baseline) lives in :mod:`jscc_lab.baselines`.

Example
-------
>>> import torch
>>> from jscc_lab.distortions import gaussian_blur, gaussian_noise, jpeg
>>> x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
>>> gaussian_blur(x, 2.0).shape
torch.Size([1, 3, 64, 64])
>>> x_hat, bpp = jpeg(x, quality=50)
>>> bpp.shape
torch.Size([1])
"""

from __future__ import annotations

import io
import math
import numbers

import torch
import torch.nn.functional as F

from .channels import make_generator
from .data import to_image, to_tensor

__all__ = ["gaussian_blur", "gaussian_noise", "misplaced_detail", "jpeg", "hevc_intra", "codec_round_trip"]

#: Pillow format name and the quality range of each codec
CODECS = {"jpeg": ("JPEG", 1, 95), "hevc_intra": ("HEIF", 0, 100)}


def _check_images(x) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (N, 3, H, W), got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"x must have shape (N, 3, H, W), got {tuple(x.shape)}")
    if x.is_complex() or not x.is_floating_point():
        raise TypeError(f"x must be a real floating-point tensor in [0, 1], got {x.dtype}")


def _check_sigma(sigma, name: str = "sigma") -> float:
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {sigma!r}")
    return float(sigma)


def _gaussian_kernel(sigma: float, device, dtype) -> torch.Tensor:
    radius = max(1, math.ceil(3.0 * sigma))
    t = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur with an isotropic Gaussian of standard deviation ``sigma`` pixels (``0`` = no blur).

    The kernel spans ``+-ceil(3 sigma)`` pixels; borders are mirrored (reflect padding), so the
    image must be larger than the kernel radius. Output: ``(N, 3, H, W)`` in ``[0, 1]``.
    """
    _check_images(x)
    sigma = _check_sigma(sigma)
    if sigma == 0:
        return x.clone()
    kernel = _gaussian_kernel(sigma, x.device, x.dtype)
    radius = len(kernel) // 2
    if radius >= min(x.shape[-2:]):
        raise ValueError(
            f"sigma={sigma:g} needs images larger than {radius} pixels (3 sigma), got {tuple(x.shape[-2:])}"
        )
    n, c, h, w = x.shape
    out = x.reshape(n * c, 1, h, w)
    out = F.conv2d(F.pad(out, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    out = F.conv2d(F.pad(out, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
    return out.reshape(n, c, h, w).clamp(0, 1)


def gaussian_noise(x: torch.Tensor, sigma: float, generator=None) -> torch.Tensor:
    """Add i.i.d. Gaussian noise of standard deviation ``sigma`` (in ``[0, 1]`` units; 8-bit
    noise of std 5 is ``sigma = 5/255``), then clamp to ``[0, 1]`` as a display would.

    ``generator``: ``None``, an int seed or a ``torch.Generator`` (reproducible noise).
    """
    _check_images(x)
    sigma = _check_sigma(sigma)
    generator = make_generator(generator, device=x.device)
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (x + sigma * noise).clamp(0, 1)


def misplaced_detail(x: torch.Tensor, sigma: float, shift: int = 4) -> torch.Tensor:
    """Blur, then add back the image's own fine detail taken ``shift`` pixels away.

    The result is as sharp as the original and its texture has the right statistics, but the
    detail is in the wrong place: a stand-in for the plausible texture a generative decoder
    invents. If the detail ``r = x - blur(x)`` and its shifted copy are uncorrelated, the error
    doubles compared with the blurred image (about -3 dB PSNR), the price Blau & Michaeli (2018)
    prove perfect realism can cost. Output: ``(N, 3, H, W)`` in ``[0, 1]``.
    """
    _check_images(x)
    if isinstance(shift, bool) or not isinstance(shift, numbers.Integral) or shift < 1:
        raise ValueError(f"shift must be an int >= 1 (pixels), got {shift!r}")
    blurred = gaussian_blur(x, sigma)
    detail = x - blurred
    moved = torch.roll(detail, shifts=(int(shift), int(shift)), dims=(-2, -1))
    return (blurred + moved).clamp(0, 1)


def codec_round_trip(x: torch.Tensor, codec: str, quality: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode each image with ``codec`` at ``quality`` in memory, decode it, count the bits.

    Parameters
    ----------
    codec : ``"jpeg"`` (Pillow/libjpeg, 4:2:0, quality 1-95) or ``"hevc_intra"`` (HEIF via
        pillow-heif/x265, quality 0-100; the open stand-in for BPG).
    quality : the codec's quality knob (higher = more bits, better image).

    Output
    ------
    ``(x_hat, bpp)``: ``(N, 3, H, W)`` decoded images in ``[0, 1]`` (8-bit precision) and
    ``(N,)`` bits per pixel of each file, container headers included.
    """
    _check_images(x)
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {', '.join(CODECS)}, got {codec!r}")
    fmt, low, high = CODECS[codec]
    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral) or not low <= quality <= high:
        raise ValueError(f"quality for {codec} must be an int in [{low}, {high}], got {quality!r}")
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    from PIL import Image

    images = to_image(x.detach().cpu())
    images = [images] if len(x) == 1 else images
    decoded, bpp = [], []
    for image in images:
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, quality=int(quality))
        bpp.append(8.0 * buffer.tell() / (image.width * image.height))
        buffer.seek(0)
        with Image.open(buffer) as im:
            decoded.append(to_tensor(im.convert("RGB")))
    x_hat = torch.cat(decoded).to(device=x.device, dtype=x.dtype)
    return x_hat, torch.tensor(bpp, dtype=torch.float32)


def jpeg(x: torch.Tensor, quality: int) -> tuple[torch.Tensor, torch.Tensor]:
    """JPEG round trip at ``quality`` (1-95): ``(x_hat, bpp)``; see :func:`codec_round_trip`."""
    return codec_round_trip(x, "jpeg", quality)


def hevc_intra(x: torch.Tensor, quality: int) -> tuple[torch.Tensor, torch.Tensor]:
    """HEVC-intra (HEIF) round trip at ``quality`` (0-100): ``(x_hat, bpp)``; see
    :func:`codec_round_trip`."""
    return codec_round_trip(x, "hevc_intra", quality)
