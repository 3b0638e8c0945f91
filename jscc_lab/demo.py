"""The main job behind ``jscc-lab demo``: send the bundled sample photos through the shipped
PSNR-optimised and perceptual deep JSCC models, the separate-coding baseline (HEVC-intra at the
Shannon-capacity bit budget) and uncoded analog transmission, over AWGN at a few SNRs; print a
metrics table and save a figure of the reconstructions.

Every system runs through :func:`jscc_lab.systems.transmit` with the seeding rule of
:func:`jscc_lab.systems.noise_generator` (image ``i`` of the crops is image number ``i``), so a
sweep of the same model, image and SNR gives the same reconstruction.

Under ``JSCC_LAB_QUICK=1`` it uses smaller crops, one SNR and PSNR + LPIPS only (under a minute
on a laptop CPU).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch

from . import pretrained, settings
from .data import center_crop, sample_images
from .metrics import evaluate
from .precision import check_amp, choose_amp
from .systems import AnalogSystem, ModelSystem, SeparateSystem, System, transmit

DEFAULT_SNRS_DB = (0.0, 10.0, 20.0)
DEMO_CBR = "1_48"


class DemoSystem(NamedTuple):
    """One row group of the demo's table: a system, the CBR it is run at, its realism weight."""

    system: System
    cbr: float
    beta: float | None = None


def _systems(cbr_tag: str) -> dict[str, DemoSystem]:
    """``{label: DemoSystem}`` for every system the demo shows (``cbr_tag`` such as ``"1_48"``)."""
    cbr = 1 / int(cbr_tag.split("_")[1])
    systems = {}
    for label, name, beta in (
            (f"PSNR deep JSCC on TAEF2 (CBR 1/{round(1 / cbr)})", "taejscc-psnr-awgn", None),
            (f"perceptual deep JSCC on TAEF2, β = 1 (CBR 1/{round(1 / cbr)})", "taejscc-perceptual-awgn", 1.0)):
        if name not in pretrained.available():
            raise FileNotFoundError(
                f"checkpoint {name!r} is not in {pretrained.CHECKPOINT_DIR}; the demo needs the "
                "shipped checkpoints of a source checkout (git clone, then pip install -e .)"
            )
        systems[label] = DemoSystem(ModelSystem(pretrained.load(name), name=name), cbr, beta)
    systems[f"HEVC + capacity (CBR 1/{round(1 / cbr)})"] = DemoSystem(SeparateSystem("hevc", "capacity"), cbr)
    systems["analog, uncoded (CBR 1/2)"] = DemoSystem(AnalogSystem(), 0.5)
    return systems


def reconstruct(entry: DemoSystem, x: torch.Tensor, snr_db: float, seed: int = 0, bf16: bool = False) -> torch.Tensor:
    """``x_hat`` ``(N, 3, H, W)`` of the demo's ``entry`` for images ``x`` (image ``i`` is image
    number ``i``), through :func:`jscc_lab.systems.transmit`: the same noise, and so the same
    numbers, as :func:`jscc_lab.evaluate.sweep` and the explorer give for these inputs."""
    return transmit(entry.system, x, snr_db, entry.cbr, beta=entry.beta, seed=seed, bf16=bf16)


def run_demo(out_dir="jscc_lab_demo", snrs_db=None, seed: int = 0, amp: str = "auto") -> dict:
    """Run the demo; returns ``{(system, snr_db): {metric: mean}}``, writes ``demo.png`` + ``demo.md``.

    ``amp``: precision of the deep JSCC models, ``"auto"`` (bf16 autocast where
    :func:`jscc_lab.precision.choose_amp` finds it measurably faster), ``"bf16"`` or ``"none"``
    (fp32); the metrics are computed in fp32 either way.
    """
    import matplotlib

    matplotlib.use("Agg")
    from .plotting import show_images

    check_amp(amp)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    snrs_db = tuple(snrs_db) if snrs_db else settings.budget(DEFAULT_SNRS_DB, (10.0,))
    metrics = settings.budget(("psnr", "lpips", "dists"), ("psnr", "lpips"))
    crop = settings.budget(256, 128)
    x = torch.cat([center_crop(im, crop) for im in sample_images()])
    bf16, reason = choose_amp(torch.device("cpu"), amp)  # its timed probe trains: not under no_grad
    print(f"deep JSCC models: {reason}")
    systems = _systems(DEMO_CBR)

    results, shown, titles = {}, [], []
    for snr in snrs_db:  # one row of the figure per SNR: the cliff of separate coding shows
        shown.append(x[:1])
        titles.append(f"original ({snr:g} dB row)")
        for label, entry in systems.items():
            x_hat = reconstruct(entry, x, snr, seed=seed, bf16=bf16)
            with torch.no_grad():
                scores = evaluate(x, x_hat.clamp(0, 1), metrics=metrics)
            results[(label, snr)] = {k: v.mean().item() for k, v in scores.items()}
            shown.append(x_hat[:1])
            titles.append(f"{label}\n{snr:g} dB: {scores['psnr'][0]:.1f} dB, LPIPS {scores['lpips'][0]:.3f}")

    header = (f"Sample photos ({len(x)} x {crop}x{crop} centre crops) over AWGN; mean over images. "
              "PSNR in dB (higher is better), LPIPS-alex and DISTS (lower is better).\n\n")
    lines = ["| system | SNR (dB) | " + " | ".join(m.upper() for m in metrics) + " |",
             "|---|---|" + "---|" * len(metrics)]
    for (label, snr), scores in results.items():
        lines.append(f"| {label} | {snr:g} | " + " | ".join(
            f"{scores[m]:.2f}" if m == "psnr" else f"{scores[m]:.3f}" for m in metrics) + " |")
    table = "\n".join(lines)
    (out_dir / "demo.md").write_text(header + table + "\n")
    fig = show_images(shown, titles, ncols=len(systems) + 1, size=3.2)
    fig.savefig(out_dir / "demo.png", dpi=90)
    print(header + table)
    print(f"\nwrote {out_dir / 'demo.png'} and {out_dir / 'demo.md'}")
    return results
