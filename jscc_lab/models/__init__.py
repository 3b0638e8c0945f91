"""Deep JSCC models and their building blocks, behind one registry.

``DeepJSCC`` (Bourtsoulatze et al. 2019) and ``ADJSCC`` (Xu et al. 2021, SNR-adaptive) share
the :class:`JSCCModel` contract of DESIGN.md: ``encode(x) -> s``, ``decode(y, snr_db) -> x_hat``,
``model(x, snr_db, generator=None) -> x_hat``. :func:`build_model` makes any registered model
from its name and keyword arguments (what configs and checkpoints store); new models (the
perceptual generator, discriminators) join with :func:`register_model`.

Example
-------
>>> import torch
>>> from jscc_lab.models import build_model
>>> model = build_model("adjscc", cbr="1/12", width=32)
>>> s = model.encode(torch.rand(2, 3, 64, 64))
>>> s.shape, s.dtype
(torch.Size([2, 512]), torch.complex64)
"""

from __future__ import annotations

from torch import nn

from ..channels import AWGN, RayleighFading
from .adjscc import ADJSCC, ADJSCCDecoder, ADJSCCEncoder
from .base import AtCBR, JSCCBase, JSCCModel
from .deepjscc import DeepJSCC
from .layers import (
    GDN,
    SNRAttention,
    conv,
    crop_to,
    deconv,
    init_conv_weights,
    pad_to_multiple,
    snr_tensor,
)

__all__ = [
    "JSCCBase",
    "JSCCModel",
    "AtCBR",
    "DeepJSCC",
    "ADJSCC",
    "ADJSCCEncoder",
    "ADJSCCDecoder",
    "GDN",
    "SNRAttention",
    "conv",
    "deconv",
    "pad_to_multiple",
    "crop_to",
    "snr_tensor",
    "init_conv_weights",
    "MODELS",
    "CHANNELS",
    "register_model",
    "build_model",
    "build_channel",
    "PerceptualJSCC",
    "PerceptualGenerator",
    "Discriminator",
    "FiLM",
    "ConditionEmbedding",
    "beta_tensor",
    "TAEF2Encoder",
    "TAEF2Decoder",
    "taef2",
    "TAEJSCC",
    "ScratchJSCC",
]

#: model name -> class; configs and checkpoints refer to models by these names
MODELS: dict[str, type[nn.Module]] = {"deepjscc": DeepJSCC, "adjscc": ADJSCC}

#: channel name -> factory (configs use these names; kwargs go to the constructor)
CHANNELS = {
    "awgn": AWGN,
    "rayleigh-block": lambda **kw: RayleighFading(mode="block", **kw),
    "rayleigh-fast": lambda **kw: RayleighFading(mode="fast", **kw),
}


def register_model(name: str, cls: type[nn.Module]) -> type[nn.Module]:
    """Add ``cls`` (a :class:`JSCCBase` subclass: the contract the trainer, the sweeps and the
    explorer rely on) to :data:`MODELS` under ``name`` (usable as a decorator via ``partial``)."""
    if not (isinstance(cls, type) and issubclass(cls, JSCCBase)):
        raise TypeError(f"register_model({name!r}, ...): the model class must subclass "
                        f"jscc_lab.models.JSCCBase (the model contract), got {cls!r}")
    if name in MODELS and MODELS[name] is not cls:
        raise ValueError(f"a different model is already registered as {name!r}")
    MODELS[name] = cls
    return cls


def build_channel(name: str = "awgn", **kwargs) -> nn.Module:
    """Channel module by name: ``"awgn"``, ``"rayleigh-block"``, ``"rayleigh-fast"``."""
    if name not in CHANNELS:
        raise ValueError(f"unknown channel {name!r}; valid names: {', '.join(CHANNELS)}")
    return CHANNELS[name](**kwargs)


def build_model(name: str, channel: str | nn.Module = "awgn", **kwargs) -> nn.Module:
    """Instantiate the model registered as ``name`` with ``kwargs`` (e.g. ``cbr``, ``width``).

    ``channel`` is a channel name (see :func:`build_channel`) or a module.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(sorted(MODELS))}")
    if isinstance(channel, str):
        channel = build_channel(channel)
    return MODELS[name](channel=channel, **kwargs)


# the perceptual system builds on the blocks above (imported last: it uses them)
from .discriminator import Discriminator  # noqa: E402
from .perceptual import (  # noqa: E402
    ConditionEmbedding,
    FiLM,
    PerceptualGenerator,
    PerceptualJSCC,
    beta_tensor,
)
from .scratchjscc import ScratchJSCC  # noqa: E402
from .taef2 import TAEF2Decoder, TAEF2Encoder, taef2  # noqa: E402
from .taejscc import TAEJSCC  # noqa: E402

MODELS.setdefault("perceptual", PerceptualJSCC)
MODELS.setdefault("taejscc", TAEJSCC)
MODELS.setdefault("scratchjscc", ScratchJSCC)
