"""ImageNet backbone weights for LPIPS and DISTS, with or without a network.

``lpips`` and DISTS are built on torchvision's ImageNet AlexNet / VGG16 convolution layers.
:func:`backbone_features` finds those weights, in this order, and never falls back to random ones:

1. ``$JSCC_LAB_DATA/weights/alexnet_features.pth`` / ``vgg16_features.pth`` (plain dicts
   ``features.{i}.weight|bias``; format and provenance in that folder's README);
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

#: offline file name under ``$JSCC_LAB_DATA/weights`` for each backbone
OFFLINE_FILES = {"alexnet": "alexnet_features.pth", "vgg16": "vgg16_features.pth"}

#: SHA-256 of the offline copies (torchvision's ImageNet convolution weights, converted once; see
#: the README beside them): a file that does not match is refused, never silently used
OFFLINE_SHA256 = {
    "alexnet": "1454cf628f565bb39c929b4ab19c33d8c662292055b946c48daaeb6ccaf8811d",
    "vgg16": "c6202c684b82fdf2f7007873bcf40b1238e1565f688e2e541c96d8090c79c130",
}


class BackboneWeightsMissing(FileNotFoundError):
    """The ImageNet weights of a metric's backbone are neither on disk nor downloadable."""


def _torchvision_weights(arch: str):
    import torchvision

    return {
        "alexnet": torchvision.models.AlexNet_Weights.IMAGENET1K_V1,
        "vgg16": torchvision.models.VGG16_Weights.IMAGENET1K_V1,
    }[arch]


def offline_weights_path(arch: str) -> Path:
    """``$JSCC_LAB_DATA/weights/<arch>_features.pth``: where the offline copy is looked up."""
    if arch not in OFFLINE_FILES:
        raise ValueError(f"arch must be one of {sorted(OFFLINE_FILES)}, got {arch!r}")
    return settings.data_root() / "weights" / OFFLINE_FILES[arch]


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
    if local.is_file():
        from ..data import sha256_of

        digest = sha256_of(local)
        if digest != OFFLINE_SHA256[arch]:
            raise BackboneWeightsMissing(
                f"{local} has SHA-256 {digest}, not the pinned {OFFLINE_SHA256[arch]} of the "
                f"ImageNet {arch} weights: replace it with a verified copy (or remove it to let "
                "torchvision download the weights)"
            )
        state = torch.load(local, map_location="cpu", weights_only=True)
        return _features_only(state, arch, local), str(local)
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
