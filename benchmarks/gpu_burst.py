"""One command for a short GPU lease: check, measure, train, bring the checkpoints back.

On one CUDA device, within ``--minutes`` (everything included):

(a) environment: torch sees the GPU, a bf16 matrix product is right and fast, bf16 channels_last
    convolutions run, the weight files and the shipped checkpoint are there (seconds);
(b) training throughput of every GPU config family (``jscc_lab/configs/*gpu*.toml``,
    ``taejscc_*.toml``), through the trainers' own ``training_step``: fp32 eager NCHW against
    bf16 autocast + channels_last, eager and ``torch.compile``d; images/s and model FLOPs
    utilisation (training-step FLOPs counted with ``torch.utils.flop_counter.FlopCounterMode``);
(c) training, in this order, with the existing trainers (:func:`jscc_lab.train.Trainer.fit`,
    :class:`jscc_lab.train.GANTrainer`): the perceptual TAEJSCC (stage 1 from the shipped
    ``taejscc-psnr-awgn.pt``, then the GAN stage), the PSNR TAEJSCC (continued from the shipped
    one), the paper-size perceptual JSCC (stage 1, then GAN). Each stage gets a share of the time
    left, its steps from the measured throughput and ``max_minutes`` as a hard stop;
(d) one output folder: ``gpu_burst.json`` (environment, throughput, plan, training curves),
    ``gpu_burst.log``, ``checkpoints/<name>.pt.zNN`` (float16 exports, zlib-compressed, cut into
    parts under 16 MiB: the device tool returns at most 8 files of 16 MiB, 64 MiB in all).
    Each checkpoint is written as soon as its stage ends, and the JSON after every step above.

    python benchmarks/gpu_burst.py --prepare-data .carry/gpu_burst           # CPU machine, once
    python3 benchmarks/gpu_burst.py --data .carry/gpu_burst --out $OUT --minutes 8   # GPU
    python benchmarks/gpu_burst.py --collect FOLDER --into runs/gpu_burst     # CPU: join + check
    python benchmarks/gpu_burst.py --device cpu --minutes 0.5 --tiny --out DIR   # CPU rehearsal

See docs/training.md, "Training on a GPU".
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import traceback
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the GPU machine runs it without `pip install -e .`
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from jscc_lab import __version__  # noqa: E402

CONFIGS = REPO / "jscc_lab" / "configs"
SHIPPED = REPO / "assets" / "checkpoints" / "taejscc-psnr-awgn.pt"
FORMAT = "jscc_lab.gpu_burst/1"
MIB = 1 << 20
PART_BYTES = 16_000_000  # < 16 MiB, the device tool's limit per returned file
#: weight files the pack always carries: LPIPS-alex of the perceptual loss (plus those the shipped
#: starting checkpoint leaves to a published file: :func:`pack_weights`)
PACK_WEIGHTS = ("alexnet_features",)
RETURN_FILES, RETURN_BYTES = 8, 64 * MIB  # the device tool's limits for the output folder

#: family -> config file (the TOML's ``stage`` key picks the GAN trainer)
FAMILIES = {
    "taejscc_perceptual_stage1": "taejscc_perceptual_stage1.toml",
    "taejscc_perceptual_gan": "taejscc_perceptual_gan.toml",
    "taejscc_psnr": "taejscc_psnr_full.toml",
    "perceptual_stage1": "perceptual_gpu_stage1.toml",
    "perceptual_gan": "perceptual_gpu_gan.toml",
    "adjscc": "adjscc_gpu.toml",
}
#: training order: (family, share of the time left, warm start: the shipped file or a stage)
STAGES = [
    ("taejscc_perceptual_stage1", 0.2, SHIPPED),
    ("taejscc_perceptual_gan", 0.3, "taejscc_perceptual_stage1"),
    ("taejscc_psnr", 0.2, SHIPPED),
    ("perceptual_stage1", 0.15, None),
    ("perceptual_gan", 0.15, "perceptual_stage1"),
]
#: dense peak TFLOP/s (SXM); "tf32" is what fp32 convolutions run at (cudnn.allow_tf32, torch's default)
PEAK_TFLOPS = {"H100": {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9},
               "H200": {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9}}
COMPILE_DEFAULT = "adjscc,perceptual_gan,taejscc_perceptual_gan"


# ---------------------------------------------------------------------------------------------
# output: the JSON report, the log, returned files
# ---------------------------------------------------------------------------------------------


class _Tee:
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for s in self.streams:
            s.write(text)
            s.flush()
        return len(text)

    def flush(self):
        for s in self.streams:
            s.flush()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Report(dict):
    """The run's JSON, rewritten (atomically) whenever :meth:`save` is called."""

    def __init__(self, path: Path, **fields):
        super().__init__(format=FORMAT, **fields)
        self.path = path

    def save(self) -> None:
        _write_atomic(self.path, json.dumps(self, indent=1, default=str).encode())


def _error(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------------------------
# (a) environment
# ---------------------------------------------------------------------------------------------


def check_environment(device: torch.device) -> dict:
    """Versions, the device, a bf16 matmul (error vs fp32, TFLOP/s), a bf16 channels_last conv
    step, and the files training needs; ``problems`` lists what failed."""
    from jscc_lab import pretrained
    from jscc_lab.weights import find_on_disk

    env = {"python": platform.python_version(), "torch": torch.__version__, "jscc_lab": __version__,
           "cuda_available": torch.cuda.is_available(), "cpu_count": os.cpu_count(),
           "torch_threads": torch.get_num_threads(), "problems": []}
    try:
        env["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                                           text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        env["git_commit"] = None
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(device=props.name, capability=f"{props.major}.{props.minor}",
                   memory_gib=round(props.total_memory / 2**30, 1), multiprocessors=props.multi_processor_count,
                   bf16_supported=torch.cuda.is_bf16_supported(), cudnn=torch.backends.cudnn.version(),
                   tf32_conv=torch.backends.cudnn.allow_tf32, tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
    else:
        env["device"] = f"CPU ({platform.processor() or platform.machine()})"
    n = 8192 if device.type == "cuda" else 512
    try:
        g = torch.Generator(device=device).manual_seed(0)
        a = torch.randn(n, n, device=device, generator=g)
        b = torch.randn(n, n, device=device, generator=g)
        ref = a[:256] @ b
        low = (a[:256].bfloat16() @ b.bfloat16()).float()
        env["bf16_matmul_rel_error"] = float((low - ref).norm() / ref.norm())
        a16, b16 = a.bfloat16(), b.bfloat16()
        for _ in range(2):
            a16 @ b16
        _sync(device)
        t = time.perf_counter()
        for _ in range(5):
            a16 @ b16
        _sync(device)
        env["bf16_matmul_tflops"] = round(5 * 2 * n**3 / (time.perf_counter() - t) / 1e12, 2)
        if env["bf16_matmul_rel_error"] > 2e-2:
            env["problems"].append(f"bf16 matmul error {env['bf16_matmul_rel_error']:.3g} vs fp32")
        conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(device, memory_format=torch.channels_last)
        x = torch.randn(8, 64, 64, 64, device=device).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            y = conv(x)
        y.float().square().mean().backward()
        env["bf16_conv_dtype"] = str(y.dtype)
        if not (torch.isfinite(y).all() and torch.isfinite(conv.weight.grad).all()):
            env["problems"].append("bf16 channels_last conv gave non-finite values")
    except Exception as err:  # noqa: BLE001 - reported, the run goes on
        env["problems"].append(f"bf16 check failed: {_error(err)}")
    files = {}
    for name in ("alexnet_features", "taef2_encoder", "taef2_decoder"):
        try:
            found = find_on_disk(name)
        except Exception as err:  # noqa: BLE001
            found, files[name + "_error"] = None, _error(err)
        files[name] = str(found) if found else None
    files["shipped_taejscc"] = str(SHIPPED) if SHIPPED.is_file() else None
    if SHIPPED.is_file() and pretrained.sha256_of(SHIPPED) != pretrained.info("taejscc-psnr-awgn")["sha256"]:
        env["problems"].append(f"{SHIPPED.name} does not match its registry hash")
    env["files"] = files
    if not files["alexnet_features"]:
        env["problems"].append("no alexnet_features.pth: the perceptual stages (LPIPS) will fail")
    for name in pack_weights() if SHIPPED.is_file() else ():
        if name in files and not files[name]:
            env["problems"].append(f"no {name}.pth: {SHIPPED.name} leaves weights to it; the TAEJSCC stages will fail")
    if not files["shipped_taejscc"]:
        env["problems"].append(f"no {SHIPPED}: the TAEJSCC stages will fail")
    try:
        import lpips

        env["lpips"] = getattr(lpips, "__version__", "present")
    except ImportError:
        env["problems"].append("the lpips package is missing: the perceptual stages will fail")
    return env


# ---------------------------------------------------------------------------------------------
# configs and trainers
# ---------------------------------------------------------------------------------------------


def stage_config(family: str, args, **overrides):
    """The family's TOML config with this run's device, data and size overrides (then ``overrides``)."""
    from jscc_lab.train import PerceptualTrainConfig, TrainConfig, load_config

    path = CONFIGS / FAMILIES[family]
    with open(path, "rb") as f:
        cls = PerceptualTrainConfig if "stage" in tomllib.load(f) else TrainConfig
    cfg = load_config(path, cls=cls)
    tae = cfg.model == "taejscc"
    fields = dict(device=args.device, val_images=args.val_images, val_batch=min(cfg.val_batch, 16),
                  num_workers=4 if args.device.startswith("cuda") else 0, sample_every=0,
                  init_from="", init_encoder_from="")
    if tae:
        fields["init_from"] = str(SHIPPED)
        if args.device.startswith("cuda"):
            fields.update(crop=256, val_crop=256)  # what the taejscc configs advise on a GPU
    if args.data:
        fields.update(train_dir=str(Path(args.data) / "data" / "train"), train_dirs=[],
                      val_dir=str(Path(args.data) / "data" / "val"))
    if args.tiny:
        fields.update(crop=32, batch_size=2, val_crop=32, val_batch=2, num_workers=0, threads=1,
                      d_filters=[8, 8, 16, 16])
        if not tae:  # the TAEJSCC keeps the shipped checkpoint's size (it starts from it)
            fields.update(width=16, generator_width=16, res_blocks=1)
    fields.update(overrides)
    names = {f.name for f in dataclasses.fields(cls)}
    return dataclasses.replace(cfg, **{k: v for k, v in fields.items() if k in names})


def make_trainer(cfg, crops: dict):
    """A Trainer / GANTrainer for ``cfg`` whose decoded training images are shared via ``crops``."""
    from jscc_lab.train import GANTrainer, PerceptualTrainConfig, Trainer

    trainer = (GANTrainer(cfg, progress=False) if isinstance(cfg, PerceptualTrainConfig)
               else Trainer(cfg, progress=False))
    key = (cfg.train_dir, tuple(cfg.train_dirs), tuple(cfg.train_splits), cfg.crop)
    if key not in crops:
        crops[key] = trainer.data  # decoded once per run, not once per trainer
    data = copy.copy(crops[key])
    data.length, data.seed, data.epoch = cfg.steps * trainer.images_per_step, cfg.seed, 0
    trainer._data = data
    return trainer


def _free(device: torch.device, compiled: bool = False) -> None:
    import gc

    if compiled:
        import torch._dynamo

        torch._dynamo.reset()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------
# (b) throughput
# ---------------------------------------------------------------------------------------------


#: what each variant asks the trainer for (on a CPU, amp="bf16" runs bf16 autocast too: see jscc_lab.precision)
VARIANTS = {"fp32_eager": dict(amp="none", channels_last=False, compile=False),
            "bf16_cl_eager": dict(amp="bf16", channels_last=True, compile=False),
            "bf16_cl_compile": dict(amp="bf16", channels_last=True, compile=True)}


def peak_tflops(device: torch.device, args) -> dict:
    """``{"bf16": ..., "fp32_eager": ..., "source": ...}`` (None where unknown: no MFU then)."""
    known = {}
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        known = next((v for k, v in PEAK_TFLOPS.items() if k in name), {})
    fp32 = known.get("tf32" if torch.backends.cudnn.allow_tf32 else "fp32")
    peaks = {"bf16": args.peak_bf16_tflops or known.get("bf16"), "fp32_eager": args.peak_fp32_tflops or fp32}
    peaks["source"] = ("arguments" if args.peak_bf16_tflops or args.peak_fp32_tflops else
                       "dense SXM datasheet; fp32 eager convolutions run on TF32 tensor cores"
                       if known else "unknown for this device: pass --peak-bf16-tflops / --peak-fp32-tflops")
    return peaks


def bench_variant(family: str, variant: str, args, crops: dict, count_flops: bool) -> dict:
    """Images/s of the trainer's ``training_step`` for ``family`` in ``variant``."""
    device = torch.device(args.device)
    steps = args.bench_warmup + args.bench_steps
    cfg = stage_config(family, args, **VARIANTS[variant], steps=steps + 1,
                       out_dir=str(Path(args.work) / "bench" / family))
    trainer = make_trainer(cfg, crops)
    trainer.model.train()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t = time.perf_counter()
    for step in range(args.bench_warmup):
        trainer.training_step(step)
        _sync(device)
        if step == 0:
            first = time.perf_counter() - t
    _sync(device)
    t = time.perf_counter()
    for step in range(args.bench_warmup, steps):
        trainer.training_step(step)
    _sync(device)
    seconds = time.perf_counter() - t
    out = {"images_per_s": round(args.bench_steps * trainer.images_per_step / seconds, 3),
           "step_ms": round(1000 * seconds / args.bench_steps, 2), "first_step_s": round(first, 2),
           "amp": "bf16" if trainer.amp else "fp32", "channels_last": trainer.channels_last,
           "compile": cfg.compile}
    if device.type == "cuda":
        out["max_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    if count_flops:
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            trainer.training_step(steps)
        out["flops_per_step"] = counter.get_total_flops()
        out["params"] = sum(p.numel() for p in trainer.model.parameters())
        out["trainable_params"] = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
        out["crop"], out["batch_size"] = cfg.crop, cfg.batch_size
    del trainer
    _free(device, cfg.compile)
    return out


def benchmark(args, report: Report, crops: dict, deadline: float) -> None:
    """Fill ``report["throughput"]``: eager variants of every family, then the compiled ones
    (these only until ``deadline``)."""
    device = torch.device(args.device)
    peaks = peak_tflops(device, args)
    result = report["throughput"] = {"peak_tflops": peaks, "steps_timed": args.bench_steps,
                                     "warmup_steps": args.bench_warmup, "families": {}}
    compiled = (list(FAMILIES) if args.compile_families == "all" else [] if args.compile_families in ("", "none")
                else args.compile_families.split(","))
    plan = ([(f, v) for v in ("fp32_eager", "bf16_cl_eager") for f in FAMILIES]
            + [(f, "bf16_cl_compile") for f in compiled])
    for family, variant in plan:
        fam = result["families"].setdefault(family, {"config": f"jscc_lab/configs/{FAMILIES[family]}",
                                                     "variants": {}})
        if VARIANTS[variant]["compile"] and time.perf_counter() > deadline:
            fam["variants"][variant] = {"skipped": "the benchmark's share of --minutes was used up"}
            continue
        print(f"[bench] {family} {variant}", flush=True)
        try:
            out = bench_variant(family, variant, args, crops, count_flops=variant == "fp32_eager")
        except Exception as err:  # noqa: BLE001 - recorded; the burst goes on
            traceback.print_exc()
            fam["variants"][variant] = {"error": _error(err)}
            _free(device, VARIANTS[variant]["compile"])
            continue
        for k in ("flops_per_step", "params", "trainable_params", "crop", "batch_size"):
            if k in out:
                fam[k] = out.pop(k)
        fam["variants"][variant] = out
        if fam.get("flops_per_step") and fam.get("batch_size"):
            fam["flops_per_image"] = fam["flops_per_step"] / fam["batch_size"]
            for v in fam["variants"].values():
                peak = peaks["bf16"] if v.get("amp") == "bf16" else peaks["fp32_eager"]
                if "images_per_s" in v:
                    v["achieved_tflops"] = round(fam["flops_per_image"] * v["images_per_s"] / 1e12, 3)
                    v["mfu"] = round(v["achieved_tflops"] / peak, 4) if peak else None
        base = fam["variants"].get("fp32_eager", {}).get("images_per_s")
        if base and "images_per_s" in out:
            out["speedup_vs_fp32_eager"] = round(out["images_per_s"] / base, 2)
        print(f"[bench] {family} {variant}: {out.get('images_per_s')} img/s "
              f"(first step {out.get('first_step_s')} s)", flush=True)
        report.save()


# ---------------------------------------------------------------------------------------------
# (c) training and (d) returned checkpoints
# ---------------------------------------------------------------------------------------------


def ship(export: Path, out: Path, replaces: list[Path]) -> list[str]:
    """Write ``export`` zlib-compressed into ``out/checkpoints/`` in parts under 16 MiB, replacing
    the files ``replaces``; ``[]`` (nothing written) if that would break the return limits."""
    folder = out / "checkpoints"
    data = zlib.compress(export.read_bytes(), 6)
    parts = [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)]
    others = [p for p in out.rglob("*") if p.is_file() and p not in replaces]
    reserve = MIB  # the JSON and the log keep growing
    if (len(others) + len(parts) > RETURN_FILES
            or sum(p.stat().st_size for p in others) + len(data) + reserve > RETURN_BYTES):
        print(f"[ship] {export.name} not returned: {len(others)} files are already in {out}, and the "
              f"device tool returns at most {RETURN_FILES} files, 64 MiB in all", flush=True)
        return []
    for p in replaces:
        p.unlink(missing_ok=True)
    names = []
    for i, part in enumerate(parts):
        path = folder / f"{export.name}.z{i:02d}"
        _write_atomic(path, part)
        names.append(path.name)
    return names


def collect(src: Path, into: Path) -> list[Path]:
    """Join and decompress the returned ``checkpoints/*.pt.zNN`` of a run folder into ``into``,
    check each against the JSON's SHA-256 and load it; returns the paths."""
    from jscc_lab.pretrained import load_checkpoint, model_from_checkpoint, sha256_of

    folder = src / "checkpoints"
    groups: dict[str, list[Path]] = {}
    for part in sorted(folder.glob("*.pt.z[0-9][0-9]")):
        groups.setdefault(part.name[: -len(".z00")], []).append(part)
    if not groups:
        raise FileNotFoundError(f"no returned checkpoints (*.pt.zNN) in {folder}")
    expected = {}
    if (src / "gpu_burst.json").is_file():
        report = json.loads((src / "gpu_burst.json").read_text())
        expected = {s["export"]["file"]: s["export"]["sha256"] for s in report.get("training", {}).get("stages", [])
                    if s.get("export", {}).get("returned")}
    into.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, parts in groups.items():
        try:
            data = zlib.decompress(b"".join(p.read_bytes() for p in parts))
        except zlib.error as err:
            raise ValueError(f"{name}: the parts {[p.name for p in parts]} do not join into a whole file "
                             f"({err}); was one of them left out?") from err
        path = into / name
        _write_atomic(path, data)
        if name in expected and sha256_of(path) != expected[name]:
            raise ValueError(f"{path}: SHA-256 differs from the one gpu_burst.json recorded")
        ckpt = load_checkpoint(path)
        model_from_checkpoint(ckpt)  # the weights fit the model they name
        prov, best = ckpt.get("provenance", {}), ckpt.get("metrics", {}).get("best") or {}
        print(f"{path}: {ckpt['model']['name']}, {prov.get('steps')} steps on {prov.get('device')}, "
              + " ".join(f"{k}={v:.4g}" for k, v in best.items() if k.startswith("val_")), flush=True)
        paths.append(path)
    return paths


def train_stages(args, report: Report, crops: dict, deadline: float) -> None:
    """Train :data:`STAGES` in order within ``deadline``; export and ship each result."""
    from jscc_lab.pretrained import sha256_of
    from jscc_lab.train import export_checkpoint

    out, work = Path(args.out), Path(args.work)
    throughput = report.get("throughput", {}).get("families", {})
    variant = "bf16_cl_compile" if args.train_compile else "bf16_cl_eager"
    stages = report.setdefault("training", {"variant": variant, "stages": []})["stages"]
    done: dict[str, dict] = {}  # family -> its stage entry
    shipped: dict[str, list[Path]] = {}  # family -> its files in out/checkpoints
    for i, (family, share, init) in enumerate(STAGES):
        entry = {"family": family}
        stages.append(entry)
        done[family] = entry
        left = deadline - time.perf_counter()
        seconds = left * share / sum(s for _, s, _ in STAGES[i:])
        if isinstance(init, str):
            prior = done.get(init, {})
            if not prior.get("checkpoint"):
                entry["skipped"] = f"its warm start {init} has no checkpoint"
                continue
            init_path = prior["checkpoint"]
        else:
            init_path = str(init) if init else ""
        if args.min_stage_seconds and seconds < args.min_stage_seconds:  # 0: always at least one step
            entry["skipped"] = f"{max(left, 0):.0f} s left, this stage's share {seconds:.0f} s < --min-stage-seconds"
            report.save()
            continue
        rate = throughput.get(family, {}).get("variants", {}).get(variant, {}).get("images_per_s")
        try:
            cfg = stage_config(family, args, **VARIANTS[variant])
            per_step = cfg.batch_size * cfg.grad_accum
            steps = max(1, int(rate * max(seconds, 0) * 0.85 / per_step)) if rate else 10**6
            cfg = stage_config(family, args, **VARIANTS[variant], steps=steps, max_minutes=max(seconds, 1e-3) / 60,
                               init_from=init_path, out_dir=str(work / family), val_every=steps,
                               checkpoint_every=max(1, steps // 4), log_every=max(1, steps // 40),
                               warmup_steps=min(cfg.warmup_steps, steps // 10))
            entry.update(name=cfg.name, planned_s=round(seconds, 1), steps_planned=steps,
                         images_per_s_planned=rate, init_from=(f"{init} stage" if isinstance(init, str)
                                                               else Path(init).name if init else None),
                         config=dataclasses.asdict(cfg))
            print(f"[train] {family}: {steps} steps planned in {max(seconds, 0):.0f} s ({cfg.name})", flush=True)
            report.save()
            t = time.perf_counter()
            trainer = make_trainer(cfg, crops)
            result = trainer.fit()
            entry.update(steps_done=result["step"], wall_s=round(time.perf_counter() - t, 1),
                         stopped_by_clock=result["stopped_by_clock"], best=result["best"],
                         history=result["history"], checkpoint=result["checkpoint"])
            del trainer
            _free(torch.device(args.device))
            export = work / "exports" / f"{cfg.name}.pt"
            export.parent.mkdir(parents=True, exist_ok=True)
            export_checkpoint(result["checkpoint"], export, half=True, extra_provenance={
                "trained_with": "benchmarks/gpu_burst.py", "burst_stage": family,
                "init_from": entry["init_from"], "stopped_by_clock": result["stopped_by_clock"]})
            replaces = shipped.get(init, []) if isinstance(init, str) else []
            names = ship(export, out, replaces)  # a GAN result replaces its stage-1 files
            if names:
                shipped[family] = [out / "checkpoints" / n for n in names]
                if replaces:
                    shipped.pop(init)
                    done[init]["export"]["returned"] = []
            entry["export"] = {"file": export.name, "sha256": sha256_of(export), "bytes": export.stat().st_size,
                               "returned": names}
        except Exception as err:  # noqa: BLE001 - recorded; the later chains still run
            traceback.print_exc()
            entry["error"] = _error(err)
            _free(torch.device(args.device))
        report.save()


# ---------------------------------------------------------------------------------------------
# the data pack (prepared on the CPU machine)
# ---------------------------------------------------------------------------------------------


def tree_bytes(exclude: Path | None = None) -> int | None:
    """Bytes of the files the device tool sends: tracked and untracked, not ignored (None: no git)."""
    try:
        names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                               cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    except (OSError, subprocess.CalledProcessError):
        return None
    total = 0
    for name in filter(None, set(names)):
        path = REPO / os.fsdecode(name)
        if path.is_file() and not path.is_symlink() and not (exclude and exclude in path.resolve().parents):
            total += path.stat().st_size
    return total


def pack_weights(shipped: Path = SHIPPED) -> tuple[str, ...]:
    """Weight files the GPU run needs: :data:`PACK_WEIGHTS` and those that ``shipped`` (where
    every TAEJSCC stage starts) leaves to a published file (its ``published_weights``)."""
    published = torch.load(shipped, map_location="cpu", weights_only=True).get("published_weights") or {}
    return tuple(dict.fromkeys([*PACK_WEIGHTS, *published.values()]))


def prepare_data(pack: Path, pack_mib: float | None, val_images: int, min_side: int = 256) -> dict:
    """Write the data pack: ``data/weights/alexnet_features.pth`` (LPIPS) and any weight file the
    shipped starting checkpoint leaves to its published file (:func:`pack_weights`), ``data/train/`` (BSDS500
    train+val and ImageNet sample JPEGs, unchanged, alternating, short side >= ``min_side``, as
    many as fit), ``data/val/`` (the first BSDS500 test images) and ``site/lpips`` (the package)."""
    from PIL import Image

    from jscc_lab.data import _image_files, bsds500_files
    from jscc_lab.settings import data_root
    from jscc_lab.weights import find_on_disk

    if pack.exists() and any(pack.iterdir()):
        raise FileExistsError(f"{pack} is not empty; remove it or choose another folder")
    tree = tree_bytes(exclude=pack.resolve())
    if tree is None and not pack_mib:
        raise ValueError("git cannot list the working tree here, so its size is unknown: pass --pack-mib")
    budget = int(pack_mib * MIB) if pack_mib else 63 * MIB - tree
    names = pack_weights()
    needed = [find_on_disk(name) for name in names]
    for name, path in zip(names, needed):
        if path is None:
            raise FileNotFoundError(f"{name}.pth is not in $JSCC_LAB_DATA/weights or ~/.cache/jscc_lab/weights")
    import lpips

    (pack / "data" / "weights").mkdir(parents=True)
    for path in needed:
        shutil.copyfile(path, pack / "data" / "weights" / path.name)
    shutil.copytree(Path(lpips.__file__).parent, pack / "site" / "lpips",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (pack / "data" / "val").mkdir()
    for f in bsds500_files("test")[:val_images]:
        shutil.copyfile(f, pack / "data" / "val" / f.name)

    def used() -> int:
        return sum(p.stat().st_size for p in pack.rglob("*") if p.is_file())

    left = budget - used()
    if left < MIB:
        shutil.rmtree(pack)
        raise ValueError(f"only {left / MIB:.1f} MiB of the pack's {budget / MIB:.1f} MiB are left for training "
                         f"images (the tree is {(tree or 0) / MIB:.1f} MiB; the device tool carries 64 MiB in all): "
                         "pass a larger --pack-mib or shrink the tree")
    bsds = bsds500_files("train") + bsds500_files("val")
    imagenet = _image_files(data_root() / "imagenet_samples") if (data_root() / "imagenet_samples").is_dir() else []
    (pack / "data" / "train").mkdir()
    taken = []
    for f in itertools.chain.from_iterable(itertools.zip_longest(bsds, imagenet)):
        size = f.stat().st_size if f else 0
        if not f or size > 150_000 or size > left:
            continue
        with Image.open(f) as im:
            if min(im.size) < min_side:
                continue
        shutil.copyfile(f, pack / "data" / "train" / f.name)
        taken.append(f.name)
        left -= size
    tree = tree or 0
    info = {"tree_mib": round(tree / MIB, 2), "pack_mib": round(used() / MIB, 2),
            "total_mib": round((tree + used()) / MIB, 2), "train_images": len(taken),
            "bsds500": sum(not n.startswith("n") for n in taken), "imagenet_samples": sum(n.startswith("n") for n in taken),
            "val_images": len(list((pack / "data" / "val").iterdir())), "weights": [p.name for p in needed]}
    (pack / "pack.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"{pack}: {info['train_images']} training images ({info['bsds500']} BSDS500, {info['imagenet_samples']} "
          f"ImageNet), {info['val_images']} validation images, {', '.join(info['weights'])}, lpips; {info['pack_mib']} MiB + tree "
          f"{info['tree_mib']} MiB = {info['total_mib']} MiB of the 64 MiB the device tool carries")
    return info


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def burst(args) -> int:
    t0 = time.perf_counter()
    out = Path(args.out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    args.work = args.work or tempfile.mkdtemp(prefix="gpu_burst_")
    with open(out / "gpu_burst.log", "a", buffering=1) as log:
        streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(streams[0], log), _Tee(streams[1], log)
        try:
            return _burst(args, out, t0)
        finally:
            sys.stdout, sys.stderr = streams


def _burst(args, out: Path, t0: float) -> int:
    report = Report(out / "gpu_burst.json", command=sys.argv, minutes=args.minutes, device_arg=args.device,
                    tiny=args.tiny, work=args.work,
                    started=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))
    if args.data:
        pack = Path(args.data) / "pack.json"
        report["data_pack"] = json.loads(pack.read_text()) if pack.is_file() else str(args.data)
    print(f"gpu_burst: --minutes {args.minutes}, device {args.device}, out {out}, work {args.work}", flush=True)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        report["error"] = "--device cuda but torch sees no CUDA device"
        report.save()
        print(f"gpu_burst: error: {report['error']} (torch {torch.__version__})", file=sys.stderr)
        return 2
    if device.type == "cuda":
        torch.cuda.set_device(device)
    report["environment"] = check_environment(device)
    report["environment"]["check_s"] = round(time.perf_counter() - t0, 1)
    print(f"[env] {json.dumps(report['environment'])}", flush=True)
    report.save()
    deadline = t0 + 60 * args.minutes - args.reserve_seconds
    crops: dict = {}
    benchmark(args, report, crops, t0 + 60 * args.minutes * args.bench_share)
    report["throughput"]["wall_s"] = round(time.perf_counter() - t0, 1)
    report.save()
    train_stages(args, report, crops, deadline)
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    report["returned"] = {p.relative_to(out).as_posix(): p.stat().st_size
                          for p in sorted(out.rglob("*")) if p.is_file() and p.name != "gpu_burst.json"}
    report.save()
    print(f"gpu_burst: done in {report['wall_s']} s; returned {report['returned']}", flush=True)
    return 0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="output folder (on the GPU machine: $OUT)")
    p.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget of the whole run (default 8)")
    p.add_argument("--device", default="cuda", help='"cuda", "cuda:N" or "cpu" (default cuda)')
    p.add_argument("--data", help="data pack from --prepare-data (default: the configs' data in $JSCC_LAB_DATA)")
    p.add_argument("--work", help="folder for the trainers' full checkpoints (default: a new temp folder)")
    p.add_argument("--tiny", action="store_true", help="tiny crops and networks (the CPU rehearsal)")
    p.add_argument("--compile-families", help=f'benchmark torch.compile for these families, "all" or "none" '
                   f"(default on CUDA: {COMPILE_DEFAULT}; on the CPU: none)")
    p.add_argument("--train-compile", action="store_true", help="train with torch.compile (default: eager)")
    p.add_argument("--bench-steps", type=int, help="timed steps per variant (default 10; --tiny 1)")
    p.add_argument("--bench-warmup", type=int, help="untimed steps first (default 3; --tiny 1)")
    p.add_argument("--bench-share", type=float, default=0.35, help="most of --minutes the benchmark may take")
    p.add_argument("--min-stage-seconds", type=float, help="skip a stage given less (default 30; --tiny 0)")
    p.add_argument("--reserve-seconds", type=float, default=15.0, help="kept for the last export (default 15)")
    p.add_argument("--val-images", type=int, help="validation images per stage (default 8; --tiny 2)")
    p.add_argument("--peak-bf16-tflops", type=float, help="peak for MFU (default: H100/H200 989.4)")
    p.add_argument("--peak-fp32-tflops", type=float, help="peak of fp32 eager (default: H100/H200 TF32 494.7)")
    p.add_argument("--prepare-data", metavar="DIR", help="write the data pack to DIR and exit (CPU machine)")
    p.add_argument("--pack-mib", type=float, help="size of the pack (default: 63 MiB minus the tree)")
    p.add_argument("--collect", metavar="DIR", help="join the returned checkpoints of DIR and check them")
    p.add_argument("--into", default="runs/gpu_burst", help="where --collect writes (default runs/gpu_burst)")
    args = p.parse_args(argv)
    if args.device == "cuda":
        args.device = "cuda:0"  # torch.cuda.set_device wants an index
    if args.val_images is None:
        args.val_images = 2 if args.tiny else 8
    if args.bench_steps is None:
        args.bench_steps = 1 if args.tiny else 10
    if args.bench_warmup is None:
        args.bench_warmup = 1 if args.tiny else 3
    if args.min_stage_seconds is None:
        args.min_stage_seconds = 0.0 if args.tiny else 30.0
    if args.compile_families is None:
        args.compile_families = COMPILE_DEFAULT if args.device.startswith("cuda") else "none"
    unknown = set(args.compile_families.split(",")) - set(FAMILIES) - {"all", "none", ""}
    if unknown:
        p.error(f"--compile-families: unknown {sorted(unknown)}; valid: {', '.join(FAMILIES)}, all, none")
    if not (args.prepare_data or args.collect or args.out):
        p.error("--out DIR is required (or --prepare-data DIR / --collect DIR)")
    if args.minutes <= 0 or args.bench_steps < 1 or args.bench_warmup < 1:
        p.error("--minutes, --bench-steps and --bench-warmup must be positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.prepare_data:
            prepare_data(Path(args.prepare_data), args.pack_mib, args.val_images)
            return 0
        if args.collect:
            collect(Path(args.collect), Path(args.into))
            return 0
        if args.data:
            data = Path(args.data).resolve()
            if not (data / "data" / "train").is_dir():
                raise FileNotFoundError(f"--data {data} is not a pack from --prepare-data (no data/train)")
            args.data = str(data)
            sys.path.insert(0, str(data / "site"))  # lpips, on a machine without it
            os.environ["JSCC_LAB_DATA"] = str(data / "data")
            os.environ["JSCC_LAB_OFFLINE"] = "1"
        return burst(args)
    except (OSError, ValueError) as err:
        print(f"gpu_burst: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
