"""Checkpoints: one module to save, load, export and trace them.

* :func:`save_checkpoint` writes atomically; :func:`load_checkpoint` reads any checkpoint with
  ``torch.load(..., weights_only=True)`` (no arbitrary unpickling) and fills in the modules left
  to a published weight file; a truncated, corrupt or pickled file is a :class:`CheckpointError`
  that says what to do.
* :func:`export_checkpoint` makes a small release file (no optimizer / RNG state, optionally
  float16, published modules left out); :func:`training_stages` lists the stages behind a
  checkpoint (its lineage), oldest first.

A checkpoint is a dict: ``format`` (:data:`CHECKPOINT_FORMAT`), ``model`` (the spec
``{"name", "channel", "kwargs"}`` that rebuilds it), ``state_dict``, and from training ``config``,
``step``, ``metrics``, ``provenance`` (and ``optimizer``, ``rng``, ``extra`` in a run's files).
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
import zipfile
from pathlib import Path

import torch
from torch import nn

from .files import atomic_write

__all__ = ["CHECKPOINT_FORMAT", "CheckpointError", "save_checkpoint", "load_checkpoint",
           "export_checkpoint", "training_stages", "check_writable", "check_output_dir", "LOSS_WEIGHTS"]

CHECKPOINT_FORMAT = "jscc_lab.checkpoint/1"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, tampered with or does not fit the model."""


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
    """``torch.save`` ``checkpoint`` atomically (:func:`jscc_lab.files.atomic_write`): a crash
    mid-write leaves the previous file intact (no truncated checkpoints)."""
    return atomic_write(path, lambda f: torch.save(checkpoint, f))


def export_checkpoint(src, dst, extra_provenance: dict | None = None, half: bool = False,
                      published: dict | None = None) -> Path:
    """Copy a training checkpoint without optimizer / RNG state (a small release file).

    ``half=True`` stores floating-point weights as float16 (half the size; loading casts them
    back to the model's float32). ``published`` (``{module prefix: weight file name}``, e.g.
    ``{"ae_encoder": "taef2_encoder"}``) leaves out modules whose weights are exactly those of a
    published file of :mod:`jscc_lab.weights` (kept frozen in training): the file records the
    name and :func:`load_checkpoint` reads them back from there. A module
    that differs from its file is a ``ValueError``.
    """
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


def _unreadable(path: Path, detail: str) -> CheckpointError:
    """The error for a checkpoint file that cannot be read. A training run's ``last.pt`` /
    ``best.pt`` is not downloaded or copied from anywhere, but the run has a second checkpoint."""
    other = {"last.pt": "best.pt", "best.pt": "last.pt"}.get(path.name)
    if other is None:
        return CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt file?): "
                               f"{detail}; download or copy it again")
    if path.name == "last.pt":
        resume = f"copy the run's other checkpoint {path.with_name(other)} to {path} and resume (--resume)"
    else:
        resume = f"resume from the run's other checkpoint {path.with_name(other)} (--resume)"
    return CheckpointError(f"the training checkpoint {path} is truncated or corrupt ({detail}): {resume}, "
                           "or restart the training (jscc-lab train CONFIG --overwrite)")


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read any checkpoint file with ``torch.load(..., weights_only=True)``.

    Only tensors and plain containers load; a file that needs arbitrary unpickling (which could
    run code), a truncated or corrupt file, or one that is not a jscc_lab checkpoint dict raises
    :class:`CheckpointError` saying so.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    if not zipfile.is_zipfile(path):  # torch.save writes zip archives; a cut file loses its index
        raise _unreadable(path, "it is not the zip archive torch.save writes")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path} holds pickled Python objects that weights_only=True refuses to load "
            f"(loading them could run arbitrary code); only plain checkpoints are accepted. "
            f"Details: {str(err).splitlines()[0]}"
        ) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise _unreadable(path, str(err).splitlines()[0] if str(err) else type(err).__name__) from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{path} is not a jscc_lab checkpoint (a dict with a 'state_dict')")
    return _with_published_weights(ckpt)


def _with_published_weights(ckpt: dict) -> dict:
    """Fill in the modules a checkpoint left to a published weight file.

    ``ckpt["published_weights"]`` maps a module prefix (``"ae_encoder"``) to a name in
    :data:`jscc_lab.weights.WEIGHTS` (``"taef2_encoder"``): weights that training kept frozen
    and that :func:`jscc_lab.train.export_checkpoint` checked to be that file's, left out of the
    file. They are read through :func:`jscc_lab.weights.load_weights` (hash-checked; a missing
    file names the folder to put it in).
    """
    from .weights import load_weights

    for prefix, name in (ckpt.get("published_weights") or {}).items():
        for key, value in load_weights(name, dtype=None).items():
            ckpt["state_dict"].setdefault(f"{prefix}.{key}", value)
    return ckpt


#: the loss weights a stage's record keeps (perceptual and GAN stages)
LOSS_WEIGHTS = ("mse_weight", "lpips_weight", "adversarial_weight", "colour_weight", "grid_weight",
                "beta_scales_lpips")


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
