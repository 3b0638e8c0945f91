"""Time each metric of ``jscc_lab.metrics`` on one 768x512 Kodak pair; print a markdown table.

Median of ``--repeats`` timed calls after ``--warmup`` untimed ones (the untimed calls also
build and cache the LPIPS / DISTS networks, whose one-off build time is reported separately).
Runs on the CPU, and on CUDA when a GPU is present. For the deep metrics a second column times
a ``Scorer`` call whose original's features are already cached (one more reconstruction of the
same image, as in sweeps and the explorer).

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 python benchmarks/metrics_speed.py
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from jscc_lab.data import kodak
from jscc_lab.distortions import jpeg
from jscc_lab.metrics import DISTS, LPIPS, Scorer, higher_is_better, ms_ssim, psnr, ssim

METRICS = {
    "psnr": lambda: psnr,
    "ssim": lambda: ssim,
    "ms_ssim": lambda: ms_ssim,
    "ms_ssim_gray": lambda: (lambda x, x_hat: ms_ssim(x, x_hat, grayscale=True)),
    "lpips": lambda: LPIPS("alex"),
    "lpips_vgg": lambda: LPIPS("vgg"),
    "dists": lambda: DISTS(),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_metric(fn, x, x_hat, warmup: int, repeats: int) -> float:
    """Median wall time of ``fn(x, x_hat)`` in milliseconds, without gradients."""
    with torch.no_grad():
        for _ in range(warmup):
            fn(x, x_hat)
        _sync(x.device)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn(x, x_hat)
            _sync(x.device)
            times.append(1000.0 * (time.perf_counter() - start))
    return statistics.median(times)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--metrics", nargs="+", default=list(METRICS), choices=list(METRICS))
    args = parser.parse_args(argv)

    image = next(im for im in kodak() if im.shape[-1] == 768)  # kodim01, 768x512
    x = image
    x_hat, bpp = jpeg(x, quality=30)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])

    builds, rows, scored = {}, {}, {}
    for name in args.metrics:
        start = time.perf_counter()
        fn = METRICS[name]()
        builds[name] = 1000.0 * (time.perf_counter() - start)
        rows[name] = [time_metric(fn, x.to(d), x_hat.to(d), args.warmup, args.repeats) for d in devices]
        if hasattr(fn, "features"):
            scorer = Scorer((name,))  # the warm-up call caches the original's features
            scored[name] = time_metric(scorer, x, x_hat, max(1, args.warmup), args.repeats)

    cpu = platform.processor() or platform.machine()
    header = (f"Metric time for one 768x512 pair (kodim01 vs its JPEG q30 at {bpp.item():.2f} bpp), "
              f"median of {args.repeats} runs after {args.warmup} warm-up runs; torch "
              f"{torch.__version__}, CPU threads: {torch.get_num_threads()} ({cpu})"
              + (f", GPU {torch.cuda.get_device_name()}" if len(devices) > 1 else ", no GPU") + ".\n")
    columns = ["CPU ms"] + (["CUDA ms"] if len(devices) > 1 else [])
    lines = ["| metric | better | " + " | ".join(columns) + " | CPU ms, original cached (`Scorer`) "
             "| first-call build ms |",
             "|---|---|" + "---:|" * len(columns) + "---:|---:|"]
    for name, times in rows.items():
        better = "higher" if higher_is_better(name) else "lower"
        cells = " | ".join(f"{t:.1f}" for t in times)
        cached = f"{scored[name]:.1f}" if name in scored else ""
        lines.append(f"| `{name}` | {better} | {cells} | {cached} | {builds[name]:.0f} |")
    table = header + "\n" + "\n".join(lines)
    print(table)
    return table


if __name__ == "__main__":
    main()
