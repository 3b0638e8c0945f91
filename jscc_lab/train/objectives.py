"""Training objectives and validation: every objective is ``objective(model, x, snr_db,
generator, **conditions) -> (loss, logs)`` so the trainer can swap them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..metrics import psnr
from ..models import AtCBR

__all__ = ["mse_objective", "latent_mse_objective", "validate_psnr"]


def mse_objective(model: nn.Module, x: torch.Tensor, snr_db: torch.Tensor, generator=None, **conditions):
    """Distortion objective: mean squared error of ``model(x, snr_db)`` (PSNR-optimised JSCC).

    ``conditions`` (e.g. ``cbr=`` per image for a rate-adaptive model) go to the model.
    Returns ``(loss, logs)``; every objective has this shape so the trainer can swap them.
    """
    x_hat = model(x, snr_db, generator=generator, **conditions)
    loss = F.mse_loss(x_hat.float(), x.float())
    return loss, {"mse": loss.detach()}


def latent_mse_objective(model: nn.Module, x: torch.Tensor, snr_db: torch.Tensor, generator=None,
                         **conditions):
    """MSE between a pretrained-autoencoder latent and its estimate after the channel.

    For models with ``latent(x)`` and ``latent_forward(z, snr_db, ...)`` (e.g.
    :class:`~jscc_lab.models.TAEJSCC`): the image decoder is not run, so a step costs a fraction of
    an image-space one. The target latent carries no gradient. Returns ``(loss, logs)``.
    """
    model = getattr(model, "module", model)  # DDP / compile wrappers
    with torch.no_grad():
        z = model.latent(x)
    z_hat = model.latent_forward(z, snr_db, generator=generator, **conditions)
    loss = F.mse_loss(z_hat.float(), z.float())
    return loss, {"latent_mse": loss.detach()}


@torch.no_grad()
def validate_psnr(model: nn.Module, images: torch.Tensor, snrs_db, batch_size: int = 25,
                  seed: int = 0) -> dict[str, float]:
    """Mean PSNR (dB, higher is better) of ``model`` on ``images`` at each SNR in ``snrs_db``
    (and, for a rate-adaptive model, at each CBR in ``model.cbrs``).

    The channel noise is seeded (``seed``), so validation numbers are comparable across steps.
    Returns ``{"psnr@10dB": ..., ...}`` (``{"psnr@10dB,cbr1/48": ...}`` for rate-adaptive models).
    """
    cbrs = model.cbrs
    if cbrs is not None:
        from ..channels import cbr_label

        out = {}
        for c in cbrs:
            one = validate_psnr(AtCBR(model, c), images, snrs_db, batch_size, seed)
            out.update({f"{k},cbr{cbr_label(c)}": v for k, v in one.items()})
        return out
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = {}
    for snr in snrs_db:
        g = torch.Generator(device=device).manual_seed(seed)
        values = []
        for i in range(0, images.shape[0], batch_size):
            x = images[i : i + batch_size].to(device)
            values.append(psnr(x, model(x, float(snr), generator=g).float()).cpu())
        out[f"psnr@{float(snr):g}dB"] = torch.cat(values).mean().item()
    model.train(was_training)
    return out
