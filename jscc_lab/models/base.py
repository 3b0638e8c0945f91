"""The shared JSCC system skeleton: encode -> power normalisation -> channel -> decode.

Subclasses only provide ``self.encoder(x, snr_db) -> z`` (real latent ``(N, C, H/d, W/d)``) and
``self.decoder(z, snr_db) -> x_hat``; padding, the real <-> complex mapping, the power
constraint, the CBR bookkeeping and the channel live here once.

**CBR is counted, not labelled** (DESIGN.md, Models): an image whose size is not a multiple of the
padding grid is padded before the encoder, and the padded latent holds more symbols than the CBR
allows. The encoder then *truncates*: of the latent's complex symbols (flattened channel-major,
as :func:`~jscc_lab.channels.real_to_complex` pairs them) it keeps the first
``k = floor(cbr * 3 H W)`` and normalises the power of the kept ones; the decoder, told the image
size, zero-fills the dropped ones. On multiples of the grid nothing is dropped and nothing changes.
``model.channel_uses(H, W)`` is the ``k`` actually sent.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..channels import (
    AWGN,
    cbr_label,
    cbr_of_latent,
    complex_to_real,
    normalize_power,
    real_to_complex,
)
from ..channels import latent_channels as _latent_channels
from .layers import crop_to, pad_to_multiple, snr_tensor

__all__ = ["JSCCModel", "AtCBR", "check_images", "check_size"]


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


def check_size(size) -> tuple[int, int]:
    """``(H, W)`` of the image to decode, checked: two positive ints (one clear error line if not)."""
    if size is None:
        raise ValueError("decode needs size=(H, W), the image size to reconstruct (e.g. size=x.shape[-2:])")
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (H, W), two positive ints, got {size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be (H, W), two positive ints, got {size!r}")
    return h, w


class JSCCBase(nn.Module):
    """What every deep JSCC model of the package declares (DESIGN.md model contract), so callers
    read capabilities instead of sniffing for them: ``rate_adaptive`` (one set of weights for the
    CBRs in ``cbrs``; else one CBR, ``cbr``), ``realism`` (whether ``decode`` / ``forward`` take a
    realism weight ``beta``). Every subclass has ``encode(x, snr_db=None, cbr=None)``,
    ``decode(y, snr_db=None, *, cbr=None, beta=None, size)`` and
    ``forward(x, snr_db, generator=None, *, cbr=None, channel=None, ...)``."""

    rate_adaptive = False
    realism = False
    #: the CBR of a single-CBR model (``None`` for a rate-adaptive one)
    cbr = None
    #: the CBRs a rate-adaptive model serves (``None`` for a single-CBR one)
    cbrs = None


class JSCCModel(JSCCBase):
    """Base class of the single-CBR deep JSCC systems (DESIGN.md model contract).

    Parameters
    ----------
    latent_channels : real channels ``C`` of the latent; ``CBR = C / (6 d^2)``.
    downsample : spatial downsampling factor ``d`` of the encoder.
    channel : channel module (default :class:`~jscc_lab.channels.AWGN`); swap it by assigning
        ``model.channel = RayleighFading()``.
    default_snr_db : SNR the SNR-aware encoder assumes when :meth:`encode` is called without one.

    Call: ``model(x, snr_db, generator=None, *, cbr=None, channel=None) -> x_hat`` with ``x``
    ``(N, 3, H, W)`` in ``[0, 1]``, any ``H, W`` (padded to the downsampling grid and cropped back);
    ``encode(x, snr_db=None, cbr=None) -> s`` ``(N, k)`` complex64;
    ``decode(y, snr_db=None, *, cbr=None, beta=None, size) -> x_hat`` ``(N, 3, H, W)``.
    ``cbr``, where given, must be the model's own (``model.cbr``); ``beta`` only for a model with a
    realism input (``model.realism``).

    CBR counting: ``k = model.channel_uses(H, W) <= floor(cbr * 3 H W)`` complex symbols per image;
    on sizes that are not multiples of :attr:`pad_multiple` the padded latent's symbols beyond that
    budget are dropped (truncation, after the power normalisation of the kept ones) and the decoder
    zero-fills them (see the module docstring).

    Declared capabilities (read by :mod:`jscc_lab.systems`, not sniffed): ``rate_adaptive``
    (``False``: one CBR, ``model.cbr``), ``realism`` (whether ``decode`` / ``forward`` take ``beta``).
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

    def channel_uses(self, height: int, width: int, cbr=None) -> int:
        """Complex channel uses ``k`` actually sent per ``height x width`` image:
        ``min(symbols of the padded latent, floor(cbr * 3 H W))`` (``cbr``: the model's own;
        given, it must equal ``model.cbr``)."""
        self._check_cbr(cbr)
        c, h, w = self.latent_shape(height, width)
        budget = self.latent_channels * height * width // (2 * self.downsample ** 2)  # floor(cbr 3HW)
        return min(c * h * w // 2, budget)

    def cbr_used(self, height: int, width: int, cbr=None) -> float:
        """CBR actually used on a ``height x width`` image: ``channel_uses / (3 H W)``."""
        return self.channel_uses(height, width, cbr) / (3 * height * width)

    def _check_cbr(self, cbr) -> None:
        """Refuse a ``cbr`` other than the model's own (``None`` means the model's own)."""
        if cbr is None:
            return
        try:
            ok = _latent_channels(cbr, self.downsample) == self.latent_channels
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"cbr must be this model's own CBR {cbr_label(self.cbr)} (or None), got {cbr!r}")

    def _check_images(self, x):
        check_images(x)

    # ---- the contract ----------------------------------------------------------------------

    def encode(self, x: torch.Tensor, snr_db=None, cbr=None) -> torch.Tensor:
        """Images ``(N, 3, H, W)`` -> complex power-normalised symbols ``(N, k)``,
        ``k = channel_uses(H, W)``.

        ``snr_db`` (float or ``(N,)``) conditions SNR-aware encoders; ``None`` means
        ``default_snr_db``. Models without SNR conditioning ignore it. ``cbr``: ``None`` or the
        model's own.
        """
        self._check_images(x)
        self._check_cbr(cbr)
        snr = snr_tensor(self.default_snr_db if snr_db is None else snr_db, x.shape[0], x.device)
        x_pad, _ = pad_to_multiple(x, self.pad_multiple)
        z = self.encoder(x_pad, snr)
        k = self.channel_uses(*x.shape[-2:])
        return normalize_power(real_to_complex(z)[:, :k])  # truncation, then the power of the kept

    def decode(self, y: torch.Tensor, snr_db=None, *, cbr=None, beta=None,
               size: tuple[int, int] | None = None) -> torch.Tensor:
        """Received symbols ``(N, k)`` -> images ``(N, 3, H, W)`` in ``[0, 1]``.

        ``size = (H, W)`` (required) is the image size to reconstruct; ``k`` must be
        ``channel_uses(H, W)``. ``snr_db`` as in :meth:`encode`; ``cbr`` ``None`` or the model's
        own; ``beta`` (realism weight) only for models with ``realism = True``.
        """
        size = check_size(size)
        self._check_cbr(cbr)
        z = self.received_latent(y, size)
        return crop_to(self.render(z, snr_db, beta), size)

    def render(self, z: torch.Tensor, snr_db=None, beta=None) -> torch.Tensor:
        """Decoder on a received latent ``(N, C, h, w)`` -> padded image ``(N, 3, d h, d w)``;
        ``beta`` is refused (this model has no realism input)."""
        if beta is not None:
            raise ValueError("beta (realism weight) needs a model with a realism input; this one has none")
        snr = snr_tensor(self.default_snr_db if snr_db is None else snr_db, z.shape[0], z.device)
        return self.decoder(z, snr)

    def received_latent(self, y: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Received symbols ``(N, k)`` -> real latent ``(N, C, h, w)`` for an image of ``size``
        ``(H, W)``; the symbols truncated at the transmitter (``k`` below the latent's size) are
        zero-filled."""
        size = check_size(size)
        c, h, w = self.latent_shape(*size)
        k = self.channel_uses(*size)
        if not isinstance(y, torch.Tensor) or y.ndim != 2 or y.shape[1] != k:
            raise ValueError(f"y must have shape (N, {k}) for a {size[0]}x{size[1]} image, "
                             f"got {tuple(getattr(y, 'shape', ()))}")
        if k < c * h * w // 2:
            y = torch.cat([y, y.new_zeros(y.shape[0], c * h * w // 2 - k)], dim=1)
        return complex_to_real(y).reshape(y.shape[0], c, h, w)

    def forward(self, x: torch.Tensor, snr_db, generator=None, *, cbr=None, channel=None) -> torch.Tensor:
        """``encode`` -> ``channel(s, snr_db, generator)`` -> ``decode``; returns ``x_hat``
        ``(N, 3, H, W)``. ``channel``: a channel module for this call instead of ``model.channel``."""
        s = self.encode(x, snr_db, cbr)
        y = (self.channel if channel is None else channel)(s, snr_db, generator=generator)
        return self.decode(y, snr_db, size=tuple(x.shape[-2:]))


class AtCBR(JSCCBase):
    """A rate-adaptive model (``model.cbrs``) fixed at one CBR, so it can be used wherever a
    single-CBR model is (``.cbr``; ``forward``, ``encode`` and ``decode`` pass ``cbr=`` on; a
    ``cbr`` given to them must be this one). The wrapper follows the wrapped model's train / eval
    mode and declares the wrapped model's ``realism`` and ``channel``."""

    def __init__(self, model: nn.Module, cbr: float):
        super().__init__()
        if not any(abs(_as_float(cbr) - c) < 1e-12 for c in model.cbrs):
            raise ValueError(f"cbr={cbr!r} is not among the model's cbrs {model.cbrs}")
        self.model, self.cbr = model, _as_float(cbr)
        self.train(model.training)

    @property
    def realism(self) -> bool:
        """Whether ``decode`` / ``forward`` take ``beta`` (the wrapped model's)."""
        return bool(self.model.realism)

    @property
    def channel(self) -> nn.Module:
        """The wrapped model's channel."""
        return self.model.channel

    def _cbr(self, cbr) -> float:
        if cbr is not None and abs(_as_float(cbr) - self.cbr) > 1e-12:
            raise ValueError(f"cbr must be this model's CBR {cbr_label(self.cbr)} (or None), got {cbr!r}")
        return self.cbr

    def channel_uses(self, height: int, width: int, cbr=None) -> int:
        """Complex channel uses sent per ``height x width`` image at this CBR."""
        return self.model.channel_uses(height, width, cbr=self._cbr(cbr))

    def cbr_used(self, height: int, width: int, cbr=None) -> float:
        """``channel_uses / (3 H W)``."""
        return self.channel_uses(height, width, cbr) / (3 * height * width)

    def forward(self, x, snr_db, generator=None, *, cbr=None, **kwargs):
        """``model(x, snr_db, cbr=self.cbr, generator=generator, **kwargs)``."""
        return self.model(x, snr_db, cbr=self._cbr(cbr), generator=generator, **kwargs)

    def encode(self, x, snr_db=None, cbr=None, **kwargs):
        """``model.encode`` at this CBR."""
        return self.model.encode(x, snr_db, cbr=self._cbr(cbr), **kwargs)

    def decode(self, y, snr_db=None, *, cbr=None, **kwargs):
        """``model.decode`` at this CBR."""
        return self.model.decode(y, snr_db, cbr=self._cbr(cbr), **kwargs)


def _as_float(cbr) -> float:
    """A CBR given as a number or a ``"1/48"`` string, as a float."""
    from fractions import Fraction

    return float(Fraction(cbr)) if isinstance(cbr, str) else float(cbr)
