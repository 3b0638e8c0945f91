"""Training the perceptual JSCC system: stage 1 (MSE + LPIPS), then the GAN fine-tune.

Extends :class:`jscc_lab.train.Trainer` (same data, SNR sampling, seeding, validation, atomic
checkpoints and exact resume) through its override points:

* :class:`PerceptualTrainConfig` adds the loss weights (defaults from the paper's code:
  ``0.01 * MSE_255 + 1.0 * LPIPS_alex + 5.0 * G_non_saturating``), the discriminator, the realism
  sampling and the guards. Saved / loaded as TOML like every config.
* ``stage = "distortion"`` trains encoder + generator on ``MSE + LPIPS`` (the paper's first stage).
  ``stage = "gan"`` warm-starts from that checkpoint (``init_from``) and alternates one
  discriminator step and one generator step per batch with separate Adam optimisers (both
  1e-4 in the paper), as HiFiC does.
* **Realism conditioning** (Agustsson et al. 2023): each image draws ``beta ~ U[0, 1]`` (with
  probability ``beta_edge_prob`` exactly 0 or 1), the generator is told ``beta``, and its
  adversarial loss is weighted by ``beta``: ``loss_i = distortion_i + w_adv * beta_i * g_i``.
  ``beta = 0`` is thus the stage-1 objective and ``beta = 1`` the paper's full objective.
  With ``beta_scales_lpips`` the LPIPS term is weighted by ``beta`` too
  (``loss_i = w_mse * mse_i + beta_i * (w_lp * lpips_i + w_adv * g_i)``): ``beta = 0`` is then
  the MSE end (the PSNR model's objective), which makes the knob span distortion to realism.
* **Guards**: a non-finite loss or gradient stops the run *before* the optimiser step with a
  :class:`TrainingDiverged` error naming the last good checkpoint (``last.pt`` is written
  atomically and only from finite states). A distortion that stays above
  ``divergence_factor`` x its level at the start of the stage for ``divergence_patience``
  steps (the generator trading fidelity for fooling D: mode collapse, texture hallucination
  gone wild) stops the run the same way.
* **Sample grids**: every ``sample_every`` steps ``out_dir/samples/step_XXXXXXX.png`` shows fixed
  validation crops: original, then the reconstruction at ``beta = 0, 0.5, 1`` (10 dB; for a
  rate-adaptive model, those three at each of its CBRs).
* **Two model families**: ``model = "perceptual"`` (:class:`~jscc_lab.models.perceptual.PerceptualJSCC`,
  one CBR) and ``model = "taejscc"`` (:class:`~jscc_lab.models.taejscc.TAEJSCC` built with
  ``realism=True``: the pretrained TAEF2 autoencoder with SNR-, CBR- and realism-conditioned
  adapters, one checkpoint for every SNR, CBR and ``beta``). For the latter each image also
  draws its CBR (:meth:`~jscc_lab.train.Trainer.conditions`), validation runs at every CBR, and
  ``init_from`` may be a PSNR TAEJSCC checkpoint (``realism=False``): its weights are loaded and
  the realism weights it lacks start at zero (named in the log and in the provenance).
  ``freeze`` / ``pretrained_modules`` / ``pretrained_lr_fraction`` work as in
  :class:`~jscc_lab.train.TrainConfig`.

Run ``jscc-lab train jscc_lab/configs/perceptual_cpu_stage1.toml``, then the
``perceptual_cpu_gan.toml`` stage (see the configs for the full recipe);
``taejscc_perceptual_stage1.toml`` / ``taejscc_perceptual_gan.toml`` for the TAEJSCC family.

Example
-------
>>> from jscc_lab.train import PerceptualTrainConfig, train_perceptual
>>> cfg = PerceptualTrainConfig(name="p1", stage="distortion", steps=100, crop=64)  # doctest: +SKIP
>>> train_perceptual(cfg)                                                           # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from torch import nn

from ..channels import cbr_label
from ..files import sha256_of
from ..losses import DistortionLoss, adversarial_losses, r1_penalty
from ..metrics import LPIPS, psnr
from ..models.discriminator import DISCRIMINATORS
from .config import PerceptualTrainConfig, load_config
from .trainer import Trainer, _mix_seed

__all__ = [
    "PerceptualTrainConfig",
    "GANTrainer",
    "TrainingDiverged",
    "train_perceptual",
    "sample_betas",
]

class TrainingDiverged(RuntimeError):
    """Training produced a non-finite value or a run-away distortion; the run was stopped."""


def sample_betas(batch: int, edge_prob: float, generator: torch.Generator) -> torch.Tensor:
    """Realism weights ``(batch,)``: ``U[0, 1]``, but with probability ``edge_prob`` exactly 0 or 1
    (half each), so both ends of the trade-off are trained as often as asked."""
    beta = torch.rand(batch, generator=generator)
    edge = torch.rand(batch, generator=generator) < edge_prob
    ends = (torch.rand(batch, generator=generator) < 0.5).float()
    return torch.where(edge, ends, beta)


def _load_any(path) -> dict:
    from ..checkpoints import load_checkpoint

    return load_checkpoint(path)


class GANTrainer(Trainer):
    """:class:`~jscc_lab.train.Trainer` with the perceptual objective and the GAN schedule.

    Parameters
    ----------
    config : a :class:`PerceptualTrainConfig`.
    progress : tqdm progress bar.

    Attributes: ``model`` (a :class:`~jscc_lab.models.perceptual.PerceptualJSCC`, or a
    :class:`~jscc_lab.models.taejscc.TAEJSCC` with ``realism=True``), ``discriminator`` and
    ``d_optimizer`` (``None`` in the distortion stage), ``optimizer`` (the encoder + generator's
    Adam; ``freeze`` / ``pretrained_modules`` as in :class:`~jscc_lab.train.Trainer`),
    ``warm_start`` (provenance of ``init_from`` / ``init_encoder_from``; ``new_keys`` lists the
    weights a PSNR TAEJSCC checkpoint did not have).

    The discriminator is conditioned on the received symbol grid ``z_rx`` of
    ``model(..., return_latent=True)``, built from ``model.latent_channels`` and
    ``model.downsample``. A TAEJSCC's reconstructions are not clamped in training mode, so the
    distortion and the discriminator see (and push back) values outside ``[0, 1]``.
    """

    def __init__(self, config: PerceptualTrainConfig, progress: bool = True, resume: bool = False):
        if not isinstance(config, PerceptualTrainConfig):
            raise TypeError(f"config must be a PerceptualTrainConfig, got {type(config).__name__}")
        super().__init__(config, objective=None, progress=progress, resume=resume)
        c = config
        self.distortion = DistortionLoss(c.mse_weight, c.lpips_weight, c.lpips_net, c.colour_weight, c.grid_weight)
        self.warm_start: dict = {}
        if c.init_encoder_from and not self.resuming:
            self._init_encoder(c.init_encoder_from)
        d_state = self._init_model(c.init_from) if c.init_from and not self.resuming else None
        self.discriminator = self.d_net = self.d_optimizer = None
        if c.stage == "gan":
            self.d_loss_fn, self.g_loss_fn = adversarial_losses(c.gan_loss)
            torch.manual_seed(_mix_seed(c.seed, 7))
            self.discriminator = DISCRIMINATORS[c.d_backbone](
                self.model.latent_channels, filters=c.d_filters, upsample=self.model.downsample).to(self.device)
            self.d_net = self.discriminator
            if self.distributed:
                ids = [self.device.index] if self.device.type == "cuda" else None
                self.d_net = nn.parallel.DistributedDataParallel(self.discriminator, device_ids=ids)
            self.d_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=c.d_lr)
            if d_state and c.init_discriminator:
                self._init_discriminator(c.init_from, d_state)
        self.guard = {"reference": None, "warmup_sum": 0.0, "warmup_n": 0, "bad_steps": 0}
        self._sample_images = None

    # ---- warm starts ---------------------------------------------------------------------

    def _init_weights(self, path) -> None:
        """:class:`~jscc_lab.train.Trainer`'s ``init_from`` hook, called while it is built: a GAN
        run loads ``init_from`` itself, in :meth:`_init_model` once the trainer is set up (after
        ``init_encoder_from``, recording provenance, and accepting a PSNR TAEJSCC checkpoint)."""

    def _init_model(self, path) -> dict | None:
        """Load ``init_from``'s model weights; returns its discriminator state (``{"discriminator",
        "d_optimizer"}``) when it is a GAN checkpoint with one, else ``None``."""
        ckpt = _load_any(path)
        c = self.config
        spec, new_keys = ckpt.get("model"), []
        if spec == c.model_spec():
            self.model.load_state_dict(ckpt["state_dict"])
        elif spec is not None and spec in c.warm_start_specs():
            new_keys = self._load_without_new_weights(path, ckpt["state_dict"])
        else:
            also = f" (or {' or '.join(map(str, c.warm_start_specs()))})" if c.warm_start_specs() else ""
            raise ValueError(f"init_from={path} holds model {spec}, this run needs "
                             f"{c.model_spec()}{also}; train stage 1 with the same model fields")
        prov = ckpt.get("provenance", {})
        self.warm_start["model"] = {"file": Path(path).name, "sha256": sha256_of(path),
                                    "stage": ckpt.get("config", {}).get("stage", "psnr" if new_keys else "?"),
                                    "steps": prov.get("steps"), "wall_time_s": prov.get("wall_time_s"),
                                    "device": prov.get("device")}
        if new_keys:
            self.warm_start["model"]["new_keys"] = new_keys
        extra = ckpt.get("extra") or {}
        return extra if "discriminator" in extra else None

    def _init_discriminator(self, path, state: dict) -> None:
        try:
            self.discriminator.load_state_dict(state["discriminator"])
        except RuntimeError as err:
            raise ValueError(f"init_from={path}: its discriminator does not fit this run (same d_backbone and "
                             f"d_filters needed, or init_discriminator = false): {str(err).splitlines()[-1].strip()}") from err
        self.d_optimizer.load_state_dict(state["d_optimizer"])
        self.warm_start["discriminator"] = Path(path).name

    def _load_without_new_weights(self, path, state: dict) -> list[str]:
        """Load a TAEJSCC ``state`` that lacks some zero-initialised weights of this model (a PSNR
        checkpoint: no realism input; a realism one without ``decoder_film``): every weight it has
        must fit, and the only ones it may lack are ``model.realism_keys()`` (they keep their zero
        initialisation, so the model starts as that checkpoint's at every ``beta``).
        Returns the new keys (also printed)."""
        try:
            missing, unexpected = self.model.load_state_dict(state, strict=False)
        except RuntimeError as err:  # a shape mismatch
            raise ValueError(f"init_from={path}: its weights do not fit this model: "
                             f"{str(err).splitlines()[-1].strip()}") from err
        allowed = set(self.model.realism_keys())
        wrong = sorted(set(missing) - allowed) + sorted(unexpected)
        if wrong:
            raise ValueError(f"init_from={path}: only the zero-initialised weights {sorted(allowed)} may be missing, "
                             f"but {wrong} do not match (missing or unexpected)")
        if self.rank == 0:
            print(f"init_from={Path(path).name}: a checkpoint without some of this model's weights; new weights "
                  f"(zero, so the run starts as that model at every beta): {', '.join(missing)}", flush=True)
        return sorted(missing)

    def _init_encoder(self, path) -> None:
        ckpt = _load_any(path)
        prefix = "encoder."
        state = {k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
        try:
            self.model.encoder.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"init_encoder_from={path}: its encoder does not fit this model "
                             f"(same cbr and width needed): {str(err).splitlines()[0]}") from err
        prov = ckpt.get("provenance", {})
        self.warm_start["encoder"] = {"file": Path(path).name, "sha256": sha256_of(path),
                                      "model": ckpt.get("model"), "steps": prov.get("steps"),
                                      "wall_time_s": prov.get("wall_time_s"), "device": prov.get("device")}

    # ---- one step --------------------------------------------------------------------------

    def betas(self, step: int, micro: int) -> torch.Tensor:
        """Realism weights of micro-batch ``micro`` of ``step``: a pure function of the seed."""
        c = self.config
        u = (step * self.world_size + self.rank) * c.grad_accum + micro
        # Trainer.conditions draws a rate-adaptive model's CBRs from stream 3: its betas take
        # stream 4 (single-CBR perceptual runs keep stream 3, so their runs are unchanged)
        stream = 3 if self.model.cbrs is None else 4
        g = torch.Generator().manual_seed(_mix_seed(c.seed, u, stream))
        return sample_betas(c.batch_size, c.beta_edge_prob, g).to(self.device)

    def _check_finite(self, step: int, **values) -> None:
        for name, value in values.items():
            v = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
            if not math.isfinite(v):
                self._stop(step, f"{name} is {v}")

    def _stop(self, step: int, reason: str) -> None:
        last = self.config.output_dir / "last.pt"
        advice = "lower lr / d_lr or adversarial_weight, or set r1_weight (e.g. 1.0) or grad_clip"
        if last.is_file():
            where = f"The last good checkpoint is {last}: {advice}, then resume from it (resume=True / --resume)"
        else:
            where = (f"No checkpoint has been written yet, so there is nothing to resume: {advice}, "
                     "then start the run again")
        raise TrainingDiverged(f"training stopped at step {step + 1}: {reason}; the weights were not "
                               f"updated with this step. {where}.")

    def _guard_distortion(self, step: int, distortion: float) -> None:
        g, c = self.guard, self.config
        if g["reference"] is None:
            g["warmup_sum"] += distortion
            g["warmup_n"] += 1
            if g["warmup_n"] >= c.guard_warmup:
                g["reference"] = g["warmup_sum"] / g["warmup_n"]
            return
        g["bad_steps"] = g["bad_steps"] + 1 if distortion > c.divergence_factor * g["reference"] else 0
        if g["bad_steps"] >= c.divergence_patience:
            self._stop(step, f"the distortion loss stayed above {c.divergence_factor} x its starting "
                             f"level {g['reference']:.4g} for {g['bad_steps']} steps (now {distortion:.4g})")

    def training_step(self, step: int) -> dict[str, float]:
        c = self.config
        lr = self.lr_at(step)
        for group in self.optimizer.param_groups:  # pretrained_modules train at a fraction
            group["lr"] = lr * group.get("lr_fraction", 1.0)
        gan = self.discriminator is not None
        if gan:
            for group in self.d_optimizer.param_groups:
                group["lr"] = c.d_lr * lr / c.lr
        autocast = torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp)
        totals: dict[str, float] = {}

        def log(**values):
            for k, v in values.items():
                totals[k] = totals.get(k, 0.0) + float(v) / c.grad_accum

        # (x, snr, noise, beta, conditions): conditions = {"cbr": (N,)} for a rate-adaptive model
        batches = [(*self.micro_batch(step, m), self.betas(step, m), self.conditions(step, m))
                   for m in range(c.grad_accum)]
        outputs = []
        self.optimizer.zero_grad(set_to_none=True)
        for x, snr, noise, beta, cond in batches:
            with autocast:
                x_hat, z = self.net(x, snr, beta=beta, generator=noise, return_latent=True, **cond)
            outputs.append((x_hat, z.detach()))

        if gan:  # the logs of the last update: where D stands just before the G step
            for _ in range(c.d_steps):
                d_logs = self.discriminator_step(step, batches, outputs)
            totals.update(d_logs)
            self.discriminator.requires_grad_(False)  # G step: gradients only to encoder + generator

        for (x, snr, _, beta, _), (x_hat, z) in zip(batches, outputs):
            with autocast:
                dist, parts = self.distortion(x, x_hat, lpips_scale=beta if c.beta_scales_lpips else None)
                loss_i = dist
                if gan:
                    # the unwrapped D: no gradients for its parameters, so nothing for DDP to sync
                    g_adv = self.g_loss_fn(self.discriminator(x_hat, z, snr))
                    loss_i = dist + c.adversarial_weight * beta * g_adv
                    log(g_adv=g_adv.detach().mean())
                loss = loss_i.mean()
            self._check_finite(step, generator_loss=loss)
            (loss / c.grad_accum).backward()
            log(loss=loss.detach(), distortion=dist.detach().mean(),
                **{k: v.detach().mean() for k, v in parts.items()})
        norm = nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip if c.grad_clip else float("inf"))
        self._check_finite(step, generator_grad_norm=norm)
        self._guard_distortion(step, totals["distortion"])
        self.optimizer.step()
        totals["grad_norm"], totals["lr"] = float(norm), lr
        if c.sample_every and (step + 1) % c.sample_every == 0 and self.rank == 0:
            self.save_samples(step + 1)
        return totals

    def discriminator_step(self, step: int, batches: list, outputs: list) -> dict[str, float]:
        """One discriminator update on real vs detached fake images, conditioned on the received
        latent: ``batches`` ``[(x, snr, ...)]`` and ``outputs`` ``[(x_hat, z_rx)]`` per micro-batch.
        Returns the logs averaged over micro-batches: ``d_loss``, ``d_real`` / ``d_fake`` (mean
        logits), ``d_acc`` (share of images whose mean patch logit D gets on the right side of 0;
        0.5 = chance: D is not telling the generator anything) and ``r1`` when on."""
        c = self.config
        autocast = torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp)
        logs: dict[str, float] = {}
        self.discriminator.requires_grad_(True)
        self.d_optimizer.zero_grad(set_to_none=True)
        for (x, snr, *_), (x_hat, z) in zip(batches, outputs):
            x_real = x.detach().requires_grad_(c.r1_weight > 0)
            with autocast:  # one forward over real + fake (one DDP forward per backward)
                logits = self.d_net(torch.cat([x_real, x_hat.detach()]), torch.cat([z, z]), torch.cat([snr, snr]))
                real, fake = logits.chunk(2)
                d_loss = self.d_loss_fn(real, fake).mean()
                r1 = r1_penalty(real, x_real).mean() if c.r1_weight else torch.zeros(())
            self._check_finite(step, d_loss=d_loss, r1_penalty=r1)
            ((d_loss + 0.5 * c.r1_weight * r1) / c.grad_accum).backward()
            right = torch.cat([real.float().mean((1, 2, 3)) > 0, fake.float().mean((1, 2, 3)) < 0])
            values = {"d_loss": d_loss, "d_real": real.float().mean(), "d_fake": fake.float().mean(),
                      "d_acc": right.float().mean(), **({"r1": r1} if c.r1_weight else {})}
            for k, v in values.items():
                logs[k] = logs.get(k, 0.0) + float(v.detach()) / c.grad_accum
        d_norm = nn.utils.clip_grad_norm_(self.discriminator.parameters(),
                                          c.grad_clip if c.grad_clip else float("inf"))
        self._check_finite(step, discriminator_grad_norm=d_norm)
        self.d_optimizer.step()
        return logs

    # ---- samples and validation ---------------------------------------------------------

    def _operating_points(self) -> list[tuple[dict, str]]:
        """``[(model kwargs, metric-name suffix)]``: one per CBR of a rate-adaptive model
        (``({"cbr": 1/48}, ",cbr1/48")``, ...), else one with no CBR."""
        cbrs = self.model.cbrs
        if cbrs is None:
            return [({}, "")]
        return [({"cbr": cbr}, f",cbr{cbr_label(cbr)}") for cbr in cbrs]

    @torch.no_grad()
    def sample_grid(self, n_images: int = 4, betas=(0.0, 0.5, 1.0), snr_db: float = 10.0) -> torch.Tensor:
        """Rows: the first ``n_images`` validation crops; columns: original, then ``beta`` values
        (for a rate-adaptive model: the ``beta`` values at each of its CBRs, lowest CBR first).

        Returns a ``(3, H', W')`` image grid in ``[0, 1]`` (seeded channel noise).
        """
        from torchvision.utils import make_grid

        x = self.val_images[:n_images].to(self.device)
        was_training = self.model.training
        self.model.eval()
        columns = [x]
        for cond, _ in self._operating_points():
            for beta in betas:
                g = torch.Generator(device=self.device).manual_seed(self.config.seed)
                columns.append(self.model(x, snr_db, beta=beta, generator=g, **cond).float())
        self.model.train(was_training)
        tiles = torch.stack(columns, dim=1).flatten(0, 1)  # image-major: one row per image
        return make_grid(tiles.cpu(), nrow=len(columns), padding=2, pad_value=1.0)

    def save_samples(self, step: int) -> Path:
        """Write :meth:`sample_grid` to ``out_dir/samples/step_XXXXXXX.png``."""
        from ..data import to_image

        path = self.config.output_dir / "samples" / f"step_{step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        to_image(self.sample_grid()[None]).save(path)
        return path

    def validate(self) -> dict[str, float]:
        """PSNR (``val_psnr_db``, at ``beta = 0``) and LPIPS-alex at ``beta = 0`` and ``1`` per SNR
        (and per CBR of a rate-adaptive model: ``psnr@10dB,beta=0,cbr1/48``; the ``val_*``
        summaries average over SNRs and CBRs).

        ``best.pt`` keeps the best ``val_psnr_db`` (the trainer's rule); a GAN run releases
        ``last.pt`` instead, as HiFiC does: no single validation number ranks GAN checkpoints.
        """
        c = self.config
        was_training = self.model.training
        self.model.eval()
        lpips = LPIPS("alex", device=self.device)
        metrics: dict[str, float] = {}
        with torch.no_grad(), torch.autocast(device_type=self.device.type, dtype=torch.bfloat16,
                                             enabled=self.amp):
            for snr in c.val_snr_db:
                for cond, suffix in self._operating_points():
                    for beta in (0.0, 1.0):
                        g = torch.Generator(device=self.device).manual_seed(c.seed)
                        p, lp = [], []
                        for i in range(0, self.val_images.shape[0], c.val_batch):
                            x = self.val_images[i : i + c.val_batch].to(self.device)
                            x_hat = self.model(x, float(snr), beta=beta, generator=g, **cond).float().clamp(0, 1)
                            p.append(psnr(x, x_hat).cpu())
                            lp.append(lpips(x, x_hat).cpu())
                        metrics[f"psnr@{snr:g}dB,beta={beta:g}{suffix}"] = torch.cat(p).mean().item()
                        metrics[f"lpips@{snr:g}dB,beta={beta:g}{suffix}"] = torch.cat(lp).mean().item()
        self.model.train(was_training)
        points = [f"@{s:g}dB,beta={{}}{suffix}" for s in c.val_snr_db for _, suffix in self._operating_points()]

        def mean(kind, beta):
            return sum(metrics[kind + p.format(beta)] for p in points) / len(points)

        metrics["val_psnr_db"] = mean("psnr", 0)
        metrics["val_lpips_beta0"] = mean("lpips", 0)
        metrics["val_lpips_beta1"] = mean("lpips", 1)
        return metrics

    # ---- state -----------------------------------------------------------------------------

    def extra_state(self) -> dict:
        state = {"guard": dict(self.guard), "warm_start": self.warm_start}
        if self.discriminator is not None:
            state["discriminator"] = self.discriminator.state_dict()
            state["d_optimizer"] = self.d_optimizer.state_dict()
        return state

    def load_extra_state(self, state: dict) -> None:
        if "guard" in state:
            self.guard = dict(state["guard"])
        self.warm_start = state.get("warm_start", self.warm_start)
        if self.discriminator is not None:
            if "discriminator" not in state:
                raise ValueError("the checkpoint has no discriminator state; resume a GAN run with its own "
                                 "out_dir, or start it fresh with init_from=<that checkpoint>")
            self.discriminator.load_state_dict(state["discriminator"])
            self.d_optimizer.load_state_dict(state["d_optimizer"])

    def checkpoint(self) -> dict:
        ckpt = super().checkpoint()
        c = self.config
        data = c.train_dir or "BSDS500 " + "+".join(c.train_splits)
        ckpt["provenance"].update({
            "stage": c.stage,
            "data": f"{data}, random {c.crop}x{c.crop} crops with flips, batch {c.batch_size}",
            "warm_start": self.warm_start,
            "objective": (f"{c.mse_weight}*MSE_255 + {c.lpips_weight}*{'beta*' if c.beta_scales_lpips else ''}"
                          f"LPIPS_{c.lpips_net}"
                          + (f" + {c.colour_weight}*colour_255" if c.colour_weight else "")
                          + (f" + {c.grid_weight}*grid_255" if c.grid_weight else "")
                          + (f" + {c.adversarial_weight}*beta*G_{c.gan_loss}" if c.stage == "gan" else "")),
        })
        return ckpt


def train_perceptual(config: PerceptualTrainConfig | str | os.PathLike, resume: bool = False,
                     progress: bool = True, stop_at: int | None = None) -> dict:
    """Train ``config`` (a :class:`PerceptualTrainConfig` or TOML path); see :meth:`Trainer.fit`."""
    if not isinstance(config, PerceptualTrainConfig):
        config = load_config(config, cls=PerceptualTrainConfig)
    trainer = GANTrainer(config, progress=progress, resume=resume)
    try:
        return trainer.fit(resume=resume, stop_at=stop_at)
    finally:
        if trainer.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
