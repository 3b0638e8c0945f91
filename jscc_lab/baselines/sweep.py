"""SNR x CBR sweeps of separate coding: the table behind every "JSCC vs BPG + LDPC" figure.

Example
-------
>>> from jscc_lab.data import sample_images
>>> from jscc_lab.baselines import separation_sweep
>>> x = sample_images(["astronaut"])[0][..., :128, :128]
>>> rows = separation_sweep(x, snrs_db=[10.0], cbrs=[1/12], codec="jpeg", progress=False)
>>> rows[0]["failures"], rows[0]["psnr"] > 25
(0, True)
"""

from __future__ import annotations

import time
from collections import Counter

import torch

from ..metrics import psnr
from .codecs import _as_list
from .pipeline import separate_transmit

__all__ = ["separation_sweep", "psnr_only"]


def psnr_only(x: torch.Tensor, x_hat: torch.Tensor) -> dict[str, torch.Tensor]:
    """The default ``metrics=``: ``{"psnr": (N,)}``."""
    return {"psnr": psnr(x, x_hat)}


def separation_sweep(images, snrs_db, cbrs, codec: str = "hevc", channel_code: str = "capacity",
                     channel=None, mcs=None, metrics=psnr_only, generator=0, progress: bool = True,
                     **kwargs) -> list[dict]:
    """Run :func:`separate_transmit` over every ``(snr_db, cbr)`` pair; one row per pair.

    ``metrics(x, x_hat) -> {name: (N,) tensor}`` scores the reconstructions (failed images
    included, as their fallback). Each row holds ``codec, channel_code, channel, snr_db, cbr,
    cbr_used`` (channel uses / 3HW, mean), ``n_images, failures, failure_rate, downscaled``
    (images coded at reduced size), ``bits, budget_bits, bpp, mcs`` (most used), ``seconds``, the
    mean of every metric, and ``per_image``: ``{metric: [values]}`` plus ``failed, reason, mcs,
    scale``.
    ``generator`` (int seed) is offset per grid point, so rows are reproducible one by one.
    """
    xs, _ = _as_list(images)
    grid = [(float(s), float(c)) for c in cbrs for s in snrs_db]
    rows = []
    from tqdm.auto import tqdm

    bar = tqdm(grid, desc=f"{codec}+{channel_code}", disable=not progress)
    for index, (snr, cbr) in enumerate(bar):
        bar.set_postfix(snr_db=snr, cbr=f"1/{round(1 / cbr)}")
        t0 = time.perf_counter()
        seed = None if generator is None else int(generator) + index
        result = separate_transmit(xs, codec=codec, cbr=cbr, snr_db=snr, channel=channel,
                                   channel_code=channel_code, mcs=mcs, generator=seed, **kwargs)
        scores: dict[str, list[float]] = {}
        for x, x_hat in zip(xs, result.x_hat):
            for name, value in metrics(x, x_hat).items():
                scores.setdefault(name, []).append(float(value.reshape(-1)[0]))
        used = Counter(m for m in result.mcs if m)
        row = {
            "codec": result.codec,
            "channel_code": channel_code,
            "channel": type(channel).__name__ if channel is not None else "AWGN",
            "snr_db": snr,
            "cbr": cbr,
            "cbr_used": float(result.cbr_used.mean()),
            "n_images": len(xs),
            "failures": result.n_failures,
            "failure_rate": result.failure_rate,
            "downscaled": result.n_downscaled,
            "bits": float(result.bits.double().mean()),
            "budget_bits": float(result.budget_bits.double().mean()),
            "bpp": float(result.bpp.mean()),
            "mcs": used.most_common(1)[0][0] if used else "",
            "seconds": time.perf_counter() - t0,
        }
        row.update({name: sum(v) / len(v) for name, v in scores.items()})
        row["per_image"] = {**scores, "failed": result.failed.tolist(), "reason": result.reason,
                            "mcs": result.mcs, "scale": result.scale}
        rows.append(row)
    return rows
