"""jscc_lab.precision: amp="auto" / "bf16" / "none" in the trainer, the sweep, the explorer and the
demo; bf16 numerics against fp32 (training and inference); the provenance of the choice."""

import dataclasses

import pytest
import torch
from test_trainer import image_dirs, tiny_config  # noqa: F401  (the module fixture is used below)

from jscc_lab import precision
from jscc_lab.models import DeepJSCC
from jscc_lab.models.layers import GDN, FP32Conv2d
from jscc_lab.precision import choose_amp
from jscc_lab.pretrained import load_checkpoint
from jscc_lab.train import TrainConfig, Trainer, mse_objective, train


@pytest.fixture
def fresh_cache():
    precision.clear_cache()
    yield
    precision.clear_cache()


# ---- the choice ---------------------------------------------------------------------------------


def test_none_forces_fp32_and_bf16_forces_bf16_without_probing(monkeypatch, fresh_cache):
    monkeypatch.setattr(precision, "probe_speedup", lambda *a, **k: pytest.fail("probed a forced choice"))
    assert choose_amp("cpu", "none") == (False, 'fp32: forced by amp="none"')
    assert choose_amp("cpu", "bf16") == (True, 'bf16: forced by amp="bf16"')


@pytest.mark.parametrize("bad", ["fp16", "BF16", "", None, True])
def test_invalid_amp_is_refused_in_one_line_everywhere(bad):
    from jscc_lab.classroom import Explorer
    from jscc_lab.demo import run_demo
    from jscc_lab.evaluate import sweep

    calls = [lambda: choose_amp("cpu", bad), lambda: TrainConfig(amp=bad),
             lambda: sweep(lambda x, snr, cbr: x, torch.rand(1, 3, 8, 8), [10.0], metrics=("psnr",), cbrs=[0.5], amp=bad),
             lambda: Explorer(images={"a": torch.rand(1, 3, 16, 16)}, models={}, crop=16, metrics=("psnr",),
                              prefetch=False, separate=False, amp=bad),
             lambda: run_demo(snrs_db=[10.0], amp=bad)]
    for call in calls:
        with pytest.raises(ValueError) as err:
            call()
        message = str(err.value)
        assert "\n" not in message and "amp" in message
        assert all(v in message for v in ('"auto"', '"bf16"', '"none"')), message


def test_auto_follows_the_probe_and_measures_once_per_device(monkeypatch, fresh_cache):
    calls = []

    def fake_probe(device, repeats=precision.PROBE_REPEATS):
        calls.append(device)
        return speedup, 0.02, 0.02 / speedup

    monkeypatch.setattr(precision, "probe_speedup", fake_probe)
    speedup = precision.MIN_SPEEDUP * 1.5
    use, reason = choose_amp("cpu", "auto")
    assert use and reason.startswith("bf16: auto") and f"{speedup:.2f}x" in reason
    assert choose_amp(torch.device("cpu"), "auto") == (use, reason) and len(calls) == 1  # cached
    precision.clear_cache()
    speedup = precision.MIN_SPEEDUP * 0.9  # faster, but not by enough
    use, reason = choose_amp("cpu", "auto")
    assert not use and reason.startswith("fp32: auto") and f"needs >= {precision.MIN_SPEEDUP:g}x" in reason
    assert len(calls) == 2
    assert choose_amp("meta", "auto") == (False, "fp32: auto keeps fp32 on device type 'meta'")


def test_the_real_probe_is_short_restores_threads_and_decides_by_its_measurement(fresh_cache):
    threads = torch.get_num_threads()
    speedup, fp32_s, bf16_s = precision.probe_speedup("cpu", repeats=2)
    assert torch.get_num_threads() == threads
    assert speedup == pytest.approx(fp32_s / bf16_s) and 0 < fp32_s < 1 and 0 < bf16_s < 1
    use, reason = choose_amp("cpu", "auto")
    measured = float(reason.split("bf16 autocast ")[1].split("x")[0])
    assert use == (measured >= precision.MIN_SPEEDUP), reason
    assert precision.cpu_name() in reason


# ---- fp32 where precision needs it ----------------------------------------------------------------


def test_power_normalisation_gdn_and_image_convs_stay_fp32_under_cpu_bf16_autocast():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32)
    model = DeepJSCC(cbr="1/12", width=16).eval()
    gdn = GDN(16)
    conv = FP32Conv2d(16, 3, 3, padding=1)
    h = torch.randn(2, 16, 8, 8)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        s = model.encode(x, 10.0)
        assert model.encoder(x, torch.full((2,), 10.0)).dtype == torch.bfloat16  # autocast is on
        g, out = gdn(h), conv(h.bfloat16())
    assert s.dtype == torch.complex64
    torch.testing.assert_close(s.abs().square().mean(dim=1), torch.ones(2), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(g, gdn(h))  # float32 in, computed and returned in float32
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, conv(h.bfloat16().float()), rtol=1e-6, atol=1e-6)  # no bf16 rounding


def test_taejscc_symbols_have_unit_power_in_fp32_under_bf16_autocast():
    from jscc_lab.models import TAEJSCC

    torch.manual_seed(0)
    model = TAEJSCC(width=16, blocks=1, pretrained=False).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        s = model.encode(x, 10.0, cbr=model.cbrs[-1])
    torch.testing.assert_close(s.abs().square().mean(dim=1), torch.ones(2), rtol=1e-5, atol=1e-5)


# ---- training ------------------------------------------------------------------------------------


def test_trainer_runs_the_step_in_the_chosen_precision_prints_and_records_it(image_dirs, tmp_path, capsys):  # noqa: F811
    seen = []

    def objective(model, x, snr, generator=None, **conditions):
        seen.append(torch.is_autocast_enabled("cpu"))
        return mse_objective(model, x, snr, generator, **conditions)

    for amp, dtype in (("bf16", "bf16"), ("none", "fp32")):
        seen.clear()
        cfg = tiny_config(image_dirs, tmp_path / amp, steps=2, val_every=2, checkpoint_every=2, amp=amp)
        train(cfg, objective=objective, progress=False)
        assert seen == [amp == "bf16"] * 2
        prov = load_checkpoint(tmp_path / amp / "last.pt")["provenance"]
        assert prov["amp"] == dtype and prov["amp_reason"] == f'{dtype}: forced by amp="{amp}"'
        out = capsys.readouterr().out
        assert f'tiny: {dtype}: forced by amp="{amp}"\n' in out


def test_auto_in_the_trainer_is_choose_amp_and_recorded(image_dirs, tmp_path, monkeypatch, fresh_cache):  # noqa: F811
    monkeypatch.setattr(precision, "probe_speedup", lambda device, repeats=5: (3.0, 0.03, 0.01))
    trainer = Trainer(tiny_config(image_dirs, tmp_path, amp="auto"), progress=False)
    assert trainer.amp and trainer.amp_reason == choose_amp("cpu", "auto")[1]
    assert trainer.checkpoint()["provenance"]["amp_reason"] == trainer.amp_reason


def test_bf16_training_ends_within_tolerance_of_fp32(image_dirs, tmp_path):  # noqa: F811
    # Same start, same crops, SNRs and noise: 60 steps of a small ADJSCC on 32x32 crops in fp32
    # and under bf16 autocast. Measured on an AMD EPYC (AVX512-BF16): +0.83 dB of learning in
    # both, 0.02 dB apart. Tolerance: 0.1 dB (an eighth of what the runs learn).
    tolerance_db = 0.1
    base = tiny_config(image_dirs, tmp_path, width=16, batch_size=8, steps=60, warmup_steps=0,
                       val_every=60, checkpoint_every=60, log_every=60)
    results = {}
    for amp in ("none", "bf16"):
        trainer = Trainer(dataclasses.replace(base, amp=amp, out_dir=str(tmp_path / amp)), progress=False)
        trainer.validate()  # seeded: the same numbers for both
        start = trainer.validate()["val_psnr_db"]
        result = trainer.fit()
        losses = [h["loss"] for h in result["history"] if "loss" in h]
        results[amp] = (start, result["best"]["val_psnr_db"], losses)
    (start32, end32, loss32), (start16, end16, loss16) = results["none"], results["bf16"]
    assert end32 > start32 + 0.4 and end16 > start16 + 0.4, results  # both runs learned
    assert loss16 != loss32  # bf16 really ran (the runs are not the same computation)
    assert abs(end16 - end32) < tolerance_db, (end16, end32)


# ---- inference -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kodak_crops():
    from jscc_lab.data import center_crop, kodak

    return [center_crop(im, 128) for im in kodak()[:2]]


def test_sweep_in_bf16_is_within_0_05_db_of_fp32_on_kodak(kodak_crops):
    from jscc_lab import pretrained
    from jscc_lab.evaluate import reconstruct, sweep

    model = pretrained.load("taejscc-psnr-awgn")
    cbrs = [min(model.cbrs), max(model.cbrs)]
    rows = {amp: sweep(model, kodak_crops, [10.0], metrics=("psnr",), cbrs=cbrs, amp=amp, seed=3)
            for amp in ("none", "bf16")}
    for cbr in cbrs:
        mean = {amp: sum(r["psnr"] for r in rs if r["cbr"] == cbr) / len(kodak_crops) for amp, rs in rows.items()}
        assert abs(mean["bf16"] - mean["none"]) < 0.05, (cbr, mean)
    x32, x16 = (reconstruct(model, kodak_crops, 10.0, cbr=cbrs[0], seed=3, indices=[0], amp=amp)[0]
                for amp in ("none", "bf16"))
    assert x16.dtype == torch.float32 and not torch.equal(x16, x32)  # bf16 really ran, fp32 out


def test_explorer_takes_amp_and_reports_why(fresh_cache):
    from jscc_lab.classroom import Explorer

    model = DeepJSCC(cbr="1/12", width=8).eval()
    images = {"ramp": torch.linspace(0, 1, 32).repeat(1, 3, 32, 1)}
    shown = {}
    for amp in ("none", "bf16"):
        ex = Explorer(images=images, models={("psnr", model.cbr): model}, crop=32, metrics=("psnr",),
                      prefetch=False, separate=False, amp=amp)
        assert ex.amp == (amp == "bf16") and ex.amp_reason == choose_amp("cpu", amp)[1]
        shown[amp] = ex.reconstruct("PSNR deep JSCC")
        assert shown[amp].dtype == torch.float32
    assert not torch.equal(shown["none"], shown["bf16"])
