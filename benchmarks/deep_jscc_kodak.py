"""Quality and speed of the shipped deep JSCC checkpoints.

1. Quality: every checkpoint in ``jscc_lab.pretrained`` on Kodak-24 (full 768x512 images) over
   AWGN SNR {0, 5, 10, 15, 20} dB: PSNR, plus MS-SSIM / LPIPS when ``jscc_lab.metrics.evaluate``
   is available. Channel noise is seeded, so the table is reproducible.
2. Speed: images/s of a training step and of inference, for the ADJSCC model at the shipped
   (CPU) width and at the paper's width 256, on the CPU and (if present) on CUDA, where eager
   fp32 and bf16 + channels_last are measured in the same run.

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 python benchmarks/deep_jscc_kodak.py
    python benchmarks/deep_jscc_kodak.py --snr 10 --images 24 --no-speed   # one column only
"""

from __future__ import annotations

import argparse
import time

import torch

from jscc_lab import pretrained
from jscc_lab.data import kodak
from jscc_lab.metrics import psnr
from jscc_lab.models import build_model


def _extra_metrics():
    """``jscc_lab.metrics.evaluate`` and its metric names, when the metrics module has them."""
    try:
        from jscc_lab.metrics import evaluate
    except ImportError:
        return None, []
    return evaluate, ["ms_ssim", "lpips"]


def quality_table(names, snrs, n_images, seed=0, extra=True) -> str:
    images = kodak()[:n_images]
    evaluate, metric_names = _extra_metrics() if extra else (None, [])
    header = ["checkpoint", "metric"] + [f"{s:g} dB" for s in snrs]
    rows = []
    for name in names:
        model = pretrained.load(name)
        scores = {m: [] for m in ["psnr", *metric_names]}
        for snr in snrs:
            g = torch.Generator().manual_seed(seed)
            per = {m: [] for m in scores}
            with torch.no_grad():
                for x in images:
                    x_hat = model(x, float(snr), generator=g)
                    per["psnr"].append(psnr(x, x_hat).item())
                    if evaluate is not None:
                        res = evaluate(x, x_hat.clamp(0, 1), metrics=metric_names)
                        for m in metric_names:
                            per[m].append(float(res[m].mean()))
            for m in scores:
                scores[m].append(sum(per[m]) / len(per[m]))
        for m, values in scores.items():
            rows.append([name, m] + [f"{v:.4f}" if m != "psnr" else f"{v:.2f}" for v in values])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _time(fn, repeats):
    fn()  # warm-up
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats


def throughput(width, size, batch, device, bf16=False, channels_last=False, repeats=3):
    """``(train images/s, inference images/s)`` of ADJSCC (CBR 1/12) at ``size x size``."""
    model = build_model("adjscc", cbr="1/12", width=width).to(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=fmt)
    snr = torch.rand(batch, device=device) * 20
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = (model(x, snr) - x).float().square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync()

    def infer():
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            model(x, snr)
        sync()

    return batch / _time(step, repeats), batch / _time(infer, repeats)


def speed_table(threads: int) -> str:
    torch.set_num_threads(threads)
    cases = [("cpu", 64, 64, 16, False, False), ("cpu", 64, 256, 2, False, False),
             ("cpu", 256, 256, 1, False, False)]
    if torch.cuda.is_available():
        cases += [("cuda", 256, 256, 16, False, False), ("cuda", 256, 256, 16, True, True)]
    lines = ["| device | width | crop | batch | precision | train img/s | inference img/s |",
             "|---|---|---|---|---|---|---|"]
    for dev, width, size, batch, bf16, cl in cases:
        device = torch.device(dev)
        name = torch.cuda.get_device_name() if dev == "cuda" else f"CPU, {threads} threads"
        tr, inf = throughput(width, size, batch, device, bf16, cl)
        precision = "bf16 + channels_last" if bf16 else "fp32 eager"
        lines.append(f"| {name} | {width} | {size} | {batch} | {precision} | {tr:.1f} | {inf:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--snr", type=float, nargs="+", default=[0, 5, 10, 15, 20])
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images")
    parser.add_argument("--names", nargs="+", default=None, help="checkpoints (default: all)")
    parser.add_argument("--no-extra", action="store_true", help="PSNR only")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.no_quality:
        names = args.names or pretrained.available()
        print(f"## Kodak-{args.images}, AWGN, mean over images\n")
        print(quality_table(names, args.snr, args.images, extra=not args.no_extra))
    if not args.no_speed:
        print("\n## Throughput (ADJSCC, CBR 1/12)\n")
        print(speed_table(args.threads))


if __name__ == "__main__":
    main()
