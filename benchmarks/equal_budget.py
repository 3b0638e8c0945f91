"""Training runs compared on equal CPU time: validation PSNR per CBR against CPU-hours.

Each run is a trainer checkpoint (``last.pt`` / ``best.pt`` of a live run). Its validation history
(``psnr@10dB,cbrX`` every ``val_every`` steps), and that of the checkpoints it started from
(``config.init_from``, followed back as long as the files exist: a latent-loss stage counts), is
put on a CPU-hours axis: each stage's CPU time spread evenly over its steps, after the stages
before it. So runs on different thread counts, families or warm starts line up on what they cost.

Prints, per CBR, each run's validation PSNR at the largest CPU budget all runs reached
(``--budget-hours``: another; linear interpolation between validations), and at equal steps for
stages of different runs that started from the same checkpoint;
``--figure`` draws one panel per CBR; ``--kodak`` also evaluates each run's checkpoint on Kodak-24
at full size (``--snr``, mean PSNR per CBR).

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 python benchmarks/equal_budget.py \\
        --run "TAEJSCC, rate-adaptive=$R/taejscc-image/last.pt" \\
        --run "TAEJSCC, 1/48 only=$R/taejscc-image-cbr1_48/last.pt" \\
        --run "ScratchJSCC, rate-adaptive=$R/scratchjscc-psnr/last.pt" \\
        --figure assets/figures/equal_budget.png --json benchmarks/results/equal_budget.json --kodak
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from jscc_lab import pretrained
from jscc_lab.channels import cbr_label
from jscc_lab.data import kodak
from jscc_lab.evaluate import save_json, summarize, sweep
from jscc_lab.train import training_stages


def run_curve(path: Path) -> dict:
    """``{"points": [{"step", "stage", "cpu_hours", "psnr@...": dB}], "chain": [...]}`` of one run:
    the validations of every stage of its chain (``stage`` counts from 0; ``step`` within the stage),
    each stage's CPU time spread evenly over its steps after the stages before it."""
    ckpt = pretrained.load_checkpoint(path)
    chain = training_stages(path)
    points, offset = [], 0.0
    for i, stage in enumerate(chain):
        per_step = (stage["cpu_time_s"] or 0.0) / max(stage["steps"] or 0, 1)
        for h in stage["validation"]:
            scores = {k: v for k, v in h.items() if k.startswith("psnr@")}
            if scores:
                points.append({"step": h["step"], "stage": i,
                               "cpu_hours": (offset + h["step"] * per_step) / 3600, **scores})
        offset += stage["cpu_time_s"] or 0.0
    return {"path": str(path), "chain": chain, "points": points, "model": ckpt["model"]}


def _cbr(key: str) -> float:
    """The CBR of a validation key ``psnr@10dB,cbr1/48``."""
    return float(Fraction(key.split("cbr")[1]))


def at_budget(points: list[dict], key: str, hours: float) -> float | None:
    """Validation value ``key`` interpolated at ``hours`` of CPU time (None outside the run)."""
    xs = [p["cpu_hours"] for p in points if key in p]
    ys = [p[key] for p in points if key in p]
    if not xs or hours < xs[0] - 1e-9 or hours > xs[-1] + 1e-9:
        return None
    return float(np.interp(hours, xs, ys))


def same_start(runs: dict) -> tuple[str, dict] | None:
    """Stages of different runs that started from the same checkpoint (e.g. two schedules from one
    latent stage), for an equal-steps comparison: ``(start, {label: validation points of that
    stage})`` for the start shared by most runs that also have a validation step in common;
    ``None`` when no two runs share one."""
    groups: dict[str, dict] = {}
    for label, r in runs.items():
        for i in range(1, len(r["chain"])):
            pts = [pt for pt in r["points"] if pt["stage"] == i]
            if pts:
                groups.setdefault(r["chain"][i - 1]["checkpoint"], {})[label] = pts
    shared = [(start, g) for start, g in groups.items()
              if len(g) > 1 and set.intersection(*({pt["step"] for pt in pts} for pts in g.values()))]
    return max(shared, key=lambda item: len(item[1]), default=None)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", action="append", required=True, metavar="LABEL=CHECKPOINT",
                   help="a run to compare (repeat)")
    p.add_argument("--budget-hours", type=float, help="CPU-hours to compare at (default: the largest all reached)")
    p.add_argument("--figure", type=Path, help="validation PSNR per CBR against CPU-hours")
    p.add_argument("--json", type=Path)
    p.add_argument("--kodak", action="store_true", help="also evaluate each checkpoint on Kodak-24, full size")
    p.add_argument("--snr", type=float, nargs="+", default=[10.0], help="Kodak SNRs (dB; default 10)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    runs = {}
    for item in args.run:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            p.error(f"--run must be LABEL=CHECKPOINT, got {item!r}")
        runs[label] = run_curve(Path(path).expanduser())
    keys = sorted({k for r in runs.values() for pt in r["points"] for k in pt if k.startswith("psnr@")},
                  key=lambda k: _cbr(k))
    reached = min((r["points"][-1]["cpu_hours"] for r in runs.values() if r["points"]), default=0.0)
    budget = args.budget_hours or reached
    result = {"budget_cpu_hours": budget, "runs": runs, "at_budget": {}, "kodak": {}}
    print(f"validation PSNR (dB; 32 BSDS500 test 128 crops) at {budget:.2f} CPU-hours, every run's own start "
          "included\n")
    print("| run | CPU-hours run | " + " | ".join(k.replace("psnr@", "") for k in keys) + " |")
    print("|---|---:|" + "---:|" * len(keys))
    for label, r in runs.items():
        values = {k: at_budget(r["points"], k, budget) for k in keys}
        result["at_budget"][label] = values
        cells = " | ".join("" if v is None else f"{v:.2f}" for v in values.values())
        done = f"{r['points'][-1]['cpu_hours']:.2f}" if r["points"] else "no validation yet"
        print(f"| {label} | {done} | {cells} |")

    pair = same_start(runs)
    if pair:
        start, stage_points = pair
        step = max(set.intersection(*({pt["step"] for pt in pts} for pts in stage_points.values())))
        result["at_step"] = {"step": step, "start": start, "values": {}}
        print(f"\nat step {step} of the stages that started from {start} (equal steps: equal data seen "
              "where batch sizes agree)\n")
        print("| run | CPU-hours | " + " | ".join(k.replace("psnr@", "") for k in keys) + " |")
        print("|---|---:|" + "---:|" * len(keys))
        for label, pts in stage_points.items():
            pt = next(pt for pt in pts if pt["step"] == step)
            result["at_step"]["values"][label] = {k: pt.get(k) for k in keys}
            cells = " | ".join(f"{pt[k]:.2f}" if k in pt else "" for k in keys)
            print(f"| {label} | {pt['cpu_hours']:.2f} | {cells} |")

    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.2), squeeze=False)
        for ax, key in zip(axes[0], keys):
            for label, r in runs.items():
                pts = [pt for pt in r["points"] if key in pt]
                if pts:
                    ax.plot([pt["cpu_hours"] for pt in pts], [pt[key] for pt in pts], marker="o", ms=3, label=label)
            ax.set_title(key.replace("psnr@", "").replace(",cbr", ", CBR "), fontsize=9)
            ax.set_xlabel("CPU-hours")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel("validation PSNR (dB)")
        axes[0][-1].legend(fontsize=7)
        fig.tight_layout()
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.figure, dpi=110)

    if args.kodak:
        images = kodak()
        print(f"\nKodak-24 full size, AWGN, mean PSNR (dB), {args.threads} threads\n")
        print("| run | SNR (dB) | " + " | ".join(f"CBR {cbr_label(_cbr(k))}" for k in keys)
              + " |")
        print("|---|---:|" + "---:|" * len(keys))
        for label, r in runs.items():
            start = time.perf_counter()
            model = pretrained.model_from_checkpoint(pretrained.load_checkpoint(r["path"])).eval()
            model = model.to(memory_format=torch.channels_last)
            summary = summarize(sweep(model, images, args.snr, metrics=("psnr",), name=label))
            result["kodak"][label] = [{"cbr": s["cbr"], "snr_db": s["snr_db"], "psnr": s["psnr"]} for s in summary]
            for snr in args.snr:
                by_cbr = {s["cbr"]: s["psnr"] for s in summary if s["snr_db"] == snr}
                cells = " | ".join(next((f"{v:.2f}" for c, v in by_cbr.items()
                                         if abs(c - _cbr(k)) < 1e-9), "")
                                   for k in keys)
                print(f"| {label} | {snr:g} | {cells} |")
            print(f"  ({label}: {time.perf_counter() - start:.0f} s)", flush=True)
    if args.json:
        save_json(result, args.json)
    return result


if __name__ == "__main__":
    main()
