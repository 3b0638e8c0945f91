"""The shared JSCC system skeleton: encode -> power normalisation -> channel -> decode.

Subclasses only provide ``self.encoder(x, snr_db) -> z`` (real latent ``(N, C, H/d, W/d)``) and
``self.decoder(z, snr_db) -> x_hat``; padding, the real <-> complex mapping, the power
constraint, the CBR bookkeeping and the channel live here once.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..channels import AWGN, cbr_of_latent, complex_to_real, normalize_power, real_to_complex
from .layers import crop_to, pad_to_multiple, snr_tensor

__all__ = ["JSCCModel", "AtCBR", "check_images"]


#: how far outside [0, 1] an image may stray (round-off of 8-bit data / 255, resampling)
RANGE_TOLERANCE = 1e-3


def check_images(x) -> None:
    """Refuse what is not a batch of images ``(N, 3, H, W)``, real, finite and in ``[0, 1]``
    (within :data:`RANGE_TOLERANCE`; DESIGN.md convention)."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(
            f"x must be an image tensor of shape (N, 3, H, W), got {getattr(x, 'shape', type(x))}"
        )
    if x.is_complex() or not x.is_floating_point():
        raise TypeError(f"x must be a real floating-point tensor in [0, 1], got {x.dtype}")
    if x.shape[0] == 0:
        raise ValueError("x is an empty batch (N = 0); give at least one image")
    with torch.no_grad():  # one device sync for both checks; amin / amax propagate NaN
        low, high = torch.stack(torch.aminmax(x.detach())).float().tolist()
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("x contains NaN or infinite values; images must lie in [0, 1]")
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise ValueError(f"x must lie in [0, 1] (got values in [{low:.4g}, {high:.4g}]); "
                         "divide 8-bit images by 255, clamp a reconstruction with .clamp(0, 1)")


class JSCCModel(nn.Module):
    """Base class of deep JSCC systems (DESIGN.md model contract).

    Parameters
    ----------
    latent_channels : real channels ``C`` of the latent; ``CBR = C / (6 d^2)``.
    downsample : spatial downsampling factor ``d`` of the encoder.
    channel : channel module (default :class:`~jscc_lab.channels.AWGN`); swap it by assigning
        ``model.channel = RayleighFading()``.
    default_snr_db : SNR the SNR-aware encoder assumes when :meth:`encode` is called without one.

    Call: ``model(x, snr_db, generator=None) -> x_hat`` with ``x`` ``(N, 3, H, W)`` in ``[0, 1]``,
    any ``H, W`` (padded to the downsampling grid and cropped back).
    """

    def __init__(self, latent_channels: int, downsample: int, channel: nn.Module | None = None,
                 default_snr_db: float = 10.0):
        super().__init__()
        if isinstance(latent_channels, bool) or not isinstance(latent_channels, int) or latent_channels <= 0:
            raise ValueError(f"latent_channels must be a positive int, got {latent_channels!r}")
        self.latent_channels = latent_channels
        self.downsample = downsample
        self.default_snr_db = float(default_snr_db)
        self.channel = AWGN() if channel is None else channel
        self._last_size: tuple[int, int] | None = None

    # ---- bookkeeping ----------------------------------------------------------------------

    @property
    def cbr(self) -> float:
        """Channel bandwidth ratio ``k / n`` for image sizes divisible by the padding grid."""
        return cbr_of_latent(self.latent_channels, self.downsample)

    @property
    def pad_multiple(self) -> tuple[int, int]:
        """Grid the input is padded to: ``d``, or ``2d`` in height when ``C`` is odd (so that
        each image holds an even number of reals, i.e. whole complex symbols)."""
        d = self.downsample
        return (2 * d if self.latent_channels % 2 else d, d)

    def latent_shape(self, height: int, width: int) -> tuple[int, int, int]:
        """``(C, h, w)`` of the real latent for an ``height x width`` image."""
        mh, mw = self.pad_multiple
        hp, wp = -(-height // mh) * mh, -(-width // mw) * mw
        return (self.latent_channels, hp // self.downsample, wp // self.downsample)

    def channel_uses(self, height: int, width: int) -> int:
        """Complex channel uses ``k`` per ``height x width`` image."""
        c, h, w = self.latent_shape(height, width)
        return c * h * w // 2

    def _check_images(self, x):
        check_images(x)

    # ---- the contract ----------------------------------------------------------------------

    def encode(self, x: torch.Tensor, snr_db=None) -> torch.Tensor:
        """Images ``(N, 3, H, W)`` -> complex power-normalised symbols ``(N, k)``.

        ``snr_db`` (float or ``(N,)``) conditions SNR-aware encoders; ``None`` means
        ``default_snr_db``. Models without SNR conditioning ignore it.
        """
        self._check_images(x)
        snr = snr_tensor(self.default_snr_db if snr_db is None else snr_db, x.shape[0], x.device)
        x_pad, size = pad_to_multiple(x, self.pad_multiple)
        z = self.encoder(x_pad, snr)
        self._last_size = size
        return normalize_power(real_to_complex(z))

    def decode(self, y: torch.Tensor, snr_db=None, size: tuple[int, int] | None = None) -> torch.Tensor:
        """Received symbols ``(N, k)`` -> images ``(N, 3, H, W)`` in ``[0, 1]``.

        ``size = (H, W)`` is the image size to reconstruct; by default the size given to the
        most recent :meth:`encode`. ``snr_db`` as in :meth:`encode`.
        """
        size = size or self._last_size
        z = self.received_latent(y, size)
        snr = snr_tensor(self.default_snr_db if snr_db is None else snr_db, y.shape[0], y.device)
        return crop_to(self.decoder(z, snr), size)

    def received_latent(self, y: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        """Received symbols ``(N, k)`` -> real latent ``(N, C, h, w)`` for an image of ``size``."""
        size = size or self._last_size
        if size is None:
            raise ValueError("decode needs size=(H, W) of the image (no encode() call to take it from)")
        c, h, w = self.latent_shape(*size)
        if y.ndim != 2 or y.shape[1] * 2 != c * h * w:
            raise ValueError(
                f"y must have shape (N, {c * h * w // 2}) for a {size[0]}x{size[1]} image, "
                f"got {tuple(y.shape)}"
            )
        return complex_to_real(y).reshape(y.shape[0], c, h, w)

    def forward(self, x: torch.Tensor, snr_db, generator=None) -> torch.Tensor:
        """``encode`` -> ``channel(s, snr_db, generator)`` -> ``decode``; returns ``x_hat``."""
        s = self.encode(x, snr_db)
        y = self.channel(s, snr_db, generator=generator)
        return self.decode(y, snr_db, size=tuple(x.shape[-2:]))


class AtCBR(nn.Module):
    """A rate-adaptive model (``model.cbrs``) fixed at one CBR, so it can be used wherever a
    single-CBR model is (``.cbr``; ``forward``, ``encode`` and ``decode`` pass ``cbr=`` on).
    The wrapper follows the wrapped model's train / eval mode."""

    def __init__(self, model: nn.Module, cbr: float):
        super().__init__()
        if not any(abs(float(cbr) - c) < 1e-12 for c in model.cbrs):
            raise ValueError(f"cbr={cbr!r} is not among the model's cbrs {model.cbrs}")
        self.model, self.cbr = model, float(cbr)
        self.train(model.training)

    def forward(self, x, snr_db, **kwargs):
        return self.model(x, snr_db, cbr=self.cbr, **kwargs)

    def encode(self, x, snr_db=None, **kwargs):
        """``model.encode`` at this CBR."""
        return self.model.encode(x, snr_db, cbr=self.cbr, **kwargs)

    def decode(self, y, snr_db=None, **kwargs):
        """``model.decode`` at this CBR."""
        return self.model.decode(y, snr_db, cbr=self.cbr, **kwargs)
