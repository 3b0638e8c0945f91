"""Separate source-channel coding on Kodak: HEVC (BPG stand-in) at capacity and over 5G LDPC.

Sweeps SNR {0, 5, 10, 15, 20} dB x CBR {1/96, 1/48, 1/24, 1/12} over AWGN for

* ``hevc+capacity``: the codec at the Shannon-capacity budget ``k log2(1 + SNR)`` (the bound);
* ``hevc+ldpc``: the codec over Sionna 5G LDPC + QAM with the best MCS per image and SNR,

and reports mean PSNR, MS-SSIM, LPIPS, DISTS, failures (scored as a grey image, never dropped)
and wall time, as markdown tables, plus a JSON (every row, per-image values) and a CSV (mean rows) of the results.

Run (the offline data folder holds Kodak and the LPIPS / DISTS backbone weights)::

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 python benchmarks/separation_sweep.py
    python benchmarks/separation_sweep.py --quick            # smoke run: 2 crops, 3 SNRs, 2 CBRs
    python benchmarks/separation_sweep.py results/x.json --images 8 --metrics psnr ms_ssim
    # one process per system on two cores, then merge the tables
    python benchmarks/separation_sweep.py /tmp/cap.json --systems capacity &
    python benchmarks/separation_sweep.py /tmp/ldpc.json --systems ldpc; wait
    python benchmarks/separation_sweep.py OUT.json --combine /tmp/cap.json /tmp/ldpc.json
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

import torch

from jscc_lab import metrics as jscc_metrics
from jscc_lab.baselines import default_cache, separation_sweep
from jscc_lab.channels import cbr_label
from jscc_lab.data import center_crop, kodak
from jscc_lab.evaluate import save_json

SNRS_DB = (0.0, 5.0, 10.0, 15.0, 20.0)
CBRS = (1 / 96, 1 / 48, 1 / 24, 1 / 12)
# BPG + capacity on Kodak at 10 dB, cited (CompressAI's BPG 4:4:4 curve read at the capacity
# budget; see benchmarks/separation_anchors.py)
REFERENCE_10DB = {1 / 96: 27.5, 1 / 48: 29.8, 1 / 24: 32.6, 1 / 12: 36.3}
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "separation_sweep.json"


def available_metrics(requested=None) -> tuple[str, ...]:
    """The metrics to report: ``requested`` or the package's defaults."""
    return tuple(requested) if requested else jscc_metrics.DEFAULT_METRICS


def make_scorer(names):
    """``(x, x_hat) -> {name: (1,)}``: a :class:`jscc_lab.metrics.Scorer` (each original's
    backbone features computed once; room for all 24 full-size Kodak images), memoised on the
    pixels so failed images (grey) and repeated reconstructions (the same MCS at several SNRs)
    are scored once."""
    memo: dict = {}
    scorer = jscc_metrics.Scorer(names, max_bytes=8 * 2**30)

    def digest(t):
        u8 = (t.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        return hashlib.sha1(u8.tobytes()).hexdigest() + str(u8.shape)

    def score(x, x_hat):
        key = (digest(x), digest(x_hat))
        if key not in memo:
            memo[key] = scorer(x, x_hat)
        return memo[key]

    return score


def markdown_tables(rows, names) -> str:
    out = []
    systems = sorted({(r["codec"], r["channel_code"]) for r in rows}, key=lambda s: s[1])
    snrs = sorted({r["snr_db"] for r in rows})
    cbrs = sorted({r["cbr"] for r in rows})
    for codec, code in systems:
        sub = {(r["snr_db"], r["cbr"]): r for r in rows if (r["codec"], r["channel_code"]) == (codec, code)}
        n = next(iter(sub.values()))["n_images"]
        fields = (*names, "failures", *(("mcs",) if code == "ldpc" else ()), "bpp", "seconds")
        for field in fields:
            label = {"failures": f"failed images (of {n})", "seconds": "wall time (s)",
                     "bpp": "source bits per pixel sent", "mcs": "most used MCS"}.get(field, f"mean {field}")
            out.append(f"\n**{codec}+{code}: {label}**\n")
            out.append("| SNR (dB) | " + " | ".join(f"CBR {cbr_label(c)}" for c in cbrs) + " |")
            out.append("|---:|" + "---:|" * len(cbrs))
            for s in snrs:
                cells = []
                for c in cbrs:
                    v = sub[(s, c)].get(field, "") if (s, c) in sub else ""
                    cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
                out.append(f"| {s:g} | " + " | ".join(cells) + " |")
    cap = {r["cbr"]: r["psnr"] for r in rows if r["channel_code"] == "capacity" and r["snr_db"] == 10.0}
    if cap:
        out.append("\n**HEVC at capacity, 10 dB: this run vs BPG + capacity (cited anchor; PSNR, dB)**\n")
        out.append("| CBR | this run | BPG anchor |\n|---:|---:|---:|")
        for c in sorted(cap):
            ref = next((v for r, v in REFERENCE_10DB.items() if abs(r - c) < 1e-9), None)
            out.append(f"| {cbr_label(c)} | {cap[c]:.2f} | {'' if ref is None else ref} |")
    return "\n".join(out)


def check_below_bound(rows) -> list[str]:
    """Points where the LDPC chain delivers more bits than capacity (must be none)."""
    cap = {(r["snr_db"], r["cbr"]): r for r in rows if r["channel_code"] == "capacity"}
    bad = []
    for r in rows:
        c = cap.get((r["snr_db"], r["cbr"]))
        if r["channel_code"] == "ldpc" and c and r["budget_bits"] > c["budget_bits"]:
            bad.append(f"SNR {r['snr_db']} CBR {cbr_label(r['cbr'])}")
    return bad


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT,
                        help="JSON results path (a CSV of the mean rows is written next to it)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 images cropped to 256")
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images (default 24)")
    parser.add_argument("--crop", type=int, default=None, help="centre crop size (default native)")
    parser.add_argument("--part", type=str, default="1/1", metavar="K/N",
                        help="only the images i with i %% N == K-1 (e.g. 1/2 and 2/2 in two processes side "
                             "by side; --combine merges the parts)")
    parser.add_argument("--snrs", type=float, nargs="+", default=list(SNRS_DB))
    parser.add_argument("--cbrs", type=str, nargs="+", default=[cbr_label(c) for c in CBRS])
    parser.add_argument("--codec", default="hevc")
    parser.add_argument("--systems", nargs="+", default=["capacity", "ldpc"], choices=["capacity", "ldpc"])
    parser.add_argument("--metrics", nargs="+", default=None,
                        help="metric names for jscc_lab.metrics.evaluate (default: its DEFAULT_METRICS)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--combine", type=Path, nargs="+", default=None, metavar="JSON",
                        help="compute nothing: merge the rows of earlier runs (e.g. one process per "
                             "system, run side by side) into OUT and print their tables")
    args = parser.parse_args(argv)
    if args.combine:
        return write_combined(args.combine, args.out)
    if args.quick:
        args.images, args.crop = min(args.images, 2), args.crop or 256
        args.snrs, args.cbrs = [0.0, 10.0, 20.0], ["1/24", "1/12"]
    cbrs = [float(Fraction(c)) for c in args.cbrs]
    names = available_metrics(args.metrics)
    k, n_parts = (int(v) for v in args.part.split("/"))
    if not 1 <= k <= n_parts:
        raise SystemExit(f"--part must be K/N with 1 <= K <= N, got {args.part}")
    indices = [i for i in range(args.images) if i % n_parts == k - 1]
    images = [kodak()[i] for i in indices]
    if args.crop:
        images = [center_crop(x, args.crop) for x in images]
    score = make_scorer(names)
    print(f"{len(images)} Kodak image(s), SNR {args.snrs} dB, CBR {args.cbrs}, metrics {list(names)}, "
          f"{torch.get_num_threads()} torch threads")
    rows, timing = [], {}
    for code in args.systems:
        t0 = time.perf_counter()
        rows += separation_sweep(images, args.snrs, cbrs, codec=args.codec, channel_code=code,
                                 metrics=score, generator=args.seed)
        timing[code] = time.perf_counter() - t0
        print(f"{args.codec}+{code}: {timing[code]:.0f} s ({default_cache()})")
    meta = {"images": args.images, "image_indices": indices, "crop": args.crop, "snrs_db": args.snrs,
            "cbrs": args.cbrs,
            "codec": args.codec, "metrics": list(names), "seed": args.seed, "seconds": timing,
            "torch_threads": torch.get_num_threads()}
    return report({"meta": meta, "rows": rows}, args.out)


def merge_parts(rows: list[dict]) -> list[dict]:
    """Rows of the same system and grid point measured on disjoint image subsets (``--part``),
    merged into one row over all their images: per-image values concatenated in image order
    (each row holds the ``image_indices`` it was measured on), means recomputed."""
    merged: dict = {}
    for r in rows:
        key = (r["codec"], r["channel_code"], r["snr_db"], r["cbr"])
        merged.setdefault(key, []).append(r)
    out = []
    for parts in merged.values():
        if len(parts) == 1:
            out.append(parts[0])
            continue
        n = sum(p["n_images"] for p in parts)
        idx = [i for p in parts for i in p["image_indices"]]
        rank = sorted(range(len(idx)), key=lambda j: idx[j])
        row = {k: v for k, v in parts[0].items() if k not in ("per_image", "image_indices")}
        per_image = {name: [v for p in parts for v in p["per_image"][name]] for name in parts[0]["per_image"]}
        per_image = {name: [values[j] for j in rank] for name, values in per_image.items()}
        for name in ("failures", "downscaled", "seconds"):
            row[name] = sum(p.get(name, 0) for p in parts)
        for name in ("bits", "budget_bits", "bpp", "cbr_used"):
            row[name] = sum(p[name] * p["n_images"] for p in parts) / n
        row.update({name: sum(values) / n for name, values in per_image.items()
                    if name not in ("failed", "reason", "mcs", "scale")})
        row["n_images"], row["failure_rate"] = n, row["failures"] / n
        used = Counter(m for m in per_image["mcs"] if m)
        row["mcs"] = used.most_common(1)[0][0] if used else ""
        row["per_image"], row["image_indices"] = per_image, sorted(idx)
        out.append(row)
    return out


def write_combined(paths, out: Path) -> dict:
    """Merge the rows of several result files (same grid and metrics; other systems, or other
    ``--part`` s of the images) into ``out``."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    meta = dict(runs[0]["meta"])
    for run in runs[1:]:
        differs = [k for k in ("images", "crop", "snrs_db", "cbrs", "codec", "metrics", "seed")
                   if run["meta"][k] != meta[k]]
        if differs:
            raise SystemExit(f"cannot combine runs that differ in {differs}")
        for system, seconds in run["meta"]["seconds"].items():
            meta["seconds"][system] = meta["seconds"].get(system, 0.0) + seconds
    rows = []
    for run in runs:
        for r in run["rows"]:
            rows.append({**r, "image_indices": run["meta"].get("image_indices", list(range(r["n_images"])))})
    meta["image_indices"] = sorted({i for run in runs for i in run["meta"].get("image_indices", [])})
    return report({"meta": meta, "rows": merge_parts(rows)}, out)


def report(result: dict, out: Path) -> dict:
    """Print the tables and the bound check of ``result`` and write it as JSON + CSV."""
    meta, rows = result["meta"], result["rows"]
    print(markdown_tables(rows, tuple(meta["metrics"])))
    print("\nwall time: " + ", ".join(f"{meta['codec']}+{k} {v:.0f} s" for k, v in meta["seconds"].items()))
    if {"capacity", "ldpc"} <= set(meta["seconds"]):
        bad = check_below_bound(rows)
        print("LDPC budget below the capacity budget at every point: " + ("yes" if not bad else f"NO at {bad}"))
    save_json(result, out)
    flat = [{k: v for k, v in r.items() if k not in ("per_image", "image_indices")} for r in rows]
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(flat[0]))
        writer.writeheader()
        writer.writerows(flat)
    print(f"wrote {out} and {out.with_suffix('.csv')}")
    return result


if __name__ == "__main__":
    main()
