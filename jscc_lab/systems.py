"""One way to run anything that sends an image over a channel, and one rule for its noise.

A **system** (DESIGN.md, Systems) is called ``system(x, snr_db, cbr, *, beta=None, generator=None)
-> x_hat`` with ``x`` ``(N, 3, H, W)`` in ``[0, 1]`` and returns ``x_hat`` of the same shape. It
declares what it supports instead of being sniffed by its callers:

* ``cbrs``: the CBRs it serves, a tuple of floats, or ``None`` for any CBR > 0 (separate coding);
* ``realism``: whether it takes a realism weight ``beta``;
* ``channel``: the channel module its symbols go through;

and reports ``cbr_used(H, W, cbr)``: symbols actually sent / ``3 H W``, never more than ``cbr``.

Adapters: :class:`ModelSystem` (a deep JSCC model, a rate-adaptive one, or a zoo ``{cbr: model}``),
:class:`SeparateSystem` (:func:`jscc_lab.baselines.separate_transmit`), :class:`AnalogSystem`
(:func:`jscc_lab.analog.analog_transmit`) and :class:`FunctionSystem` (any callable
``fn(x, snr_db, cbr, generator=None)``). :func:`as_system` turns any of those inputs into a system.

**The seeding rule**: the noise of image number ``image`` at ``snr_db`` under seed ``seed`` comes
from :func:`noise_generator` ``(seed, image, snr_db)``, and each image is sent on its own. The
sweep (:func:`jscc_lab.evaluate.sweep`), the explorer and the demo all go through :func:`transmit`,
which applies it, so the same system, image and SNR give the same ``x_hat`` everywhere.

Example
-------
>>> import torch
>>> from jscc_lab.models import ADJSCC
>>> from jscc_lab.systems import ModelSystem, transmit
>>> system = ModelSystem(ADJSCC(cbr="1/48", width=8))
>>> system.cbrs, system.realism
((0.020833333333333332,), False)
>>> transmit(system, torch.rand(2, 3, 20, 20), 10.0, 1 / 48).shape
torch.Size([2, 3, 20, 20])
>>> round(system.cbr_used(20, 20, 1 / 48) * 48, 3)     # 25 symbols of floor(1200 / 48) = 25
1.0
"""

from __future__ import annotations

import contextlib
import inspect
import math
import numbers
from collections.abc import Mapping
from fractions import Fraction

import torch
from torch import nn

__all__ = ["System", "ModelSystem", "SeparateSystem", "AnalogSystem", "FunctionSystem", "as_system",
           "noise_seed", "noise_generator", "transmit"]


def noise_seed(seed: int, image: int, snr_db: float) -> int:
    """The seed of the channel noise for image number ``image`` at ``snr_db`` (dB) under ``seed``
    (the one seeding rule; SNRs equal to 1/1000 dB share it)."""
    return (int(seed) * 1_000_003 + int(image) * 7919 + int(round(float(snr_db) * 1000))) % (2**63 - 1)


def noise_generator(seed: int, image: int, snr_db: float, device=None) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` (default CPU) seeded by :func:`noise_seed`."""
    return torch.Generator(device=torch.device("cpu") if device is None else device).manual_seed(
        noise_seed(seed, image, snr_db))


def _cbr_float(cbr, name: str = "cbr") -> float:
    """A CBR (float, int, Fraction or ``"1/48"``) as a positive float."""
    try:
        value = float(Fraction(cbr)) if isinstance(cbr, str) else float(cbr)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueError(f"{name} must be a CBR such as 1/48 or '1/48', got {cbr!r}") from None
    if isinstance(cbr, bool) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a CBR > 0 such as 1/48, got {cbr!r}")
    return value


def _match(cbr: float, cbrs) -> float | None:
    return next((c for c in cbrs if math.isclose(c, cbr, rel_tol=1e-9)), None)


class System:
    """Base of every system: ``system(x, snr_db, cbr, *, beta=None, generator=None) -> x_hat``.

    Subclasses set ``cbrs`` (tuple of floats or ``None`` = any CBR), ``realism`` (bool),
    ``channel`` (module), ``name`` and implement :meth:`send` (the transmission itself, on a
    checked CBR) and :meth:`cbr_used`. ``autocast`` says whether bf16 autocast may apply (deep
    models only); ``device`` is where the system computes.
    """

    cbrs: tuple[float, ...] | None = None
    realism: bool = False
    channel: nn.Module | None = None
    name: str = "system"
    autocast: bool = False
    device: torch.device = torch.device("cpu")

    def check_cbr(self, cbr) -> float:
        """``cbr`` as the float this system serves (one of ``cbrs``), or a clear error."""
        value = _cbr_float(cbr)
        if self.cbrs is None:
            return value
        match = _match(value, self.cbrs)
        if match is None:
            from .channels import cbr_label

            raise ValueError(f"cbr {cbr_label(value)} is not served by {self.name} "
                             f"(cbrs: {', '.join(cbr_label(c) for c in self.cbrs)})")
        return match

    def __call__(self, x: torch.Tensor, snr_db, cbr, *, beta=None, generator=None) -> torch.Tensor:
        """Send ``x`` ``(N, 3, H, W)`` at ``snr_db`` (float or ``(N,)``) and ``cbr``; returns
        ``x_hat`` ``(N, 3, H, W)``. ``beta``: realism weight (``realism`` systems only);
        ``generator``: the channel noise's ``torch.Generator``."""
        cbr = self.check_cbr(cbr)
        if beta is not None and not self.realism:
            raise ValueError(f"beta (realism weight) needs a system with a realism input; {self.name} has none")
        out = self.send(x, snr_db, cbr, beta=beta, generator=generator)
        if isinstance(out, Mapping):
            out = out["x_hat"]
        elif not isinstance(out, torch.Tensor) and hasattr(out, "x_hat"):
            out = out.x_hat
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            raise ValueError(f"{self.name} returned {getattr(out, 'shape', type(out))}; "
                             f"expected x_hat of shape {tuple(x.shape)}")
        return out

    def send(self, x, snr_db, cbr: float, *, beta=None, generator=None):
        raise NotImplementedError

    def cbr_used(self, height: int, width: int, cbr) -> float:
        """Symbols actually sent for a ``height x width`` image at ``cbr``, over ``3 H W``."""
        raise NotImplementedError

    def modules(self) -> list[nn.Module]:
        """The torch modules this system runs (put in eval mode by :func:`transmit`)."""
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class ModelSystem(System):
    """A deep JSCC model as a system.

    ``model`` is one model (single-CBR: ``model.cbr``; rate-adaptive: ``model.rate_adaptive``
    and ``model.cbrs``) or a zoo ``{cbr: single-CBR model}``. What it supports is read from the
    model's declared attributes (``rate_adaptive``, ``cbr`` / ``cbrs``, ``realism``; a module
    that declares none is a single-CBR model without realism input). ``channel``: send through
    this channel instead of the model's own (``model(..., channel=...)``).
    """

    autocast = True

    def __init__(self, model, channel: nn.Module | None = None, name: str | None = None):
        if isinstance(model, Mapping):
            if not model:
                raise ValueError("model: the mapping {cbr: model} is empty")
            table = {}
            for key, m in model.items():
                if getattr(m, "rate_adaptive", False):
                    raise ValueError(f"model: the zoo's model at CBR {key} is rate-adaptive; give it alone")
                table[_cbr_float(key, "the mapping's keys")] = m
        elif isinstance(model, nn.Module):
            if getattr(model, "rate_adaptive", False):
                table = {float(c): model for c in model.cbrs}
            else:
                if getattr(model, "cbr", None) is None:
                    raise ValueError(f"model: a {type(model).__name__} declares neither rate_adaptive + cbrs nor cbr")
                table = {_cbr_float(model.cbr, "model.cbr"): model}
        else:
            raise TypeError(f"model must be an nn.Module or a mapping {{cbr: model}}, got {type(model).__name__}")
        self._table = dict(sorted(table.items()))
        self.cbrs = tuple(self._table)
        models = list(dict.fromkeys(self._table.values()))
        realism = {bool(getattr(m, "realism", False)) for m in models}
        if len(realism) > 1:
            raise ValueError("model: the zoo mixes models with and without a realism input")
        self.realism = realism.pop()
        self.channel = channel if channel is not None else getattr(models[0], "channel", None)
        self._own_channel = channel
        self.name = name or type(models[0]).__name__
        params = next((p for m in models for p in m.parameters()), None)
        self.device = params.device if params is not None else torch.device("cpu")

    def model_at(self, cbr) -> nn.Module:
        """The model that serves ``cbr``."""
        return self._table[self.check_cbr(cbr)]

    def modules(self) -> list[nn.Module]:
        return list(dict.fromkeys(self._table.values()))

    def send(self, x, snr_db, cbr: float, *, beta=None, generator=None):
        model = self._table[cbr]
        kwargs = {"generator": generator}
        if getattr(model, "rate_adaptive", False):
            kwargs["cbr"] = cbr
        if beta is not None:
            kwargs["beta"] = beta
        if self._own_channel is not None:
            kwargs["channel"] = self._own_channel
        with contextlib.nullcontext():
            return model(x, snr_db, **kwargs)

    def cbr_used(self, height: int, width: int, cbr) -> float:
        """``model.cbr_used(H, W, cbr)`` (a module that does not count its symbols: ``cbr``)."""
        cbr = self.check_cbr(cbr)
        model = self._table[cbr]
        counted = getattr(model, "cbr_used", None)
        if not callable(counted):
            return cbr
        return counted(height, width, cbr) if getattr(model, "rate_adaptive", False) else counted(height, width)


class SeparateSystem(System):
    """Separate source-channel coding (:func:`jscc_lab.baselines.separate_transmit`) as a system:
    ``codec`` (``"hevc"``: the BPG stand-in, ...) at the bit budget of ``channel_code``
    (``"capacity"`` or ``"ldpc"``) over ``channel`` (default AWGN); ``kwargs`` go to
    ``separate_transmit`` (e.g. ``mcs=``). Any CBR; ``floor(cbr * 3 H W)`` channel uses."""

    def __init__(self, codec: str = "hevc", channel_code: str = "capacity", channel: nn.Module | None = None,
                 **kwargs):
        from .channels import AWGN

        self.codec, self.channel_code, self.kwargs = codec, channel_code, kwargs
        self.channel = AWGN() if channel is None else channel
        self.name = f"{codec}+{channel_code}"

    def send(self, x, snr_db, cbr: float, *, beta=None, generator=None):
        return self.result(x, snr_db, cbr, generator=generator).x_hat

    def result(self, x, snr_db, cbr, generator=None):
        """The whole :class:`~jscc_lab.baselines.SeparateResult` (bits, MCS, failures)."""
        from .baselines import separate_transmit

        return separate_transmit(x, codec=self.codec, cbr=self.check_cbr(cbr), snr_db=snr_db,
                                 channel=self.channel, channel_code=self.channel_code,
                                 generator=generator, **self.kwargs)

    def cbr_used(self, height: int, width: int, cbr) -> float:
        n = 3 * height * width
        return math.floor(self.check_cbr(cbr) * n) / n


class AnalogSystem(System):
    """Uncoded analog transmission (:func:`jscc_lab.analog.analog_transmit`): pixels as symbols,
    CBR 1/2 only."""

    cbrs = (0.5,)

    def __init__(self, channel: nn.Module | None = None):
        from .channels import AWGN

        self.channel = AWGN() if channel is None else channel
        self.name = "analog"

    def send(self, x, snr_db, cbr: float, *, beta=None, generator=None):
        from .analog import analog_transmit

        return analog_transmit(x, snr_db, self.channel, generator)

    def cbr_used(self, height: int, width: int, cbr) -> float:
        self.check_cbr(cbr)
        return 0.5


class FunctionSystem(System):
    """Any callable ``fn(x, snr_db, cbr, [generator=], [beta=]) -> x_hat`` (or a dict / object
    holding ``x_hat``) as a system serving any CBR (``cbrs`` to restrict them). ``realism``: it
    takes ``beta=`` (default: whether its signature has a ``beta`` or ``**kwargs``)."""

    def __init__(self, fn, cbrs=None, name: str | None = None, realism: bool | None = None):
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.cbrs = None if cbrs is None else tuple(_cbr_float(c) for c in cbrs)
        self._generator = _accepts(fn, "generator")
        self.realism = _accepts(fn, "beta") if realism is None else bool(realism)
        self.name = name or getattr(fn, "__name__", type(fn).__name__)

    def send(self, x, snr_db, cbr: float, *, beta=None, generator=None):
        kwargs = {"generator": generator} if self._generator else {}
        if beta is not None:
            kwargs["beta"] = beta
        return self.fn(x, snr_db, cbr, **kwargs)

    def cbr_used(self, height: int, width: int, cbr) -> float:
        """The nominal ``cbr`` (a plain callable does not say what it sends)."""
        return self.check_cbr(cbr)


def _accepts(fn, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def as_system(obj, channel: nn.Module | None = None) -> System:
    """A :class:`System` from a system, a model, a zoo ``{cbr: model}`` (or ``{cbr: callable}``)
    or a callable ``fn(x, snr_db, cbr)``."""
    if isinstance(obj, System):
        return obj
    if isinstance(obj, nn.Module):
        return ModelSystem(obj, channel=channel)
    if isinstance(obj, Mapping):
        if obj and all(isinstance(v, nn.Module) for v in obj.values()):
            return ModelSystem(obj, channel=channel)
        if obj and all(callable(v) for v in obj.values()):
            return _CallableZoo(obj)
        raise TypeError("a mapping system must be {cbr: model} or {cbr: callable}")
    if callable(obj):
        return FunctionSystem(obj)
    raise TypeError(f"system must be a System, a model, a callable or a mapping {{cbr: system}}, "
                    f"got {type(obj).__name__}")


class _CallableZoo(System):
    """``{cbr: callable or system}``: each CBR served by its own callable."""

    def __init__(self, table: Mapping):
        self._table = {_cbr_float(k, "the mapping's keys"): as_system(v) for k, v in sorted(
            table.items(), key=lambda kv: _cbr_float(kv[0], "the mapping's keys"))}
        self.cbrs = tuple(self._table)
        self.realism = all(s.realism for s in self._table.values())
        self.name = "zoo"

    def send(self, x, snr_db, cbr: float, *, beta=None, generator=None):
        return self._table[cbr](x, snr_db, cbr, beta=beta, generator=generator)

    def cbr_used(self, height: int, width: int, cbr) -> float:
        cbr = self.check_cbr(cbr)
        return self._table[cbr].cbr_used(height, width, cbr)

    def modules(self) -> list[nn.Module]:
        return [m for s in self._table.values() for m in s.modules()]


@contextlib.contextmanager
def _eval_mode(modules):
    """Modules in eval mode for the block, back in training mode after where they were."""
    training = [m for m in modules if m.training]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m in training:
            m.train()


def transmit(system, x: torch.Tensor, snr_db: float, cbr, *, beta=None, seed: int = 0, image: int = 0,
             device=None, bf16: bool = False) -> torch.Tensor:
    """Send images ``x`` ``(N, 3, H, W)`` through ``system`` the one way every tool does: image
    ``i`` of ``x`` is image number ``image + i``, sent on its own with the noise of
    :func:`noise_generator` ``(seed, image + i, snr_db)``, in eval mode, without gradients.

    ``system``: anything :func:`as_system` takes; ``cbr``: one it serves; ``beta``: realism
    weight (``None``: the system's default); ``device``: where to compute (default the system's);
    ``bf16``: deep models under bf16 autocast. Returns ``x_hat`` ``(N, 3, H, W)`` float32 on the
    CPU, clamped to ``[0, 1]``.
    """
    from .precision import autocast

    system = as_system(system)
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"x must be an image tensor of shape (N, 3, H, W), got {getattr(x, 'shape', type(x))}")
    if isinstance(snr_db, bool) or not isinstance(snr_db, numbers.Real) or not math.isfinite(snr_db):
        raise ValueError(f"snr_db must be a finite number (dB), got {snr_db!r}")
    dev = torch.device(device) if device is not None else system.device
    out = []
    with _eval_mode(system.modules()), torch.no_grad(), autocast(dev, bf16 and system.autocast):
        for i in range(x.shape[0]):
            g = noise_generator(seed, image + i, snr_db, dev)
            x_hat = system(x[i : i + 1].to(dev), float(snr_db), cbr, beta=beta, generator=g)
            out.append(x_hat.detach().float().clamp(0, 1).cpu())
    return torch.cat(out)
