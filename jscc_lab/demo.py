"""The main job behind ``jscc-lab demo``: send the bundled sample photos through AWGN and
Rayleigh block fading as uncoded analog symbols, print a PSNR table and save a figure.

Later stages of the project extend this demo with the trained deep JSCC models and the
separate-coding baseline.
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import settings
from .analog import analog_transmit
from .channels import AWGN, RayleighFading
from .data import center_crop, sample_images
from .metrics import psnr

DEFAULT_SNRS_DB = (0.0, 10.0, 20.0)


def run_demo(out_dir="jscc_lab_demo", snrs_db=None, seed: int = 0) -> dict:
    """Run the demo; returns ``{(channel, snr_db): mean PSNR}`` and writes ``demo.png`` + ``demo.md``."""
    import matplotlib

    matplotlib.use("Agg")
    from .plotting import show_images

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    snrs_db = tuple(snrs_db) if snrs_db else DEFAULT_SNRS_DB
    crop = settings.budget(256, 64)
    x = torch.cat([center_crop(im, crop) for im in sample_images()])
    channels = {"AWGN": AWGN(), "Rayleigh block": RayleighFading("block")}
    generator = torch.Generator().manual_seed(seed)

    results, shown, titles = {}, [x[:1]], ["original"]
    for name, channel in channels.items():
        for snr in snrs_db:
            x_hat = analog_transmit(x, snr, channel=channel, generator=generator)
            results[(name, snr)] = psnr(x, x_hat).mean().item()
            shown.append(x_hat[:1])
            titles.append(f"{name}, {snr:g} dB\n{psnr(x[:1], x_hat[:1]).item():.1f} dB PSNR")

    lines = ["| channel | " + " | ".join(f"{s:g} dB" for s in snrs_db) + " |",
             "|---|" + "---|" * len(snrs_db)]
    for name in channels:
        lines.append(f"| {name} | " + " | ".join(f"{results[(name, s)]:.2f}" for s in snrs_db) + " |")
    table = "\n".join(lines)
    header = (f"Uncoded analog transmission (CBR 1/2) of {len(x)} sample photos "
              f"({crop}x{crop} crops): mean PSNR in dB\n\n")
    (out_dir / "demo.md").write_text(header + table + "\n")
    fig = show_images(shown, titles, ncols=1 + len(snrs_db))
    fig.savefig(out_dir / "demo.png", dpi=100)
    print(header + table)
    print(f"\nwrote {out_dir / 'demo.png'} and {out_dir / 'demo.md'}")
    return results
