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
import dataclasses
import datetime
import inspect
import math
import os
import platform
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import __version__
from .data import RandomCrops, bsds500_files, center_crop, load_image
from .metrics import psnr
from .models import MODELS, AtCBR, build_model
from .precision import autocast, check_amp, choose_amp

__all__ = [
    "TrainConfig",
    "Trainer",
    "train",
    "mse_objective",
    "latent_mse_objective",
    "train_files",
    "validate_psnr",
    "save_config",
    "load_config",
    "save_checkpoint",
    "export_checkpoint",
    "CHECKPOINT_FORMAT",
]

CHECKPOINT_FORMAT = "jscc_lab.checkpoint/1"


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved as ``config.toml`` in ``out_dir``).

    Model: ``model`` (a name in :data:`jscc_lab.models.MODELS`), ``cbr`` (a fraction string such
    as ``"1/12"``), ``width`` (hidden channels), ``channel`` (``"awgn"``, ``"rayleigh-block"``,
    ``"rayleigh-fast"``). Training SNR: uniform per image in ``[snr_db_min, snr_db_max]`` (equal
    for a fixed SNR). Data: BSDS500 ``train_splits`` (or the images in ``train_dir``), random
    ``crop`` x ``crop`` crops with flips; validation on the first ``val_images`` BSDS500 test
    images (0 = all 200; or ``val_dir``), centre-cropped to ``val_crop``, at each ``val_snr_db``.
    Optimiser: Adam, ``lr`` with ``warmup_steps`` linear warm-up then cosine decay to
    ``lr * lr_final_fraction``; ``grad_clip`` (0 = off). Hardware: ``device`` (``"auto"``,
    ``"cpu"``, ``"cuda"``), ``threads`` (CPU threads, 0 = torch's default), ``amp``
    (``"auto"`` = bf16 autocast where measurably faster: CUDA with native bf16, or a CPU whose
    timed probe says so (:func:`jscc_lab.precision.choose_amp`); ``"bf16"`` forces it, ``"none"``
    forces fp32), ``channels_last``,
    ``compile``. Output: ``out_dir`` (default ``runs/<name>``). ``max_minutes`` (0 = off): a
    wall-clock budget for :meth:`Trainer.fit`; the run stops after the step that exceeds it,
    validates there and saves ``last.pt`` (the learning-rate schedule still follows ``steps``).

    Rate-adaptive models around an image autoencoder (``model = "taejscc"`` on the pretrained
    TAEF2, ``"scratchjscc"`` on learned transforms): ``blocks`` (residual blocks
    per adapter), ``cbrs`` (the CBRs of a rate-adaptive model; one is drawn per image);
    ``loss`` ``"image"`` (MSE on pixels) or ``"latent"`` (MSE on the received latent: the decoder is
    not run, several times faster); ``freeze`` (parameter-name prefixes not trained, e.g.
    ``["ae_encoder"]``); ``pretrained_modules`` train at ``lr * pretrained_lr_fraction``;
    ``init_from`` a checkpoint whose weights start the run (e.g. the latent-loss stage; float16
    exports too); it supplies every weight, so the TAEF2 weight files are not read.
    ``train_dirs`` adds image folders (relative paths are under ``$JSCC_LAB_DATA``; images smaller
    than ``crop`` are skipped) to the BSDS500 ``train_splits``.
    """

    name: str = "run"
    model: str = "adjscc"
    cbr: str = "1/12"
    width: int = 64
    channel: str = "awgn"
    snr_db_min: float = 0.0
    snr_db_max: float = 20.0
    train_splits: list[str] = field(default_factory=lambda: ["train", "val"])
    train_dir: str = ""
    crop: int = 64
    batch_size: int = 16
    grad_accum: int = 1
    steps: int = 2000
    lr: float = 1e-3
    lr_final_fraction: float = 0.05
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    val_every: int = 500
    val_images: int = 50
    val_dir: str = ""
    val_crop: int = 128
    val_snr_db: list[float] = field(default_factory=lambda: [0.0, 10.0, 20.0])
    val_batch: int = 25
    checkpoint_every: int = 500
    log_every: int = 10
    out_dir: str = ""
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    amp: str = "auto"
    channels_last: bool = True
    compile: bool = False
    num_workers: int = 0
    blocks: int = 4
    cbrs: list[str] = field(default_factory=list)
    train_dirs: list[str] = field(default_factory=list)
    loss: str = "image"
    freeze: list[str] = field(default_factory=list)
    pretrained_modules: list[str] = field(default_factory=list)
    pretrained_lr_fraction: float = 1.0
    init_from: str = ""
    max_minutes: float = 0.0

    def __post_init__(self):
        self.cbr = str(self.cbr)
        self.train_splits = list(self.train_splits)
        self.val_snr_db = [float(v) for v in self.val_snr_db]
        checks = {
            "width": self.width > 0, "crop": self.crop > 0, "batch_size": self.batch_size > 0,
            "grad_accum": self.grad_accum > 0, "steps": self.steps > 0, "lr": self.lr > 0,
            "val_every": self.val_every > 0, "checkpoint_every": self.checkpoint_every > 0,
            "log_every": self.log_every > 0, "val_batch": self.val_batch > 0,
            "val_images": self.val_images >= 0, "warmup_steps": self.warmup_steps >= 0,
            "grad_clip": self.grad_clip >= 0, "threads": self.threads >= 0,
            "num_workers": self.num_workers >= 0, "blocks": self.blocks >= 0,
            "pretrained_lr_fraction": self.pretrained_lr_fraction >= 0,
            "lr_final_fraction": 0 <= self.lr_final_fraction <= 1,
            "max_minutes": self.max_minutes >= 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError("invalid TrainConfig value(s): " + ", ".join(
                f"{k}={getattr(self, k)!r}" for k in bad) + " (sizes, steps and rates must be positive)")
        if self.snr_db_min > self.snr_db_max:
            raise ValueError(f"snr_db_min={self.snr_db_min} must be <= snr_db_max={self.snr_db_max}")
        check_amp(self.amp)
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f'device must be "auto", "cpu" or "cuda[:i]", got {self.device!r}')
        if self.loss not in ("image", "latent"):
            raise ValueError(f'loss must be "image" or "latent", got {self.loss!r}')
        self.cbrs = [str(c) for c in self.cbrs]
        self.train_dirs, self.freeze = list(self.train_dirs), list(self.freeze)
        self.pretrained_modules = list(self.pretrained_modules)
        for split in self.train_splits:
            if split not in ("train", "val", "test"):
                raise ValueError(f'train_splits must hold "train", "val" (or "test"), got {split!r}')

    @property
    def output_dir(self) -> Path:
        return Path(self.out_dir) if self.out_dir else Path("runs") / self.name

    def model_spec(self) -> dict:
        """What :func:`jscc_lab.models.build_model` needs (stored in every checkpoint)."""
        if self.model in ("taejscc", "scratchjscc"):  # rate-adaptive, adapters of `blocks` blocks
            kwargs = {"width": self.width, "blocks": self.blocks}
            if self.cbrs:
                kwargs["cbrs"] = list(self.cbrs)
            return {"name": self.model, "channel": self.channel, "kwargs": kwargs}
        return {"name": self.model, "channel": self.channel,
                "kwargs": {"cbr": self.cbr, "width": self.width}}


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else
                                                          ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def save_config(config, path) -> Path:
    """Write a flat dataclass config as TOML (read back with :func:`load_config`)."""
    path = Path(path)
    lines = [f"# {type(config).__name__} for jscc_lab.train (jscc-lab train {path.name})"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in asdict(config).items()]
    _atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path


def load_config(path, cls=TrainConfig):
    """Read a TOML config into ``cls``; unknown keys are an error naming the valid ones."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no config file at {path}")
    with open(path, "rb") as f:
        data = tomllib.load(f)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; valid keys: {', '.join(sorted(known))}")
    return cls(**data)


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(folder: Path, what: str, hint: str) -> None:
    """Create ``folder`` and write a temp file in it, or raise ``OSError("cannot write {what} (...);
    choose a writable folder {hint}")``: one clear line before any work is done."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        raise OSError(f"cannot write {what} ({err.strerror or err}); choose a writable folder {hint}") from err


def check_output_dir(out_dir, model: nn.Module | None = None) -> None:
    """Fail before training, with a clear message, if checkpoints cannot be written to ``out_dir``:
    not creatable, not writable, or with less free space than about three checkpoints need."""
    import shutil

    out_dir = Path(out_dir)
    check_writable(out_dir, f"checkpoints to out_dir={out_dir}", "with --set out_dir=PATH")
    if model is not None:
        # weights + two Adam moments, in float32, plus slack for the atomic temp copy
        need = 3 * 4 * sum(p.numel() for p in model.parameters()) * 3 + (16 << 20)
        free = shutil.disk_usage(out_dir).free
        if free < need:
            raise OSError(f"only {free / 2**20:.0f} MiB free in out_dir={out_dir}, checkpoints need "
                          f"about {need / 2**20:.0f} MiB; free space or choose another out_dir")


def save_checkpoint(checkpoint: dict, path) -> Path:
    """``torch.save`` ``checkpoint`` atomically: a temp file in the same folder, then rename.

    A crash mid-write leaves the previous file intact (no truncated checkpoints).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def export_checkpoint(src, dst, extra_provenance: dict | None = None, half: bool = False,
                      published: dict | None = None) -> Path:
    """Copy a training checkpoint without optimizer / RNG state (a small release file).

    ``half=True`` stores floating-point weights as float16 (half the size; loading casts them
    back to the model's float32). ``published`` (``{module prefix: weight file name}``, e.g.
    ``{"ae_encoder": "taef2_encoder"}``) leaves out modules whose weights are exactly those of a
    published file of :mod:`jscc_lab.weights` (kept frozen in training): the file records the
    name and :func:`~jscc_lab.pretrained.load_checkpoint` reads them back from there. A module
    that differs from its file is a ``ValueError``.
    """
    from .pretrained import load_checkpoint
    from .weights import load_weights

    ckpt = load_checkpoint(src)
    slim = {k: v for k, v in ckpt.items() if k not in ("optimizer", "rng", "extra")}
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().clone().contiguous()
             for k, v in ckpt["state_dict"].items()}
    for prefix, name in (published or {}).items():
        reference = load_weights(name, dtype=None)
        ours = {k[len(prefix) + 1:]: v for k, v in state.items() if k.startswith(prefix + ".")}
        same = ours.keys() == reference.keys() and all(
            torch.equal(ours[k].to(v.dtype), v) for k, v in reference.items())
        if not same:
            raise ValueError(f"published={{{prefix!r}: {name!r}}}: the checkpoint's {prefix} weights are not "
                             f"those of {name} (trained or another layout); export them with the checkpoint")
        state = {k: v for k, v in state.items() if not k.startswith(prefix + ".")}
    if published:
        slim["published_weights"] = {**slim.get("published_weights", {}), **published}
    slim["state_dict"] = state
    if extra_provenance:
        slim["provenance"] = {**ckpt.get("provenance", {}), **extra_provenance}
        if "stages" in extra_provenance:  # they include the run's lineage
            slim["provenance"].pop("lineage", None)
    return save_checkpoint(slim, dst)


#: the loss weights a stage's record keeps (perceptual and GAN stages)
LOSS_WEIGHTS = ("mse_weight", "lpips_weight", "adversarial_weight", "colour_weight", "grid_weight",
                "beta_scales_lpips")


#: config keys that only say where and how long a process runs: changing them on resume is not
#: a change of the training (``threads`` is recorded: it is part of the provenance)
_BOOKKEEPING = ("out_dir", "max_minutes")
#: config keys that say where a run's weights came from when it started: a resume continues from
#: last.pt and never reads them, so it keeps the checkpoint's values (a resume without repeating
#: ``--set init_from=...`` must not cut the run off from the stages behind it)
_LINEAGE = ("init_from", "init_encoder_from")


def config_changes(old: dict, new: dict) -> dict[str, list]:
    """``{key: [old, new]}`` for the config fields a resumed run changes (e.g. ``--set steps=2200``
    or a new loss weight), leaving out :data:`_BOOKKEEPING`; the trainer appends them, with the step,
    to ``provenance["config_changes"]`` so a checkpoint says how its run was actually trained."""
    return {k: [old.get(k), v] for k, v in new.items()
            if k not in _BOOKKEEPING and k in old and old[k] != v}


def training_stages(path) -> list[dict]:
    """The training stages behind checkpoint ``path``, oldest first: the run itself and the
    checkpoints it started from: the ``provenance["lineage"]`` the run recorded when it started,
    or else (runs older than that record) ``config.init_from``, followed while those files exist.
    An exported checkpoint that already lists ``provenance["stages"]`` contributes those and ends
    the walk. Each stage: ``checkpoint``, ``name``, ``objective`` (the config's ``loss`` or GAN
    ``stage``), ``steps``, ``batch_size``, ``crop``, ``lr``, ``freeze``, ``loss_weights``,
    ``wall_time_s``, ``cpu_time_s``, ``device``, ``config_changes`` (what resumes changed, with the
    step: the other fields are the final config) and ``validation`` (the history entries with
    validation numbers)."""
    from .pretrained import load_checkpoint

    stages, seen = [], set()
    path = Path(path).expanduser()
    while path is not None and path.is_file() and path.resolve() not in seen:
        seen.add(path.resolve())
        ckpt = load_checkpoint(path)
        prov, config = ckpt.get("provenance") or {}, ckpt.get("config") or {}
        if prov.get("stages"):
            stages[:0] = list(prov["stages"])
            break
        history = (ckpt.get("metrics") or {}).get("history") or []
        validated = [h for h in history if any(k.startswith(("psnr@", "lpips@", "val_")) for k in h)]
        stages.insert(0, {"checkpoint": str(path), "name": config.get("name"),
                          "objective": config.get("stage") or config.get("loss") or "image",
                          "steps": prov.get("steps", ckpt.get("step")), "batch_size": config.get("batch_size"),
                          "crop": config.get("crop"), "lr": config.get("lr"), "freeze": config.get("freeze"),
                          "loss_weights": {k: config[k] for k in LOSS_WEIGHTS if k in config},
                          "wall_time_s": prov.get("wall_time_s"), "cpu_time_s": prov.get("cpu_time_s"),
                          "device": prov.get("device"), "config_changes": prov.get("config_changes", []),
                          "validation": validated})
        if prov.get("lineage"):
            stages[:0] = list(prov["lineage"])
            break
        init = config.get("init_from") or ""
        path = Path(init).expanduser() if init else None
    return stages


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


# ---------------------------------------------------------------------------------------------
# objective and validation
# ---------------------------------------------------------------------------------------------


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
    cbrs = getattr(model, "cbrs", None)
    if cbrs is not None:
        from .channels import cbr_label

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


def train_files(config: TrainConfig) -> list[Path]:
    """Training image files of ``config``: its BSDS500 splits (or ``train_dir``) plus ``train_dirs``."""
    from .data import _image_files
    from .settings import data_root

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


# ---------------------------------------------------------------------------------------------
# the trainer
# ---------------------------------------------------------------------------------------------


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
        from .pretrained import load_checkpoint

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
        cbrs = getattr(self.model, "cbrs", None)
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
            from .pretrained import load_checkpoint

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
                    if not self.progress:
                        print(f"step {self.step} validation " + " ".join(
                            f"{k}={v:.3f}" for k, v in metrics.items()), flush=True)
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
