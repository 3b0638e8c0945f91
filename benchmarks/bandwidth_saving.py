"""Bandwidth saving of the perceptual JSCC model at matched perceptual quality (issue 6).

For each metric (LPIPS-alex, which is in the training loss, and DISTS and LPIPS-vgg, which are
not) and each reference system, finds the CBR the reference needs to equal our quality at our
CBR (log-CBR interpolation of its measured curve) and prints ``saving = 1 - r / CBR_needed``
with a paired bootstrap 95 % interval over images. Never extrapolates: outside the reference's
measured CBR range it prints a bound ("> 66.7 %").

References: ``adjscc`` (our PSNR-optimised ADJSCC checkpoints ``adjscc-psnr-awgn-cbr1_*``),
``hevc-capacity`` (HEVC intra + an ideal code at the Shannon capacity), ``hevc-ldpc`` (HEVC intra
+ 5G LDPC with the best MCS per image).

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 python benchmarks/bandwidth_saving.py
    python benchmarks/bandwidth_saving.py --images 8 --crop 256 --references adjscc   # minutes

Our model is also evaluated at beta = 0 (its MSE + LPIPS end) for the table and the figure; the
saving is computed at ``--beta``. ``--figure`` draws the reconstructions of a few images beside
each other (original, ADJSCC, ours at beta 0 and ``--beta``, HEVC + capacity, HEVC + LDPC, all at
our CBR) with the per-image scores of the same rows; ``--curves-figure`` draws quality vs CBR of
every reference with our model as a point. ``--rows-from`` reuses the rows of an earlier
``--json`` run with the same setup, so that redrawing the figures takes seconds:

    python benchmarks/bandwidth_saving.py --crop 256 --json rows.json --figure grid.jpg
    python benchmarks/bandwidth_saving.py --crop 256 --rows-from rows.json --curves-figure curves.png

Kodak-24 at full size with all references takes a while on a CPU (the HEVC rate control and
DISTS dominate); ``--images`` / ``--crop`` make a quick version.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from fractions import Fraction
from pathlib import Path

from jscc_lab import pretrained
from jscc_lab.data import center_crop, kodak
from jscc_lab.evaluate import (
    bandwidth_saving,
    curve,
    format_table,
    reconstruct,
    separate_coding,
    summarize,
    sweep,
)
from jscc_lab.metrics import psnr
from jscc_lab.models import perceptual as _perceptual  # noqa: F401  (registers "perceptual")

ADJSCC_NAME = "adjscc-psnr-awgn-cbr1_{}"
LABELS = {"adjscc": "PSNR deep JSCC (ADJSCC)", "hevc-capacity": "HEVC + capacity",
          "hevc-ldpc": "HEVC + 5G LDPC"}
#: the setup a --rows-from file must share with the command line
SETUP_KEYS = ("model", "snr", "crop", "images", "seed")


def _load(name_or_path: str):
    if name_or_path in pretrained.available():
        return pretrained.load(name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise SystemExit(f"{name_or_path} is neither a registered checkpoint "
                         f"({', '.join(pretrained.available()) or 'none'}) nor a file")
    return pretrained.model_from_checkpoint(pretrained.load_checkpoint(path)).eval()


def _images(count: int, crop: int):
    images = kodak()[:count] if count else kodak()
    return [center_crop(x, crop) for x in images] if crop else images


def _references(args) -> dict:
    """``{name: system}`` for each requested reference (see :func:`jscc_lab.evaluate.sweep`)."""
    systems = {}
    for ref in args.references:
        if ref == "adjscc":
            if args.adjscc_checkpoint:
                files = dict(item.split("=", 1) for item in args.adjscc_checkpoint)
                systems[ref] = {float(Fraction(c)): _load(path) for c, path in files.items()}
                continue
            cbrs = [float(Fraction(c)) for c in args.adjscc_cbrs]
            names = {c: ADJSCC_NAME.format(round(1 / c)) for c in cbrs}
            missing = [n for n in names.values() if n not in pretrained.available()]
            if missing:
                print(f"skipping adjscc: checkpoints {missing} are not registered", file=sys.stderr)
                continue
            systems[ref] = {c: pretrained.load(n) for c, n in names.items()}
        else:
            systems[ref] = separate_coding("hevc", "capacity" if ref == "hevc-capacity" else "ldpc")
    return systems


def _images_label(args) -> str:
    return f"Kodak {args.crop}x{args.crop} centre crops" if args.crop else "Kodak"


def _rows_from(path: str, setup: dict, systems: list[str]) -> list[dict]:
    saved = json.loads(Path(path).read_text())
    differ = {k: (saved.get("setup", {}).get(k), setup[k]) for k in SETUP_KEYS
              if saved.get("setup", {}).get(k) != setup[k]}
    if differ:
        raise SystemExit(f"{path} was run with another setup ({{option: (file, now)}}: {differ}); "
                         "pass the same options or rerun without --rows-from")
    missing = [name for name in systems if not any(r["system"] == name for r in saved["rows"])]
    if missing:
        raise SystemExit(f"{path} holds no rows of {missing}; rerun without --rows-from")
    return saved["rows"]


def _row(rows, system: str, cbr: float, image: int, beta=None) -> dict | None:
    for r in rows:
        if (r["system"] == system and math.isclose(r["cbr"], cbr, rel_tol=1e-9)
                and r["image"] == image and r["beta"] == beta):
            return r
    return None


def _figure(path: str, args, images, model, systems, rows, ours_cbr: float, betas) -> None:
    """Reconstructions of ``--figure-images`` side by side, titled with their rows' scores."""
    from jscc_lab.plotting import show_images

    panels = ([(ref, systems[ref], None, LABELS[ref]) for ref in ("adjscc",) if ref in systems]
              + [("ours", model, b, f"perceptual, β = {b:g}") for b in betas]
              + [(ref, systems[ref], None, LABELS[ref]) for ref in ("hevc-capacity", "hevc-ldpc")
                 if ref in systems])
    panels = [p for p in panels if _row(rows, p[0], ours_cbr, 0, p[2]) is not None]
    shown, titles = [], []
    for k, i in enumerate(args.figure_images):
        x = images[i]
        shown.append(x)
        titles.append(f"original (kodim{i + 1:02d})" if k == 0 else f"kodim{i + 1:02d}")
        for name, system, beta, label in panels:
            x_hat = reconstruct(system, images, args.snr, cbr=ours_cbr, beta=beta, indices=[i],
                                seed=args.seed)[0]
            row = _row(rows, name, ours_cbr, i, beta)
            if abs(float(psnr(x, x_hat)) - row["psnr"]) > 1e-3:
                raise SystemExit(f"the {label} reconstruction of image {i} does not match its row "
                                 "(rows from another setup?)")
            scores = " · ".join(f"{m.upper().replace('_', '-')} {row[m]:.3f}" for m in ("lpips", "dists")
                                if m in row)
            shown.append(x_hat)
            titles.append((f"{label}, 1/{round(1 / ours_cbr)}\n" if k == 0 else "")
                          + f"{row['psnr']:.2f} dB · {scores}")
    fig = show_images(shown, titles, ncols=len(panels) + 1, size=2.7)
    fig.suptitle(f"{_images_label(args)}, AWGN {args.snr:g} dB, CBR 1/{round(1 / ours_cbr)}: "
                 "PSNR · LPIPS-alex · DISTS of each panel", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100, pil_kwargs={"quality": 85} if path.lower().endswith((".jpg", ".jpeg")) else None)
    print(f"wrote {path}", file=sys.stderr)


def _curves_figure(path: str, args, rows, references, ours_cbr: float, betas) -> None:
    """Quality vs CBR of each reference (mean, 95 % interval) with our model as points."""
    import matplotlib.pyplot as plt

    from jscc_lab.plotting import plot_quality_vs_cbr

    metrics = [m for m in ("dists", "lpips", "lpips_vgg") if m in args.metrics]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        curves = {LABELS[ref]: curve(rows, metric, system=ref) for ref in references}
        points = {f"ours (perceptual), β = {b:g}": (ours_cbr, curve(rows, metric, system="ours", beta=b)[ours_cbr])
                  for b in reversed(betas)}  # the operating point first: drawn largest
        plot_quality_vs_cbr(curves, metric.upper().replace("_", "-") + " (lower is better)",
                            points=points, ax=ax, legend=False)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=5, fontsize=9)
    fig.suptitle(f"{_images_label(args)}, AWGN {args.snr:g} dB: mean over {len(set(r['image'] for r in rows))} "
                 "images, 95 % intervals", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=100)
    print(f"wrote {path}", file=sys.stderr)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="perceptual-awgn-cbr1_48", help="registered name or checkpoint path")
    parser.add_argument("--snr", type=float, default=10.0, help="AWGN SNR in dB")
    parser.add_argument("--beta", type=float, default=1.0, help="realism weight of our model")
    parser.add_argument("--metrics", nargs="+", default=["lpips", "dists", "lpips_vgg"])
    parser.add_argument("--references", nargs="+", default=["adjscc", "hevc-capacity", "hevc-ldpc"],
                        choices=["adjscc", "hevc-capacity", "hevc-ldpc"])
    parser.add_argument("--adjscc-cbrs", nargs="+", default=["1/96", "1/48", "1/24", "1/12"])
    parser.add_argument("--adjscc-checkpoint", nargs="+", default=[], metavar="CBR=PATH",
                        help="ADJSCC checkpoint files instead of the registered ones, e.g. 1/48=runs/x/last.pt")
    parser.add_argument("--hevc-cbrs", nargs="+", default=["1/96", "1/48", "1/24", "1/12", "1/6"])
    parser.add_argument("--images", type=int, default=0, help="first N Kodak images (0 = all 24)")
    parser.add_argument("--crop", type=int, default=0, help="centre crop side (0 = full images)")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="", help="also write the setup, rows and savings to this file")
    parser.add_argument("--rows-from", default="", metavar="JSON",
                        help="reuse the rows of an earlier --json run with the same setup instead of sweeping")
    parser.add_argument("--figure", default="", metavar="PATH", help="write the reconstructions side by side here")
    parser.add_argument("--figure-images", nargs="+", type=int, default=[3, 4, 12], metavar="I",
                        help="image numbers (0-based) shown in --figure (default: a face, fine detail, water)")
    parser.add_argument("--curves-figure", default="", metavar="PATH", help="write quality vs CBR here")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    images = _images(args.images, args.crop)
    bad = [i for i in args.figure_images if not 0 <= i < len(images)] if args.figure else []
    if bad:
        raise SystemExit(f"--figure-images {bad} are outside the {len(images)} images")
    model = _load(args.model)
    ours_cbr = float(model.cbr)
    betas = list(dict.fromkeys([0.0, args.beta]))  # beta 0: the model's MSE + LPIPS end
    metrics = list(dict.fromkeys(["psnr", *args.metrics]))
    setup = {"model": args.model, "snr": args.snr, "crop": args.crop, "images": len(images), "seed": args.seed}
    print(f"{len(images)} Kodak images{f' (centre {args.crop} px)' if args.crop else ''}, AWGN "
          f"{args.snr:g} dB, ours: {args.model} at CBR 1/{round(1 / ours_cbr)}, beta={args.beta:g}",
          file=sys.stderr)
    systems = _references(args)
    if args.rows_from:
        rows = _rows_from(args.rows_from, setup, ["ours", *systems])
    else:
        rows = sweep(model, images, [args.snr], metrics=metrics, betas=betas, name="ours", seed=args.seed)
        for ref, system in systems.items():
            cbrs = None if ref == "adjscc" else [float(Fraction(c)) for c in args.hevc_cbrs]
            rows += sweep(system, images, [args.snr], metrics=metrics, cbrs=cbrs, name=ref, seed=args.seed)

    print(format_table(summarize(rows), columns=["system", "cbr", "snr_db", "beta", "n", *metrics]))
    print()
    savings = []
    for ref in systems:
        for metric in args.metrics:
            ours = curve(rows, metric, system="ours", beta=args.beta)[ours_cbr]
            result = bandwidth_saving(ours, curve(rows, metric, system=ref), metric=metric,
                                      cbr=ours_cbr, n_boot=args.n_boot, seed=args.seed)
            savings.append({"reference": ref, **result.as_row()})
    print(format_table(savings, columns=["reference", "metric", "cbr", "quality", "cbr_needed", "saving"], digits=4))
    if args.json:
        Path(args.json).write_text(json.dumps({"setup": setup, "rows": rows, "savings": savings}, indent=1))
    if args.figure:
        _figure(args.figure, args, images, model, systems, rows, ours_cbr, betas)
    if args.curves_figure:
        _curves_figure(args.curves_figure, args, rows, list(systems), ours_cbr, betas)
    print(f"\n({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
