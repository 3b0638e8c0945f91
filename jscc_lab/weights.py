"""Every external weight file the package uses, found or fetched in one place.

The files (pinned by SHA-256, listed in :data:`WEIGHTS`):

=====================  ======================================================================
``alexnet_features``   torchvision's ImageNet AlexNet convolution weights (LPIPS-alex)
``vgg16_features``     torchvision's ImageNet VGG16 convolution weights (LPIPS-vgg, DISTS)
``taef2_encoder``      TAEF2 tiny autoencoder, encoder (MIT, madebyollin/taesd, pinned commit)
``taef2_decoder``      TAEF2 tiny autoencoder, decoder (same source)
=====================  ======================================================================

:func:`weights_path` looks, in this order, and never falls back to random weights:

1. ``$JSCC_LAB_DATA/weights/<file>`` (read-only is fine; a copy with the wrong hash is refused);
2. the user cache ``~/.cache/jscc_lab/weights/<file>`` (where an earlier download left it);
3. a download from the pinned URL into that cache (temp file, SHA-256 check, atomic rename),
   unless ``JSCC_LAB_OFFLINE=1``. The ImageNet backbones have no single-file URL of their own:
   :func:`jscc_lab.metrics.backbones.backbone_features` falls back to torchvision's download.

A file that cannot be found raises :class:`WeightsMissing`, naming the folder to put it in.

Example
-------
>>> from jscc_lab.weights import weights_path, load_weights
>>> weights_path("taef2_encoder").name                   # doctest: +SKIP
'taef2_encoder.pth'
>>> state = load_weights("taef2_encoder")                # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from . import settings

__all__ = ["WEIGHTS", "WeightFile", "WeightsMissing", "weights_path", "load_weights", "find_on_disk",
           "local_weights_dir", "cache_weights_dir"]

_TAESD_COMMIT = "5cccb12dc72074a4be35680c3b108548a7c69978"
_TAESD_URL = f"https://raw.githubusercontent.com/madebyollin/taesd/{_TAESD_COMMIT}/{{}}"


@dataclass(frozen=True)
class WeightFile:
    """One pinned weight file: ``file`` name, ``sha256``, download ``url`` (``None``: none of its
    own) and a short ``what`` for error messages."""

    file: str
    sha256: str
    url: str | None
    what: str


#: name -> pinned file; the only list of external weights in the package
WEIGHTS: dict[str, WeightFile] = {
    "alexnet_features": WeightFile(
        "alexnet_features.pth", "1454cf628f565bb39c929b4ab19c33d8c662292055b946c48daaeb6ccaf8811d",
        None, "ImageNet AlexNet convolution weights for LPIPS-alex"),
    "vgg16_features": WeightFile(
        "vgg16_features.pth", "c6202c684b82fdf2f7007873bcf40b1238e1565f688e2e541c96d8090c79c130",
        None, "ImageNet VGG16 convolution weights for LPIPS-vgg and DISTS"),
    "taef2_encoder": WeightFile(
        "taef2_encoder.pth", "10a4e1021e89d7551eaf161352da8dbd0b1aa83872ae28b150c1df1ce2f147b6",
        _TAESD_URL.format("taef2_encoder.pth"), "TAEF2 tiny autoencoder, encoder"),
    "taef2_decoder": WeightFile(
        "taef2_decoder.pth", "0a44a31e1ae59eb9dbf9359d24942fd3ef5928162c1800d97a28c61d51be0ab5",
        _TAESD_URL.format("taef2_decoder.pth"), "TAEF2 tiny autoencoder, decoder"),
}


class WeightsMissing(FileNotFoundError):
    """An external weight file is neither on disk (with the pinned hash) nor downloadable."""


def local_weights_dir() -> Path:
    """``$JSCC_LAB_DATA/weights``: the first place weights are looked up (never written)."""
    return settings.data_root() / "weights"


def cache_weights_dir() -> Path:
    """``~/.cache/jscc_lab/weights``: where downloads go."""
    return settings.cache_dir() / "weights"


def _entry(name: str) -> WeightFile:
    if name not in WEIGHTS:
        raise ValueError(f"name must be one of {', '.join(sorted(WEIGHTS))}, got {name!r}")
    return WEIGHTS[name]


def _checked(path: Path, entry: WeightFile) -> Path:
    from .files import sha256_of

    digest = sha256_of(path)
    if digest != entry.sha256:
        raise WeightsMissing(
            f"{path} has SHA-256 {digest}, not the pinned {entry.sha256} of the {entry.what}: "
            "replace it with a verified copy (or delete it to download it again)"
        )
    return path


def find_on_disk(name: str) -> Path | None:
    """Verified path of ``name`` in :func:`local_weights_dir` or :func:`cache_weights_dir`, or
    ``None``; a file there with the wrong SHA-256 raises :class:`WeightsMissing`."""
    entry = _entry(name)
    for folder in (local_weights_dir(), cache_weights_dir()):
        path = folder / entry.file
        if path.is_file():
            return _checked(path, entry)
    return None


def weights_path(name: str, download: bool = True) -> Path:
    """Path of the verified weight file ``name`` (a key of :data:`WEIGHTS`).

    Looks in :func:`local_weights_dir`, then :func:`cache_weights_dir`, then downloads into the
    cache (if ``download`` and not ``JSCC_LAB_OFFLINE=1``). A wrong hash is refused; a missing file
    raises :class:`WeightsMissing` naming the folder to put it in.
    """
    entry = _entry(name)
    found = find_on_disk(name)
    if found is not None:
        return found
    where = (f"put {entry.file} (SHA-256 {entry.sha256}) in the folder {local_weights_dir()} "
             "(that is $JSCC_LAB_DATA/weights)")
    if entry.url is None or not download:
        raise WeightsMissing(f"no {entry.what}: {where}")
    if settings.offline():
        raise WeightsMissing(f"no {entry.what} and JSCC_LAB_OFFLINE=1 forbids downloading it: {where}")
    from .files import download_file

    try:
        return download_file(entry.url, cache_weights_dir() / entry.file, sha256=entry.sha256)
    except OSError as err:
        raise WeightsMissing(f"no {entry.what}: downloading {entry.url} failed ({err}); {where}") from err


def load_weights(name: str, dtype: torch.dtype | None = torch.float32) -> dict[str, torch.Tensor]:
    """The state dict in weight file ``name``, on the CPU, cast to ``dtype`` (``None``: as stored).

    Read with ``torch.load(..., weights_only=True)``: tensors only, no arbitrary unpickling.
    """
    state = torch.load(weights_path(name), map_location="cpu", weights_only=True)
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    return state
