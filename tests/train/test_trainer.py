"""jscc_lab.train: learning, exact resume, atomic checkpoints, TOML configs, CLI, DDP."""

import dataclasses
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from jscc_lab.cli import main
from jscc_lab.pretrained import CheckpointError, load_checkpoint, model_from_checkpoint
from jscc_lab.train import (
    TrainConfig,
    Trainer,
    load_config,
    save_checkpoint,
    save_config,
    train,
    training_stages,
    validate_psnr,
)


def _smooth_image(rng, size=72):
    """A smooth random colour field: easy to learn, unlike white noise."""
    coarse = rng.random((6, 6, 3))
    img = Image.fromarray((coarse * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
    return img


@pytest.fixture(scope="module")
def image_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("val", 4)):
        (root / split).mkdir()
        for i in range(n):
            _smooth_image(rng).save(root / split / f"{i:02d}.png")
    return root


def tiny_config(image_dirs, out_dir, **overrides):
    fields = dict(
        name="tiny", model="adjscc", cbr="1/12", width=8, crop=32, batch_size=4, steps=8,
        lr=3e-3, warmup_steps=2, val_every=4, val_images=0, val_crop=64, val_snr_db=[10.0],
        checkpoint_every=4, log_every=2, out_dir=str(out_dir), device="cpu", threads=1,
        train_dir=str(image_dirs / "train"), val_dir=str(image_dirs / "val"),
    )
    fields.update(overrides)
    return TrainConfig(**fields)


def test_short_seeded_run_lowers_validation_mse_clearly(image_dirs, tmp_path):
    cfg = tiny_config(image_dirs, tmp_path, model="deepjscc", width=16, batch_size=8, steps=150,
                      val_every=150, checkpoint_every=150, log_every=15, warmup_steps=0)
    trainer = Trainer(cfg, progress=False)
    before = trainer.validate()["val_psnr_db"]
    result = trainer.fit()
    after = result["best"]["val_psnr_db"]
    assert after > before + 1.0, (before, after)  # validation MSE down by more than 20 %
    losses = [h["loss"] for h in result["history"] if "loss" in h]
    assert losses[-1] < 0.8 * losses[0]


def test_resume_after_interruption_reproduces_the_uninterrupted_run(image_dirs, tmp_path):
    straight = train(tiny_config(image_dirs, tmp_path / "a"), progress=False)
    cfg_b = tiny_config(image_dirs, tmp_path / "b")
    first = train(cfg_b, progress=False, stop_at=4)
    assert first["step"] == 4
    resumed = train(cfg_b, resume=True, progress=False)
    assert resumed["step"] == 8
    steps = lambda r: [h["step"] for h in r["history"] if "loss" in h]  # noqa: E731
    losses = lambda r: [h["loss"] for h in r["history"] if "loss" in h]  # noqa: E731
    assert steps(resumed) == steps(straight) == [2, 4, 6, 8]
    assert losses(resumed) == pytest.approx(losses(straight), rel=1e-6)
    a = load_checkpoint(tmp_path / "a" / "last.pt")
    b = load_checkpoint(tmp_path / "b" / "last.pt")
    for k, v in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][k], v, rtol=1e-6, atol=1e-7)
    assert b["step"] == 8 and b["provenance"]["steps"] == 8


def test_checkpoint_holds_everything_needed(image_dirs, tmp_path):
    train(tiny_config(image_dirs, tmp_path, steps=4), progress=False)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    for key in ("state_dict", "optimizer", "config", "step", "metrics", "rng", "provenance", "model"):
        assert key in ckpt
    prov = ckpt["provenance"]
    for key in ("device", "torch", "steps", "wall_time_s", "date"):
        assert key in prov
    assert ckpt["config"]["width"] == 8 and ckpt["metrics"]["best"]["step"] == 4
    model = model_from_checkpoint(ckpt)
    x = torch.rand(1, 3, 32, 32)
    assert model(x, 10.0).shape == x.shape
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "config.toml").is_file()


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, path)
    monkeypatch.undo()
    torch.testing.assert_close(load_checkpoint(path)["state_dict"]["w"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]  # no temp files left


def test_resume_refuses_a_checkpoint_of_another_architecture(image_dirs, tmp_path):
    train(tiny_config(image_dirs, tmp_path, steps=2), progress=False)
    with pytest.raises(ValueError, match="model"):
        train(tiny_config(image_dirs, tmp_path, steps=4, width=16), resume=True, progress=False)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    ckpt["model"]["kwargs"]["width"] = 16
    with pytest.raises(CheckpointError, match="do not fit"):
        model_from_checkpoint(ckpt)


def test_truncated_checkpoint_gives_a_clear_error(image_dirs, tmp_path):
    train(tiny_config(image_dirs, tmp_path, steps=2), progress=False)
    data = (tmp_path / "last.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "cut.pt")


def test_config_toml_round_trip_and_validation(tmp_path):
    cfg = TrainConfig(name='quote " and \\ back', cbr="1/48", val_snr_db=[0, 7.5], train_splits=["train"],
                      compile=True, lr=3e-4)
    path = save_config(cfg, tmp_path / "cfg.toml")
    assert load_config(path) == cfg
    path.write_text(path.read_text() + "bogus = 1\n")
    with pytest.raises(ValueError, match="unknown key.*bogus"):
        load_config(path)
    with pytest.raises(ValueError, match="snr_db_min"):
        TrainConfig(snr_db_min=10, snr_db_max=0)
    with pytest.raises(ValueError, match="steps=0"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(amp="fp8")


def test_shipped_configs_load():
    from importlib import resources

    folder = resources.files("jscc_lab") / "configs"
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith("adjscc_"))
    assert {"adjscc_cpu.toml", "adjscc_gpu.toml"} <= set(names)
    for name in names:
        cfg = load_config(folder / name)
        assert cfg.snr_db_min == 0 and cfg.snr_db_max == 20
    gpu = load_config(folder / "adjscc_gpu.toml")
    assert gpu.width == 256 and gpu.crop == 256 and gpu.amp == "bf16"


def test_training_snr_is_sampled_per_image_or_fixed(image_dirs, tmp_path):
    trainer = Trainer(tiny_config(image_dirs, tmp_path, batch_size=64), progress=False)
    _, snr, _ = trainer.micro_batch(0, 0)
    assert snr.shape == (64,) and snr.min() >= 0 and snr.max() <= 20 and snr.std() > 3
    _, snr_again, _ = trainer.micro_batch(0, 0)
    torch.testing.assert_close(snr, snr_again)  # a function of the step, not of the call count
    fixed = Trainer(tiny_config(image_dirs, tmp_path, snr_db_min=7, snr_db_max=7), progress=False)
    assert (fixed.micro_batch(0, 0)[1] == 7).all()


def test_learning_rate_warms_up_then_decays(image_dirs, tmp_path):
    trainer = Trainer(tiny_config(image_dirs, tmp_path, steps=100, warmup_steps=10, lr=1e-3,
                                  lr_final_fraction=0.1), progress=False)
    lrs = [trainer.lr_at(s) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert lrs[-1] == pytest.approx(1e-4, rel=0.05)


def test_validate_psnr_is_seeded(image_dirs, tmp_path):
    trainer = Trainer(tiny_config(image_dirs, tmp_path), progress=False)
    a = validate_psnr(trainer.model, trainer.val_images, [0.0, 20.0], seed=3)
    b = validate_psnr(trainer.model, trainer.val_images, [0.0, 20.0], seed=3)
    assert a == b and set(a) == {"psnr@0dB", "psnr@20dB"}


def test_cli_train_and_resume(image_dirs, tmp_path, capsys):
    cfg_path = save_config(tiny_config(image_dirs, tmp_path / "run", steps=4), tmp_path / "tiny.toml")
    assert main(["train", str(cfg_path), "--no-progress", "--set", "steps=2"]) == 0
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 2
    assert main(["train", str(cfg_path), "--resume", "--no-progress", "--set", "steps=4"]) == 0
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 4
    assert "best validation PSNR" in capsys.readouterr().out


def test_resume_records_what_it_changed(image_dirs, tmp_path):
    cfg = tiny_config(image_dirs, tmp_path, steps=4)
    train(cfg, progress=False, stop_at=2)
    train(dataclasses.replace(cfg, steps=6, lr=1e-3, max_minutes=60.0), resume=True, progress=False, stop_at=4)
    train(dataclasses.replace(cfg, steps=6, lr=1e-3), resume=True, progress=False)  # nothing new
    prov = load_checkpoint(tmp_path / "last.pt")["provenance"]
    assert prov["config_changes"] == [{"step": 2, "changes": {"steps": [4, 6], "lr": [3e-3, 1e-3]}}]
    # the run folder's config.toml says how the run goes on: resuming with it needs no --set again
    assert load_config(tmp_path / "config.toml").steps == 6 and load_config(tmp_path / "config.toml").lr == 1e-3
    (stage,) = training_stages(tmp_path / "last.pt")
    assert stage["config_changes"] == prov["config_changes"] and stage["lr"] == 1e-3


def test_resume_keeps_the_stages_behind_the_run(image_dirs, tmp_path):
    """A resume reads last.pt, never init_from: leaving ``--set init_from=...`` out of the resume
    command must not cut the run off from the checkpoint it started from."""
    first = tiny_config(image_dirs, tmp_path / "one", steps=2)
    train(first, progress=False)
    second = tiny_config(image_dirs, tmp_path / "two", steps=4, init_from=str(tmp_path / "one" / "last.pt"))
    train(second, progress=False, stop_at=2)
    train(dataclasses.replace(second, init_from="", steps=6), resume=True, progress=False, stop_at=3)
    ckpt = load_checkpoint(tmp_path / "two" / "last.pt")
    assert ckpt["config"]["init_from"] == str(tmp_path / "one" / "last.pt")
    assert ckpt["provenance"]["config_changes"] == [{"step": 2, "changes": {"steps": [4, 6]}}]
    assert len(training_stages(tmp_path / "two" / "last.pt")) == 2


def test_a_run_resumes_and_exports_its_stages_after_the_init_from_file_is_gone(image_dirs, tmp_path):
    """Runs span machines: a resume must not read ``init_from`` (last.pt holds every weight), and
    the stages behind the run are recorded when it starts (``provenance["lineage"]``), so neither
    a deleted start checkpoint nor one that trained on since changes what the run says it came from."""
    import shutil

    train(tiny_config(image_dirs, tmp_path / "one", steps=2), progress=False)
    second = tiny_config(image_dirs, tmp_path / "two", steps=6, init_from=str(tmp_path / "one" / "last.pt"))
    straight = train(dataclasses.replace(second, out_dir=str(tmp_path / "straight")), progress=False)
    train(second, progress=False, stop_at=4)
    train(tiny_config(image_dirs, tmp_path / "one", steps=4), resume=True, progress=False)
    assert [s["steps"] for s in training_stages(tmp_path / "two" / "last.pt")] == [2, 4]  # recorded, not re-read
    shutil.rmtree(tmp_path / "one")
    resumed = train(second, resume=True, progress=False)
    losses = lambda r: [h["loss"] for h in r["history"] if "loss" in h]  # noqa: E731
    assert resumed["step"] == 6 and losses(resumed) == pytest.approx(losses(straight), rel=1e-6)
    stages = training_stages(tmp_path / "two" / "last.pt")
    assert [s["steps"] for s in stages] == [2, 6]
    assert stages[0]["checkpoint"] == str(tmp_path / "one" / "last.pt") and stages[0]["validation"]
    assert main(["export", str(tmp_path / "two" / "last.pt"), "adjscc-psnr-awgn-tiny",
                 "--out", str(tmp_path / "ship"), "--no-register"]) == 0
    shipped = load_checkpoint(tmp_path / "ship" / "adjscc-psnr-awgn-tiny.pt")["provenance"]
    assert [s["steps"] for s in shipped["stages"]] == [2, 6] and "lineage" not in shipped
    with pytest.raises(ValueError, match="resume=True"):
        Trainer(second, progress=False, resume=True).fit()
    with pytest.raises(FileNotFoundError):  # a fresh start still needs its init_from
        train(dataclasses.replace(second, out_dir=str(tmp_path / "three")), progress=False)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_on_two_gloo_processes_matches_single_process_gradient_accumulation(image_dirs, tmp_path):
    # DDP over 2 ranks with batch B == one process accumulating 2 micro-batches of B: the same
    # crops, SNRs and noise (a function of the global micro-batch index), gradients averaged.
    base = tiny_config(image_dirs, tmp_path, steps=3, val_every=3, checkpoint_every=3,
                       warmup_steps=1, grad_clip=0.0, threads=1)
    ddp_cfg = save_config(dataclasses.replace(base, out_dir=str(tmp_path / "ddp")), tmp_path / "ddp.toml")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           f"--master_port={_free_port()}", "-m", "jscc_lab.cli", "train", str(ddp_cfg), "--no-progress"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    train(dataclasses.replace(base, out_dir=str(tmp_path / "single"), grad_accum=2), progress=False)
    ddp = load_checkpoint(tmp_path / "ddp" / "last.pt")
    single = load_checkpoint(tmp_path / "single" / "last.pt")
    assert ddp["provenance"]["world_size"] == 2
    for k, v in single["state_dict"].items():
        torch.testing.assert_close(ddp["state_dict"][k], v, rtol=1e-4, atol=1e-5)
    start = model_from_checkpoint({**single, "state_dict": Trainer(base, progress=False).model.state_dict()})
    moved = max((single["state_dict"][k] - v).abs().max().item() for k, v in start.state_dict().items())
    assert moved > 1e-4  # the runs trained: equal weights are not just the initial ones
