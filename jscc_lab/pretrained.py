"""Pretrained checkpoints shipped in ``assets/checkpoints/`` behind one hashed registry.

``assets/checkpoints/registry.json`` lists, per name (``kind-objective-channel-cbr``, e.g.
``adjscc-psnr-awgn-cbr1_12``), the file, its SHA-256 and a description. :func:`load` checks the
hash, reads the file with ``torch.load(..., weights_only=True)`` (no arbitrary unpickling) and
rebuilds the model from the spec stored in the checkpoint.

Example
-------
>>> from jscc_lab import pretrained
>>> pretrained.available()                              # doctest: +SKIP
['adjscc-psnr-awgn-cbr1_12', 'adjscc-psnr-awgn-cbr1_48', ...]
>>> model = pretrained.load("adjscc-psnr-awgn-cbr1_12")  # doctest: +SKIP
>>> x_hat = model(x, 10.0)                               # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from torch import nn

from .checkpoints import CheckpointError, load_checkpoint
from .files import sha256_of

__all__ = [
    "CHECKPOINT_DIR",
    "available",
    "info",
    "find",
    "load",
    "load_checkpoint",
    "model_from_checkpoint",
    "load_model",
    "register",
    "sha256_of",
    "CheckpointError",
]

#: where the shipped checkpoints and ``registry.json`` live (a source checkout / editable install)
CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "assets" / "checkpoints"
REGISTRY_NAME = "registry.json"


def _registry(root=None) -> dict:
    root = Path(root) if root is not None else CHECKPOINT_DIR
    path = root / REGISTRY_NAME
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def available(root=None) -> list[str]:
    """Names of the registered checkpoints (sorted)."""
    return sorted(_registry(root))


def find(root=None, **fields) -> list[str]:
    """Names of the registered checkpoints whose registry fields match every ``fields`` item, e.g.
    ``find(objective="psnr", channel="awgn")``; ``cbr="1/48"`` matches a single-CBR model at that
    CBR and a rate-adaptive one that serves it. Fields: ``model`` (family), ``objective``
    (``"psnr"`` or ``"perceptual"``), ``channel``, ``cbr``, ``realism`` (bool)."""
    out = []
    for name, entry in _registry(root).items():
        ok = True
        for key, want in fields.items():
            if key == "cbr":
                ok &= entry.get("cbr") == want or want in (entry.get("cbrs") or ())
            else:
                ok &= entry.get(key, False if key == "realism" else None) == want
        if ok:
            out.append(name)
    return out


def info(name: str, root=None) -> dict:
    """Registry entry of ``name``: ``file``, ``sha256``, ``bytes``, ``description``, ..."""
    registry = _registry(root)
    if name not in registry:
        raise ValueError(f"no pretrained checkpoint named {name!r}; available: {', '.join(sorted(registry)) or 'none'}")
    return registry[name]


def register(path, name: str, description: str, root=None, **fields) -> dict:
    """Add (or update) the file ``path`` (inside the checkpoint folder) to the registry."""
    root = Path(root) if root is not None else CHECKPOINT_DIR
    path = Path(path)
    if path.resolve().parent != root.resolve():
        raise ValueError(f"{path} must lie in the checkpoint folder {root}")
    registry = _registry(root)
    registry[name] = {"file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
                      "description": description, **fields}
    (root / REGISTRY_NAME).write_text(json.dumps(dict(sorted(registry.items())), indent=2) + "\n")
    return registry[name]


def model_from_checkpoint(ckpt: dict) -> nn.Module:
    """Rebuild the model a checkpoint describes and load its weights (strict)."""
    from .models import build_model

    spec = ckpt.get("model")
    if not isinstance(spec, dict) or "name" not in spec:
        raise CheckpointError("checkpoint has no model spec ('model': {'name', 'channel', 'kwargs'})")
    from .models import MODELS

    kwargs = dict(spec.get("kwargs", {}))
    cls = MODELS.get(spec["name"])
    if cls is not None and "pretrained" in inspect.signature(cls).parameters:
        kwargs["pretrained"] = False  # every weight, fine-tuned pretrained ones too, is in the file
    model = build_model(spec["name"], channel=spec.get("channel", "awgn"), **kwargs)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(
            f"checkpoint weights do not fit model {spec}: {str(err).splitlines()[0]}"
        ) from err
    return model


def load(name: str, device="cpu", root=None, return_checkpoint: bool = False):
    """Registered checkpoint ``name`` as a ready model in eval mode (SHA-256 verified).

    With ``return_checkpoint=True`` returns ``(model, checkpoint)`` so config, metrics and
    provenance can be inspected.
    """
    root = Path(root) if root is not None else CHECKPOINT_DIR
    entry = info(name, root)
    path = root / entry["file"]
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {name!r} is registered but {path} is missing")
    digest = sha256_of(path)
    if digest != entry["sha256"]:
        raise CheckpointError(
            f"SHA-256 of {path} is {digest}, the registry expects {entry['sha256']}: the file is "
            "corrupt or was changed; restore it from the repository"
        )
    ckpt = load_checkpoint(path, map_location=device)
    model = model_from_checkpoint(ckpt).to(device).eval()
    return (model, ckpt) if return_checkpoint else model


def load_model(name_or_path, device="cpu") -> nn.Module:
    """A registered checkpoint by name (:func:`load`) or any checkpoint file (a run's ``last.pt``),
    as a model in eval mode; anything else is a ``FileNotFoundError`` naming both options."""
    if str(name_or_path) in available():
        return load(str(name_or_path), device=device)
    path = Path(name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"{name_or_path} is neither a registered checkpoint "
                                f"({', '.join(available()) or 'none'}) nor a checkpoint file")
    return model_from_checkpoint(load_checkpoint(path, map_location=device)).to(device).eval()
