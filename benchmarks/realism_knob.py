"""The realism knob of perceptual checkpoints, side by side: one received signal decoded at each beta.

For every checkpoint (a registry name or a run's ``last.pt``), every CBR it serves and every
``--betas`` value: mean PSNR, DISTS and LPIPS-vgg (neither in the training loss), LPIPS-alex (in
it), the largest per-channel colour bias, the chroma kept and the grid artefact (``grid_rms``, 8-bit
levels), over ``--count`` Kodak centre crops at AWGN ``--snr`` dB. Then, per checkpoint and
CBR, the change from the first to the last beta (the issue's goal: DISTS and LPIPS-vgg >= 10 % lower at beta = 1 than at beta = 0, PSNR lower).
The noise depends only on (seed, image, SNR), so every beta decodes the same received symbols and
every checkpoint sees the same noise. A quick check of a live run (6 crops: ~1.5 min per
checkpoint on one thread); the numbers in docs/results.md come from ``bandwidth_saving.py`` on 24 crops.

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 OMP_NUM_THREADS=1 python benchmarks/realism_knob.py \\
        taejscc-perceptual-awgn ~/.cache/jscc_lab/runs/RUN/last.pt --json knob.json
"""

from __future__ import annotations

import argparse
import time

import torch

from jscc_lab import pretrained
from jscc_lab.data import kodak_crops
from jscc_lab.evaluate import format_table, save_json, summarize, sweep

METRICS = ("psnr", "dists", "lpips_vgg", "lpips", "bias_r", "bias_g", "bias_b", "chroma_ratio", "grid")


def knob_rows(models: dict, images, snr_db: float, betas, seed: int = 0) -> list[dict]:
    """Mean rows ``{"system", "cbr", "beta", <metric>, "max_bias"}`` per checkpoint, CBR and beta."""
    rows = []
    for name, model in models.items():
        if not model.realism:
            raise SystemExit(f"{name} has no realism input (beta): not a perceptual checkpoint")
        per_image = sweep(model, images, [snr_db], metrics=METRICS, betas=betas, name=name, seed=seed)
        for row in summarize(per_image, by=("system", "cbr", "beta")):
            row["max_bias"] = max(abs(row[f"bias_{c}"]) for c in "rgb")
            rows.append(row)
    return rows


def knob_changes(rows: list[dict]) -> list[dict]:
    """Per checkpoint and CBR: the relative change of DISTS and LPIPS-vgg and the PSNR change (dB)
    from the lowest to the highest beta (negative: lower, i.e. better, at the high end)."""
    out = []
    for key in dict.fromkeys((r["system"], r["cbr"]) for r in rows):
        group = sorted((r for r in rows if (r["system"], r["cbr"]) == key), key=lambda r: r["beta"])
        lo, hi = group[0], group[-1]
        out.append({"system": key[0], "cbr": key[1], "betas": f"{lo['beta']:g} -> {hi['beta']:g}",
                    "dists_change_%": 100 * (hi["dists"] / lo["dists"] - 1),
                    "lpips_vgg_change_%": 100 * (hi["lpips_vgg"] / lo["lpips_vgg"] - 1),
                    "psnr_change_db": hi["psnr"] - lo["psnr"]})
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="registry names or checkpoint files of perceptual models")
    parser.add_argument("--count", type=int, default=6, help="Kodak images (the first N)")
    parser.add_argument("--crop", type=int, default=192, help="centre crop side")
    parser.add_argument("--snr", type=float, default=10.0, help="AWGN SNR in dB")
    parser.add_argument("--betas", nargs="+", type=float, default=[0.0, 0.5, 1.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="", help="also write the rows here")
    args = parser.parse_args(argv)
    if any(not 0 <= b <= 1 for b in args.betas) or len(args.betas) < 2:
        raise SystemExit(f"--betas needs at least two values in [0, 1], got {args.betas}")
    try:
        images = kodak_crops(args.count, args.crop)
    except ValueError as err:
        raise SystemExit(f"--{err}") from None
    start = time.perf_counter()
    try:
        models = {name: pretrained.load_model(name) for name in args.checkpoints}
    except FileNotFoundError as err:
        raise SystemExit(str(err)) from None
    rows = knob_rows(models, images, args.snr, sorted(args.betas), seed=args.seed)
    changes = knob_changes(rows)
    print(f"{args.count} Kodak crops ({args.crop} px), AWGN {args.snr:g} dB, "
          f"{torch.get_num_threads()} threads, {time.perf_counter() - start:.0f} s\n")
    print(format_table(rows, ["system", "cbr", "beta", "psnr", "dists", "lpips_vgg", "lpips", "max_bias",
                              "chroma_ratio", "grid"]))
    print("\nfrom the lowest to the highest beta (goal: DISTS and LPIPS-vgg <= -10 %, PSNR lower):\n")
    print(format_table(changes, digits=2))
    result = {"setup": {**vars(args), "images": [f"kodim{i + 1:02d}" for i in range(args.count)]},
              "rows": rows, "changes": changes}
    if args.json:  # valid JSON: an undefined value (the SEM of one image) becomes null
        save_json(result, args.json)
    return result


if __name__ == "__main__":
    main()
