"""Building blocks shared by the JSCC models: GDN / IGDN, SNR attention, padding, conv helpers.

Every block here is small, tested (``tests/test_models.py``) and reused by the PSNR models and
the later perceptual generator / discriminator.

Example
-------
>>> import torch
>>> from jscc_lab.models.layers import GDN, SNRAttention
>>> x = torch.randn(2, 8, 5, 7)
>>> GDN(8)(x).shape
torch.Size([2, 8, 5, 7])
>>> SNRAttention(8)(x, torch.tensor([0.0, 20.0])).shape
torch.Size([2, 8, 5, 7])
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "GDN",
    "FP32Conv2d",
    "SNRAttention",
    "conv",
    "deconv",
    "pad_to_multiple",
    "crop_to",
    "snr_tensor",
    "init_conv_weights",
]


class _LowerBound(torch.autograd.Function):
    """``max(x, bound)`` whose gradient still flows when it pushes ``x`` back above the bound.

    A plain ``clamp`` kills the gradient of a parameter stuck below its bound forever; this is
    the reparametrisation trick of Balle et al. (2016) also used by CompressAI.
    """

    @staticmethod
    def forward(ctx, x, bound):
        ctx.save_for_backward(x, bound)
        return torch.maximum(x, bound)

    @staticmethod
    def backward(ctx, grad):
        x, bound = ctx.saved_tensors
        pass_through = (x >= bound) | (grad < 0)
        return grad * pass_through, None


class GDN(nn.Module):
    """Generalised divisive normalisation (Balle et al. 2016) and its inverse (IGDN).

    ``y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)`` (GDN) or ``x_i * sqrt(...)`` (IGDN).
    ``beta > 0`` and ``gamma >= 0`` are kept non-negative by storing their square roots with a
    lower bound (``beta >= beta_min``). Computed in float32 even under bf16 autocast (the sum
    of squares loses too much precision in bf16).

    Parameters
    ----------
    channels : number of feature channels ``C``.
    inverse : ``True`` for IGDN (used in decoders).
    beta_min : smallest value ``beta`` may take (keeps the division finite).
    gamma_init : initial diagonal of ``gamma``.

    Input / Output: ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """

    _PEDESTAL = 2.0**-36  # reparam offset 2^-18, squared

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6,
                 gamma_init: float = 0.1):
        super().__init__()
        if isinstance(channels, bool) or not isinstance(channels, numbers.Integral) or channels <= 0:
            raise ValueError(f"channels must be a positive int, got {channels!r}")
        if not beta_min > 0:
            raise ValueError(f"beta_min must be > 0, got {beta_min}")
        self.channels, self.inverse = int(channels), bool(inverse)
        pedestal = self._PEDESTAL
        self.register_buffer("beta_bound", torch.tensor((beta_min + pedestal) ** 0.5), persistent=False)
        self.register_buffer("gamma_bound", torch.tensor(pedestal**0.5), persistent=False)
        self.beta = nn.Parameter(torch.sqrt(torch.ones(channels) + pedestal))
        self.gamma = nn.Parameter(torch.sqrt(gamma_init * torch.eye(channels) + pedestal))

    def extra_repr(self) -> str:
        return f"{self.channels}, inverse={self.inverse}"

    def effective_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The constrained ``(beta, gamma)`` actually used: ``beta >= beta_min``, ``gamma >= 0``."""
        beta = _LowerBound.apply(self.beta, self.beta_bound).square() - self._PEDESTAL
        gamma = _LowerBound.apply(self.gamma, self.gamma_bound).square() - self._PEDESTAL
        return beta, gamma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"GDN expects (N, {self.channels}, H, W), got {tuple(x.shape)}")
        dtype = x.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            beta, gamma = self.effective_params()
            norm = torch.sqrt(F.conv2d(x * x, gamma[:, :, None, None], beta))
            out = x * norm if self.inverse else x / norm
        return out.to(dtype)


class FP32Conv2d(nn.Conv2d):
    """An ``nn.Conv2d`` (same parameters and ``state_dict``) that computes in float32 even under
    bf16 autocast: for the convolutions that face the image, the first one (8-bit pixel values
    are not exact in bf16's 8-bit mantissa) and the last one (its output *is* the image; bf16
    rounds it by up to half a level of 255). Both have 3 image channels, so they cost a few per
    cent of a model's FLOPs, while in bf16 they alone moved Kodak PSNR by up to 0.1 dB.

    Input ``(N, C_in, H, W)`` of any float dtype; output ``(N, C_out, H', W')`` float32.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            return super().forward(x.float())


class SNRAttention(nn.Module):
    """ADJSCC's attention feature (AF) module (Xu et al. 2021): the SNR rescales channels.

    Global-average-pooled features are concatenated with the SNR (in dB, divided by
    ``snr_scale``), passed through two fully connected layers (ReLU, sigmoid) and the result
    multiplies each feature channel. So one set of weights adapts its features to the SNR.

    Parameters
    ----------
    channels : feature channels ``C``.
    hidden : width of the bottleneck (default ``max(C // 16, 8)``; the paper uses ``C // 16``).
    snr_scale : SNRs are divided by this before entering the network (keeps inputs O(1)).

    Input: ``x`` ``(N, C, H, W)``, ``snr_db`` ``(N,)`` float tensor.  Output: ``(N, C, H, W)``.
    """

    def __init__(self, channels: int, hidden: int | None = None, snr_scale: float = 20.0):
        super().__init__()
        hidden = hidden or max(channels // 16, 8)
        self.snr_scale = float(snr_scale)
        self.fc = nn.Sequential(
            nn.Linear(channels + 1, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, channels), nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        snr = snr_db.to(device=x.device, dtype=x.dtype).reshape(-1, 1) / self.snr_scale
        if snr.shape[0] != x.shape[0]:
            raise ValueError(f"snr_db must have shape (N,) = ({x.shape[0]},), got {tuple(snr_db.shape)}")
        context = torch.cat([x.mean(dim=(2, 3)), snr], dim=1)
        return x * self.fc(context)[:, :, None, None]


def conv(in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 1) -> nn.Conv2d:
    """``kernel_size`` conv with 'same' padding, so the output is ``ceil(H / stride)``."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2)


def deconv(in_channels: int, out_channels: int, kernel_size: int = 5,
           stride: int = 1) -> nn.ConvTranspose2d:
    """Transposed conv that upsamples exactly by ``stride`` (``H -> stride * H``)."""
    return nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride,
                              padding=kernel_size // 2, output_padding=stride - 1)


def init_conv_weights(module: nn.Module, negative_slope: float = 0.25) -> nn.Module:
    """He initialisation of every (transposed) conv in ``module`` for PReLU slopes of 0.25.

    PyTorch's default conv init shrinks the signal by about half per layer; through the ten
    layers of an encoder + decoder the image content reaching the output is tiny and a fresh
    model sits on a plateau (grey output) for many steps. He init keeps the variance.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, a=negative_slope, nonlinearity="leaky_relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def pad_to_multiple(x: torch.Tensor, multiple) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``(N, C, H, W)`` at the bottom/right (edge replication) to multiples of ``multiple``.

    ``multiple`` is an int or ``(mh, mw)``. Returns the padded tensor and the original
    ``(H, W)`` for :func:`crop_to`.
    """
    mh, mw = (multiple, multiple) if isinstance(multiple, int) else multiple
    h, w = x.shape[-2:]
    ph, pw = (-h) % mh, (-w) % mw
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x, (int(h), int(w))


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple`: keep the top-left ``size = (H, W)``."""
    return x[..., : size[0], : size[1]]


def snr_tensor(snr_db, batch: int, device=None) -> torch.Tensor:
    """SNR in dB as a float32 ``(N,)`` tensor from a float or an ``(N,)`` / ``(1,)`` tensor."""
    if isinstance(snr_db, bool) or not isinstance(snr_db, (numbers.Real, torch.Tensor)):
        raise TypeError(f"snr_db must be a float (dB) or a tensor of shape (N,), got {type(snr_db).__name__}")
    snr = torch.as_tensor(snr_db, dtype=torch.float32, device=device)
    if snr.ndim > 1 or (snr.ndim == 1 and snr.numel() not in (1, batch)):
        raise ValueError(f"snr_db must be a float or a tensor of shape (N,) = ({batch},), "
                         f"got shape {tuple(snr.shape)}")
    if not torch.isfinite(snr).all():
        raise ValueError(f"snr_db must be finite (dB), got {snr_db}")
    return snr.reshape(-1).expand(batch).contiguous()
