"""benchmarks/gpu_burst.py rehearsed on the CPU (the same command and output layout as on a GPU),
and the trainer options it relies on: max_minutes, init_from a float16 export without TAEF2 files."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import load_script

from jscc_lab import pretrained
from jscc_lab.models import TAEJSCC
from jscc_lab.pretrained import load_checkpoint
from jscc_lab.train import (
    CHECKPOINT_FORMAT,
    TrainConfig,
    Trainer,
    export_checkpoint,
    save_checkpoint,
    train,
)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_burst.py"
CBRS = ["1/48", "1/12"]


def _burst_module():
    return load_script("benchmarks/gpu_burst.py")


def test_max_minutes_stops_validates_and_saves(image_dirs, tmp_path):
    config = TrainConfig(name="clock", model="adjscc", cbr="1/12", width=8, crop=32, batch_size=2, steps=10_000,
                         val_every=5000, checkpoint_every=5000, val_crop=32, val_snr_db=[10.0], device="cpu",
                         threads=1, train_dir=str(image_dirs / "train"), val_dir=str(image_dirs / "val"),
                         out_dir=str(tmp_path / "run"), max_minutes=1e-4)
    result = train(config, progress=False)
    assert result["stopped_by_clock"] and 1 <= result["step"] < 10_000
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["step"] == result["step"] and ckpt["config"]["max_minutes"] == 1e-4
    assert result["history"][-1]["step"] == result["step"] and "val_psnr_db" in result["history"][-1]
    with pytest.raises(ValueError, match="max_minutes"):
        TrainConfig(max_minutes=-1)


def test_init_from_a_float16_export_needs_no_taef2_files(image_dirs, tmp_path, monkeypatch):
    model = TAEJSCC(width=8, blocks=1, cbrs=CBRS, pretrained=False)
    spec = {"name": "taejscc", "channel": "awgn", "kwargs": {"width": 8, "blocks": 1, "cbrs": CBRS}}
    save_checkpoint({"format": CHECKPOINT_FORMAT, "model": spec, "state_dict": model.state_dict()}, tmp_path / "full.pt")
    export_checkpoint(tmp_path / "full.pt", tmp_path / "half.pt", half=True)
    # no TAEF2 weight files anywhere: every weight must come from init_from
    monkeypatch.setenv("JSCC_LAB_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("JSCC_LAB_OFFLINE", "1")
    config = TrainConfig(name="half", model="taejscc", width=8, blocks=1, cbrs=CBRS, crop=32, batch_size=2, steps=1,
                         device="cpu", threads=1, freeze=["ae_encoder"], init_from=str(tmp_path / "half.pt"),
                         train_dir=str(image_dirs / "train"), val_dir=str(image_dirs / "val"), val_crop=32,
                         out_dir=str(tmp_path / "run"))
    trainer = Trainer(config, progress=False)
    half = load_checkpoint(tmp_path / "half.pt")["state_dict"]
    for k, v in trainer.model.state_dict().items():
        assert v.dtype == model.state_dict()[k].dtype and torch.equal(v, half[k].to(v.dtype)), k
    assert torch.isfinite(torch.tensor(trainer.training_step(0)["loss"]))


@pytest.mark.slow
def test_cpu_rehearsal_writes_the_gpu_layout(data_root, tmp_path):
    env = {**os.environ, "JSCC_LAB_DATA": str(data_root), "JSCC_LAB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    pack, out = tmp_path / "pack", tmp_path / "out"

    def run(*args):
        done = subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    assert "training images" in run("--prepare-data", str(pack), "--pack-mib", "14", "--val-images", "2")
    info = json.loads((pack / "pack.json").read_text())
    burst = _burst_module()
    assert info["train_images"] > 0 and info["weights"] == [f"{n}.pth" for n in burst.pack_weights()]
    assert info["weights"][0] == "alexnet_features.pth"
    assert all((pack / "data" / "weights" / name).is_file() for name in info["weights"])
    assert (pack / "site" / "lpips" / "__init__.py").is_file()

    run("--device", "cpu", "--minutes", "0.5", "--tiny", "--data", str(pack), "--out", str(out),
        "--work", str(tmp_path / "work"))

    # the layout the device tool returns: at most 8 files, 2 folders down, each < 16 MiB, 64 MiB in all
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {"gpu_burst.json", "gpu_burst.log"} <= {p.name for p in files}
    assert len(files) <= 8 and sum(p.stat().st_size for p in files) <= 64 << 20
    assert all(p.stat().st_size < 16 << 20 and re.fullmatch(r"[\w.-]+", p.name)
               and len(p.relative_to(out).parts) <= 3 for p in files)

    report = json.loads((out / "gpu_burst.json").read_text())
    assert report["format"] == "jscc_lab.gpu_burst/1"
    assert {"environment", "throughput", "training", "returned", "wall_s"} <= set(report)
    assert not report["environment"]["problems"] and report["environment"]["bf16_matmul_rel_error"] < 2e-2
    families = report["throughput"]["families"]
    assert set(families) == {"taejscc_perceptual_stage1", "taejscc_perceptual_gan", "taejscc_psnr",
                             "perceptual_stage1", "perceptual_gan", "adjscc"}
    for fam in families.values():
        assert fam["flops_per_image"] > 0
        assert {"fp32_eager", "bf16_cl_eager"} <= set(fam["variants"])
        for v in fam["variants"].values():
            assert v["images_per_s"] > 0 and v["achieved_tflops"] >= 0
    stages = report["training"]["stages"]
    assert [s["family"] for s in stages] == ["taejscc_perceptual_stage1", "taejscc_perceptual_gan", "taejscc_psnr",
                                             "perceptual_stage1", "perceptual_gan"]
    for stage in stages:
        assert "error" not in stage, stage.get("error")
        assert stage["steps_done"] >= 1 and stage["history"] and "val_psnr_db" in stage["history"][-1]
    returned = {s["export"]["file"] for s in stages if s["export"]["returned"]}
    # the GAN results replaced their stage-1 files
    assert returned == {"taejscc-perceptual-awgn.pt", "taejscc-psnr-awgn.pt", "perceptual-awgn-cbr1_48.pt"}

    # back on the CPU machine: join, check, register, load through the registry
    into = tmp_path / "collected"
    paths = _burst_module().collect(out, into)
    assert sorted(p.name for p in paths) == sorted(returned)
    entry = pretrained.register(into / "taejscc-perceptual-awgn.pt", "taejscc-perceptual-awgn", "rehearsal", root=into)
    assert entry["sha256"] == next(s["export"]["sha256"] for s in stages if s["export"]["file"] == entry["file"])
    model = pretrained.load("taejscc-perceptual-awgn", root=into)
    x = torch.rand(1, 3, 32, 32)
    assert model(x, 10.0, cbr=1 / 48, beta=1.0).shape == x.shape


def test_the_pack_carries_the_weights_the_starting_checkpoint_leaves_out(tmp_path):
    burst = _burst_module()
    torch.save({"state_dict": {}}, tmp_path / "own.pt")
    torch.save({"state_dict": {}, "published_weights": {"ae_encoder": "taef2_encoder"}}, tmp_path / "slim.pt")
    assert burst.pack_weights(tmp_path / "own.pt") == ("alexnet_features",)
    assert burst.pack_weights(tmp_path / "slim.pt") == ("alexnet_features", "taef2_encoder")
