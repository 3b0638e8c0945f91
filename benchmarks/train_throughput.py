"""Training throughput (images/s) of each model family in fp32 NCHW, fp32 channels_last and bf16.

For each family, the trainer's own ``training_step`` (:class:`jscc_lab.train.Trainer`: decoded
crops in memory, no DataLoader workers, ``threads`` torch threads, the config's frozen modules) is
timed in three precisions, side by side: **fp32 NCHW** (``amp="none"``, ``channels_last=False``),
**fp32 channels_last** (``amp="none"``) and **bf16** (``amp="bf16"``: bf16 autocast, channels_last).
The three trainers take their steps in turn (step t of each, then step t+1), so load from other
processes on a shared CPU falls on all three alike. Also printed: what ``amp="auto"`` chose here and
why (:func:`jscc_lab.precision.choose_amp`) and the CPU model. ``--plain`` adds the loop most code
starts from (fp32 NCHW eager, crops decoded from files per draw, all parameters trained).

Steps are timed after ``--warmup`` untimed ones; the median step time is reported.

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 python benchmarks/train_throughput.py
    python benchmarks/train_throughput.py --families taejscc-image adjscc --crop 64 --batch 4 --steps 4 \\
        --json benchmarks/results/train_throughput.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from jscc_lab.data import load_image
from jscc_lab.precision import choose_amp, cpu_name
from jscc_lab.train import TrainConfig, Trainer, latent_mse_objective, mse_objective, train_files

#: precision -> what it asks the trainer for
PRECISIONS = {"fp32 NCHW": dict(amp="none", channels_last=False),
              "fp32 channels_last": dict(amp="none", channels_last=True),
              "bf16": dict(amp="bf16", channels_last=True)}

#: family -> TrainConfig fields (crop and batch from the command line)
FAMILIES = {
    "adjscc": dict(model="adjscc", cbr="1/48", width=64),
    "taejscc-latent": dict(model="taejscc", width=192, blocks=4, loss="latent",
                           freeze=["ae_encoder", "ae_decoder"], train_dirs=["imagenet_samples"]),
    "taejscc-image": dict(model="taejscc", width=192, blocks=4, loss="image", freeze=["ae_encoder"],
                          pretrained_modules=["ae_decoder"], pretrained_lr_fraction=0.1,
                          train_dirs=["imagenet_samples"]),
}


def trainer_rates(family: str, crop: int, batch: int, steps: int, warmup: int, threads: int,
                  tmp) -> dict[str, float]:
    """Images/s of the trainer's ``training_step`` in each of :data:`PRECISIONS` (median step),
    the three trainers stepping in turn from the same seed."""
    trainers = {}
    for label, kwargs in PRECISIONS.items():
        cfg = TrainConfig(name=family, crop=crop, batch_size=batch, steps=steps + warmup, threads=threads,
                          device="cpu", out_dir=str(Path(tmp) / label.replace(" ", "_")), **kwargs,
                          **FAMILIES[family])
        trainer = Trainer(cfg, progress=False)
        trainer.model.train()
        _ = trainer.data  # images decoded into memory before timing (done once per run)
        trainers[label] = trainer
    times: dict[str, list[float]] = {label: [] for label in trainers}
    for step in range(steps + warmup):
        for label, trainer in trainers.items():
            t0 = time.perf_counter()
            trainer.training_step(step)
            if step >= warmup:
                times[label].append(time.perf_counter() - t0)
    return {label: batch / statistics.median(ts) for label, ts in times.items()}


def plain_rate(family: str, crop: int, batch: int, steps: int, warmup: int, threads: int) -> float:
    """fp32 NCHW eager loop: same network and objective, crops decoded from files per draw."""
    cfg = TrainConfig(name=family, crop=crop, batch_size=batch, device="cpu", **FAMILIES[family])
    torch.set_num_threads(threads)
    spec = cfg.model_spec()
    from jscc_lab.models import build_model

    model = build_model(spec["name"], channel=spec["channel"], **spec["kwargs"]).train()
    files = train_files(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    objective = latent_mse_objective if cfg.loss == "latent" else mse_objective
    rng = torch.Generator().manual_seed(0)
    cbrs = model.cbrs
    times = []
    for step in range(steps + warmup):
        t0 = time.perf_counter()
        crops = []
        while len(crops) < batch:
            im = load_image(files[int(torch.randint(len(files), (1,), generator=rng))])
            h, w = im.shape[-2:]
            if min(h, w) < crop:
                continue
            top = int(torch.randint(h - crop + 1, (1,), generator=rng))
            left = int(torch.randint(w - crop + 1, (1,), generator=rng))
            crops.append(im[..., top : top + crop, left : left + crop])
        x = torch.cat(crops)
        snr = 20 * torch.rand(batch, generator=rng)
        kw = {}
        if cbrs is not None:
            kw["cbr"] = torch.tensor(cbrs, dtype=torch.float64)[torch.randint(len(cbrs), (batch,), generator=rng)]
        loss, _ = objective(model, x, snr, torch.Generator().manual_seed(step), **kw)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step >= warmup:
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def main(argv=None) -> dict:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plain", action="store_true", help="also time the plain fp32 NCHW loop")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    auto, reason = choose_amp("cpu", "auto")
    doc = {"cpu": cpu_name(), "torch": str(torch.__version__), "threads": args.threads, "crop": args.crop,
           "batch": args.batch, "steps": args.steps, "warmup": args.warmup,
           "auto": {"bf16": auto, "reason": reason}, "images_per_s": {}}
    print(f"{doc['cpu']}; crop {args.crop}, batch {args.batch}, {args.threads} threads, median of "
          f"{args.steps} steps after {args.warmup} warm-up (torch {torch.__version__})")
    print(f"amp=auto chose {reason}\n")
    columns = list(PRECISIONS) + (["plain fp32 NCHW loop"] if args.plain else [])
    for family in args.families:  # the trainers print their precision: the table comes after
        with tempfile.TemporaryDirectory() as tmp:
            rates = trainer_rates(family, args.crop, args.batch, args.steps, args.warmup, args.threads, tmp)
        if args.plain:
            rates["plain fp32 NCHW loop"] = plain_rate(family, args.crop, args.batch, args.steps, args.warmup,
                                                       args.threads)
        doc["images_per_s"][family] = {k: round(v, 3) for k, v in rates.items()}
    print("\n| family | " + " | ".join(f"{c} (img/s)" for c in columns) + " | bf16 / fp32 channels_last | auto |")
    print("|---|" + "---|" * (len(columns) + 2))
    for family, rates in doc["images_per_s"].items():
        ratio = rates["bf16"] / rates["fp32 channels_last"]
        print(f"| {family} | " + " | ".join(f"{rates[c]:.2f}" for c in columns)
              + f" | {ratio:.2f}x | {'bf16' if auto else 'fp32'} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    return doc


if __name__ == "__main__":
    main()
