"""One frozen copy of each metric network per device, built on first use."""

from __future__ import annotations

import copy
import threading

import torch
from torch import nn

_networks: dict[tuple[str, torch.device], nn.Module] = {}
_lock = threading.Lock()


def as_device(device) -> torch.device:
    """Normalise ``"cuda"`` to ``cuda:<current>`` so one device has one cache key."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def cached_network(kind: str, device, build) -> nn.Module:
    """The network ``kind`` on ``device``: built once on the CPU by ``build()``, then copied.

    Every copy is in eval mode with ``requires_grad=False`` on all its parameters: gradients
    still flow to an *input* that requires them (a perceptual loss), never into the metric.
    """
    device = as_device(device)
    # never build inside a caller's inference_mode: its tensors could not serve a loss later
    with _lock, torch.inference_mode(False):
        key = (kind, device)
        if key not in _networks:
            cpu = torch.device("cpu")
            if (kind, cpu) not in _networks:
                network = build()
                network.requires_grad_(False)
                _networks[(kind, cpu)] = network.eval()
            if device != cpu:
                _networks[key] = copy.deepcopy(_networks[(kind, cpu)]).to(device).eval()
        return _networks[key]


def clear() -> None:
    """Forget every cached network (tests; freeing GPU memory)."""
    with _lock:
        _networks.clear()
