"""Redraw latency of the explorer widget, headless: drive its controls the way a slider move
does and time the callback (compute + PNG encoding of every panel).

    python benchmarks/widget_latency.py [--crop 256] [--moves 20] [--threads 2]

Prints the median and 90th percentile per control, for first visits (nothing cached) and for
revisits (cache hits). Target (issue 7): median <= 100 ms for a 256x256 view on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from jscc_lab.widgets import Explorer


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--metrics", nargs="+", default=["psnr", "lpips"])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    ex = Explorer(crop=args.crop, metrics=args.metrics)
    print(f"explorer built and first drawn in {time.perf_counter() - t0:.1f} s; "
          f"models: {sorted((k, round(1 / c)) for k, c in ex.models)}")
    snrs = [float(v) for v in range(int(ex.snr.min), int(ex.snr.max) + 1)]
    betas = [round(0.1 * i, 1) for i in range(11)]
    rows = []

    def bench(label, control, values):
        first = [timed(lambda v=v: setattr(control, "value", v)) for v in values[: args.moves]]
        again = [timed(lambda v=v: setattr(control, "value", v)) for v in values[: args.moves]]
        rows.append((label, "first visit", first))
        rows.append((label, "revisit (cached)", again))

    bench("SNR slider", ex.snr, snrs)
    bench("realism beta slider", ex.beta, betas)
    bench("channel toggle", ex.channel_choice, ["Rayleigh block", "AWGN"] * 3)
    print(f"\nExplorer redraw latency, {args.crop}x{args.crop} view, {torch.get_num_threads()} "
          f"threads, metrics {'+'.join(args.metrics)} (ms)\n")
    print("| control | visit | moves | median | p90 |")
    print("|---|---|---|---|---|")
    for label, kind, ms in rows:
        ms_sorted = sorted(ms)
        p90 = ms_sorted[min(len(ms) - 1, int(0.9 * len(ms)))]
        print(f"| {label} | {kind} | {len(ms)} | {statistics.median(ms):.0f} | {p90:.0f} |")


if __name__ == "__main__":
    main()
