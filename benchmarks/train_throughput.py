"""Training throughput (images/s) of each model family: the trainer against a plain loop.

For each family, one run measures, side by side on the same machine:

* **trainer**: :class:`jscc_lab.train.Trainer`'s own ``training_step`` for the family's config:
  fp32 ``channels_last``, decoded crops held in memory as uint8, no DataLoader worker processes
  (on 2 cores a worker steals a compute core), ``threads`` torch threads, and the config's frozen
  modules (the pretrained TAEF2 encoder computes no gradients);
* **plain**: the loop most code starts from, on the same network and objective: fp32 NCHW eager,
  every crop decoded from its JPEG/PNG file when it is drawn, all parameters trained.

Steps are timed after ``--warmup`` untimed ones; the median step time is reported.

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 python benchmarks/train_throughput.py
    python benchmarks/train_throughput.py --families taejscc-image --steps 6
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from jscc_lab.data import load_image
from jscc_lab.train import TrainConfig, Trainer, latent_mse_objective, mse_objective, train_files

#: family -> TrainConfig fields (crop and batch from the command line)
FAMILIES = {
    "adjscc": dict(model="adjscc", cbr="1/48", width=64),
    "taejscc-latent": dict(model="taejscc", width=192, blocks=4, loss="latent",
                           freeze=["ae_encoder", "ae_decoder"], train_dirs=["imagenet_samples"]),
    "taejscc-image": dict(model="taejscc", width=192, blocks=4, loss="image", freeze=["ae_encoder"],
                          pretrained_modules=["ae_decoder"], pretrained_lr_fraction=0.1,
                          train_dirs=["imagenet_samples"]),
}


def trainer_rate(family: str, crop: int, batch: int, steps: int, warmup: int, threads: int, tmp) -> float:
    cfg = TrainConfig(name=family, crop=crop, batch_size=batch, steps=steps + warmup, threads=threads,
                      device="cpu", out_dir=str(tmp), **FAMILIES[family])
    trainer = Trainer(cfg, progress=False)
    trainer.model.train()
    _ = trainer.data  # images decoded into memory before timing (done once per run)
    times = []
    for step in range(steps + warmup):
        t0 = time.perf_counter()
        trainer.training_step(step)
        if step >= warmup:
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


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
    cbrs = getattr(model, "cbrs", None)
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


def main(argv=None) -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    print(f"crop {args.crop}, batch {args.batch}, {args.threads} threads, median of {args.steps} steps "
          f"after {args.warmup} warm-up (torch {torch.__version__})")
    print("| family | trainer (img/s) | plain fp32 NCHW loop (img/s) | speed-up |")
    print("|---|---|---|---|")
    for family in args.families:
        with tempfile.TemporaryDirectory() as tmp:
            fast = trainer_rate(family, args.crop, args.batch, args.steps, args.warmup, args.threads, tmp)
        plain = plain_rate(family, args.crop, args.batch, args.steps, args.warmup, args.threads)
        print(f"| {family} | {fast:.2f} | {plain:.2f} | {fast / plain:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
