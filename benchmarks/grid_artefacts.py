"""The grid a decoder stamps on its output, side by side: ``grid_rms`` (8-bit levels) per system.

On ``--count`` Kodak centre crops at AWGN ``--snr`` dB and one CBR: HEVC-intra at the capacity
bound, the published TAEF2 autoencoder alone (no channel: its own pattern), every registered
PSNR / perceptual checkpoint that serves the CBR (a realism model at beta 0 and 1). The value is
:func:`jscc_lab.metrics.grid_rms`: the RMS of the luma error's part that repeats every 16 pixels,
about 0 without a grid. Also mean PSNR, so a grid is not mistaken for a plain larger error.

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 OMP_NUM_THREADS=1 python benchmarks/grid_artefacts.py \\
        --json benchmarks/results/grid_artefacts.json
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction

import torch

from jscc_lab import pretrained
from jscc_lab.data import kodak_crops
from jscc_lab.evaluate import format_table, save_json, separate_coding, summarize, sweep
from jscc_lab.models.taef2 import taef2


def taef2_alone():
    """``fn(x, snr_db, cbr)``: the published TAEF2 encode-decode, no channel (its own grid)."""
    encoder, decoder = taef2(pretrained=True)

    def system(x, snr_db, cbr):
        with torch.no_grad():
            return decoder(encoder(x))

    return system


def systems(cbr: float) -> dict:
    """``{name: (system, betas)}`` for every system measured at ``cbr``."""
    out = {"hevc+capacity": (separate_coding("hevc", "capacity"), [None]), "taef2 alone": (taef2_alone(), [None])}
    for name in pretrained.available():
        model = pretrained.load_model(name)
        serves = model.cbrs or [model.cbr]
        if any(c is not None and abs(float(c) - cbr) < 1e-9 for c in serves):
            out[name] = (model, [0.0, 1.0] if model.realism else [None])
    return out


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=6, help="Kodak images (the first N)")
    parser.add_argument("--crop", type=int, default=256, help="centre crop side (a multiple of 16, >= 64)")
    parser.add_argument("--cbr", default="1/48")
    parser.add_argument("--snr", type=float, default=10.0, help="AWGN SNR in dB")
    parser.add_argument("--json", default="", help="also write the rows here")
    args = parser.parse_args(argv)
    cbr = float(Fraction(args.cbr))
    try:
        images = kodak_crops(args.count, args.crop)
    except ValueError as err:
        raise SystemExit(f"--{err}") from None
    start, rows = time.perf_counter(), []
    for name, (system, betas) in systems(cbr).items():
        if getattr(system, "cbrs", None) is not None:  # rate-adaptive: that one of its CBRs
            cbrs = [c for c in system.cbrs if abs(float(c) - cbr) < 1e-9]
        else:  # a single-CBR model serves its own; a callable is told
            cbrs = None if isinstance(system, torch.nn.Module) else [cbr]
        rows += sweep(system, images, [args.snr], metrics=("psnr", "grid"), cbrs=cbrs, betas=betas, name=name)
    summary = summarize(rows, by=("system", "beta"))
    print(f"{args.count} Kodak crops ({args.crop} px), CBR {args.cbr}, AWGN {args.snr:g} dB, "
          f"{torch.get_num_threads()} threads, {time.perf_counter() - start:.0f} s\n")
    print(format_table(summary, ["system", "beta", "psnr", "grid", "grid_sem"], digits=2))
    if args.json:
        save_json({"setup": vars(args), "summary": summary, "rows": rows}, args.json)
    return summary


if __name__ == "__main__":
    main()
