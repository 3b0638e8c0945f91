"""The perceptual JSCC system: ADJSCC encoder, wireless channel, realism-conditioned generator.

The seed paper (Wang et al., GLOBECOM 2022) keeps ADJSCC's encoder (x4 down, GDN, SNR attention)
and trains encoder + decoder under ``MSE + LPIPS + adversarial`` losses. Its generator here is the
ADJSCC decoder with more capacity, as in HiFiC (Mentzer et al. 2020): residual blocks at the
latent resolution before the two x2 upsampling stages.

**Beyond the paper**: every block of the generator is modulated (FiLM, Perez et al. 2018) by an
embedding of two explicit inputs, the channel SNR and a *realism weight* ``beta`` in ``[0, 1]``
(Agustsson et al., "Multi-Realism Image Compression with a Conditional Generator", CVPR 2023).
Training samples ``beta`` per image and weights the adversarial term by it, so ``beta = 0``
asks for the MSE+LPIPS reconstruction and ``beta = 1`` for the full GAN one: **one checkpoint
moves along the distortion-perception trade-off at inference time**. The encoder does not see
``beta`` (the transmitter need not know how the receiver will render), so one transmission can be
decoded at any realism.

``width`` sets the encoder width (paper: 256) and, unless ``generator_width`` is given, the
generator's; ``width=64, res_blocks=3`` trains on a CPU with the same code.

Example
-------
>>> import torch
>>> from jscc_lab.models.perceptual import PerceptualJSCC
>>> model = PerceptualJSCC(cbr="1/48", width=16, res_blocks=1)
>>> x = torch.rand(2, 3, 32, 32)
>>> model(x, 10.0, beta=0.5).shape
torch.Size([2, 3, 32, 32])
>>> s = model.encode(x)                     # complex, unit power per image
>>> x_sharp = model.decode(s, 20.0, beta=1.0, size=(32, 32))
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from ..channels import latent_channels as _latent_channels
from .adjscc import ADJSCCEncoder
from .base import JSCCModel
from .layers import GDN, conv, crop_to, deconv, snr_tensor

__all__ = ["PerceptualJSCC", "PerceptualGenerator", "FiLM", "ConditionEmbedding", "beta_tensor"]


def beta_tensor(beta, batch: int, device=None) -> torch.Tensor:
    """Realism weight as a float32 ``(N,)`` tensor in ``[0, 1]`` from a float or ``(N,)``/``(1,)``."""
    if isinstance(beta, bool) or not isinstance(beta, (numbers.Real, torch.Tensor)):
        raise TypeError(f"beta must be a float in [0, 1] or a tensor of shape (N,), got {type(beta).__name__}")
    b = torch.as_tensor(beta, dtype=torch.float32, device=device)
    if b.ndim > 1 or (b.ndim == 1 and b.numel() not in (1, batch)):
        raise ValueError(f"beta must be a float or a tensor of shape (N,) = ({batch},), got shape {tuple(b.shape)}")
    if not torch.isfinite(b).all() or (b < 0).any() or (b > 1).any():
        raise ValueError(f"beta (realism weight) must lie in [0, 1], got {beta}")
    return b.reshape(-1).expand(batch).contiguous()


class ConditionEmbedding(nn.Module):
    """``(snr_db, beta)`` -> conditioning vector ``(N, dim)`` shared by every FiLM layer.

    SNR enters as ``snr_db / snr_scale`` (O(1) over 0-20 dB), ``beta`` as is; a two-layer MLP
    with SiLU lets the FiLM layers respond non-linearly to both.
    """

    def __init__(self, dim: int = 64, snr_scale: float = 20.0):
        super().__init__()
        self.snr_scale = float(snr_scale)
        self.mlp = nn.Sequential(nn.Linear(2, dim), nn.SiLU(), nn.Linear(dim, dim), nn.SiLU())

    def forward(self, snr_db: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        c = torch.stack([snr_db.float() / self.snr_scale, beta.float()], dim=1)
        return self.mlp(c.to(self.mlp[0].weight.dtype))


class FiLM(nn.Module):
    """Feature-wise linear modulation: ``x * (1 + gamma(c)) + shift(c)`` per channel.

    Initialised to the identity (zero weights), so a warm start from an unconditioned model
    or early training is not disturbed.

    Input: ``x`` ``(N, C, H, W)``, ``cond`` ``(N, D)``. Output: ``(N, C, H, W)``.
    """

    def __init__(self, cond_dim: int, channels: int):
        super().__init__()
        self.linear = nn.Linear(cond_dim, 2 * channels)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, shift = self.linear(cond).to(x.dtype)[:, :, None, None].chunk(2, dim=1)
        return x * (1 + gamma) + shift


class _ResBlock(nn.Module):
    """HiFiC residual block, conditioned: conv3 -> FiLM -> PReLU -> conv3 -> FiLM, plus skip."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.conv1, self.conv2 = conv(channels, channels, 3), conv(channels, channels, 3)
        self.film1, self.film2 = FiLM(cond_dim, channels), FiLM(cond_dim, channels)
        self.act = nn.PReLU(channels)

    def forward(self, x, cond):
        h = self.act(self.film1(self.conv1(x), cond))
        return x + self.film2(self.conv2(h), cond)


class _UpStage(nn.Module):
    """x2 transposed conv -> IGDN -> PReLU -> FiLM (the ADJSCC decoder's stage, conditioned)."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int):
        super().__init__()
        self.layer = deconv(c_in, c_out, 5, 2)
        self.igdn = GDN(c_out, inverse=True)
        self.act = nn.PReLU(c_out)
        self.film = FiLM(cond_dim, c_out)

    def forward(self, x, cond):
        return self.film(self.act(self.igdn(self.layer(x))), cond)


class PerceptualGenerator(nn.Module):
    """Received latent ``(N, C, h, w)`` + SNR ``(N,)`` + realism ``beta`` ``(N,)`` -> image
    ``(N, 3, 4h, 4w)`` in ``[0, 1]``.

    conv3x3 -> IGDN -> PReLU, ``res_blocks`` conditioned residual blocks at the latent
    resolution, two x2 up-stages (``width`` then ``width // 2`` channels), a 5x5 conv to RGB and
    a sigmoid. Every block after the stem is FiLM-modulated by :class:`ConditionEmbedding`.

    Parameters
    ----------
    latent_channels : ``C`` of the received latent.
    width : feature channels (paper-size 256; 64 on a CPU).
    res_blocks : residual blocks (HiFiC uses 9 at 960 channels; 6 is the default here).
    cond_dim : size of the conditioning embedding.
    """

    def __init__(self, latent_channels: int, width: int = 256, res_blocks: int = 6, cond_dim: int = 64):
        super().__init__()
        if isinstance(res_blocks, bool) or not isinstance(res_blocks, int) or res_blocks < 0:
            raise ValueError(f"res_blocks must be an int >= 0, got {res_blocks!r}")
        if isinstance(width, bool) or not isinstance(width, int) or width < 2:
            raise ValueError(f"width must be an int >= 2, got {width!r}")
        self.condition = ConditionEmbedding(cond_dim)
        self.stem = nn.Sequential(conv(latent_channels, width, 3), GDN(width, inverse=True), nn.PReLU(width))
        self.blocks = nn.ModuleList([_ResBlock(width, cond_dim) for _ in range(res_blocks)])
        self.up = nn.ModuleList([_UpStage(width, width, cond_dim), _UpStage(width, width // 2, cond_dim)])
        self.head = conv(width // 2, 3, 5)

    def forward(self, z: torch.Tensor, snr_db: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        cond = self.condition(snr_db.to(z.device), beta.to(z.device))
        h = self.stem(z)
        for block in self.blocks:
            h = block(h, cond)
        for stage in self.up:
            h = stage(h, cond)
        return self.head(h).sigmoid()


class PerceptualJSCC(JSCCModel):
    """Perceptual deep JSCC (Wang et al. 2022) with SNR and realism conditioning.

    Parameters
    ----------
    cbr : channel bandwidth ratio; ``C = 96 * cbr`` latent channels (paper: 1/96 ... 1/24;
        ``"1/48"`` -> 2 channels). Valid CBRs are multiples of 1/96.
    width : encoder width (ADJSCC: 256) and default generator width.
    generator_width : generator width (default ``width``).
    res_blocks : residual blocks in the generator.
    channel : channel module (default AWGN).
    default_snr_db : SNR assumed when ``encode`` / ``decode`` get none.
    default_beta : realism weight ``decode`` / ``forward`` use when ``beta`` is not given
        (1.0: the full GAN reconstruction).

    Call
    ----
    ``model(x, snr_db, beta=None, generator=None, return_latent=False) -> x_hat``:
    ``x`` ``(N, 3, H, W)`` in ``[0, 1]``; ``snr_db`` float or ``(N,)``; ``beta`` float or
    ``(N,)`` in ``[0, 1]``. With ``return_latent=True`` returns ``(x_hat, z_rx)`` where ``z_rx``
    ``(N, C, H'/4, W'/4)`` is what the receiver holds: the received (equalised) symbols on the
    latent grid of the padded image ``H' x W'`` -- what the discriminator is conditioned on.
    ``encode(x, snr_db=None) -> s`` ``(N, k)`` complex64 with unit mean power per image;
    ``decode(y, snr_db=None, *, cbr=None, beta=None, size) -> x_hat`` (``size=(H, W)`` required).
    On image sizes that are not multiples of 4 the symbols beyond ``floor(cbr * 3 H W)`` are
    truncated (see :class:`~jscc_lab.models.base.JSCCModel`).
    """

    realism = True

    def __init__(self, cbr="1/48", width: int = 256, generator_width: int | None = None,
                 res_blocks: int = 6, channel: nn.Module | None = None,
                 default_snr_db: float = 10.0, default_beta: float = 1.0):
        c = _latent_channels(cbr, downsample=4)
        super().__init__(latent_channels=c, downsample=4, channel=channel, default_snr_db=default_snr_db)
        beta_tensor(default_beta, 1)  # validates the range
        self.default_beta = float(default_beta)
        self.width = int(width)
        self.generator_width = int(generator_width or width)
        self.res_blocks = res_blocks
        self.encoder = ADJSCCEncoder(c, self.width)
        self.decoder = PerceptualGenerator(c, self.generator_width, res_blocks)

    @property
    def generator(self) -> PerceptualGenerator:
        """The receiver's network (an alias of ``decoder``)."""
        return self.decoder

    def generate(self, z: torch.Tensor, snr_db, beta=None) -> torch.Tensor:
        """Generator on a received latent ``(N, C, h, w)`` -> padded image ``(N, 3, 4h, 4w)``."""
        n = z.shape[0]
        snr = snr_tensor(self.default_snr_db if snr_db is None else snr_db, n, z.device)
        b = beta_tensor(self.default_beta if beta is None else beta, n, z.device)
        return self.decoder(z, snr, b)

    def render(self, z: torch.Tensor, snr_db=None, beta=None) -> torch.Tensor:
        """Generator on a received latent ``(N, C, h, w)`` at realism ``beta`` -> padded image
        ``(N, 3, 4h, 4w)`` (what :meth:`decode` crops)."""
        return self.generate(z, snr_db, beta)

    def forward(self, x: torch.Tensor, snr_db, beta=None, generator=None, return_latent: bool = False, *,
                cbr=None, channel=None):
        """``encode`` -> ``channel(s, snr_db, generator)`` -> ``decode`` at realism ``beta``
        (``channel``: a channel module for this call instead of ``model.channel``)."""
        size = tuple(x.shape[-2:])
        s = self.encode(x, snr_db, cbr)
        y = (self.channel if channel is None else channel)(s, snr_db, generator=generator)
        z = self.received_latent(y, size)
        x_hat = crop_to(self.generate(z, snr_db, beta), size)
        return (x_hat, z) if return_latent else x_hat


def _register() -> None:
    """Make ``build_model("perceptual", ...)`` (and so checkpoints) work once this module is
    imported. Skipped while ``jscc_lab.models`` itself is still initialising (it then lists the
    model in its own registry)."""
    import sys

    package = sys.modules.get(__package__)
    registry = getattr(package, "MODELS", None)
    if isinstance(registry, dict):
        registry.setdefault("perceptual", PerceptualJSCC)


_register()
