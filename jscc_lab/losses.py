"""Training losses of the perceptual JSCC system: distortion terms and adversarial terms.

Everything is a small function of tensors (HiFiC style), so a notebook can call each term on its
own and a test can check it. Per-image losses return an ``(N,)`` tensor, which lets the trainer
weight each image by its own realism weight ``beta`` before averaging.

The defaults follow the published code of Wang et al., "Perceptual Learned Source-Channel Coding
for High-Fidelity Image Semantic Transmission" (GLOBECOM 2022; the ``_pdjscc`` folder of the
DiffCom repository), which trains with

    loss_G = 0.01 * MSE(x, x_hat on the 0-255 scale) + 1.0 * LPIPS_alex(x, x_hat)
             + 5.0 * G_non_saturating(D(x_hat))

and the discriminator with the non-saturating (binary cross-entropy) loss. Note the **scale**:
the MSE term is on pixel values in ``[0, 255]``, i.e. ``255**2 = 65025`` times the MSE on
``[0, 1]``. At PSNR ``p`` dB the term ``0.01 * MSE_255 = 0.01 * 255**2 * 10**(-p/10)`` is 0.65
at 30 dB and 6.5 at 20 dB: the same order as the LPIPS term (0.1-0.5), which is why the paper
can weight LPIPS with 1.0. (Weights for an MSE on ``[0, 1]`` would be 65025 times larger.)

Adversarial losses take discriminator *logits* (any shape ``(N, ...)``, e.g. a PatchGAN map
``(N, 1, h, w)``), average over everything but the batch dimension, and return:

* ``d_loss(real_logits, fake_logits) -> (N,)`` the discriminator's loss per image,
* ``g_loss(fake_logits) -> (N,)`` the generator's adversarial loss per image.

:data:`ADVERSARIAL_LOSSES` maps ``"non_saturating"``, ``"hinge"``, ``"least_squares"`` to these
pairs; :func:`adversarial_losses` looks one up with a helpful error.

Example
-------
>>> import torch
>>> from jscc_lab.losses import adversarial_losses, mse_255
>>> d_loss, g_loss = adversarial_losses("hinge")
>>> real, fake = torch.full((2, 1, 4, 4), 2.0), torch.full((2, 1, 4, 4), -2.0)
>>> d_loss(real, fake)            # D is right with margin: zero hinge loss
tensor([0., 0.])
>>> mse_255(torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 1 / 255))
tensor([1.])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "PAPER_WEIGHTS",
    "mse_255",
    "colour_mse_255",
    "grid_ms_255",
    "LPIPSLoss",
    "DistortionLoss",
    "non_saturating_d",
    "non_saturating_g",
    "hinge_d",
    "hinge_g",
    "least_squares_d",
    "least_squares_g",
    "ADVERSARIAL_LOSSES",
    "adversarial_losses",
    "r1_penalty",
]

#: loss weights of the paper's published code: 0.01 * MSE(0-255) + 1.0 * LPIPS(alex) + 5.0 * G_ns
PAPER_WEIGHTS = {"mse": 0.01, "lpips": 1.0, "lpips_net": "alex", "adversarial": 5.0,
                 "gan_loss": "non_saturating"}


def _per_image(t: torch.Tensor) -> torch.Tensor:
    """Mean over every dimension but the first: ``(N, ...) -> (N,)`` in float32."""
    if t.ndim == 0:
        raise ValueError("expected a tensor with a batch dimension (N, ...), got a scalar")
    return t.float().reshape(t.shape[0], -1).mean(dim=1)


# ---------------------------------------------------------------------------------------------
# distortion
# ---------------------------------------------------------------------------------------------


def mse_255(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image **on the 0-255 scale** (the paper code's convention).

    Input: ``x``, ``x_hat`` ``(N, 3, H, W)`` in ``[0, 1]`` (same shape). Output: ``(N,)``
    float32, lower is better; ``mse_255 = 255**2 * mse_01`` and ``PSNR = 10 log10(255**2 / mse_255)``.
    """
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}")
    return _per_image((x_hat.float() - x.float()).square()) * 255.0**2


def colour_mse_255(x: torch.Tensor, x_hat: torch.Tensor, block: int = 8) -> torch.Tensor:
    """:func:`mse_255` of the ``block`` x ``block`` means of ``x`` and ``x_hat``: blind to texture
    inside a block, so it pins colour and low frequencies and leaves detail to LPIPS and the GAN.

    Input: ``(N, 3, H, W)`` in ``[0, 1]``, ``H, W`` multiples of ``block``. Output: ``(N,)`` float32.
    """
    return mse_255(F.avg_pool2d(x.float(), block), F.avg_pool2d(x_hat.float(), block))


def grid_ms_255(x: torch.Tensor, x_hat: torch.Tensor, period: int = 16) -> torch.Tensor:
    """Mean square (8-bit levels squared) of the grid a decoder stamps on every image: the luma
    error's part that repeats every ``period`` pixels (:func:`jscc_lab.metrics.fixed_pattern`),
    **averaged over the batch** before squaring. A batch-level term: what one image's error does
    by chance, and a pattern only one image has, average out (the grids of TAEF2-based models
    correlate 0.3-0.7 between images); blind to everything that does not repeat.

    Input: ``(N, 3, H, W)``, ``H, W >= 2 * period`` (``x_hat`` may overshoot ``[0, 1]``).
    Output: ``(N,)`` float32, the batch's value for each image (so a per-image loss can carry it).
    """
    from .metrics.pixel import periodic_error

    pattern = periodic_error(x, x_hat, period)[0].mean(dim=0)
    return pattern.square().mean().expand(x.shape[0])


class LPIPSLoss(nn.Module):
    """LPIPS as a training loss: gradients flow to ``x_hat``, never into the frozen backbone.

    Wraps :class:`jscc_lab.metrics.LPIPS` (ImageNet backbone from the offline weights, shared
    and frozen, not a submodule: a model holding this loss gains no parameters or state).

    Parameters
    ----------
    net : ``"alex"`` (the paper's choice for the loss) or ``"vgg"``.

    Input: ``x``, ``x_hat`` ``(N, 3, H, W)`` in ``[0, 1]``, ``H, W >= 32`` (alex) / ``16`` (vgg).
    Output: ``(N,)`` float32, lower is better.
    """

    def __init__(self, net: str = "alex"):
        super().__init__()
        from .metrics import LPIPS

        self.net = net
        self._lpips = LPIPS(net)

    def forward(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        # The metric checks that values lie in [0, 1]; under bf16 autocast a sigmoid output can
        # round a hair past 1, so clamp (its gradient is 1 inside the range).
        return self._lpips(x.float().clamp(0, 1), x_hat.float().clamp(0, 1))

    def extra_repr(self) -> str:
        return f"net={self.net!r}"


@dataclass
class DistortionLoss:
    """Weighted distortion ``mse_weight * MSE_255 + lpips_weight * LPIPS_net (+ colour_weight *
    colour_255 + grid_weight * grid_255)`` per image.

    Parameters
    ----------
    mse_weight : weight of :func:`mse_255` (paper code: 0.01). ``0`` drops the term.
    lpips_weight : weight of LPIPS (paper code: 1.0). ``0`` drops the term (and never builds
        the LPIPS network).
    lpips_net : ``"alex"`` (paper) or ``"vgg"``.
    colour_weight : weight of :func:`colour_mse_255`, the MSE of the 8x8-block means (colour and
        low frequencies only, so texture stays free); ``0`` (default, the paper) drops the term.
    grid_weight : weight of :func:`grid_ms_255`, the square of the error's 16-pixel fixed pattern
        over the batch (a grid the decoder stamps); ``0`` (default, the paper) drops the term.

    Call: ``loss(x, x_hat, lpips_scale=None) -> (total, parts)`` with ``total`` ``(N,)`` float32
    and ``parts`` a dict of the unweighted per-image terms (``"mse_255"``, ``"lpips"``) for
    logging; ``lpips_scale`` ``(N,)`` (optional) multiplies each image's LPIPS term.
    """

    mse_weight: float = PAPER_WEIGHTS["mse"]
    lpips_weight: float = PAPER_WEIGHTS["lpips"]
    lpips_net: str = PAPER_WEIGHTS["lpips_net"]
    colour_weight: float = 0.0
    grid_weight: float = 0.0

    def __post_init__(self):
        for name in ("mse_weight", "lpips_weight", "colour_weight", "grid_weight"):
            value = getattr(self, name)
            if not (value >= 0 and value < float("inf")):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.mse_weight == 0 and self.lpips_weight == 0:
            raise ValueError("mse_weight and lpips_weight are both 0: the distortion loss would be empty")
        if self.lpips_net not in ("alex", "vgg"):
            raise ValueError(f"lpips_net must be 'alex' or 'vgg', got {self.lpips_net!r}")
        self._lpips = LPIPSLoss(self.lpips_net) if self.lpips_weight else None

    def __call__(self, x: torch.Tensor, x_hat: torch.Tensor, lpips_scale: torch.Tensor | None = None):
        parts = {}
        total = torch.zeros(x.shape[0], device=x.device)
        if self.mse_weight:
            parts["mse_255"] = mse_255(x, x_hat)
            total = total + self.mse_weight * parts["mse_255"]
        if self._lpips is not None:
            parts["lpips"] = self._lpips(x, x_hat)
            weight = self.lpips_weight if lpips_scale is None else self.lpips_weight * lpips_scale
            total = total + weight * parts["lpips"]
        if self.colour_weight:
            parts["colour_255"] = colour_mse_255(x, x_hat)
            total = total + self.colour_weight * parts["colour_255"]
        if self.grid_weight:
            parts["grid_255"] = grid_ms_255(x, x_hat)
            total = total + self.grid_weight * parts["grid_255"]
        return total, parts


# ---------------------------------------------------------------------------------------------
# adversarial losses: (d_loss, g_loss) per kind, on logits
# ---------------------------------------------------------------------------------------------


def non_saturating_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator BCE (Goodfellow et al. 2014; HiFiC, the paper's code):
    ``-log sigmoid(D(x)) - log(1 - sigmoid(D(x_hat)))`` = ``softplus(-real) + softplus(fake)``.
    Output ``(N,)``, lower when real logits are high and fake logits low."""
    return _per_image(F.softplus(-real_logits.float())) + _per_image(F.softplus(fake_logits.float()))


def non_saturating_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator's non-saturating loss ``-log sigmoid(D(x_hat))`` = ``softplus(-fake)``, ``(N,)``.

    Unlike ``log(1 - sigmoid)`` its gradient does not vanish when D confidently rejects fakes."""
    return _per_image(F.softplus(-fake_logits.float()))


def hinge_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator hinge loss (Lim & Ye 2017; SAGAN, BigGAN):
    ``relu(1 - D(x)) + relu(1 + D(x_hat))``, ``(N,)``; zero once D is right with margin 1."""
    return _per_image(F.relu(1 - real_logits.float())) + _per_image(F.relu(1 + fake_logits.float()))


def hinge_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator hinge loss ``-D(x_hat)``, ``(N,)`` (unbounded below; keep D spectrally normed)."""
    return -_per_image(fake_logits)


def least_squares_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator least-squares loss (LSGAN, Mao et al. 2017; Agustsson et al. 2019):
    ``(D(x) - 1)^2 + D(x_hat)^2``, ``(N,)``."""
    return _per_image((real_logits.float() - 1).square()) + _per_image(fake_logits.float().square())


def least_squares_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator least-squares loss ``(D(x_hat) - 1)^2``, ``(N,)``."""
    return _per_image((fake_logits.float() - 1).square())


#: kind -> (d_loss(real_logits, fake_logits), g_loss(fake_logits)), each returning ``(N,)``
ADVERSARIAL_LOSSES: dict[str, tuple[Callable, Callable]] = {
    "non_saturating": (non_saturating_d, non_saturating_g),
    "hinge": (hinge_d, hinge_g),
    "least_squares": (least_squares_d, least_squares_g),
}


def adversarial_losses(kind: str = "non_saturating") -> tuple[Callable, Callable]:
    """The ``(d_loss, g_loss)`` pair of ``kind`` (see :data:`ADVERSARIAL_LOSSES`)."""
    if kind not in ADVERSARIAL_LOSSES:
        raise ValueError(f"unknown adversarial loss {kind!r}; valid kinds: {', '.join(ADVERSARIAL_LOSSES)}")
    return ADVERSARIAL_LOSSES[kind]


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 gradient penalty (Mescheder et al. 2018): ``||grad_x D(x)||^2`` per real image.

    ``real_images`` must have ``requires_grad=True`` and ``real_logits`` must come from it;
    the graph is kept so the penalty can be back-propagated into D. Multiply by ``gamma / 2``
    (e.g. ``gamma = 1-10``) and add to the discriminator loss.

    Output: ``(N,)`` float32.
    """
    if not real_images.requires_grad:
        raise ValueError("real_images must require grad (call real_images.requires_grad_(True) before D)")
    (grad,) = torch.autograd.grad(real_logits.float().sum(), real_images, create_graph=True)
    return grad.float().square().reshape(grad.shape[0], -1).sum(dim=1)
