"""How long the paper-size GPU configs take on a free Colab GPU (NVIDIA T4), estimated from FLOPs.

Counts the floating-point operations of one real training step of each GPU config
(``jscc_lab/configs/perceptual_gpu_stage1.toml`` and ``perceptual_gpu_gan.toml``: the trainer's
own ``training_step``, LPIPS and the discriminator included) with
``torch.utils.flop_counter.FlopCounterMode`` on the CPU, then divides by what a T4 delivers.
The T4 (Turing) has no bf16, so ``amp="auto"`` trains in fp32 there: peak 8.1 TFLOPS (NVIDIA's
datasheet); convolutional training reaches a fraction of it, here 30 % to 50 % (model FLOPs
utilisation). It is an estimate until measured on a T4 (``benchmarks/gpu_burst.py`` measures
throughput on any GPU it is given).

Run::

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 python benchmarks/colab_time.py
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {"stage 1 (MSE + LPIPS)": "perceptual_gpu_stage1.toml", "stage 2 (GAN)": "perceptual_gpu_gan.toml"}
T4_FP32_TFLOPS = 8.1  # NVIDIA T4 datasheet, single precision
MFU = (0.3, 0.5)
DEFAULT_OUT = REPO / "benchmarks" / "results" / "colab_time.json"


def flops_per_step(config_file: str, batches: int = 1) -> dict:
    """FLOPs of one training step of a config at its real sizes (on the CPU), and its step count."""
    from torch.utils.flop_counter import FlopCounterMode

    from jscc_lab.train import GANTrainer, load_config
    from jscc_lab.train.config import PerceptualTrainConfig

    cfg = load_config(REPO / "jscc_lab" / "configs" / config_file, cls=PerceptualTrainConfig)
    steps = cfg.steps
    cfg = dataclasses.replace(cfg, device="cpu", init_from="", init_encoder_from="", val_images=2,
                              sample_every=0, steps=2, out_dir=str(Path("/tmp") / "colab_time"), amp="none",
                              num_workers=0)
    trainer = GANTrainer(cfg, progress=False)
    trainer.model.train()
    with FlopCounterMode(display=False) as counter:
        trainer.training_step(0)
    return {"flops_per_step": counter.get_total_flops(), "steps": steps, "crop": cfg.crop,
            "batch_size": cfg.batch_size, "params": sum(p.numel() for p in trainer.model.parameters())}


def estimate(flops: int, steps: int) -> dict:
    """Hours on a T4 at the utilisations of :data:`MFU` (best, worst)."""
    return {f"hours_at_{int(100 * m)}pct": round(flops * steps / (T4_FP32_TFLOPS * 1e12 * m) / 3600, 1)
            for m in MFU}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rows = {}
    for label, config in CONFIGS.items():
        t = time.perf_counter()
        row = flops_per_step(config)
        row.update(estimate(row["flops_per_step"], row["steps"]), config=config,
                   cpu_seconds_to_count=round(time.perf_counter() - t, 1))
        rows[label] = row
        print(f"{label} ({config}): {row['flops_per_step'] / 1e12:.2f} TFLOP per step (batch {row['batch_size']}, "
              f"crop {row['crop']}), {row['steps']} steps: {row['hours_at_50pct']} to {row['hours_at_30pct']} h "
              f"on a T4 (fp32, 50 % to 30 % of its {T4_FP32_TFLOPS} TFLOPS)", flush=True)
    result = {"device": "NVIDIA T4 (Colab free tier), estimated", "t4_fp32_tflops": T4_FP32_TFLOPS,
              "mfu": list(MFU), "torch": torch.__version__, "configs": rows}
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
