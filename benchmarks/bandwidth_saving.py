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

Kodak-24 at full size with all references takes a while on a CPU (the HEVC rate control and
DISTS dominate); ``--images`` / ``--crop`` make a quick version.
"""

from __future__ import annotations

import argparse
import json
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
    separate_coding,
    summarize,
    sweep,
)
from jscc_lab.models import perceptual as _perceptual  # noqa: F401  (registers "perceptual")

ADJSCC_NAME = "adjscc-psnr-awgn-cbr1_{}"


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
    parser.add_argument("--json", default="", help="also write the rows and savings to this file")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    images = _images(args.images, args.crop)
    model = _load(args.model)
    ours_cbr = float(model.cbr)
    metrics = list(dict.fromkeys(["psnr", *args.metrics]))
    print(f"{len(images)} Kodak images{f' (centre {args.crop} px)' if args.crop else ''}, AWGN "
          f"{args.snr:g} dB, ours: {args.model} at CBR 1/{round(1 / ours_cbr)}, beta={args.beta:g}",
          file=sys.stderr)
    rows = sweep(model, images, [args.snr], metrics=metrics, betas=[args.beta], name="ours", seed=args.seed)

    references = {}
    for ref in args.references:
        if ref == "adjscc":
            if args.adjscc_checkpoint:
                files = dict(item.split("=", 1) for item in args.adjscc_checkpoint)
                system = {float(Fraction(c)): _load(path) for c, path in files.items()}
            else:
                cbrs = [float(Fraction(c)) for c in args.adjscc_cbrs]
                names = {c: ADJSCC_NAME.format(round(1 / c)) for c in cbrs}
                missing = [n for n in names.values() if n not in pretrained.available()]
                if missing:
                    print(f"skipping adjscc: checkpoints {missing} are not registered", file=sys.stderr)
                    continue
                system = {c: pretrained.load(n) for c, n in names.items()}
            rows += sweep(system, images, [args.snr], metrics=metrics, name=ref, seed=args.seed)
        else:
            cbrs = [float(Fraction(c)) for c in args.hevc_cbrs]
            system = separate_coding("hevc", "capacity" if ref == "hevc-capacity" else "ldpc")
            rows += sweep(system, images, [args.snr], metrics=metrics, cbrs=cbrs, name=ref, seed=args.seed)
        references[ref] = True

    print(format_table(summarize(rows), columns=["system", "cbr", "snr_db", "beta", "n", *metrics]))
    print()
    savings = []
    for ref in references:
        for metric in args.metrics:
            ours = curve(rows, metric, system="ours")[ours_cbr]
            result = bandwidth_saving(ours, curve(rows, metric, system=ref), metric=metric,
                                      cbr=ours_cbr, n_boot=args.n_boot, seed=args.seed)
            savings.append({"reference": ref, **result.as_row()})
    print(format_table(savings, columns=["reference", "metric", "cbr", "quality", "cbr_needed", "saving"], digits=4))
    print(f"\n({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "savings": savings}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
