"""LPIPS (Zhang et al. 2018), the learned perceptual distance, from the ``lpips`` package."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from . import _cache
from ._checks import check_pair
from .backbones import backbone_features, load_features_into

_ARCH = {"alex": "alexnet", "vgg": "vgg16"}
_MIN_SIDE = {"alex": 32, "vgg": 16}  # smaller inputs vanish in the backbone's poolings


def _build(net: str) -> nn.Module:
    import lpips

    features, source = backbone_features(_ARCH[net])  # first, so missing weights fail fast
    with warnings.catch_warnings():  # lpips still passes torchvision's deprecated `pretrained=`
        warnings.simplefilter("ignore", UserWarning)
        # pnet_rand=True: build the backbone without torchvision's download; the package's own
        # v0.1 linear heads are still loaded, and the ImageNet weights are copied in below.
        network = lpips.LPIPS(net=net, version="0.1", pnet_rand=True, verbose=False)
    # lpips keeps torchvision's `features` indices as child names: slice2.3.weight <- features.3.weight
    load_features_into(network.net, features, lambda name: "features." + name.split(".", 1)[1])
    network.weights_source = source
    return network


class LPIPS(nn.Module):
    """LPIPS v0.1 distance per image: lower is better, 0 for identical images.

    Values lie in ``[0, ~1]`` in practice (not a hard bound); e.g. 0.05 is a hardly visible
    change, 0.4-0.7 a strong one. Inputs in ``[0, 1]`` are scaled to ``[-1, 1]`` as the
    reference implementation expects.

    Parameters
    ----------
    net : ``"alex"`` (the standard for evaluation, calibrated here to 1e-4 against the reference
        values) or ``"vgg"`` (closer to human judgements of texture, more often used as a loss).
    device : where to build the network right away (default CPU). Calls on tensors of another
        device use a copy there, built on first use.

    The network is built once per ``(net, device)`` and shared by every ``LPIPS`` object. It is
    frozen (eval mode, ``requires_grad=False``) and is not a submodule, so a model holding an
    ``LPIPS`` as its loss has no extra parameters, no extra ``state_dict`` entries, and
    ``.train()`` does not switch its dropout on. Construction raises
    :class:`~jscc_lab.metrics.BackboneWeightsMissing` when no ImageNet weights can be found.

    Input
    -----
    x, x_hat : ``(N, 3, H, W)`` float tensors in ``[0, 1]`` on one device (H, W >= 32 for
        ``"alex"``, >= 16 for ``"vgg"``).

    Output
    ------
    ``(N,)`` float32. Differentiable: when ``x_hat`` requires grad (and grad mode is on) the
    result carries gradients w.r.t. ``x_hat``, so ``LPIPS("vgg")(x, x_hat).mean()`` is a
    perceptual training loss.

    Example
    -------
    >>> lpips_alex = LPIPS("alex")                       # doctest: +SKIP
    >>> lpips_alex(x, x_hat)                             # doctest: +SKIP
    tensor([0.0512, 0.2571])
    """

    def __init__(self, net: str = "alex", device="cpu"):
        super().__init__()
        if net not in _ARCH:
            raise ValueError(f"net must be 'alex' or 'vgg', got {net!r}")
        self.net = net
        self.kind = f"lpips-{net}"
        self.weights_source = self._network(device).weights_source

    def _network(self, device) -> nn.Module:
        return _cache.cached_network(self.kind, device, lambda: _build(self.net))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised backbone features of ``x`` ``(N, 3, H, W)`` in ``[0, 1]``: one
        ``(N, C_l, H_l, W_l)`` tensor per layer. Compute them once for a reference that many
        reconstructions are compared with (:class:`~jscc_lab.metrics.Scorer` does)."""
        side = _MIN_SIDE[self.net]
        if min(x.shape[-2:]) < side:
            raise ValueError(
                f"LPIPS({self.net!r}) needs images of at least {side}x{side} pixels, got {tuple(x.shape[-2:])}"
            )
        import lpips

        network = self._network(x.device)
        outs = network.net(network.scaling_layer(2 * x.float() - 1))
        return [lpips.normalize_tensor(o) for o in outs]

    def from_features(self, fx: list[torch.Tensor], fy: list[torch.Tensor]) -> torch.Tensor:
        """The distance ``(N,)`` between two :meth:`features` results (same device and sizes)."""
        network = self._network(fx[0].device)
        layers = (lin((a - b) ** 2).mean([2, 3]) for lin, a, b in zip(network.lins, fx, fy))
        return sum(layers).reshape(-1)

    def forward(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        check_pair(x, x_hat)
        return self.from_features(self.features(x), self.features(x_hat))

    def extra_repr(self) -> str:
        return f"net={self.net!r}, weights={self.weights_source}"
