"""Which precision to compute in: bf16 autocast where it is measurably faster, else fp32.

One decision serves training (:class:`jscc_lab.train.Trainer`) and inference
(:func:`jscc_lab.evaluate.sweep`, the explorer, the demo): :func:`choose_amp` ``(device,
requested) -> (use_bf16, reason)``.

* ``requested="bf16"`` / ``"none"`` force bf16 autocast / fp32.
* ``requested="auto"``: on CUDA, bf16 where the GPU computes it natively (Ampere and later);
  on a CPU, a short timed probe decides (:func:`probe_speedup`): one 3x3 ``128 -> 128``
  convolution, forward and backward on a ``(2, 128, 32, 32)`` channels_last batch, in fp32 and
  under bf16 autocast, interleaved, best of a few repetitions, on **one** thread (a shared CPU
  makes multi-threaded timings swing by 2x either way; one thread measures the instruction set:
  AMX or AVX512-BF16 against fp32 FMA). bf16 is chosen when it is at least
  :data:`MIN_SPEEDUP` times faster. Measured (``benchmarks/train_throughput.py``): Xeons with
  AMX about 4.5x, an AMD EPYC with AVX512-BF16 about 1.8x, CPUs without bf16 instructions
  0.4-0.7x (slower). The probe takes about 0.2 s and is cached per process and device.
  Other devices (e.g. ``mps``) stay in fp32 under ``"auto"``.

What bf16 autocast leaves in fp32 (so its precision is not lost): the losses and metrics
(inputs cast with ``.float()``), power normalisation and the channel (complex64 symbols), GDN
(autocast disabled inside), TAEJSCC's power normalisation. Callers compute metrics outside the
autocast block.

Example
-------
>>> import torch
>>> from jscc_lab.precision import autocast, choose_amp
>>> use_bf16, reason = choose_amp(torch.device("cpu"), "none")
>>> use_bf16, reason
(False, 'fp32: forced by amp="none"')
>>> with autocast("cpu", use_bf16):
...     y = torch.nn.Linear(4, 2)(torch.rand(3, 4))
>>> y.dtype
torch.float32
"""

from __future__ import annotations

import platform
import threading
import time
from pathlib import Path

import torch

__all__ = ["AMP_CHOICES", "MIN_SPEEDUP", "check_amp", "choose_amp", "probe_speedup", "autocast",
           "cpu_name", "clear_cache"]

#: the values ``amp=`` takes everywhere (trainer config, sweep, explorer, demo)
AMP_CHOICES = ("auto", "bf16", "none")

#: ``"auto"`` picks bf16 on a CPU when the probe convolution runs at least this many times faster
#: under bf16 autocast. Convolutions are only part of a training step (element-wise layers, the
#: casts autocast adds and the optimiser gain nothing), so a probe gain below this leaves a step
#: gain within run-to-run noise (a 1.8x probe gain gave 1.4x on an ADJSCC training step).
MIN_SPEEDUP = 1.25

#: probe shape: ``(batch, channels, side)`` of the 3x3 convolution (forward + backward)
PROBE_SHAPE = (2, 128, 32)
#: timed repetitions of each precision (after one untimed warm-up each); the best one counts
PROBE_REPEATS = 5

_cache: dict[tuple[str, int | None], tuple[bool, str]] = {}
_lock = threading.Lock()


def check_amp(amp, name: str = "amp") -> str:
    """``amp`` if it is one of :data:`AMP_CHOICES`, else ``ValueError`` naming ``name`` and the
    valid values (one line)."""
    if not isinstance(amp, str) or amp not in AMP_CHOICES:
        raise ValueError(f'{name} must be "auto", "bf16" or "none", got {amp!r}')
    return amp


def clear_cache() -> None:
    """Forget the probe results of this process (the next ``"auto"`` measures again)."""
    with _lock:
        _cache.clear()


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else :func:`platform.processor`), e.g.
    ``"AMD EPYC"``, with ``+AMX`` / ``+AVX512-BF16`` when the CPU lists those instructions."""
    name, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not name:
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    name = name or platform.processor() or platform.machine() or "unknown CPU"
    extras = [label for flag, label in (("amx_bf16", "AMX"), ("avx512_bf16", "AVX512-BF16")) if flag in flags]
    return name + "".join(f" +{e}" for e in extras)


def autocast(device, use_bf16: bool):
    """``torch.autocast`` to bf16 on ``device`` (a ``torch.device`` or its type, e.g. ``"cpu"``)
    when ``use_bf16``, else a disabled one (fp32)."""
    device_type = device if isinstance(device, str) else torch.device(device).type
    return torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=bool(use_bf16))


def probe_speedup(device="cpu", repeats: int = PROBE_REPEATS) -> tuple[float, float, float]:
    """Time one 3x3 convolution (:data:`PROBE_SHAPE`, forward + backward, channels_last) in fp32
    and under bf16 autocast on ``device``, on one thread for a CPU (restored after).

    Returns ``(speedup, fp32_s, bf16_s)``: the best time of ``repeats`` interleaved runs of each
    (seconds) and ``fp32_s / bf16_s`` (above 1: bf16 is faster).
    """
    device = torch.device(device)
    n, c, side = PROBE_SHAPE
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)
        conv = torch.nn.Conv2d(c, c, 3, padding=1).to(device, memory_format=torch.channels_last)
        x = torch.randn(n, c, side, side, generator=g).to(device).contiguous(memory_format=torch.channels_last)
        x.requires_grad_(True)

        def run(bf16: bool) -> float:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            with autocast(device, bf16):
                y = conv(x)
            y.float().square().mean().backward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return time.perf_counter() - start

        run(False), run(True)  # first calls pick and build kernels
        fp32, bf16 = [], []
        for _ in range(max(1, int(repeats))):
            fp32.append(run(False))
            bf16.append(run(True))
    finally:
        torch.set_num_threads(threads)
    return min(fp32) / min(bf16), min(fp32), min(bf16)


def _auto(device: torch.device) -> tuple[bool, str]:
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return True, f"bf16: auto, {torch.cuda.get_device_name(device)} computes bf16 natively"
        return False, f"fp32: auto, {torch.cuda.get_device_name(device)} has no native bf16"
    if device.type != "cpu":
        return False, f"fp32: auto keeps fp32 on device type {device.type!r}"
    speedup, fp32_s, bf16_s = probe_speedup(device)
    n, c, side = PROBE_SHAPE
    measured = (f"bf16 autocast {speedup:.2f}x the speed of fp32 channels_last ({bf16_s * 1e3:.1f} vs "
                f"{fp32_s * 1e3:.1f} ms) on a 3x3 {c}->{c} conv probe ({n}x{side}x{side}, fwd+bwd, "
                f"1 thread) on {cpu_name()}")
    if speedup >= MIN_SPEEDUP:
        return True, f"bf16: auto, {measured}"
    return False, f"fp32: auto, {measured}; bf16 needs >= {MIN_SPEEDUP:g}x"


def choose_amp(device, requested: str = "auto") -> tuple[bool, str]:
    """Whether to compute under bf16 autocast on ``device``, and why (one line).

    ``requested``: ``"bf16"`` (forced on), ``"none"`` (forced fp32) or ``"auto"`` (see the module
    docstring: native bf16 on CUDA, a timed probe on a CPU, measured once per process and device).
    Anything else is a ``ValueError``. Returns ``(use_bf16, reason)``, e.g.
    ``(True, "bf16: auto, bf16 autocast 1.80x the speed of fp32 channels_last (...)")``.
    """
    check_amp(requested)
    device = torch.device(device)
    if requested == "bf16":
        return True, 'bf16: forced by amp="bf16"'
    if requested == "none":
        return False, 'fp32: forced by amp="none"'
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    key = (device.type, device.index)
    with _lock:  # one probe per device, even when an explorer's prefetch thread asks at once
        if key not in _cache:
            _cache[key] = _auto(device)
        return _cache[key]
