"""ImageNet backbone weights for LPIPS and DISTS, with or without a network.

``lpips`` and DISTS are built on torchvision's ImageNet AlexNet / VGG16 convolution layers.
:func:`backbone_features` finds those weights, in this order, and never falls back to random ones:

1. ``alexnet_features.pth`` / ``vgg16_features.pth`` found by :mod:`jscc_lab.weights` (plain dicts
   ``features.{i}.weight|bias`` in ``$JSCC_LAB_DATA/weights`` or the user cache, hash-checked);
2. torchvision's own cache, ``$TORCH_HOME/hub/checkpoints/`` (``alexnet-owt-7be5be79.pth``,
   ``vgg16-397923af.pth``), where an earlier download left them;
3. torchvision's download into that cache, unless ``JSCC_LAB_OFFLINE=1``.

If none works, :class:`BackboneWeightsMissing` says which file to put where.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from .. import settings
from ..weights import WEIGHTS, WeightsMissing, find_on_disk, local_weights_dir

#: entry of :data:`jscc_lab.weights.WEIGHTS` for each backbone (file name and pinned SHA-256)
WEIGHT_NAMES = {"alexnet": "alexnet_features", "vgg16": "vgg16_features"}


class BackboneWeightsMissing(WeightsMissing):
    """The ImageNet weights of a metric's backbone are neither on disk nor downloadable."""


def _torchvision_weights(arch: str):
    import torchvision

    return {
        "alexnet": torchvision.models.AlexNet_Weights.IMAGENET1K_V1,
        "vgg16": torchvision.models.VGG16_Weights.IMAGENET1K_V1,
    }[arch]


def offline_weights_path(arch: str) -> Path:
    """``$JSCC_LAB_DATA/weights/<arch>_features.pth``: where the offline copy is looked up."""
    if arch not in WEIGHT_NAMES:
        raise ValueError(f"arch must be one of {sorted(WEIGHT_NAMES)}, got {arch!r}")
    return local_weights_dir() / WEIGHTS[WEIGHT_NAMES[arch]].file


def torch_cache_path(arch: str) -> Path:
    """Where torchvision keeps (or would download) the full ImageNet checkpoint of ``arch``."""
    url = _torchvision_weights(arch).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def _features_only(state: dict, arch: str, source) -> dict[str, torch.Tensor]:
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    if not features:
        raise BackboneWeightsMissing(
            f"{source} holds no 'features.*' tensors; expected torchvision's {arch} weights "
            f"(see the README next to {offline_weights_path(arch)})"
        )
    return features


def _missing_error(arch: str, reason: str) -> BackboneWeightsMissing:
    local = offline_weights_path(arch)
    return BackboneWeightsMissing(
        f"no ImageNet {arch} weights for LPIPS/DISTS ({reason}). Put {local.name} (a dict of "
        f"'features.{{i}}.weight|bias' tensors) in the folder {local.parent} (that is "
        f"$JSCC_LAB_DATA/weights), or let torchvision download {torch_cache_path(arch).name} "
        f"into {torch_cache_path(arch).parent} with network access and JSCC_LAB_OFFLINE unset. "
        "Random backbone weights are never used."
    )


def backbone_features(arch: str) -> tuple[dict[str, torch.Tensor], str]:
    """ImageNet convolution weights of ``arch`` (``"alexnet"`` or ``"vgg16"``) on the CPU.

    Output: ``({"features.{i}.weight": ..., "features.{i}.bias": ...}, source)`` where
    ``source`` names the file the weights came from (or the download URL).
    Raises :class:`BackboneWeightsMissing` when no source works; see the module doc for the order.
    """
    local = offline_weights_path(arch)
    try:
        found = find_on_disk(WEIGHT_NAMES[arch])
    except WeightsMissing as err:  # a copy with the wrong hash: refused, never used
        raise BackboneWeightsMissing(str(err)) from err
    if found is not None:
        state = torch.load(found, map_location="cpu", weights_only=True)
        return _features_only(state, arch, found), str(found)
    cached = torch_cache_path(arch)
    if cached.is_file():
        state = torch.load(cached, map_location="cpu", weights_only=True)
        return _features_only(state, arch, cached), str(cached)
    if settings.offline():
        raise _missing_error(arch, f"{local} does not exist and JSCC_LAB_OFFLINE=1 forbids downloading")
    url = _torchvision_weights(arch).url
    try:
        state = torch.hub.load_state_dict_from_url(
            url, map_location="cpu", progress=True, check_hash=True, weights_only=True
        )
    except (OSError, RuntimeError) as err:  # no network, HTTP error, or a corrupt download
        raise _missing_error(arch, f"{local} does not exist and downloading {url} failed: {err}") from err
    return _features_only(state, arch, url), url


def load_features_into(module: nn.Module, features: dict[str, torch.Tensor], index_of) -> None:
    """Copy ``features.{i}.*`` tensors into ``module``'s parameters, all or nothing.

    ``index_of(name)`` maps a parameter name of ``module`` (e.g. ``"slice2.3.weight"``) to the
    torchvision key (``"features.3.weight"``). Every parameter must be covered and every tensor
    used, with matching shapes, so a half-loaded (partly random) backbone is impossible.
    """
    params = dict(module.named_parameters())
    wanted = {name: index_of(name) for name in params}
    missing = sorted(set(wanted.values()) - set(features))
    unused = sorted(set(features) - set(wanted.values()))
    if missing or unused:
        raise BackboneWeightsMissing(
            f"backbone weights do not match the network: missing {missing[:4]}, unused {unused[:4]}"
        )
    with torch.no_grad():
        for name, key in wanted.items():
            if params[name].shape != features[key].shape:
                raise BackboneWeightsMissing(
                    f"{key} has shape {tuple(features[key].shape)}, the network expects "
                    f"{tuple(params[name].shape)}"
                )
            params[name].copy_(features[key])
