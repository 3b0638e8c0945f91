"""The configuration of a training run: :class:`TrainConfig`, saved as ``config.toml`` next to
its checkpoints (:func:`save_config` / :func:`load_config`), and what a resume changed
(:func:`config_changes`)."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..files import atomic_write_bytes
from ..precision import check_amp

__all__ = ["TrainConfig", "save_config", "load_config", "config_changes"]


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
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
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
