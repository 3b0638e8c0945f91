"""One trainer for every JSCC model: seeded, resumable, AMP / DDP-ready.

A run is described by a :class:`TrainConfig` (a dataclass saved as TOML next to its
checkpoints) and started with :func:`train` or ``jscc-lab train CONFIG.toml [--resume]``.

What the loop does, and why:

* **Exact reproducibility and resume.** Every random choice of step ``t`` (which crops, which
  SNR per image, the channel noise) is a pure function of ``(seed, t)``; the optimizer state
  and RNG states are checkpointed. So ``resume=True`` after an interruption continues the very
  run that would have happened without it (tested).
* **SNR-adaptive training.** ``snr_db_min < snr_db_max`` samples one SNR per image uniformly
  from the range (ADJSCC); equal values train at a fixed SNR.
* **Validation** on fixed BSDS500 *test* centre crops (PSNR at ``val_snr_db``); ``best.pt``
  keeps the best mean PSNR, ``last.pt`` the latest state. Checkpoints are written atomically
  (temp file + ``os.replace``), so an interruption never leaves a half-written file.
* **Precision**: ``amp="auto"`` computes under bf16 autocast where it is measurably faster (CUDA
  with native bf16; a CPU whose short timed probe says so, :func:`jscc_lab.precision.choose_amp`),
  fp32 elsewhere; the trainer prints its choice and why, and the checkpoint provenance keeps both.
  Losses, power normalisation, the channel and GDN stay in fp32.
* **GPU**: ``channels_last`` on CUDA (and CPUs), optional ``torch.compile``; several
  GPUs with ``torchrun --nproc_per_node G -m jscc_lab.cli train CONFIG.toml`` (DDP). A global
  step always sees ``batch_size * grad_accum * world_size`` images and the same data and
  noise, however it is split over processes and micro-batches.
* **Hook for other objectives**: pass ``objective(model, x, snr_db, generator) -> (loss, logs)``
  or subclass :class:`Trainer` and override :meth:`Trainer.training_step` (plus
  :meth:`Trainer.extra_state` / :meth:`Trainer.load_extra_state` for e.g. a discriminator and
  its optimizer), so a perceptual / GAN schedule reuses checkpoints, resume and validation.

Example
-------
>>> from jscc_lab.train import TrainConfig, train
>>> cfg = TrainConfig(name="demo", cbr="1/12", width=32, steps=200, crop=64)  # doctest: +SKIP
>>> result = train(cfg)                                                      # doctest: +SKIP
>>> result["best"]["val_psnr_db"]                                            # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from .. import __version__
from ..checkpoints import (
    CHECKPOINT_FORMAT,
    check_output_dir,
    load_checkpoint,
    save_checkpoint,
    training_stages,
)
from ..data import RandomCrops, bsds500_files, center_crop, load_image
from ..models import MODELS, build_model
from ..precision import autocast, choose_amp
from .config import _LINEAGE, TrainConfig, config_changes, load_config, save_config
from .objectives import latent_mse_objective, mse_objective, validate_psnr

__all__ = ["Trainer", "train", "train_files"]


def train_files(config: TrainConfig) -> list[Path]:
    """Training image files of ``config``: its BSDS500 splits (or ``train_dir``) plus ``train_dirs``."""
    from ..data import _image_files
    from ..settings import data_root

    files = [] if config.train_dir else [p for split in config.train_splits for p in bsds500_files(split)]
    for folder in ([config.train_dir] if config.train_dir else []) + config.train_dirs:
        path = Path(folder)
        if not path.is_absolute() and not path.is_dir():
            path = data_root() / folder
        found = _image_files(path) if path.is_dir() else []
        if not found:
            raise FileNotFoundError(f"train_dirs: no images in {path} (relative folders are looked up "
                                    "in the working directory, then under $JSCC_LAB_DATA)")
        files += found
    return files


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _mix_seed(*parts: int) -> int:
    """Deterministic 63-bit seed from integers (splitmix64-style), same on every platform."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


class _StepIndices(torch.utils.data.Sampler):
    """Crop indices of this rank's micro-batches from ``start_step`` on, in training order.

    Micro-batch ``micro`` of step ``t`` on rank ``r`` is global micro-batch
    ``u = (t * world + r) * accum + micro`` and takes crops ``u * B ... u * B + B - 1``: the data
    of a step depends on the step only, not on how the run was split or interrupted.
    """

    def __init__(self, start_step, steps, world, rank, accum, batch):
        self.start_step, self.steps = start_step, steps
        self.world, self.rank, self.accum, self.batch = world, rank, accum, batch

    def __iter__(self):
        for step in range(self.start_step, self.steps):
            for micro in range(self.accum):
                u = (step * self.world + self.rank) * self.accum + micro
                yield from range(u * self.batch, (u + 1) * self.batch)

    def __len__(self):
        return (self.steps - self.start_step) * self.accum * self.batch


def _load_val_images(config: TrainConfig) -> torch.Tensor:
    if config.val_dir:
        folder = Path(config.val_dir)
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        if not files:
            raise FileNotFoundError(f"val_dir={folder} holds no .png/.jpg images")
    else:
        files = bsds500_files("test")
    if config.val_images:
        files = files[: config.val_images]
    return torch.cat([center_crop(load_image(f), config.val_crop) for f in files])


class Trainer:
    """Runs one :class:`TrainConfig`; see the module docstring for the guarantees.

    Parameters
    ----------
    config : the run's configuration.
    objective : ``objective(model, x, snr_db, generator) -> (loss, logs)``; default
        :func:`mse_objective`.
    progress : show tqdm progress bars (rank 0 only).
    resume : the trainer will :meth:`fit` with ``resume=True``: when ``out_dir/last.pt`` exists,
        ``init_from`` is not read (``last.pt`` holds every weight and the stages behind the run),
        so a run resumes on a machine that no longer has the checkpoints it started from.

    A fresh run with ``init_from`` records the stages behind that checkpoint
    (:func:`training_stages`) in its own provenance (``"lineage"``), so its export lists them even
    after those files are gone or have trained on.

    Override points for other training schemes: :meth:`training_step` (one optimisation step,
    returns logs), :meth:`extra_state` / :meth:`load_extra_state` (more modules / optimisers in
    the checkpoint).
    """

    def __init__(self, config: TrainConfig, objective: Callable | None = None, progress: bool = True,
                 resume: bool = False):
        self.config = config
        #: resuming from out_dir/last.pt: the init_from checkpoints are neither needed nor read
        self.resuming = resume and (config.output_dir / "last.pt").is_file()
        self.lineage: list[dict] = []  # the stages behind init_from, oldest first
        self.objective = objective or (latent_mse_objective if config.loss == "latent" else mse_objective)
        self.progress = progress
        self.rank = int(os.environ.get("RANK", 0))
        self.world_size = int(os.environ.get("WORLD_SIZE", 1))
        self.distributed = self.world_size > 1
        self.device = self._pick_device()
        if config.threads:
            torch.set_num_threads(config.threads)
        if self.distributed and not torch.distributed.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend=backend)
        #: bf16 autocast or fp32, and why (printed once, kept in the checkpoint provenance)
        self.amp, self.amp_reason = self._pick_precision()
        if self.rank == 0:
            print(f"{config.name}: {self.amp_reason}", flush=True)
        # channels_last pays on CUDA and on this project's AVX-512 CPUs too (benchmarks/train_throughput.py)
        self.channels_last = config.channels_last

        torch.manual_seed(config.seed)
        spec = config.model_spec()
        kwargs = dict(spec["kwargs"])
        cls = MODELS.get(spec["name"])
        if config.init_from and cls is not None and "pretrained" in inspect.signature(cls).parameters:
            kwargs["pretrained"] = False  # init_from holds every weight: no TAEF2 files needed
        self.model = build_model(spec["name"], channel=spec["channel"], **kwargs).to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net: nn.Module = self.model
        self.ddp = None
        if self.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp = self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if config.compile:
            self.net = torch.compile(self.net)
        if config.init_from and not self.resuming:
            self._init_weights(config.init_from)
            self.lineage = training_stages(config.init_from)
        self.optimizer = torch.optim.Adam(self._param_groups(), lr=config.lr,
                                          weight_decay=config.weight_decay)
        self.step = 0
        self.history: list[dict] = []
        self.best: dict | None = None
        self.wall_time = 0.0
        self.cpu_time = 0.0
        self.config_changes: list[dict] = []  # {"step", "changes": {key: [old, new]}} per resume
        self._clock = (time.perf_counter(), time.process_time())
        self._data = None
        self._val_images = None
        self._batches = None
        self._next_step = None

    # ---- setup ---------------------------------------------------------------------------

    def _init_weights(self, path) -> None:
        """Start from the weights of checkpoint ``path`` (same model spec, except the ``cbrs`` a
        rate-adaptive model serves, which hold no weights: a single-CBR run may start from a
        rate-adaptive stage; strict load), or of a TAEJSCC / ScratchJSCC with fewer adapter
        ``blocks`` (:meth:`~jscc_lab.models.taejscc.TAEJSCC.load_grown`)."""

        def spec(s):
            s = dict(s or {})
            s["kwargs"] = {k: v for k, v in dict(s.get("kwargs") or {}).items() if k != "cbrs"}
            return s

        ckpt = load_checkpoint(path, map_location=self.device)
        have, want = spec(ckpt.get("model")), spec(self.config.model_spec())
        fewer_blocks = {**have, "kwargs": {**have["kwargs"], "blocks": want["kwargs"].get("blocks")}} == want \
            and have["kwargs"].get("blocks", 0) < want["kwargs"].get("blocks", 0) and hasattr(self.model, "load_grown")
        if have != want and not fewer_blocks:
            raise ValueError(f"init_from={path} holds model {ckpt.get('model')}, the config asks for "
                             f"{self.config.model_spec()} (the same model, or a TAEJSCC with fewer blocks)")
        if fewer_blocks:  # grown: the new adapter blocks start as the identity
            self.model.load_grown(ckpt["state_dict"])
            if self.rank == 0:
                print(f"init_from={path}: adapters grown from {have['kwargs']['blocks']} to "
                      f"{want['kwargs']['blocks']} blocks (the new ones start as the identity)")
        else:
            self.model.load_state_dict(ckpt["state_dict"])

    def _param_groups(self) -> list[dict]:
        """Trainable parameters: ``freeze`` prefixes excluded (``requires_grad`` off, so no
        gradient is computed for them), ``pretrained_modules`` at ``pretrained_lr_fraction``."""
        c = self.config
        named = dict(self.model.named_parameters())
        for prefix in c.freeze + c.pretrained_modules:
            if not any(n == prefix or n.startswith(prefix + ".") for n in named):
                raise ValueError(f"freeze / pretrained_modules: no parameters under {prefix!r} in {c.model}")
        groups: dict[float, list] = {}
        for name, p in named.items():
            if any(name == f or name.startswith(f + ".") for f in c.freeze):
                p.requires_grad_(False)
                continue
            slow = any(name == f or name.startswith(f + ".") for f in c.pretrained_modules)
            groups.setdefault(c.pretrained_lr_fraction if slow else 1.0, []).append(p)
        return [{"params": ps, "lr_fraction": f} for f, ps in groups.items()]

    def _pick_precision(self) -> tuple[bool, str]:
        """``(use_bf16, reason)`` of :func:`~jscc_lab.precision.choose_amp` for ``config.amp``; under
        DDP every rank takes rank 0's choice (a timed probe could differ between processes)."""
        use_bf16, reason = choose_amp(self.device, self.config.amp)
        if self.distributed:
            flag = torch.tensor([float(use_bf16)], device=self.device)
            torch.distributed.broadcast(flag, src=0)
            if bool(flag.item()) != use_bf16:
                use_bf16, reason = bool(flag.item()), f"{'bf16' if flag.item() else 'fp32'}: rank 0's choice"
        return use_bf16, reason

    def _pick_device(self) -> torch.device:
        want = self.config.device
        if want == "auto":
            want = "cuda" if torch.cuda.is_available() else "cpu"
        if want.startswith("cuda"):
            if not torch.cuda.is_available():
                raise RuntimeError(f'device="{self.config.device}" but CUDA is not available; use "cpu"')
            if want == "cuda":
                want = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
            torch.cuda.set_device(torch.device(want))
        return torch.device(want)

    @property
    def images_per_step(self) -> int:
        c = self.config
        return c.batch_size * c.grad_accum * self.world_size

    @property
    def data(self) -> RandomCrops:
        if self._data is None:
            c = self.config
            from PIL import Image

            def big_enough(path):
                with Image.open(path) as im:
                    return min(im.size) >= c.crop

            source = [p for p in train_files(c) if big_enough(p)]
            self._data = RandomCrops(source, size=c.crop, length=c.steps * self.images_per_step,
                                     seed=c.seed)
        return self._data

    @property
    def val_images(self) -> torch.Tensor:
        if self._val_images is None:
            self._val_images = _load_val_images(self.config)
        return self._val_images

    def lr_at(self, step: int) -> float:
        """Learning rate of step ``step`` (0-based): linear warm-up, then cosine decay."""
        c = self.config
        if step < c.warmup_steps:
            return c.lr * (step + 1) / c.warmup_steps
        t = (step - c.warmup_steps) / max(1, c.steps - c.warmup_steps)
        low = c.lr * c.lr_final_fraction
        return low + 0.5 * (c.lr - low) * (1 + math.cos(math.pi * min(1.0, t)))

    # ---- one step --------------------------------------------------------------------------

    def micro_batch(self, step: int, micro: int):
        """Images, per-image SNRs and a noise generator for micro-batch ``micro`` of ``step``.

        All three depend only on ``(seed, global micro-batch index)``, so they are the same
        whether the micro-batches run as gradient accumulation or on separate DDP ranks.
        """
        c = self.config
        u = (step * self.world_size + self.rank) * c.grad_accum + micro
        if self._batches is None or self._next_step != (step, micro):
            sampler = _StepIndices(step, c.steps, self.world_size, self.rank, c.grad_accum,
                                   c.batch_size)
            if micro:
                raise RuntimeError("micro-batches must be taken in order, starting at micro=0")
            self._batches = iter(torch.utils.data.DataLoader(
                self.data, batch_size=c.batch_size, sampler=sampler, num_workers=c.num_workers,
                pin_memory=self.device.type == "cuda"))
        x = next(self._batches).to(self.device, non_blocking=True)
        self._next_step = (step, micro + 1) if micro + 1 < c.grad_accum else (step + 1, 0)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        g = torch.Generator().manual_seed(_mix_seed(c.seed, u, 1))
        snr = c.snr_db_min + (c.snr_db_max - c.snr_db_min) * torch.rand(c.batch_size, generator=g)
        noise = torch.Generator(device=self.device).manual_seed(_mix_seed(c.seed, u, 2))
        return x, snr.to(self.device), noise

    def conditions(self, step: int, micro: int) -> dict:
        """Extra model inputs of a micro-batch: one CBR per image, drawn uniformly from
        ``model.cbrs`` for a rate-adaptive model (a pure function of seed and step)."""
        cbrs = self.model.cbrs
        if cbrs is None:
            return {}
        c = self.config
        u = (step * self.world_size + self.rank) * c.grad_accum + micro
        g = torch.Generator().manual_seed(_mix_seed(c.seed, u, 3))
        pick = torch.randint(len(cbrs), (c.batch_size,), generator=g)
        return {"cbr": torch.tensor(cbrs, dtype=torch.float64)[pick]}

    def training_step(self, step: int) -> dict[str, float]:
        """One optimiser step over ``grad_accum`` micro-batches; returns logged scalars."""
        c = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(step) * group.get("lr_fraction", 1.0)
        self.optimizer.zero_grad(set_to_none=True)
        totals: dict[str, float] = {}
        for micro in range(c.grad_accum):
            x, snr, noise = self.micro_batch(step, micro)
            conditions = self.conditions(step, micro)
            sync = not self.distributed or micro == c.grad_accum - 1
            ctx = self.ddp.no_sync() if not sync else contextlib.nullcontext()
            with ctx, autocast(self.device, self.amp):
                loss, logs = self.objective(self.net, x, snr, noise, **conditions)
                (loss / c.grad_accum).backward()
            for k, v in {"loss": loss.detach(), **logs}.items():
                totals[k] = totals.get(k, 0.0) + float(v) / c.grad_accum
        if c.grad_clip:
            totals["grad_norm"] = float(nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip))
        self.optimizer.step()
        totals["lr"] = self.lr_at(step)
        return totals

    # ---- state -----------------------------------------------------------------------------

    def extra_state(self) -> dict:
        """More state to checkpoint (override: e.g. a discriminator and its optimizer)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        """Restore what :meth:`extra_state` saved."""

    def checkpoint(self) -> dict:
        c = self.config
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "format": CHECKPOINT_FORMAT,
            "model": c.model_spec(),
            "state_dict": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "config": asdict(c),
            "step": self.step,
            "metrics": {"history": self.history, "best": self.best,
                        "last": self.history[-1] if self.history else None},
            "rng": rng,
            "extra": self.extra_state(),
            "provenance": {
                "device": _device_name(self.device),
                "device_type": self.device.type,
                "world_size": self.world_size,
                "torch": str(torch.__version__),
                "jscc_lab": __version__,
                "python": platform.python_version(),
                "steps": self.step,
                "images_seen": self.step * self.images_per_step,
                "wall_time_s": round(self.wall_time, 1),
                "cpu_time_s": round(self.cpu_time, 1),  # this process, all threads
                "amp": "bf16" if self.amp else "fp32",
                "amp_reason": self.amp_reason,
                "config_changes": self.config_changes,
                "lineage": self.lineage,
                "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            },
        }

    def load_state(self, ckpt: dict) -> None:
        """Restore a checkpoint written by :meth:`checkpoint` (resume)."""
        if ckpt.get("model") != self.config.model_spec():
            raise ValueError(
                f"checkpoint holds model {ckpt.get('model')}, but the config asks for "
                f"{self.config.model_spec()}; resume with the config the run was started with"
            )
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.step = int(ckpt["step"])
        self.history = list(ckpt["metrics"]["history"])
        self.best = ckpt["metrics"]["best"]
        self.wall_time = float(ckpt["provenance"]["wall_time_s"])
        self.cpu_time = float(ckpt["provenance"].get("cpu_time_s", 0.0))
        self.config_changes = list(ckpt["provenance"].get("config_changes", []))
        self.lineage = list(ckpt["provenance"].get("lineage") or [])
        old = ckpt.get("config") or {}
        for key in _LINEAGE:
            if key in old and hasattr(self.config, key):
                setattr(self.config, key, old[key])
        changed = config_changes(old, asdict(self.config))
        if changed:
            self.config_changes.append({"step": self.step, "changes": changed})
        torch.set_rng_state(ckpt["rng"]["torch"])
        if "cuda" in ckpt["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
        self.load_extra_state(ckpt.get("extra", {}))

    def _tick(self) -> None:
        """Add the wall and process CPU time since the last tick to the run's totals."""
        wall, cpu = time.perf_counter(), time.process_time()
        self.wall_time += wall - self._clock[0]
        self.cpu_time += cpu - self._clock[1]
        self._clock = (wall, cpu)

    def validate(self) -> dict[str, float]:
        c = self.config
        with autocast(self.device, self.amp):  # the model only: PSNR is computed in fp32
            metrics = validate_psnr(self.model, self.val_images, c.val_snr_db, c.val_batch, seed=c.seed)
        metrics["val_psnr_db"] = sum(metrics.values()) / len(metrics)
        return metrics

    # ---- the loop --------------------------------------------------------------------------

    def fit(self, resume: bool = False, stop_at: int | None = None) -> dict:
        """Train to ``config.steps`` (or stop after step ``stop_at``, e.g. to test resuming, or
        when ``config.max_minutes`` have passed).

        ``resume=True`` continues from ``out_dir/last.pt`` when it exists. ``out_dir/config.toml``
        is (re)written with the config the run goes on with (e.g. after ``--set steps=N``). Returns
        ``{"step", "history", "best", "last", "checkpoint", "stopped_by_clock"}``.
        """
        c = self.config
        out = c.output_dir
        main = self.rank == 0
        last_path = out / "last.pt"
        if main:
            check_output_dir(out, self.model)
        if self.resuming and not (resume and last_path.is_file()):
            raise ValueError("this trainer was built with resume=True (init_from not loaded): call fit(resume=True)")
        if resume and last_path.is_file():
            self.load_state(load_checkpoint(last_path, map_location=self.device))
        if main:  # on a resume too: `--resume` with the run's config.toml then continues as configured now
            save_config(c, out / "config.toml")
        end = c.steps if stop_at is None else min(c.steps, stop_at)
        from tqdm.auto import tqdm

        bar = tqdm(total=c.steps, initial=self.step, desc=c.name, unit="step",
                   disable=not (self.progress and main), dynamic_ncols=True)
        self.model.train()
        running: dict[str, float] = {}
        self._clock = (time.perf_counter(), time.process_time())
        started, clock_stop = time.perf_counter(), False
        try:
            while self.step < end:
                logs = self.training_step(self.step)
                self.step += 1
                if c.max_minutes and self.step < end and self._out_of_time(started):
                    end, clock_stop = self.step, True
                for k, v in logs.items():
                    running[k] = running.get(k, 0.0) + v
                bar.update(1)
                if self.step % c.log_every == 0 or self.step == end:
                    n = c.log_every if self.step % c.log_every == 0 else self.step % c.log_every
                    mean = {k: v / n for k, v in running.items()}
                    running = {}
                    self.history.append({"step": self.step, **mean})
                    bar.set_postfix(loss=f"{mean['loss']:.4g}")
                    if main and not self.progress:  # a plain log line (nohup / CI logs)
                        self._tick()
                        print(f"step {self.step}/{c.steps} " + " ".join(
                            f"{k}={v:.4g}" for k, v in mean.items()) + f" wall={self.wall_time:.0f}s", flush=True)
                validate_now = self.step % c.val_every == 0 or self.step == c.steps or clock_stop
                if validate_now and main:
                    metrics = self.validate()
                    self.history.append({"step": self.step, **metrics})
                    if not self.progress:  # many operating points: their summaries (all are in history)
                        shown = metrics if len(metrics) <= 8 else {k: v for k, v in metrics.items()
                                                                   if k.startswith("val_")}
                        print(f"step {self.step} validation " + " ".join(
                            f"{k}={v:.3f}" for k, v in shown.items()), flush=True)
                    bar.set_postfix(loss=f"{logs['loss']:.4g}", val_psnr=f"{metrics['val_psnr_db']:.2f}")
                    if self.best is None or metrics["val_psnr_db"] > self.best["val_psnr_db"]:
                        self.best = {"step": self.step, **metrics}
                        self._tick()
                        save_checkpoint(self.checkpoint(), out / "best.pt")
                if main and (self.step % c.checkpoint_every == 0 or self.step == end):
                    self._tick()
                    save_checkpoint(self.checkpoint(), last_path)
        finally:
            bar.close()
        self._tick()
        if clock_stop and main:
            print(f"{c.name}: stopped at step {self.step}/{c.steps}: max_minutes={c.max_minutes:g} "
                  "reached (last.pt saved)", flush=True)
        return {"step": self.step, "history": self.history, "best": self.best,
                "last": self.history[-1] if self.history else None, "checkpoint": str(last_path),
                "stopped_by_clock": clock_stop}

    def _out_of_time(self, started: float) -> bool:
        """Has ``max_minutes`` passed since ``started``? Every DDP rank gets rank 0's answer."""
        over = time.perf_counter() - started >= 60 * self.config.max_minutes
        if self.distributed:
            flag = torch.tensor([float(over)], device=self.device)
            torch.distributed.broadcast(flag, src=0)
            over = bool(flag.item())
        return over


def train(config: TrainConfig | str | os.PathLike, resume: bool = False,
          objective: Callable | None = None, progress: bool = True,
          stop_at: int | None = None) -> dict:
    """Train ``config`` (a :class:`TrainConfig` or a TOML path); see :meth:`Trainer.fit`."""
    if not isinstance(config, TrainConfig):
        config = load_config(config)
    trainer = Trainer(config, objective=objective, progress=progress, resume=resume)
    try:
        return trainer.fit(resume=resume, stop_at=stop_at)
    finally:
        if trainer.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
