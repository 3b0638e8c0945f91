"""HiFiC-style conditional PatchGAN discriminator, conditioned on what the receiver holds.

HiFiC (Mentzer et al. 2020), whose discriminator the seed paper's code reuses, conditions D on the
quantised latent ``y`` -- which the decoder of a compression system has exactly. In a JSCC system
the decoder never sees the transmitter's latent: it sees the **received, equalised symbols**
``z_rx = s + n`` (AWGN) or the equaliser output (fading), reshaped to the latent grid. So D is
conditioned on ``z_rx`` (and the SNR, which tells it how noisy ``z_rx`` is), never on the
noiseless latent: a discriminator that saw the clean latent could judge consistency with
information the generator can never have, and its gradient would push the generator towards
details that are not recoverable from the channel output. Conditioning on ``z_rx`` asks the
right question: "is this image a plausible original *given what was received*?"

Architecture (HiFiC): the condition goes through a 3x3 conv to ``condition_channels`` maps,
LeakyReLU, nearest-neighbour upsampling to the image size; it is concatenated with the image and
fed to four 4x4 stride-2 convs with 64-128-256-512 filters and LeakyReLU(0.2), then a 1x1 conv
to one logit per patch. Every conv is spectrally normalised (Miyato et al. 2018).

:class:`ProjectedDiscriminator` adds what a discriminator trained from scratch on a CPU lacks:
pretrained features (Projected GAN, Sauer et al. 2021: discriminator heads on a *frozen*
ImageNet network learn in a fraction of the steps). It is the PatchGAN above plus one small
conditional head on each of four feature maps of the frozen AlexNet (``relu1`` ... ``relu5``, the
network LPIPS-alex uses; the held-out metrics DISTS and LPIPS-vgg use VGG16, which stays out of
training). Every head sees the same received-latent condition.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .layers import snr_tensor

__all__ = ["Discriminator", "ProjectedDiscriminator", "DISCRIMINATORS"]


def _embed_condition(conv: nn.Module, z_rx: torch.Tensor, snr_db, dtype) -> torch.Tensor:
    """``LeakyReLU(conv([z_rx, snr_db / 20 plane]))`` at the latent resolution ``(N, C', h, w)``;
    no SNR plane when ``snr_db`` is ``None``."""
    cond = z_rx.to(dtype)
    if snr_db is not None:
        snr = snr_tensor(snr_db, z_rx.shape[0], z_rx.device).to(dtype) / 20.0
        cond = torch.cat([cond, snr[:, None, None, None].expand(-1, 1, *cond.shape[-2:])], dim=1)
    return F.leaky_relu(conv(cond), 0.2)


class Discriminator(nn.Module):
    """Conditional PatchGAN with spectral norm (HiFiC), conditioned on the received latent.

    Parameters
    ----------
    latent_channels : ``C`` of the received latent ``z_rx``.
    filters : channels of the four stride-2 convs (HiFiC / paper: ``(64, 128, 256, 512)``;
        narrower on a CPU).
    condition_channels : maps the latent (+ SNR plane) is embedded into (HiFiC: 12).
    upsample : image size / latent size (4 for the ADJSCC backbone).
    snr_conditioning : add a constant ``snr_db / 20`` plane to the condition.

    Input
    -----
    x : images ``(N, 3, H, W)`` in ``[0, 1]`` (real or generated), ``H = upsample * h``.
    z_rx : received latent ``(N, C, h, w)`` (see ``PerceptualJSCC(..., return_latent=True)``).
    snr_db : float or ``(N,)`` (ignored when ``snr_conditioning=False``).

    Output
    ------
    logits ``(N, 1, H/16, W/16)``: one real/fake score per patch (higher = "real").

    Example
    -------
    >>> import torch
    >>> d = Discriminator(latent_channels=2, filters=(8, 16, 16, 32))
    >>> d(torch.rand(2, 3, 64, 64), torch.randn(2, 2, 16, 16), 10.0).shape
    torch.Size([2, 1, 4, 4])
    """

    def __init__(self, latent_channels: int, filters=(64, 128, 256, 512), condition_channels: int = 12,
                 upsample: int = 4, snr_conditioning: bool = True):
        super().__init__()
        if isinstance(latent_channels, bool) or not isinstance(latent_channels, int) or latent_channels <= 0:
            raise ValueError(f"latent_channels must be a positive int, got {latent_channels!r}")
        filters = tuple(int(f) for f in filters)
        if not filters or any(f <= 0 for f in filters):
            raise ValueError(f"filters must be a non-empty sequence of positive ints, got {filters}")
        self.latent_channels, self.upsample = latent_channels, int(upsample)
        self.snr_conditioning = bool(snr_conditioning)
        self.filters = filters
        c_in = latent_channels + int(self.snr_conditioning)
        self.condition = spectral_norm(nn.Conv2d(c_in, condition_channels, 3, padding=1, padding_mode="reflect"))
        layers, prev = [], 3 + condition_channels
        for f in filters:
            layers += [spectral_norm(nn.Conv2d(prev, f, 4, stride=2, padding=1, padding_mode="reflect")),
                       nn.LeakyReLU(0.2)]
            prev = f
        self.body = nn.Sequential(*layers)
        self.head = spectral_norm(nn.Conv2d(prev, 1, 1))

    @property
    def patch_stride(self) -> int:
        """Pixels per output logit along each axis (``2 ** len(filters)``)."""
        return 2 ** len(self.filters)

    def forward(self, x: torch.Tensor, z_rx: torch.Tensor, snr_db=10.0) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"x must have shape (N, 3, H, W), got {tuple(x.shape)}")
        if z_rx.ndim != 4 or z_rx.shape[1] != self.latent_channels or z_rx.shape[0] != x.shape[0]:
            raise ValueError(f"z_rx must have shape ({x.shape[0]}, {self.latent_channels}, h, w), "
                             f"got {tuple(z_rx.shape)}")
        if tuple(x.shape[-2:]) != (z_rx.shape[-2] * self.upsample, z_rx.shape[-1] * self.upsample):
            raise ValueError(f"x {tuple(x.shape[-2:])} must be {self.upsample}x the latent grid "
                             f"{tuple(z_rx.shape[-2:])} (pass the padded image the latent came from)")
        if min(x.shape[-2:]) < self.patch_stride:
            raise ValueError(f"images must be at least {self.patch_stride}x{self.patch_stride}, got {tuple(x.shape[-2:])}")
        cond = _embed_condition(self.condition, z_rx, snr_db if self.snr_conditioning else None, x.dtype)
        cond = F.interpolate(cond, scale_factor=self.upsample, mode="nearest")
        return self.head(self.body(torch.cat([2 * x - 1, cond], dim=1)))  # image centred on 0


def _alexnet_features() -> nn.Sequential:
    """torchvision's AlexNet ``features`` with the ImageNet weights (offline copy first; see
    :func:`jscc_lab.metrics.backbones.backbone_features`), frozen."""
    import torchvision

    from ..metrics.backbones import backbone_features, load_features_into

    net = torchvision.models.alexnet(weights=None).features
    load_features_into(net, backbone_features("alexnet")[0], lambda name: "features." + name)
    return net.requires_grad_(False).eval()


class ProjectedDiscriminator(nn.Module):
    """:class:`Discriminator` on pixels plus heads on frozen ImageNet AlexNet features.

    Each head takes one feature map (``relu1`` 64 ch at 1/4, ``relu2`` 192 at 1/8, ``relu3`` 384
    and ``relu5`` 256 at 1/16 of the image), concatenated with the condition (received latent +
    SNR plane through a 3x3 conv, resized to the map), and maps it through spectrally normalised
    1x1 -> 3x3 -> 1x1 convs to one logit per position. Every map of logits is resized (area-like,
    antialiased) to the pixel PatchGAN's grid, so each of the five discriminators weighs the same
    in the loss.

    Parameters: as :class:`Discriminator` (its ``filters`` are the pixel PatchGAN's), plus
    ``head_channels`` (width of each feature head).
    Input: as :class:`Discriminator`. Output: logits ``(N, 5, H/16, W/16)`` (channel 0 the pixel
    PatchGAN, then one per AlexNet map; higher = "real").

    The backbone stays frozen under ``requires_grad_(True)``; its weights are not in
    ``state_dict()`` (they are loaded from the ImageNet file on construction).

    Example
    -------
    >>> import torch
    >>> d = ProjectedDiscriminator(latent_channels=8, filters=(8, 8, 8, 8), upsample=16)  # doctest: +SKIP
    >>> d(torch.rand(2, 3, 64, 64), torch.randn(2, 8, 4, 4), 10.0).shape                  # doctest: +SKIP
    torch.Size([2, 5, 4, 4])
    """

    #: index of the ReLU after which each head reads AlexNet's ``features``, and its channels
    TAPS = {1: 64, 4: 192, 7: 384, 11: 256}
    MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def __init__(self, latent_channels: int, filters=(64, 128, 256, 512), condition_channels: int = 12,
                 upsample: int = 4, snr_conditioning: bool = True, head_channels: int = 64):
        super().__init__()
        self.pixel = Discriminator(latent_channels, filters, condition_channels, upsample, snr_conditioning)
        self.latent_channels, self.upsample = latent_channels, self.pixel.upsample
        object.__setattr__(self, "backbone", _alexnet_features())  # not a submodule: frozen, not saved
        self.register_buffer("mean", torch.tensor(self.MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.STD).view(1, 3, 1, 1), persistent=False)
        c_cond = latent_channels + int(snr_conditioning)
        self.condition = spectral_norm(nn.Conv2d(c_cond, condition_channels, 3, padding=1, padding_mode="reflect"))
        self.heads = nn.ModuleList(
            nn.Sequential(spectral_norm(nn.Conv2d(c + condition_channels, head_channels, 1)), nn.LeakyReLU(0.2),
                          spectral_norm(nn.Conv2d(head_channels, head_channels, 3, padding=1)), nn.LeakyReLU(0.2),
                          spectral_norm(nn.Conv2d(head_channels, 1, 1)))
            for c in self.TAPS.values())

    def _apply(self, fn, *args, **kwargs):  # .to(device) / .float() reach the unregistered backbone
        self.backbone._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    @property
    def patch_stride(self) -> int:
        """Pixels per output logit along each axis (the pixel PatchGAN's)."""
        return self.pixel.patch_stride

    def forward(self, x: torch.Tensor, z_rx: torch.Tensor, snr_db=10.0) -> torch.Tensor:
        pixel = self.pixel(x, z_rx, snr_db)  # also checks the shapes
        cond = _embed_condition(self.condition, z_rx, snr_db if self.pixel.snr_conditioning else None, x.dtype)
        heads = dict(zip(self.TAPS, self.heads))
        h, logits = (x - self.mean) / self.std, [pixel]
        for i, layer in enumerate(self.backbone[: max(self.TAPS) + 1]):
            h = layer(h)
            if i in heads:
                out = heads[i](torch.cat([h, F.interpolate(cond, size=h.shape[-2:], mode="nearest")], dim=1))
                # antialiased resizing has no bf16 kernel on the CPU: resize in fp32
                with torch.autocast(out.device.type, enabled=False):
                    logits.append(F.interpolate(out.float(), size=pixel.shape[-2:], mode="bilinear",
                                                antialias=True))
        return torch.cat(logits, dim=1)


#: discriminator kinds of ``PerceptualTrainConfig.d_backbone``: ``""`` the pixel PatchGAN,
#: ``"alexnet"`` the PatchGAN plus heads on frozen AlexNet features
DISCRIMINATORS = {"": Discriminator, "alexnet": ProjectedDiscriminator}
