"""Faults during training: a `jscc-lab train` process killed with SIGKILL mid-run leaves only
loadable checkpoints, and resuming loses at most one checkpoint interval and ends where an
uninterrupted run with the same seed ends."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from jscc_lab.pretrained import load_checkpoint
from jscc_lab.train import TrainConfig, save_config, train

STEPS, EVERY = 60, 10


@pytest.fixture
def config(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("val", 2)):
        (tmp_path / split).mkdir()
        for i in range(n):
            coarse = (rng.random((5, 5, 3)) * 255).astype(np.uint8)
            Image.fromarray(coarse).resize((48, 48), Image.BICUBIC).save(tmp_path / split / f"{i}.png")

    def make(out):
        return TrainConfig(name="faults", model="adjscc", cbr="1/12", width=8, crop=32, batch_size=4,
                           steps=STEPS, lr=3e-3, warmup_steps=2, val_every=STEPS, val_images=0,
                           val_crop=32, val_snr_db=[10.0], checkpoint_every=EVERY, log_every=10,
                           out_dir=str(out), device="cpu", threads=1,
                           train_dir=str(tmp_path / "train"), val_dir=str(tmp_path / "val"))
    return make, tmp_path


def _step_of(path):
    try:
        return load_checkpoint(path)["step"]
    except Exception:  # noqa: BLE001 - the file may not exist yet
        return -1


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_matches_an_uninterrupted_run(config):
    make, root = config
    reference = make(root / "reference")
    train(reference, progress=False)
    expected = load_checkpoint(root / "reference" / "last.pt")

    killed = make(root / "killed")
    path = save_config(killed, root / "killed.toml")
    proc = subprocess.Popen([sys.executable, "-m", "jscc_lab.cli", "train", str(path), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    last = root / "killed" / "last.pt"
    deadline = time.time() + 240
    while _step_of(last) < 2 * EVERY and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed: " + proc.stderr.read().decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # every checkpoint on disk still loads (atomic writes), and no temp file is taken for one
    files = sorted((root / "killed").glob("*.pt"))
    assert files, "no checkpoint written before the kill"
    steps = {f.name: load_checkpoint(f)["step"] for f in files}
    at_kill = steps["last.pt"]
    assert at_kill >= 2 * EVERY and at_kill % EVERY == 0  # at most one interval of work lost

    train(killed, resume=True, progress=False)
    final = load_checkpoint(last)
    assert final["step"] == STEPS
    for key, value in expected["state_dict"].items():
        torch.testing.assert_close(final["state_dict"][key], value, rtol=1e-4, atol=1e-5)


def test_unwritable_or_full_checkpoint_folder_fails_before_training(config, monkeypatch):
    import shutil

    from jscc_lab.train import Trainer

    make, root = config
    blocker = root / "a-file"
    blocker.write_text("not a folder")
    trainer = Trainer(make(blocker / "out"), progress=False)
    with pytest.raises(OSError, match="cannot write checkpoints to out_dir"):
        trainer.fit()
    assert trainer.step == 0

    usage = shutil.disk_usage(root)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1024))
    trainer = Trainer(make(root / "full"), progress=False)
    with pytest.raises(OSError, match="MiB free in out_dir"):
        trainer.fit()
    assert trainer.step == 0
