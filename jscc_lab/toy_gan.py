"""A 2-D toy GAN that trains on a CPU in seconds: see a GAN learn, collapse and be cured.

The real data are a **ring of 8 Gaussians** (Metz et al. 2017, *Unrolled GANs*): mode centres on a
circle of radius ``radius``, each with standard deviation ``std``. A small MLP generator maps noise
to points in the plane, a small MLP discriminator scores points, and both are trained with the
package's own adversarial losses (:mod:`jscc_lab.losses`, non-saturating by default), one
discriminator step and one generator step per batch, exactly the schedule of the image GAN.

What it shows in a minute:

* the discriminator's accuracy leaves chance (0.5) at once: unlike an image discriminator trained
  from scratch, this one sees the whole picture;
* the generator **collapses** onto a few of the 8 modes (measured by :func:`modes_covered`);
* a standard cure changes that: the **R1 gradient penalty** on real data (Mescheder et al. 2018,
  :func:`jscc_lab.losses.r1_penalty`) keeps the discriminator smooth around the data, so its
  gradient does not chase the generator from one mode to the next.

Example
-------
>>> from jscc_lab.toy_gan import train_toy_gan, modes_covered
>>> history = train_toy_gan(steps=200, seed=0)                       # doctest: +SKIP
>>> modes_covered(history["samples"][-1])["modes"]                   # doctest: +SKIP
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .losses import adversarial_losses, r1_penalty

__all__ = ["ring_centres", "sample_ring", "ToyGenerator", "ToyDiscriminator", "train_toy_gan", "modes_covered"]


def ring_centres(n_modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """Mode centres ``(n_modes, 2)`` float32, evenly spaced on a circle of ``radius``."""
    angle = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    return (radius * torch.stack([angle.cos(), angle.sin()], dim=1)).float()


def sample_ring(n: int, n_modes: int = 8, radius: float = 2.0, std: float = 0.02,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` real samples ``(n, 2)`` float32: a mode drawn uniformly, plus ``N(0, std^2 I)``.

    ``generator`` (a CPU :class:`torch.Generator`) makes the draw reproducible."""
    modes = torch.randint(n_modes, (n,), generator=generator)
    return ring_centres(n_modes, radius)[modes] + std * torch.randn(n, 2, generator=generator)


def _mlp(n_in: int, hidden: int, layers: int, n_out: int) -> nn.Sequential:
    blocks, width = [], n_in
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    return nn.Sequential(*blocks, nn.Linear(width, n_out))


class ToyGenerator(nn.Module):
    """MLP ``z (N, noise_dim) -> x (N, 2)``: ``layers`` hidden ReLU layers of ``hidden`` units."""

    def __init__(self, noise_dim: int = 16, hidden: int = 128, layers: int = 2):
        super().__init__()
        self.noise_dim = noise_dim
        self.net = _mlp(noise_dim, hidden, layers, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class ToyDiscriminator(nn.Module):
    """MLP ``x (N, 2) -> logits (N, 1)`` (higher = "real"): ``layers`` hidden ReLU layers."""

    def __init__(self, hidden: int = 128, layers: int = 2):
        super().__init__()
        self.net = _mlp(2, hidden, layers, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def modes_covered(samples: torch.Tensor, n_modes: int = 8, radius: float = 2.0, std: float = 0.02,
                  min_share: float = 0.02) -> dict:
    """How many modes of the ring the ``samples`` ``(N, 2)`` reach, and how good they are.

    A sample is **high quality** when it lies within ``3 std`` of its nearest mode centre (a real
    sample does so 98.9 % of the time in 2-D). A mode is **covered** when at least ``min_share`` of
    all samples are high-quality samples of that mode (2 %, a sixth of its fair share 1/8).

    Returns ``{"modes": int, "high_quality": float (share of samples), "per_mode": (n_modes,)
    shares}``.
    """
    centres = ring_centres(n_modes, radius)
    dist = torch.cdist(samples.float(), centres)  # (N, n_modes)
    nearest = dist.min(dim=1)
    good = nearest.values <= 3 * std
    per_mode = torch.bincount(nearest.indices[good], minlength=n_modes).float() / samples.shape[0]
    return {"modes": int((per_mode >= min_share).sum()), "high_quality": float(good.float().mean()),
            "per_mode": per_mode}


def train_toy_gan(steps: int = 3000, r1_weight: float = 0.0, seed: int = 0, batch: int = 256,
                  lr: float = 2e-4, d_lr: float = 1e-3, gan_loss: str = "non_saturating",
                  noise_dim: int = 16, hidden: int = 128, layers: int = 2, n_modes: int = 8,
                  radius: float = 2.0, std: float = 0.02, snapshot_steps=(), n_samples: int = 2000) -> dict:
    """Train the toy GAN: per step one discriminator update, then one generator update.

    Parameters
    ----------
    steps : generator (and discriminator) updates.
    r1_weight : ``gamma`` of the R1 penalty ``gamma / 2 * ||grad_x D(x)||^2`` on real samples
        (0 = off), as ``r1_weight`` in :class:`~jscc_lab.train.PerceptualTrainConfig`.
    seed : seeds the weights, the data and the noise: the same seed gives the same run.
    batch : real and fake samples per step.
    lr, d_lr : Adam (``betas = (0.5, 0.999)``) learning rates of G and D. D learns 5x faster
        (two time-scale updates), so it stays ahead: the setting where plain GANs collapse.
    gan_loss : a kind of :data:`jscc_lab.losses.ADVERSARIAL_LOSSES`.
    noise_dim, hidden, layers : the MLPs. n_modes, radius, std : the ring.
    snapshot_steps : steps (0 = before training) at which to keep ``n_samples`` generated points
        from one fixed noise batch; the last step is always kept.

    Returns
    -------
    history : dict with per-step lists ``"step"``, ``"d_loss"``, ``"g_loss"``, ``"d_acc"`` (share
    of the real and fake batch D puts on the right side of 0, measured before its update; 0.5 =
    chance), ``"d_real"`` / ``"d_fake"`` (mean logits), ``"r1"``; ``"snapshot_steps"`` and
    ``"samples"``: a list of ``(n_samples, 2)`` tensors; ``"generator"`` and ``"discriminator"``
    (the trained modules, in eval mode).
    """
    d_loss_fn, g_loss_fn = adversarial_losses(gan_loss)
    torch.manual_seed(seed)
    G, D = ToyGenerator(noise_dim, hidden, layers), ToyDiscriminator(hidden, layers)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=d_lr, betas=(0.5, 0.999))
    data = torch.Generator().manual_seed(seed + 1)
    noise = torch.Generator().manual_seed(seed + 2)
    z_fixed = torch.randn(n_samples, noise_dim, generator=torch.Generator().manual_seed(seed + 3))
    keep = {int(s) for s in snapshot_steps} | {steps}
    history = {k: [] for k in ("step", "d_loss", "g_loss", "d_acc", "d_real", "d_fake", "r1")}
    history["snapshot_steps"], history["samples"] = [], []

    def snapshot(step):
        if step in keep:
            with torch.no_grad():
                history["snapshot_steps"].append(step)
                history["samples"].append(G(z_fixed))

    snapshot(0)
    for step in range(1, steps + 1):
        # discriminator step: real ring samples vs detached fakes
        real = sample_ring(batch, n_modes, radius, std, generator=data).requires_grad_(r1_weight > 0)
        fake = G(torch.randn(batch, noise_dim, generator=noise)).detach()
        real_logits, fake_logits = D(real), D(fake)
        d_loss = d_loss_fn(real_logits, fake_logits).mean()
        r1 = r1_penalty(real_logits, real).mean() if r1_weight else torch.zeros(())
        opt_d.zero_grad(set_to_none=True)
        (d_loss + 0.5 * r1_weight * r1).backward()
        opt_d.step()
        right = torch.cat([real_logits.detach() > 0, fake_logits.detach() < 0]).float().mean()
        # generator step: fool the (updated) discriminator; gradients only to G
        D.requires_grad_(False)
        g_loss = g_loss_fn(D(G(torch.randn(batch, noise_dim, generator=noise)))).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        logs = {"step": step, "d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()),
                "d_acc": float(right), "d_real": float(real_logits.detach().mean()),
                "d_fake": float(fake_logits.detach().mean()), "r1": float(r1.detach())}
        for k, v in logs.items():
            history[k].append(v)
        snapshot(step)
    history["generator"], history["discriminator"] = G.eval(), D.eval()
    return history
