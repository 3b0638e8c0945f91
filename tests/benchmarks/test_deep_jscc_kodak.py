"""benchmarks/deep_jscc_kodak.py --merge: one model re-evaluated, the other systems' rows kept."""

import json

import pytest
from conftest import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/deep_jscc_kodak.py")


def test_merge_keeps_other_systems_made_on_the_same_setting(bench, tmp_path):
    rows = [{"system": s, "cbr": 1 / 48, "snr_db": 10.0, "image": i, "psnr": 20.0} for s in ("old", "other") for i in range(2)]
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"meta": {"images": 24, "crop": None, "snrs_db": [0, 10]}, "rows": rows}))
    setting = {"images": 24, "crop": None, "snrs_db": [0.0, 10.0]}
    kept = bench.kept_rows(path, {"old"}, setting)
    assert [r["system"] for r in kept] == ["other", "other"]
    with pytest.raises(SystemExit, match="other settings.*snrs_db"):
        bench.kept_rows(path, {"old"}, {**setting, "snrs_db": [10.0]})
    with pytest.raises(SystemExit, match="no results file"):
        bench.kept_rows(tmp_path / "missing.json", {"old"}, setting)


def test_training_curve_spans_every_stage_on_cpu_hours(bench, tmp_path):
    from jscc_lab.train import save_checkpoint

    def stage(name, steps, freeze, init_from=""):
        path = tmp_path / f"{name}.pt"
        history = [{"step": s, "psnr@10dB,cbr1/48": 20.0 + s / 100} for s in range(50, steps + 1, 50)]
        save_checkpoint({"model": {"name": "taejscc"}, "state_dict": {}, "step": steps,
                         "config": {"name": name, "init_from": init_from, "loss": "image", "freeze": freeze},
                         "metrics": {"history": history},
                         "provenance": {"steps": steps, "wall_time_s": 1800.0, "cpu_time_s": 3600.0, "device": "CPU"}},
                        path)
        return path

    last = stage("full", 100, [], init_from=str(stage("frozen", 200, ["ae_encoder"])))
    text = bench.training_curve(last, tmp_path / "curve.png")
    assert "2 stage(s), 300 steps, 2.00 cpu hours" in text and "psnr@10dB,cbr1/48=21.00" in text
    assert (tmp_path / "curve.png").stat().st_size > 10_000


def test_training_curve_stage_labels_do_not_overlap(tmp_path):
    """A short first stage with a long label (the latent stage, both TAEF2 halves frozen) used to
    print over the next stage's label; it now stands upright."""
    import matplotlib

    matplotlib.use("Agg")
    from jscc_lab.plotting import plot_training_curve
    from jscc_lab.train import save_checkpoint

    def stage(name, steps, cpu_s, freeze, init_from=""):
        path = tmp_path / f"{name}.pt"
        history = [{"step": s, "psnr@10dB,cbr1/48": 20.0 + s / 1000} for s in range(50, steps + 1, 50)]
        save_checkpoint({"model": {"name": "taejscc"}, "state_dict": {}, "step": steps,
                         "config": {"name": name, "init_from": init_from, "loss": "image", "freeze": freeze},
                         "metrics": {"history": history},
                         "provenance": {"steps": steps, "wall_time_s": cpu_s, "cpu_time_s": cpu_s, "device": "CPU"}},
                        path)
        return path

    first = stage("latent", 100, 1300, ["ae_encoder", "ae_decoder"])
    second = stage("image", 1800, 8200, ["ae_encoder"], init_from=str(first))
    ax, _ = plot_training_curve(stage("full", 3400, 18000, [], init_from=str(second)))
    renderer = ax.figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) == 3 and ax.texts[0].get_rotation() == 90 and ax.texts[2].get_rotation() == 0
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
