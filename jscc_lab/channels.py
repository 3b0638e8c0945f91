"""Wireless channel models and the SNR / CBR bookkeeping around them.

Conventions (see DESIGN.md):

* channel symbols are complex tensors (``torch.complex64``) of shape ``(N, k)``: ``k`` complex
  channel uses per image (any trailing shape ``(N, ...)`` is accepted and kept);
* after :func:`normalize_power` each image has mean ``|s|^2 = 1``;
* ``SNR = P / sigma^2`` in dB with ``P = 1`` and noise ``CN(0, sigma^2)``; wherever an SNR is
  taken it may be a float or a per-image tensor of shape ``(N,)``;
* CBR ``rho = k / n`` with ``n = 3 * H * W`` real source values.

Every channel is an ``nn.Module`` with one call shape, so models can swap AWGN for fading::

    y = channel(s, snr_db, generator=None)

Example
-------
>>> import torch
>>> from jscc_lab.channels import AWGN, normalize_power
>>> s = normalize_power(torch.randn(2, 64, dtype=torch.complex64))
>>> y = AWGN()(s, 10.0, generator=torch.Generator().manual_seed(0))
>>> y.shape
torch.Size([2, 64])
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import torch
from torch import nn

__all__ = [
    "AWGN",
    "RayleighFading",
    "Channel",
    "normalize_power",
    "real_to_complex",
    "complex_to_real",
    "snr_db_to_noise_var",
    "noise_var_to_snr_db",
    "measure_snr_db",
    "cbr",
    "cbr_label",
    "channel_uses",
    "latent_channels",
    "cbr_of_latent",
    "make_generator",
]


# ---------------------------------------------------------------------------------------------
# argument checks shared by every channel
# ---------------------------------------------------------------------------------------------


def make_generator(generator: torch.Generator | int | None, device=None) -> torch.Generator | None:
    """Turn ``None``, an integer seed or a ``torch.Generator`` into a generator (or ``None``)."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        g = torch.Generator(device=device or "cpu")
        g.manual_seed(int(generator))
        return g
    raise TypeError(
        f"generator must be None, an int seed or a torch.Generator, got {type(generator).__name__}"
    )


def _check_symbols(s) -> torch.Tensor:
    if not isinstance(s, torch.Tensor):
        raise TypeError(f"s must be a complex torch.Tensor of shape (N, k), got {type(s).__name__}")
    if not s.is_complex():
        raise TypeError(
            f"s must be complex (torch.complex64) of shape (N, k), got dtype {s.dtype}; "
            "map 2k reals to k complex symbols with jscc_lab.channels.real_to_complex"
        )
    if s.ndim < 2:
        raise ValueError(
            f"s must have shape (N, k) (batch first), got shape {tuple(s.shape)}; "
            "add a batch dimension with s.unsqueeze(0)"
        )
    if not bool(torch.isfinite(s.detach()).all()):
        raise ValueError(
            "s contains NaN or infinite symbols; check the encoder output (a diverged model?) "
            "before sending it through the channel"
        )
    return s


def _check_snr(snr_db, s: torch.Tensor) -> torch.Tensor:
    """Return the SNR as a float tensor broadcastable against ``s`` (shape ``(N, 1, ...)``)."""
    if isinstance(snr_db, bool) or not isinstance(snr_db, (numbers.Real, torch.Tensor)):
        raise TypeError(
            f"snr_db must be a float (dB) or a tensor of shape (N,), got {type(snr_db).__name__}"
        )
    snr = torch.as_tensor(snr_db, dtype=torch.float32, device=s.device)
    if snr.is_complex():
        raise TypeError("snr_db must be real (dB), got a complex tensor")
    if snr.ndim > 1 or (snr.ndim == 1 and snr.numel() not in (1, s.shape[0])):
        raise ValueError(
            f"snr_db must be a float or a tensor of shape (N,) = ({s.shape[0]},), "
            f"got shape {tuple(snr.shape)}"
        )
    if not torch.isfinite(snr).all():
        raise ValueError(f"snr_db must be finite (a value in dB such as 10.0), got {snr_db}")
    return snr.reshape(-1, *([1] * (s.ndim - 1)))


def _complex_randn(shape, generator, device) -> torch.Tensor:
    """``CN(0, 1)`` samples, drawn on the generator's device for exact reproducibility."""
    gen_device = generator.device if generator is not None else device
    re_im = torch.randn((*shape, 2), generator=generator, device=gen_device, dtype=torch.float32)
    return torch.view_as_complex(re_im.to(device)) / math.sqrt(2.0)


# ---------------------------------------------------------------------------------------------
# power, real <-> complex, SNR
# ---------------------------------------------------------------------------------------------


def normalize_power(s: torch.Tensor, power: float = 1.0) -> torch.Tensor:
    """Scale each image's symbols to mean power ``power`` (average power constraint).

    Input: ``s`` complex ``(N, k)`` (or ``(N, ...)``). Output: same shape, with
    ``mean(|s_i|^2) = power`` for every image ``i``. An all-zero image stays zero.
    """
    s = _check_symbols(s)
    if not (isinstance(power, numbers.Real) and power > 0 and math.isfinite(power)):
        raise ValueError(f"power must be a finite number > 0, got {power}")
    dims = tuple(range(1, s.ndim))
    mean_power = s.abs().square().mean(dim=dims, keepdim=True)
    return s * torch.sqrt(power / mean_power.clamp_min(torch.finfo(mean_power.dtype).tiny))


def real_to_complex(z: torch.Tensor) -> torch.Tensor:
    """Map ``(N, 2k)`` reals to ``(N, k)`` complex symbols: pairs ``(z[2i], z[2i+1])`` -> re, im.

    Any ``(N, ...)`` real tensor is flattened per image first; its size per image must be even.
    """
    if not isinstance(z, torch.Tensor) or z.is_complex() or not z.is_floating_point():
        raise TypeError("z must be a real floating-point tensor of shape (N, 2k)")
    if z.ndim < 2:
        raise ValueError(f"z must have shape (N, 2k), got shape {tuple(z.shape)}")
    flat = z.reshape(z.shape[0], -1)
    if flat.shape[1] % 2:
        raise ValueError(
            f"z must hold an even number of reals per image (2k), got {flat.shape[1]}"
        )
    return torch.view_as_complex(flat.float().reshape(z.shape[0], -1, 2).contiguous())


def complex_to_real(s: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`real_to_complex`: ``(N, k)`` complex -> ``(N, 2k)`` float32."""
    s = _check_symbols(s)
    return torch.view_as_real(s.reshape(s.shape[0], -1).to(torch.complex64)).reshape(s.shape[0], -1)


def snr_db_to_noise_var(snr_db, signal_power: float = 1.0) -> torch.Tensor:
    """Noise variance ``sigma^2 = P / 10^(snr_db / 10)`` (float or tensor in, tensor out)."""
    snr = torch.as_tensor(snr_db, dtype=torch.float32)
    if not torch.isfinite(snr).all():
        raise ValueError(f"snr_db must be finite, got {snr_db}")
    return signal_power / torch.pow(10.0, snr / 10.0)


def noise_var_to_snr_db(noise_var, signal_power: float = 1.0) -> torch.Tensor:
    """SNR in dB for noise variance ``noise_var`` (> 0) and signal power ``P``."""
    var = torch.as_tensor(noise_var, dtype=torch.float32)
    if not (torch.isfinite(var).all() and (var > 0).all()):
        raise ValueError(f"noise_var must be finite and > 0, got {noise_var}")
    return 10.0 * torch.log10(signal_power / var)


def measure_snr_db(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Empirical per-image SNR in dB of received ``y`` around sent ``s``: ``P_s / P_(y-s)``."""
    dims = tuple(range(1, s.ndim))
    p_signal = s.abs().square().mean(dim=dims)
    p_noise = (y - s).abs().square().mean(dim=dims)
    return 10.0 * torch.log10(p_signal / p_noise)


# ---------------------------------------------------------------------------------------------
# channel models
# ---------------------------------------------------------------------------------------------


class Channel(nn.Module):
    """Base class: ``forward(s, snr_db, generator=None, return_gains=False)``.

    Input
    -----
    s : complex ``(N, k)`` power-normalised symbols
    snr_db : float or ``(N,)`` tensor, average SNR in dB
    generator : optional ``torch.Generator`` or int seed for exact reproducibility
    return_gains : also return the complex channel gains ``h`` (shape of ``s``)

    Output
    ------
    y : complex, shape of ``s`` (and ``h`` when ``return_gains``)
    """

    def forward(self, s, snr_db, generator=None, return_gains: bool = False):
        s = _check_symbols(s)
        snr = _check_snr(snr_db, s)
        generator = make_generator(generator, device=s.device)
        noise_std = torch.sqrt(torch.pow(10.0, -snr / 10.0))
        y, h = self._transmit(s.to(torch.complex64), noise_std, generator)
        return (y, h) if return_gains else y

    def _transmit(self, s, noise_std, generator):  # pragma: no cover - abstract
        raise NotImplementedError


class AWGN(Channel):
    """Additive white Gaussian noise: ``y = s + n``, ``n ~ CN(0, sigma^2)``, ``sigma^2 = 10^(-SNR/10)``.

    The receiver is given ``y`` (the gains returned with ``return_gains=True`` are all ones).
    """

    def _transmit(self, s, noise_std, generator):
        y = s + noise_std * _complex_randn(s.shape, generator, s.device)
        return y, torch.ones_like(s)


class RayleighFading(Channel):
    """Rayleigh fading ``y = h * s + n`` with ``h ~ CN(0, 1)`` (so ``E|h|^2 = 1``), then equalisation.

    Parameters
    ----------
    mode : ``"block"`` draws one gain per image (slow fading: the whole image sees one fade);
        ``"fast"`` draws one gain per symbol (ideal interleaving).
    csi : what the receiver knows and therefore what it is given.
        ``"perfect"`` (default): the receiver knows ``h`` and returns the equalised symbols;
        ``"none"``: no CSI, the raw ``h * s + n`` is returned (phase and amplitude unknown).
        The package's decoders see only what this returns (equalised symbols) and the average
        SNR, never ``h``. With ``return_gains=True`` the drawn ``h`` is returned too, for a caller
        that wants to give a decoder the gains (or the instantaneous SNR ``|h|^2 * SNR``) as side
        information, which none of the shipped models takes.
    equalizer : with perfect CSI, ``"zf"`` returns ``y / h`` (unbiased; noise ``n / h`` blows up in
        deep fades) or ``"mmse"`` (default) returns ``conj(h) y / (|h|^2 + sigma^2)``, which shrinks
        symbols received in a deep fade towards zero and so minimises the mean squared error. For
        a phase-symmetric constellation (QPSK) both give the same hard decisions.
    """

    def __init__(self, mode: str = "block", csi: str = "perfect", equalizer: str = "mmse"):
        super().__init__()
        if mode not in ("block", "fast"):
            raise ValueError(f'mode must be "block" or "fast", got {mode!r}')
        if csi not in ("perfect", "none"):
            raise ValueError(f'csi must be "perfect" or "none", got {csi!r}')
        if equalizer not in ("zf", "mmse"):
            raise ValueError(f'equalizer must be "zf" or "mmse", got {equalizer!r}')
        self.mode, self.csi, self.equalizer = mode, csi, equalizer

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, csi={self.csi!r}, equalizer={self.equalizer!r}"

    def _transmit(self, s, noise_std, generator):
        gain_shape = s.shape if self.mode == "fast" else (s.shape[0],) + (1,) * (s.ndim - 1)
        h = _complex_randn(gain_shape, generator, s.device)
        y = h * s + noise_std * _complex_randn(s.shape, generator, s.device)
        h = h.expand_as(s)
        if self.csi == "perfect":
            if self.equalizer == "zf":
                y = y / h
            else:
                y = h.conj() * y / (h.abs().square() + noise_std.square())
        return y, h


# ---------------------------------------------------------------------------------------------
# channel bandwidth ratio
# ---------------------------------------------------------------------------------------------


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _as_fraction(name, value) -> Fraction:
    if isinstance(value, str):
        try:
            value = Fraction(value)
        except (ValueError, ZeroDivisionError):  # "abc", "1/0", "0/0"
            raise ValueError(f"{name} must be a number such as 1/48 or '1/48', got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Fraction)):
        raise TypeError(f"{name} must be a number such as 1/48, got {type(value).__name__}")
    if not (math.isfinite(float(value)) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    # floats like 1/48 become the nearest simple fraction
    fraction = Fraction(value).limit_denominator(100_000)
    if fraction <= 0:
        raise ValueError(f"{name} must be at least 1e-5, got {value!r}")
    return fraction


def cbr_label(value: float) -> str:
    """A CBR as people write it: ``1/48`` for ``0.0208333``, ``3/64`` for ``0.046875``."""
    return str(Fraction(float(value)).limit_denominator(1000))


def cbr(k: int, height: int, width: int, channels: int = 3) -> float:
    """Channel bandwidth ratio ``k / n`` for ``k`` complex uses and an image of ``n = C*H*W`` reals.

    Note: ``k`` counts *complex* channel uses; counting the ``2k`` real numbers instead doubles
    the ratio, a common reproduction bug.
    """
    k = _check_positive_int("k", k)
    n = (
        _check_positive_int("channels", channels)
        * _check_positive_int("height", height)
        * _check_positive_int("width", width)
    )
    return k / n


def channel_uses(cbr, height: int, width: int, channels: int = 3) -> int:
    """Complex channel uses ``k = cbr * C * H * W``; raises if that is not a whole number."""
    rho = _as_fraction("cbr", cbr)
    n = (
        _check_positive_int("channels", channels)
        * _check_positive_int("height", height)
        * _check_positive_int("width", width)
    )
    k = rho * n
    if k.denominator != 1:
        raise ValueError(
            f"cbr={float(rho):.6g} gives k = {float(k):.3f} complex uses for a {height}x{width} "
            "image, not a whole number; choose a CBR that is a multiple of 1/(3*H*W)"
        )
    return int(k)


def latent_channels(cbr, downsample: int = 4) -> int:
    """Real latent channels ``C`` that realise ``cbr`` for an encoder downsampling by ``downsample``.

    A latent of ``C`` real channels at ``(H/d, W/d)`` holds ``C*H*W/d^2`` reals, i.e. half as many
    complex uses, so ``CBR = C / (6 d^2)`` (``C/96`` at ``d = 4``, ``C/24`` at ``d = 2``).
    """
    rho = _as_fraction("cbr", cbr)
    d = _check_positive_int("downsample", downsample)
    c = rho * 6 * d * d
    if c.denominator != 1:
        raise ValueError(
            f"cbr={float(rho):.6g} is not realised by a whole number of latent channels at "
            f"downsample={d} (C = {6 * d * d} * cbr = {float(c):.4g}); valid CBRs are multiples "
            f"of 1/{6 * d * d}"
        )
    return int(c)


def cbr_of_latent(channels: int, downsample: int = 4) -> float:
    """CBR of a latent with ``channels`` real channels at ``downsample`` (``C / (6 d^2)``)."""
    c = _check_positive_int("channels", channels)
    d = _check_positive_int("downsample", downsample)
    return c / (6 * d * d)
