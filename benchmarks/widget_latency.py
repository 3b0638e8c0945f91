"""Redraw latency of the explorer widget, headless: drive its controls the way a slider move
does and time the callback (compute + PNG encoding + metrics of every affected panel).

    python benchmarks/widget_latency.py [--crop 256] [--moves 10] [--threads 2] [--dwell 1.5]
    python benchmarks/widget_latency.py --amp none bf16 --on-demand-only   # fp32 vs bf16 models

Three ways of using it, each timed per control (SNR slider step, realism beta step, channel
toggle, CBR move), median and 90th percentile in ms:

* **on demand**: no prefetching, every move is a first visit (what the computation costs);
* **prefetch, dwell**: the explorer's background thread computes neighbouring slider positions
  while the user looks; moves come ``--dwell`` seconds apart (a lecturer looking at a result),
  one step at a time, or (on a fresh explorer) as random jumps across the whole slider;
* **revisit**: moving back to a setting already seen (cache hits).

Target (issue 7): median <= 100 ms for a 256x256 view on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import time

import torch

from jscc_lab.baselines import default_cache
from jscc_lab.classroom import Explorer


def timed(control, value) -> float:
    start = time.perf_counter()
    control.value = value
    return 1000 * (time.perf_counter() - start)


def moves(ex: Explorer, count: int, jumps: bool, seed: int = 0):
    """``(label, control, values)``: SNR and beta steps from the start (or random jumps), then
    channel toggles and CBR moves (every other CBR, then back one)."""
    snrs = [float(v) for v in range(int(ex.snr.min), int(ex.snr.max) + 1)]
    betas = [round(0.1 * i, 1) for i in range(11)]
    if jumps:
        rng = random.Random(seed)
        snr_path = [rng.choice([s for s in snrs if s != ex.snr.value]) for _ in range(count)]
        beta_path = [rng.choice(betas) for _ in range(count)]
    else:
        start = snrs.index(ex.snr.value)
        snr_path = (snrs[start + 1:] + snrs[:start][::-1])[:count]
        beta_path = sorted(betas, key=lambda b: abs(b - ex.beta.value))[1:count + 1]
    channels = (["Rayleigh block", "AWGN"] * count)[:min(count, 4)]
    cbrs = sorted((v for _, v in ex.cbr.options), key=lambda c: abs(c - ex.cbr.value))[1:]
    return [("SNR slider", ex.snr, snr_path), ("realism beta", ex.beta, beta_path),
            ("channel toggle", ex.channel_choice, channels), ("CBR slider", ex.cbr, cbrs + cbrs[-1::-1][1:2])]


def run(ex: Explorer, count: int, dwell: float, jumps: bool, label: str, rows: list) -> None:
    for control_label, control, values in moves(ex, count, jumps):
        ms = []
        for value in values:
            if dwell:
                time.sleep(dwell)
            if control.value == value:  # a jump to the same place is no move
                continue
            ms.append(timed(control, value))
        rows.append((control_label, label, ms))
        again = [timed(control, v) for v in values[::-1] if v != control.value]
        if label.startswith("on demand"):
            rows.append((control_label, f"revisit (cached) after {label}", again))


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--moves", type=int, default=10, help="moves per control and scenario")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dwell", type=float, default=1.5, help="seconds between moves with prefetch")
    parser.add_argument("--metrics", nargs="+", default=["psnr", "lpips"])
    parser.add_argument("--prefetch-threads", type=int, nargs="+", default=[None],
                        help="torch threads of the prefetch thread, one prefetch run each "
                             "(default: the explorer's default, as many as --threads)")
    parser.add_argument("--amp", nargs="+", default=["auto"], choices=["auto", "bf16", "none"],
                        help="precision of the explorer's models, one on-demand run each")
    parser.add_argument("--on-demand-only", action="store_true", help="skip the prefetch scenarios")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows: list = []

    for amp in args.amp:
        default_cache().clear()  # HEVC rate control probes: each run starts from the same state
        t0 = time.perf_counter()
        ex = Explorer(crop=args.crop, metrics=args.metrics, prefetch=False, amp=amp)
        print(f"explorer (amp={amp}: {ex.amp_reason}) built and first drawn in {time.perf_counter() - t0:.1f} s; "
              f"models: {sorted((k, round(1 / c)) for k, c in ex.models)}")
        run(ex, args.moves, 0.0, False, f"on demand, steps, {'bf16' if ex.amp else 'fp32'} (amp={amp})", rows)
        del ex

    prefetch_runs = [] if args.on_demand_only else itertools.product(args.prefetch_threads, (False, True))
    for threads, jumps in prefetch_runs:  # fresh explorers
        default_cache().clear()  # HEVC rate control probes
        ex = Explorer(crop=args.crop, metrics=args.metrics, prefetch=True, prefetch_threads=threads)
        label = f"prefetch, {args.dwell:g} s dwell, {'random jumps' if jumps else 'steps'}"
        label += "" if threads is None else f", {threads} prefetch thread{'s' * (threads > 1)}"
        run(ex, args.moves, args.dwell, jumps, label, rows)
        t0 = time.perf_counter()
        ex.wait_prefetched()
        print(f"{label}: prefetch of every neighbour finished {time.perf_counter() - t0:.1f} s "
              "after the last move")
        del ex

    print(f"\nExplorer redraw latency, {args.crop}x{args.crop} view, {torch.get_num_threads()} "
          f"threads, metrics {'+'.join(args.metrics)} (ms)\n")
    print("| control | scenario | moves | median | p90 |")
    print("|---|---|---:|---:|---:|")
    for label, kind, ms in rows:
        ms_sorted = sorted(ms)
        p90 = ms_sorted[min(len(ms) - 1, int(0.9 * len(ms)))] if ms else float("nan")
        median = statistics.median(ms) if ms else float("nan")
        print(f"| {label} | {kind} | {len(ms)} | {median:.0f} | {p90:.0f} |")
    return rows


if __name__ == "__main__":
    main()
