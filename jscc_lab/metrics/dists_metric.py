"""DISTS (Ding, Ma, Wang & Simoncelli 2020), structure + texture similarity on VGG16 features,
from the ``dists-pytorch`` package (its published alpha/beta weights and its forward pass)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from . import _cache
from ._checks import check_pair
from .backbones import backbone_features, load_features_into

# (stage, first and last VGG16 `features` index) as in DISTS_pt.DISTS; an L2 pooling replaces
# each max pooling at the start of stages 2-5
_STAGES = ((1, 0, 4), (2, 5, 9), (3, 10, 16), (4, 17, 23), (5, 24, 30))
_POOL_CHANNELS = {2: 64, 3: 128, 4: 256, 5: 512}


def _build() -> nn.Module:
    import torchvision
    from DISTS_pytorch import DISTS_pt

    class _DISTSNetwork(DISTS_pt.DISTS):
        """``DISTS_pt.DISTS`` with its layers built from given weights instead of
        ``vgg16(pretrained=True)``: same modules, names, buffers and forward."""

        def __init__(self, vgg_features: nn.Sequential, alpha_beta: dict):
            nn.Module.__init__(self)
            for stage, first, stop in _STAGES:
                layers = nn.Sequential()
                if stage in _POOL_CHANNELS:
                    layers.add_module(str(first - 1), DISTS_pt.L2pooling(channels=_POOL_CHANNELS[stage]))
                for i in range(first, stop):
                    layers.add_module(str(i), vgg_features[i])
                setattr(self, f"stage{stage}", layers)
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, -1, 1, 1))
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, -1, 1, 1))
            self.chns = [3, 64, 128, 256, 512, 512]
            self.alpha = nn.Parameter(alpha_beta["alpha"].clone())
            self.beta = nn.Parameter(alpha_beta["beta"].clone())

    features, source = backbone_features("vgg16")
    vgg_features = torchvision.models.vgg16(weights=None).features
    load_features_into(vgg_features, features, lambda name: "features." + name)
    alpha_beta = torch.load(Path(DISTS_pt.__file__).with_name("weights.pt"), map_location="cpu",
                            weights_only=True)
    network = _DISTSNetwork(vgg_features, alpha_beta)
    network.weights_source = source
    return network


class DISTS(nn.Module):
    """DISTS distance per image: lower is better, 0 for identical images, range ``[0, 1]``.

    Compares the means (texture) and correlations (structure) of VGG16 feature maps, so it
    tolerates resampled texture that PSNR and LPIPS punish. Inputs in ``[0, 1]``.

    Parameters
    ----------
    device : where to build the network right away (default CPU); other devices get a copy on
        first use. The network is shared, frozen and not a submodule, as for :class:`LPIPS`.

    Input
    -----
    x, x_hat : ``(N, 3, H, W)`` float tensors in ``[0, 1]`` on one device (H, W >= 32).

    Output
    ------
    ``(N,)`` float32, with gradients w.r.t. ``x_hat`` when it requires grad.
    """

    def __init__(self, device="cpu"):
        super().__init__()
        self.kind = "dists"
        self.weights_source = self._network(device).weights_source

    def _network(self, device) -> nn.Module:
        return _cache.cached_network(self.kind, device, _build)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """VGG16 feature maps of ``x`` ``(N, 3, H, W)`` in ``[0, 1]`` (the image itself first),
        as DISTS compares them; compute once per reference (see :class:`~jscc_lab.metrics.Scorer`)."""
        if min(x.shape[-2:]) < 32:
            raise ValueError(f"DISTS needs images of at least 32x32 pixels, got {tuple(x.shape[-2:])}")
        return self._network(x.device).forward_once(x.float())

    def from_features(self, fx: list[torch.Tensor], fy: list[torch.Tensor]) -> torch.Tensor:
        """The distance ``(N,)`` between two :meth:`features` results: one minus the
        alpha/beta-weighted sum of texture (mean) and structure (covariance) similarities."""
        network = self._network(fx[0].device)
        total = network.alpha.sum() + network.beta.sum()
        alphas = torch.split(network.alpha / total, network.chns, dim=1)
        betas = torch.split(network.beta / total, network.chns, dim=1)
        c1 = c2 = 1e-6
        similarity = 0.0
        for a, b, alpha, beta in zip(fx, fy, alphas, betas):
            a_mean, b_mean = a.mean([2, 3], keepdim=True), b.mean([2, 3], keepdim=True)
            texture = (2 * a_mean * b_mean + c1) / (a_mean**2 + b_mean**2 + c1)
            a_var = ((a - a_mean) ** 2).mean([2, 3], keepdim=True)
            b_var = ((b - b_mean) ** 2).mean([2, 3], keepdim=True)
            covariance = (a * b).mean([2, 3], keepdim=True) - a_mean * b_mean
            structure = (2 * covariance + c2) / (a_var + b_var + c2)
            similarity = similarity + (alpha * texture).sum(1) + (beta * structure).sum(1)
        return (1 - similarity).reshape(-1)

    def forward(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        check_pair(x, x_hat)
        return self.from_features(self.features(x), self.features(x_hat))

    def extra_repr(self) -> str:
        return f"weights={self.weights_source}"
