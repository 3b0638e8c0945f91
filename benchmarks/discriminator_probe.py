"""Can the discriminator see the generator's fakes? A fresh D trained against a frozen generator.

A GAN stage whose logs show ``d_acc`` near 0.5 and ``d_loss`` near 2 ln 2 = 1.386 has a
discriminator at chance: its gradient tells the generator nothing, and the realism weight beta
has nothing to turn up. Two causes look alike in those logs: D *cannot* tell the fakes apart (its
capacity, spectral norm, the conditioning), or D *can* but the generator, updated as often and as
fast, keeps moving to where D is at chance. This probe separates them: it takes a GAN checkpoint's
generator, freezes it, and trains a fresh discriminator of the checkpoint's config for
``--steps`` steps at each ``--d-lr`` on the same training crops, betas, SNRs and CBRs
(:meth:`jscc_lab.train.GANTrainer.discriminator_step`, the trainer's own D update). If D's
accuracy climbs well above 0.5 against the frozen generator, it can see the fakes, and a run that
sits at chance is a race the generator wins: a higher D learning rate (two time-scale update rule,
Heusel et al. 2017) is the lever.

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 OMP_NUM_THREADS=1 python benchmarks/discriminator_probe.py \\
        ~/.cache/jscc_lab/runs/taejscc-gan-mse001/last.pt --d-lr 1e-4 1e-3 --steps 150
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import torch

from jscc_lab.evaluate import save_json
from jscc_lab.pretrained import load_checkpoint
from jscc_lab.train import GANTrainer, PerceptualTrainConfig


def probe(checkpoint: Path, d_lr: float, steps: int, log_every: int = 10) -> list[dict]:
    """Train a fresh discriminator for ``steps`` steps against the frozen generator of
    ``checkpoint`` (a GAN trainer checkpoint); returns the logs of every step
    (``step``, ``d_loss``, ``d_real``, ``d_fake``, ``d_acc``), printing a line every ``log_every``."""
    config = load_checkpoint(checkpoint).get("config") or {}
    if config.get("stage") != "gan":
        raise ValueError(f"checkpoint must be a GAN trainer checkpoint (config stage = 'gan'), got {checkpoint}")
    if not d_lr > 0:
        raise ValueError(f"d_lr must be > 0, got {d_lr}")
    fields = {f.name for f in dataclasses.fields(PerceptualTrainConfig)}
    with tempfile.TemporaryDirectory() as tmp:
        c = PerceptualTrainConfig(**{k: v for k, v in config.items() if k in fields})
        c = dataclasses.replace(c, init_from=str(checkpoint), init_discriminator=False, d_lr=d_lr, steps=steps,
                                out_dir=tmp, max_minutes=0.0, val_images=0)
        trainer = GANTrainer(c, progress=False)
    trainer.model.train().requires_grad_(False)
    logs, start = [], time.perf_counter()
    for step in range(steps):
        batches = [(*trainer.micro_batch(step, m), trainer.betas(step, m), trainer.conditions(step, m))
                   for m in range(c.grad_accum)]
        with torch.no_grad():
            outputs = [trainer.net(x, snr, beta=beta, generator=noise, return_latent=True, **cond)
                       for x, snr, noise, beta, cond in batches]
        logs.append({"step": step + 1, **trainer.discriminator_step(step, batches, outputs)})
        if (step + 1) % log_every == 0:
            recent = logs[-log_every:]
            print(f"d_lr={d_lr:g} step {step + 1}: d_loss={statistics.mean(r['d_loss'] for r in recent):.3f} "
                  f"d_acc={statistics.mean(r['d_acc'] for r in recent):.2f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    return logs


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path, help="a GAN trainer checkpoint (a run's last.pt)")
    p.add_argument("--d-lr", type=float, nargs="+", default=[1e-4, 1e-3], help="discriminator learning rates")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--tail", type=int, default=50, help="steps at the end the summary averages over")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    if args.steps < 1 or not 1 <= args.tail <= args.steps:
        p.error(f"--steps must be >= 1 and --tail in [1, steps], got {args.steps} and {args.tail}")
    if not args.checkpoint.is_file():
        p.error(f"checkpoint: no file at {args.checkpoint}")
    torch.set_num_threads(args.threads)
    runs = {lr: probe(args.checkpoint, lr, args.steps) for lr in args.d_lr}
    summary = {f"{lr:g}": {k: statistics.mean(r[k] for r in logs[-args.tail:]) for k in ("d_loss", "d_acc")}
               for lr, logs in runs.items()}
    print(f"\nfresh discriminator vs the frozen generator of {args.checkpoint}, mean of the last {args.tail} "
          f"of {args.steps} steps (chance: d_acc 0.5, d_loss 1.386)\n")
    print("| d_lr | d_loss | d_acc |\n|---|---:|---:|")
    for lr, s in summary.items():
        print(f"| {lr} | {s['d_loss']:.3f} | {s['d_acc']:.2f} |")
    result = {"checkpoint": str(args.checkpoint), "steps": args.steps, "tail": args.tail, "threads": args.threads,
              "summary": summary, "logs": {f"{lr:g}": logs for lr, logs in runs.items()}}
    if args.json:
        save_json(result, args.json)
    return result


if __name__ == "__main__":
    main()
