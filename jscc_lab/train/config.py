"""The configuration of a training run: :class:`TrainConfig` (and :class:`PerceptualTrainConfig`
for the two-stage GAN trainer), saved as ``config.toml`` next to its checkpoints
(:func:`save_config` / :func:`load_config`); :func:`load_train_config` reads a file with typed
``--set KEY=VALUE`` overrides and one-line :class:`ConfigError` s; :func:`config_changes` says
what a resume changed."""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..files import atomic_write_bytes
from ..losses import PAPER_WEIGHTS, adversarial_losses
from ..models.discriminator import DISCRIMINATORS
from ..precision import check_amp

__all__ = ["TrainConfig", "PerceptualTrainConfig", "save_config", "load_config", "load_train_config",
           "config_class", "convert_value", "config_changes", "ConfigError"]


class ConfigError(ValueError):
    """A config file or ``--set`` override that cannot be used (the message is one line)."""


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


@dataclass
class PerceptualTrainConfig(TrainConfig):
    """A :class:`~jscc_lab.train.TrainConfig` for the perceptual system (all fields of it, plus):

    Model: ``model`` = ``"perceptual"`` (``cbr``, ``width``, and ``res_blocks`` and
    ``generator_width`` (0 = ``width``) of the generator) or ``"taejscc"`` (``width``, ``blocks``,
    ``cbrs`` as for :class:`~jscc_lab.train.TrainConfig`; built with ``realism=True``; ``crop`` a
    multiple of 16).
    Stage: ``stage`` = ``"distortion"`` (MSE + LPIPS) or ``"gan"``; ``init_from`` a checkpoint
    of the same model to warm-start from (the stage-1 result for ``"gan"``; for ``"taejscc"``
    also a PSNR TAEJSCC checkpoint of the same width, blocks, cbrs and channel, which lacks only
    the realism weights); ``init_encoder_from`` optionally a PSNR ADJSCC checkpoint of the same
    CBR and width whose encoder is copied (a head start for stage 1; ``"perceptual"`` only);
    ``init_discriminator``: a GAN stage whose ``init_from`` is a GAN checkpoint also takes its
    discriminator and the discriminator's optimiser (continue a GAN with changed loss weights).
    ``decoder_film`` (``"taejscc"`` only): condition the TAEF2 decoder on SNR, CBR and ``beta``
    (FiLM layers starting as the identity; ``init_from`` may then also be a realism checkpoint
    without them).
    Loss (paper code defaults): ``mse_weight`` (on 0-255), ``lpips_weight``, ``lpips_net``,
    ``adversarial_weight``, ``gan_loss`` (``"non_saturating"``, ``"hinge"``,
    ``"least_squares"``), ``colour_weight`` (on :func:`~jscc_lab.losses.colour_mse_255`, every
    ``beta``; 0 = off, the paper), ``grid_weight`` (on :func:`~jscc_lab.losses.grid_ms_255`, the
    error's 16-pixel fixed pattern, every ``beta``; 0 = off, the paper), ``r1_weight`` (0 = off;
    the penalty is ``r1_weight / 2 * ||grad||^2``).
    Discriminator: ``d_backbone`` (``""``: the conditional PatchGAN; ``"alexnet"``: that plus heads
    on frozen ImageNet AlexNet features, :class:`~jscc_lab.models.discriminator.ProjectedDiscriminator`),
    ``d_filters`` (the PatchGAN's), ``d_lr`` (Adam, same schedule shape as ``lr``), ``d_steps``
    (discriminator updates per generator update, on the same batch: a D that keeps ahead of G).
    Realism: ``beta_edge_prob`` (probability that an image's ``beta`` is exactly 0 or 1);
    ``beta_scales_lpips`` (weight the LPIPS term by ``beta`` as well as the adversarial one).
    Guards: ``divergence_factor``, ``divergence_patience``, ``guard_warmup`` (steps whose mean
    distortion is the reference level). Logging: ``sample_every`` (0 = off).
    """

    name: str = "perceptual"
    model: str = "perceptual"
    cbr: str = "1/48"
    width: int = 64
    generator_width: int = 0
    res_blocks: int = 3
    stage: str = "gan"
    init_from: str = ""
    init_encoder_from: str = ""
    mse_weight: float = PAPER_WEIGHTS["mse"]
    lpips_weight: float = PAPER_WEIGHTS["lpips"]
    lpips_net: str = PAPER_WEIGHTS["lpips_net"]
    adversarial_weight: float = PAPER_WEIGHTS["adversarial"]
    colour_weight: float = 0.0
    grid_weight: float = 0.0
    gan_loss: str = PAPER_WEIGHTS["gan_loss"]
    r1_weight: float = 0.0
    d_backbone: str = ""
    d_filters: list[int] = field(default_factory=lambda: [64, 128, 256, 512])
    d_lr: float = 1e-4
    d_steps: int = 1
    lr: float = 1e-4
    warmup_steps: int = 0
    lr_final_fraction: float = 1.0
    beta_edge_prob: float = 0.25
    beta_scales_lpips: bool = False
    init_discriminator: bool = True
    decoder_film: bool = False
    divergence_factor: float = 3.0
    divergence_patience: int = 50
    guard_warmup: int = 20
    sample_every: int = 0
    val_images: int = 16
    val_snr_db: list[float] = field(default_factory=lambda: [10.0])

    def __post_init__(self):
        super().__post_init__()
        self.d_filters = [int(f) for f in self.d_filters]
        if self.stage not in ("distortion", "gan"):
            raise ValueError(f'stage must be "distortion" or "gan", got {self.stage!r}')
        adversarial_losses(self.gan_loss)  # raises for an unknown kind
        checks = {
            "res_blocks": self.res_blocks >= 0, "generator_width": self.generator_width >= 0,
            "mse_weight": self.mse_weight >= 0, "lpips_weight": self.lpips_weight >= 0,
            "adversarial_weight": self.adversarial_weight >= 0, "colour_weight": self.colour_weight >= 0,
            "grid_weight": self.grid_weight >= 0,
            "r1_weight": self.r1_weight >= 0,
            "d_lr": self.d_lr > 0, "d_steps": self.d_steps >= 1, "beta_edge_prob": 0 <= self.beta_edge_prob <= 1,
            "divergence_factor": self.divergence_factor > 1, "divergence_patience": self.divergence_patience > 0,
            "guard_warmup": self.guard_warmup > 0, "sample_every": self.sample_every >= 0,
            "d_filters": bool(self.d_filters) and all(f > 0 for f in self.d_filters),
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError("invalid PerceptualTrainConfig value(s): " + ", ".join(
                f"{k}={getattr(self, k)!r}" for k in bad)
                + " (weights and res_blocks >= 0, rates > 0, d_steps >= 1, beta_edge_prob in [0, 1], "
                  "divergence_factor > 1)")
        if self.d_backbone not in DISCRIMINATORS:
            raise ValueError(f"d_backbone must be one of {sorted(DISCRIMINATORS)}, got {self.d_backbone!r}")
        if self.model not in ("perceptual", "taejscc"):
            raise ValueError(f'model must be "perceptual" or "taejscc" for PerceptualTrainConfig, got {self.model!r}')
        if self.loss != "image":
            raise ValueError(f'loss must be "image" for PerceptualTrainConfig (MSE + LPIPS on pixels), got {self.loss!r}')
        if self.decoder_film and self.model != "taejscc":
            raise ValueError(f'decoder_film is for model = "taejscc" (its TAEF2 decoder), got model = {self.model!r}')
        grid = 16 if self.model == "taejscc" else 4
        if self.crop % grid:
            raise ValueError(f"crop must be a multiple of {grid} (the received symbol grid of {self.model}), "
                             f"got {self.crop}")
        if self.grid_weight and self.crop < 32:
            raise ValueError(f"grid_weight needs crop >= 32 (two repeats of the 16-pixel pattern), got {self.crop}")
        if self.model == "taejscc" and self.init_encoder_from:
            raise ValueError("init_encoder_from is for the perceptual model; a taejscc run warm-starts "
                             "from a PSNR TAEJSCC checkpoint with init_from")

    def model_spec(self) -> dict:
        if self.model == "taejscc":
            spec = self.psnr_model_spec()
            spec["kwargs"]["realism"] = True
            if self.decoder_film:
                spec["kwargs"]["decoder_film"] = True
            return spec
        return {"name": self.model, "channel": self.channel,
                "kwargs": {"cbr": self.cbr, "width": self.width,
                           "generator_width": self.generator_width or self.width,
                           "res_blocks": self.res_blocks}}

    def psnr_model_spec(self) -> dict | None:
        """The model spec of a PSNR checkpoint this run may warm-start from with ``init_from``
        although its spec differs: for ``"taejscc"`` the same model without the realism input
        (what :class:`~jscc_lab.train.TrainConfig` trains); ``None`` for ``"perceptual"``."""
        return TrainConfig.model_spec(self) if self.model == "taejscc" else None

    def warm_start_specs(self) -> list[dict]:
        """Model specs ``init_from`` may hold besides :meth:`model_spec`: checkpoints whose weights
        are this model's minus the zero-initialised ``model.realism_keys()`` -- the PSNR model and,
        with ``decoder_film``, the realism model without the decoder FiLM layers."""
        specs = [self.psnr_model_spec()] if self.model == "taejscc" else []
        if self.decoder_film:
            spec = self.model_spec()
            del spec["kwargs"]["decoder_film"]
            specs.append(spec)
        return specs


# ---- typed loading: a TOML file plus --set KEY=VALUE overrides ---------------------------------


_BOOLS = {"true": True, "1": True, "yes": True, "on": True,
          "false": False, "0": False, "no": False, "off": False}


def _type_name(tp) -> str:
    if typing.get_origin(tp) is list:
        (item,) = typing.get_args(tp) or (str,)
        return {str: 'a list of strings (list[str]), e.g. a,b or ["a", "b"]',
                int: "a list of integers (list[int]), e.g. 8,16 or [8, 16]",
                float: "a list of numbers (list[float]), e.g. 0,10,20 or [0, 10, 20]",
                }.get(item, f"a list (list[{getattr(item, '__name__', item)}])")
    return {int: "an integer (int)", float: "a number (float)", bool: "true or false (bool)",
            str: "a string (str)"}.get(tp, getattr(tp, "__name__", str(tp)))


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _scalar(value, tp, text: bool):
    """``value`` as ``tp``; a str ``value`` is parsed when ``text`` (it came from ``--set``).
    Raises ``ValueError`` when it does not fit."""
    if isinstance(value, str) and text:
        value = value.strip()
        if tp is bool and value.lower() in _BOOLS:
            return _BOOLS[value.lower()]
        if tp is int:
            return int(_unquote(value))
        if tp is float:
            return float(_unquote(value))
        if tp is str:
            return _unquote(value)
        raise ValueError
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is str and (isinstance(value, str) or isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value if isinstance(value, str) else str(value)
    raise ValueError


def convert_value(value, tp, text: bool = True):
    """Convert a ``--set`` text (``text=True``) or a TOML value (``text=False``) to the config
    field type ``tp`` (``int``, ``float``, ``bool``, ``str``, ``list[...]`` of those).

    ``--set`` lists are written ``0,10,20`` or as a TOML list ``[0, 10, 20]``. Other field types
    pass through unchanged. Raises ``ValueError`` when the value does not fit.
    """
    import typing

    if typing.get_origin(tp) is list:
        (item,) = typing.get_args(tp) or (str,)
        if isinstance(value, str) and text:
            stripped = value.strip()
            try:
                parsed = tomllib.loads(f"v = {stripped}")["v"]
            except tomllib.TOMLDecodeError:
                parsed = None
            if isinstance(parsed, list):
                return [_scalar(v, item, text=False) for v in parsed]
            inner = stripped[1:-1] if stripped.startswith("[") and stripped.endswith("]") else stripped
            return [_scalar(part, item, text=True) for part in inner.split(",") if part.strip()]
        if isinstance(value, list):
            return [_scalar(v, item, text=False) for v in value]
        raise ValueError
    if tp in (int, float, bool, str):
        return _scalar(value, tp, text)
    return value


def config_class(model, stage=None) -> type[TrainConfig]:
    """The config dataclass of a run: the two-stage GAN trainer's for the perceptual model and
    for any config with a ``stage`` key (e.g. the perceptual TAEJSCC), else the plain trainer's."""
    return PerceptualTrainConfig if model == "perceptual" or stage is not None else TrainConfig


def _unknown_key(key: str, where: str, valid: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{where}: unknown key {key!r}{hint}; valid keys: {', '.join(sorted(valid))}")


def load_train_config(path, overrides=()):
    """The validated config of ``jscc-lab train PATH --set KEY=VALUE ...`` (a :class:`TrainConfig`
    or :class:`PerceptualTrainConfig`, by :func:`config_class`).

    ``overrides`` are ``(key, text)`` pairs; each text is converted to its field's type. Every
    problem (no such file, not TOML, an unknown key, a value of the wrong type, a value the
    config refuses) raises :class:`ConfigError` with a one-line message.
    """
    import tomllib

    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a config file" if path.is_dir() else "does not exist"
        raise ConfigError(f"{path} {what}; give a TOML config such as jscc_lab/configs/adjscc_cpu.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a text (TOML) file") from None
    except OSError as err:
        raise ConfigError(f"cannot read {path} ({err.strerror or err})") from None

    overrides = dict(overrides)
    cls = config_class(overrides.get("model", data.get("model")), overrides.get("stage", data.get("stage")))
    types = typing.get_type_hints(cls)
    valid = [f.name for f in dataclasses.fields(cls) if f.init]
    for key, value in data.items():
        if key not in valid:
            raise _unknown_key(key, str(path), valid)
        try:
            convert_value(value, types[key], text=False)
        except ValueError:
            raise ConfigError(f"{path}: {key} must be {_type_name(types[key])}, got {value!r}") from None
    converted = {}
    for key, value in overrides.items():
        if key not in valid:
            raise _unknown_key(key, f"--set {key}={value}", valid)
        try:
            converted[key] = convert_value(value, types[key], text=True)
        except ValueError:
            raise ConfigError(f"--set {key}={value}: {key} must be {_type_name(types[key])}, "
                            f"got {value!r}") from None
    try:
        return cls(**{**data, **converted})
    except (ValueError, TypeError) as err:
        source = f"{path}" + (" with --set " + " ".join(f"{k}={v}" for k, v in overrides.items())
                              if overrides else "")
        raise ConfigError(f"{source}: {err}") from None
