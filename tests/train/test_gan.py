"""Tests of the perceptual / GAN trainer: one seeded step, guards, warm start, resume, configs."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from jscc_lab.models import build_model
from jscc_lab.models.perceptual import PerceptualJSCC
from jscc_lab.pretrained import load_checkpoint
from jscc_lab.train import (
    GANTrainer,
    PerceptualTrainConfig,
    TrainingDiverged,
    load_config,
    sample_betas,
    save_config,
    train_perceptual,
    training_stages,
)

CONFIGS = Path(__file__).resolve().parents[2] / "jscc_lab" / "configs"




def tiny_config(image_dirs, tmp_path, **overrides) -> PerceptualTrainConfig:
    fields = dict(name="tiny", stage="gan", width=8, res_blocks=1, d_filters=[8, 8, 16, 16],
                  crop=32, batch_size=2, steps=4, lr=1e-3, d_lr=1e-3, val_every=4,
                  checkpoint_every=2, log_every=1, val_crop=32, val_batch=2,
                  train_dir=str(image_dirs / "train"), val_dir=str(image_dirs / "val"),
                  out_dir=str(tmp_path / "run"), device="cpu", seed=3, threads=1)
    fields.update(overrides)
    return PerceptualTrainConfig(**fields)


def _params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def test_registered_and_buildable():
    model = build_model("perceptual", cbr="1/48", width=8, generator_width=8, res_blocks=1)
    assert isinstance(model, PerceptualJSCC)


def test_one_seeded_gan_step_updates_both_nets(image_dirs, tmp_path, data_root):
    trainer = GANTrainer(tiny_config(image_dirs, tmp_path), progress=False)
    g_before, d_before = _params(trainer.model), _params(trainer.discriminator)
    logs = trainer.training_step(0)
    assert all(np.isfinite(v) for v in logs.values()), logs
    assert {"d_loss", "d_acc", "g_adv", "distortion", "mse_255", "lpips", "loss"} <= set(logs)
    assert 0.0 <= logs["d_acc"] <= 1.0

    def changed(before, module):
        return [k for k, v in module.named_parameters() if not torch.equal(v, before[k])]

    assert any(k.startswith("encoder.") for k in changed(g_before, trainer.model))
    assert any(k.startswith("decoder.") for k in changed(g_before, trainer.model))
    assert len(changed(d_before, trainer.discriminator)) == len(d_before)
    # the same seed gives the same step
    again = GANTrainer(tiny_config(image_dirs, tmp_path), progress=False)
    assert again.training_step(0) == logs


def test_d_steps_updates_the_discriminator_n_times_per_generator_step(image_dirs, tmp_path, data_root):
    trainer = GANTrainer(tiny_config(image_dirs, tmp_path, d_steps=3), progress=False)
    one = GANTrainer(tiny_config(image_dirs, tmp_path), progress=False)
    for t in (trainer, one):
        t.training_step(0)
    d_adam = [s["step"] for s in trainer.d_optimizer.state.values()]
    g_adam = [s["step"] for s in trainer.optimizer.state.values()]
    assert d_adam and all(int(s) == 3 for s in d_adam) and all(int(s) == 1 for s in g_adam)
    assert all(int(s["step"]) == 1 for s in one.d_optimizer.state.values())
    # three updates move D further from its start than one
    start = _params(GANTrainer(tiny_config(image_dirs, tmp_path), progress=False).discriminator)

    def moved(t):
        return sum(float((v - start[k]).norm()) for k, v in t.discriminator.named_parameters())

    assert moved(trainer) > 1.5 * moved(one)
    with pytest.raises(ValueError, match="d_steps"):
        PerceptualTrainConfig(d_steps=0)


def test_grid_weight_adds_the_grid_term(image_dirs, tmp_path, data_root):
    trainer = GANTrainer(tiny_config(image_dirs, tmp_path, grid_weight=0.5, steps=2), progress=False)
    logs = trainer.training_step(0)
    assert np.isfinite(logs["grid_255"]) and logs["grid_255"] > 0
    trainer.fit()  # the stage record of the checkpoint names the weight
    assert training_stages(tmp_path / "run" / "last.pt")[-1]["loss_weights"]["grid_weight"] == 0.5
    assert "grid_255" not in GANTrainer(tiny_config(image_dirs, tmp_path), progress=False).training_step(0)
    with pytest.raises(ValueError, match="grid_weight needs crop >= 32"):
        PerceptualTrainConfig(grid_weight=0.5, crop=16)


def test_alexnet_discriminator_trains_its_heads_and_resumes(image_dirs, tmp_path, data_root):
    from jscc_lab.models.discriminator import ProjectedDiscriminator

    trainer = GANTrainer(tiny_config(image_dirs, tmp_path, d_backbone="alexnet"), progress=False)
    assert isinstance(trainer.discriminator, ProjectedDiscriminator)
    frozen = {k: v.clone() for k, v in trainer.discriminator.backbone.state_dict().items()}
    heads = _params(trainer.discriminator.heads)
    logs = trainer.training_step(0)
    assert all(np.isfinite(v) for v in logs.values()), logs
    assert all(not torch.equal(v, heads[k]) for k, v in trainer.discriminator.heads.named_parameters())
    assert all(torch.equal(v, frozen[k]) for k, v in trainer.discriminator.backbone.state_dict().items())
    trainer.fit(stop_at=2)
    resumed = GANTrainer(tiny_config(image_dirs, tmp_path, d_backbone="alexnet"), progress=False)
    resumed.fit(resume=True)
    assert resumed.step == 4
    with pytest.raises(ValueError, match="d_backbone must be one of"):
        PerceptualTrainConfig(d_backbone="vgg16")


def test_discriminator_learns_to_tell_real_from_fake(image_dirs, tmp_path, data_root):
    trainer = GANTrainer(tiny_config(image_dirs, tmp_path, steps=8, adversarial_weight=0.0), progress=False)
    x, snr, noise = trainer.micro_batch(0, 0)
    with torch.no_grad():
        x_hat, z = trainer.model(x, snr, beta=1.0, generator=noise, return_latent=True)

    def d_loss(real, fake):
        with torch.no_grad():
            return trainer.d_loss_fn(trainer.discriminator(real, z, snr), trainer.discriminator(fake, z, snr)).mean()

    for step in range(8):
        trainer.training_step(step)
    trainer.discriminator.eval()
    right, swapped = d_loss(x, x_hat), d_loss(x_hat, x)
    assert right < swapped - 0.05, (right, swapped)


def test_beta_sampling_edges_and_range():
    g = torch.Generator().manual_seed(0)
    beta = sample_betas(4000, 0.5, g)
    assert beta.min() >= 0 and beta.max() <= 1
    edges = ((beta == 0) | (beta == 1)).float().mean().item()
    assert 0.45 < edges < 0.55
    assert sample_betas(100, 0.0, g).unique().numel() == 100


def test_non_finite_loss_stops_before_the_update(image_dirs, tmp_path, data_root):
    config = tiny_config(image_dirs, tmp_path, steps=6)
    trainer = GANTrainer(config, progress=False)
    trainer.fit(stop_at=2)
    good = load_checkpoint(config.output_dir / "last.pt")
    assert good["step"] == 2
    real_distortion = trainer.distortion

    def poisoned(x, x_hat, **kw):
        total, parts = real_distortion(x, x_hat, **kw)
        return total * float("nan"), parts

    trainer.distortion = poisoned
    before = _params(trainer.model)
    with pytest.raises(TrainingDiverged, match=r"generator_loss is nan.*last good checkpoint is .*last\.pt"):
        trainer.fit(stop_at=6)
    assert all(torch.equal(v, before[k]) for k, v in trainer.model.named_parameters())
    kept = load_checkpoint(config.output_dir / "last.pt")
    assert kept["step"] == 2
    assert all(torch.isfinite(v).all() for v in kept["state_dict"].values() if v.is_floating_point())


def test_run_away_distortion_guard(image_dirs, tmp_path, data_root):
    trainer = GANTrainer(tiny_config(image_dirs, tmp_path, divergence_patience=2, guard_warmup=1), progress=False)
    trainer.training_step(0)  # sets the reference level
    assert trainer.guard["reference"] > 0
    trainer.guard["reference"] = 1e-6  # pretend the run started far better than it is now
    trainer.training_step(1)
    with pytest.raises(TrainingDiverged, match="stayed above 3.0 x its starting level"):
        trainer.training_step(2)


def test_warm_start_and_resume_are_exact(image_dirs, tmp_path, data_root):
    stage1 = tiny_config(image_dirs, tmp_path, stage="distortion", steps=2, out_dir=str(tmp_path / "s1"))
    train_perceptual(stage1, progress=False)
    s1 = load_checkpoint(stage1.output_dir / "last.pt")
    assert s1["provenance"]["stage"] == "distortion" and "MSE_255" in s1["provenance"]["objective"]

    straight = tiny_config(image_dirs, tmp_path, init_from=str(stage1.output_dir / "last.pt"),
                           out_dir=str(tmp_path / "straight"))
    trainer = GANTrainer(straight, progress=False)
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, s1["state_dict"][k]), k
    trainer.fit()

    split = tiny_config(image_dirs, tmp_path, init_from=str(stage1.output_dir / "last.pt"),
                        out_dir=str(tmp_path / "split"))
    train_perceptual(split, progress=False, stop_at=2)
    (tmp_path / "s1").rename(tmp_path / "s1-gone")  # a resume on a machine without the stage-1 files
    result = train_perceptual(split, progress=False, resume=True)
    (tmp_path / "s1-gone").rename(tmp_path / "s1")
    assert result["step"] == 4
    a = load_checkpoint(straight.output_dir / "last.pt")
    b = load_checkpoint(split.output_dir / "last.pt")
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    for k in a["extra"]["discriminator"]:
        assert torch.equal(a["extra"]["discriminator"][k], b["extra"]["discriminator"][k]), k
    prov = b["provenance"]
    assert prov["stage"] == "gan" and prov["warm_start"]["model"]["stage"] == "distortion"
    assert prov["steps"] == 4 and prov["wall_time_s"] >= 0 and "CPU" in prov["device"]
    assert (split.output_dir / "config.toml").is_file()
    assert [s["objective"] for s in training_stages(split.output_dir / "last.pt")] == ["distortion", "gan"]

    mismatched = tiny_config(image_dirs, tmp_path, width=12, init_from=str(stage1.output_dir / "last.pt"))
    with pytest.raises(ValueError, match="init_from=.* holds model"):
        GANTrainer(mismatched, progress=False)


def test_gan_init_from_a_gan_checkpoint_takes_its_discriminator(image_dirs, tmp_path, data_root):
    first = tiny_config(image_dirs, tmp_path, steps=2, out_dir=str(tmp_path / "g1"))
    train_perceptual(first, progress=False)
    g1 = load_checkpoint(first.output_dir / "last.pt")
    cont = GANTrainer(tiny_config(image_dirs, tmp_path, init_from=str(first.output_dir / "last.pt"),
                                  beta_scales_lpips=True, out_dir=str(tmp_path / "g2")), progress=False)
    for k, v in cont.discriminator.state_dict().items():
        assert torch.equal(v, g1["extra"]["discriminator"][k]), k
    assert cont.d_optimizer.state_dict()["state"], "the discriminator's Adam moments come along"
    assert cont.warm_start["discriminator"] == "last.pt"
    fresh = GANTrainer(tiny_config(image_dirs, tmp_path, init_from=str(first.output_dir / "last.pt"),
                                   init_discriminator=False, out_dir=str(tmp_path / "g3")), progress=False)
    assert not any(torch.equal(v, g1["extra"]["discriminator"][k])
                   for k, v in fresh.discriminator.state_dict().items() if k.endswith("weight_orig"))
    other = tiny_config(image_dirs, tmp_path, d_filters=[8, 8, 16, 32], init_from=str(first.output_dir / "last.pt"))
    with pytest.raises(ValueError, match="its discriminator does not fit"):
        GANTrainer(other, progress=False)


def test_beta_scales_lpips_makes_beta_zero_the_mse_end(image_dirs, tmp_path, data_root):
    trainer = GANTrainer(tiny_config(image_dirs, tmp_path, beta_scales_lpips=True), progress=False)
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    x_hat = (x + 0.4 * torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    beta = torch.tensor([0.0, 0.5, 1.0])
    total, parts = trainer.distortion(x, x_hat, lpips_scale=beta)
    c = trainer.config
    expected = c.mse_weight * parts["mse_255"] + c.lpips_weight * beta * parts["lpips"]
    torch.testing.assert_close(total, expected)
    assert parts["lpips"].min() > 0.005  # so the scaling matters
    logs = trainer.training_step(0)
    assert all(np.isfinite(v) for v in logs.values()), logs
    assert "beta*LPIPS" in trainer.checkpoint()["provenance"]["objective"]


def test_sample_grid_written(image_dirs, tmp_path, data_root):
    trainer = GANTrainer(tiny_config(image_dirs, tmp_path, sample_every=1), progress=False)
    trainer.training_step(0)
    path = tmp_path / "run" / "samples" / "step_0000001.png"
    assert path.is_file()
    w, h = Image.open(path).size
    assert (w, h) == (4 * 34 + 2, 2 * 34 + 2)  # 2 val images x (original + 3 betas), padding 2


def test_config_validation_and_toml_roundtrip(tmp_path):
    with pytest.raises(ValueError, match='stage must be "distortion" or "gan"'):
        PerceptualTrainConfig(stage="both")
    with pytest.raises(ValueError, match="valid kinds"):
        PerceptualTrainConfig(gan_loss="wgan")
    with pytest.raises(ValueError, match="beta_edge_prob"):
        PerceptualTrainConfig(beta_edge_prob=1.5)
    with pytest.raises(ValueError, match="multiple of 4"):
        PerceptualTrainConfig(crop=30)
    config = PerceptualTrainConfig(name="x", d_filters=[8, 16], r1_weight=1.0)
    path = save_config(config, tmp_path / "c.toml")
    assert load_config(path, cls=PerceptualTrainConfig) == config
    for shipped in sorted(CONFIGS.glob("perceptual_*.toml")):
        loaded = load_config(shipped, cls=PerceptualTrainConfig)
        assert loaded.model == "perceptual" and loaded.cbr == "1/48"


def test_the_old_module_name_still_imports_with_a_deprecation_warning():
    import importlib
    import sys

    sys.modules.pop("jscc_lab.train_gan", None)
    with pytest.warns(DeprecationWarning, match="jscc_lab.train"):
        old = importlib.import_module("jscc_lab.train_gan")
    assert old.PerceptualTrainConfig is PerceptualTrainConfig and old.GANTrainer is GANTrainer


def test_jscc_lab_train_runs_a_perceptual_config_once(image_dirs, tmp_path, data_root, capsys):
    from jscc_lab.cli import main as cli_main

    path = save_config(tiny_config(image_dirs, tmp_path, stage="distortion", steps=1), tmp_path / "tiny.toml")
    assert cli_main(["train", str(path), "--no-progress", "--set", "steps=2"]) == 0
    assert "finished tiny (distortion) at step 2" in capsys.readouterr().out
    assert cli_main(["train", str(path), "--no-progress", "--set", "steps=2"]) == 2  # the run exists
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err and len(err.strip().splitlines()) == 1


def test_discriminator_probe_learns_against_a_frozen_generator(image_dirs, tmp_path, data_root):
    """benchmarks/discriminator_probe.py: a fresh D against a barely trained (frozen) generator
    separates real from fake well above chance within a few dozen steps; the checkpoint is untouched."""
    from conftest import load_script

    probe = load_script("benchmarks/discriminator_probe.py")
    train_perceptual(tiny_config(image_dirs, tmp_path, steps=2), progress=False)
    ckpt = tmp_path / "run" / "last.pt"
    before = ckpt.read_bytes()
    result = probe.main([str(ckpt), "--d-lr", "1e-3", "--steps", "40", "--tail", "10", "--threads", "1"])
    s = result["summary"]["0.001"]
    assert s["d_acc"] > 0.7 and s["d_loss"] < 1.3, s
    assert len(result["logs"]["0.001"]) == 40 and ckpt.read_bytes() == before
    with pytest.raises(ValueError, match="GAN trainer checkpoint"):
        train_perceptual(tiny_config(image_dirs, tmp_path / "d", stage="distortion", steps=1), progress=False)
        probe.probe(tmp_path / "d" / "run" / "last.pt", 1e-3, 1)
