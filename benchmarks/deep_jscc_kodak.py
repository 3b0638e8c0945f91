"""Deep JSCC on Kodak-24 against separate coding: PSNR per SNR and CBR, colour, training curve.

1. **Quality**: each model (registered checkpoints, or checkpoint files of a live run) on Kodak-24
   at full size (768x512) over AWGN SNR {0, 5, 10, 15, 20} dB at every CBR it serves (a
   rate-adaptive model is swept over ``model.cbrs``), with :func:`jscc_lab.evaluate.sweep`
   (seeded noise). Colour: per-channel mean bias ``mean(x_hat - x)`` and the chroma kept
   (``chroma_ratio``), and the grid artefact (``grid_rms``, 8-bit levels), at every point.
   Printed beside HEVC + capacity and HEVC + 5G LDPC from
   ``benchmarks/results/separation_sweep_kodak24.json`` (the same images, SNRs and CBRs; made by
   ``benchmarks/separation_sweep.py``), with the targets of the issue checked.
2. **Training curve** (``--curve CKPT --curve-figure PNG``): validation PSNR per CBR against the
   CPU-hours of the run, read from the checkpoint's own history.

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 python benchmarks/deep_jscc_kodak.py \\
        --models taejscc-psnr-awgn --json benchmarks/results/deep_jscc_kodak24.json
    python benchmarks/deep_jscc_kodak.py --checkpoint RUN/best.pt --snr 10 --images 8   # a live run
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from jscc_lab import pretrained
from jscc_lab.channels import cbr_label
from jscc_lab.data import center_crop, kodak
from jscc_lab.evaluate import save_json, summarize, sweep
from jscc_lab.plotting import plot_training_curve

RESULTS = Path(__file__).resolve().parent / "results"
SEPARATION = RESULTS / "separation_sweep_kodak24.json"
COLOUR = ("bias_r", "bias_g", "bias_b", "chroma_ratio", "grid")
#: issue targets at 10 dB (Kodak-24 full size, mean PSNR)
TARGETS_10DB = {1 / 96: 24.5, 1 / 48: 27.4, 1 / 24: 30.0, 1 / 12: 31.5}


def load_models(names, checkpoints):
    models = {name: pretrained.load(name) for name in names}
    for path in checkpoints:
        ckpt = pretrained.load_checkpoint(path)
        models[Path(path).parent.name + "/" + Path(path).stem] = pretrained.model_from_checkpoint(ckpt).eval()
    return models


def separation_rows(snrs, cbrs) -> dict:
    """``{(system, cbr, snr): mean psnr}`` of the saved full-size separation sweep."""
    if not SEPARATION.is_file():
        return {}
    out = {}
    for r in json.loads(SEPARATION.read_text())["rows"]:
        if r["snr_db"] in snrs and any(abs(r["cbr"] - c) < 1e-9 for c in cbrs):
            out[(f"hevc+{r['channel_code']}", r["cbr"], r["snr_db"])] = r["psnr"]
    return out


def psnr_table(summary, snrs, reference) -> str:
    systems = sorted({r["system"] for r in summary})
    cbrs = sorted({r["cbr"] for r in summary})
    lines = ["| system | CBR | " + " | ".join(f"{s:g} dB" for s in snrs) + " |",
             "|---|---|" + "---:|" * len(snrs)]
    for cbr in cbrs:
        for system in systems:
            vals = {r["snr_db"]: r["psnr"] for r in summary if r["system"] == system and r["cbr"] == cbr}
            if vals:
                lines.append(f"| {system} | {cbr_label(cbr)} | " + " | ".join(
                    f"{vals[s]:.2f}" if s in vals else "" for s in snrs) + " |")
        for ref in ("hevc+capacity", "hevc+ldpc"):
            vals = {s: reference.get((ref, c, s)) for s in snrs for c in [cbr]}
            if any(v is not None for v in vals.values()):
                lines.append(f"| {ref} | {cbr_label(cbr)} | " + " | ".join(
                    f"{vals[s]:.2f}" if vals[s] is not None else "" for s in snrs) + " |")
    return "\n".join(lines)


def colour_table(summary, snr) -> str:
    lines = ["| system | CBR | bias R | bias G | bias B | chroma kept | grid (8-bit levels) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in summary:
        if r["snr_db"] == snr:  # rows merged from an older --json may lack the grid
            grid = f"{r['grid']:.2f}" if "grid" in r else ""
            lines.append(f"| {r['system']} | {cbr_label(r['cbr'])} | {r['bias_r']:+.4f} | {r['bias_g']:+.4f} "
                         f"| {r['bias_b']:+.4f} | {r['chroma_ratio']:.3f} | {grid} |")
    return "\n".join(lines)


def target_report(summary, reference, full_kodak: bool) -> str:
    lines = []
    for r in summary:
        if r["snr_db"] == 10.0 and r["cbr"] in TARGETS_10DB:
            goal = TARGETS_10DB[r["cbr"]]
            verdict = "met" if r["psnr"] >= goal else f"missed by {goal - r['psnr']:.2f} dB"
            lines.append(f"- {r['system']} CBR {cbr_label(r['cbr'])} at 10 dB: {r['psnr']:.2f} dB "
                         f"(target {goal} dB: {verdict})")
    for r in summary:
        if r["snr_db"] in (0.0, 5.0) and full_kodak:
            ldpc = reference.get(("hevc+ldpc", r["cbr"], r["snr_db"]))
            if ldpc is not None:
                lines.append(f"- {r['system']} CBR {cbr_label(r['cbr'])} at {r['snr_db']:g} dB: "
                             f"{r['psnr']:.2f} vs HEVC+LDPC {ldpc:.2f} dB ({r['psnr'] - ldpc:+.2f})")
        bias = max(abs(r[k]) for k in COLOUR[:3])
        if bias > 0.01 or abs(r["chroma_ratio"] - 1) > 0.1:
            lines.append(f"- colour off at {r['system']} CBR {cbr_label(r['cbr'])} {r['snr_db']:g} dB: "
                         f"max |bias| {bias:.4f}, chroma kept {r['chroma_ratio']:.3f}")
    return "\n".join(lines)


def training_curve(path, figure) -> str:
    """Validation PSNR (per CBR) against the CPU-hours of every training stage behind checkpoint
    ``path``, saved to ``figure``; returns a one-line summary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax, summary = plot_training_curve(path)
    ax.figure.savefig(figure, dpi=120)
    plt.close(ax.figure)
    return f"training curve of {path}: {summary}"


def kept_rows(path: Path | None, replaced: set, setting: dict) -> list[dict]:
    """The rows of ``path`` (a JSON of this script) of systems not in ``replaced``; the file must
    have been made on the same ``setting`` (images, crop, SNRs), else ``SystemExit``."""
    if path is None or not path.is_file():
        raise SystemExit(f"--merge: no results file at --json {path}")
    saved = json.loads(path.read_text())
    differs = {k: (saved["meta"].get(k), v) for k, v in setting.items() if saved["meta"].get(k) != v}
    if differs:
        raise SystemExit(f"--merge: {path} was made with other settings (theirs, ours): {differs}")
    return [r for r in saved["rows"] if r["system"] not in replaced]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=None,
                        help="registered checkpoints (default: every 'psnr' one)")
    parser.add_argument("--checkpoint", nargs="*", default=[], help="checkpoint files (e.g. of a live run)")
    parser.add_argument("--snr", type=float, nargs="+", default=[0, 5, 10, 15, 20])
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images")
    parser.add_argument("--crop", type=int, default=0, help="centre crop side (0 = full size)")
    parser.add_argument("--metrics", nargs="*", default=[], help="more metrics, e.g. ms_ssim lpips")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", type=Path, help="save the per-image rows and the summary here")
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of other systems already in --json (same images, crop and SNRs): "
                             "re-evaluate one model without rerunning the rest")
    parser.add_argument("--report", action="store_true",
                        help="sweep nothing: print the tables of the rows in --json against the current "
                             "separation results (after benchmarks/separation_sweep.py ran again)")
    parser.add_argument("--curve", type=Path, help="checkpoint whose training history to plot")
    parser.add_argument("--curve-figure", type=Path, default=Path("assets/figures/training_curve.png"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    if args.curve:
        print(training_curve(args.curve, args.curve_figure))
    names = args.models if args.models is not None else pretrained.find(objective="psnr")
    if args.report:
        if not (args.json and args.json.is_file()):
            raise SystemExit(f"--report: no results file at --json {args.json}")
        doc = json.loads(args.json.read_text())
        meta, summary = doc["meta"], doc["summary"]
        full = meta["images"] == 24 and not meta["crop"]
        snrs = meta["snrs_db"]
        reference = separation_rows(snrs, sorted({r["cbr"] for r in summary})) if full else {}
        print(f"Kodak-{meta['images']} ({'full size' if full else 'crops'}), AWGN, mean PSNR (dB); "
              f"rows of {args.json.name}\n")
        print(psnr_table(summary, snrs, reference))
        print("\nTargets\n")
        print(target_report(summary, reference, full))
        return
    if not names and not args.checkpoint:
        return
    images = kodak()[: args.images]
    if args.crop:
        images = [center_crop(x, args.crop) for x in images]
    models = {n: m.to(memory_format=torch.channels_last) for n, m in load_models(names, args.checkpoint).items()}
    rows, start = [], time.perf_counter()
    for name, model in models.items():
        t0 = time.perf_counter()
        rows += sweep(model, images, args.snr, metrics=("psnr", *COLOUR, *args.metrics), name=name)
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    if args.merge:
        rows += kept_rows(args.json, set(models), {"images": args.images, "crop": args.crop or None,
                                                   "snrs_db": args.snr})
    summary = summarize(rows)
    full = args.images == 24 and not args.crop
    reference = separation_rows(args.snr, sorted({r["cbr"] for r in summary})) if full else {}
    print(f"\nKodak-{args.images} ({'full size' if not args.crop else f'{args.crop} crops'}), AWGN, "
          f"mean PSNR (dB); {args.threads} threads, {time.perf_counter() - start:.0f} s\n")
    print(psnr_table(summary, args.snr, reference))
    snr_c = 10.0 if 10.0 in args.snr else args.snr[0]
    print(f"\nColour at {snr_c:g} dB (mean over images; 0 / 1 are best)\n")
    print(colour_table(summary, snr_c))
    print("\nTargets\n")
    print(target_report(summary, reference, full))
    if args.json:
        meta = {"images": args.images, "crop": args.crop or None, "snrs_db": args.snr,
                "models": sorted({r["system"] for r in rows}), "threads": args.threads}
        save_json({"meta": meta, "summary": summary, "rows": rows}, args.json)  # no NaN: valid JSON


if __name__ == "__main__":
    main()
