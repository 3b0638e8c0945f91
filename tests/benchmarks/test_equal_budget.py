"""benchmarks/equal_budget.py: runs on a CPU-hours axis, warm-start stages counted."""


import pytest
from conftest import load_script

from jscc_lab.train import save_checkpoint


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/equal_budget.py")


def _ckpt(path, steps, cpu_s, history, init_from=""):
    save_checkpoint({"model": {"name": "adjscc"}, "state_dict": {}, "config": {"init_from": init_from, "name": "r"},
                     "metrics": {"history": history},
                     "provenance": {"steps": steps, "cpu_time_s": cpu_s, "wall_time_s": cpu_s / 2,
                                    "device": "CPU"}}, path)
    return path


def test_a_warm_start_stage_counts_and_budgets_interpolate(bench, tmp_path):
    stage1 = _ckpt(tmp_path / "stage1.pt", 100, 3600.0, [{"step": 100, "psnr@10dB,cbr1/48": 18.0}])
    history = [{"step": 50, "loss": 1.0}, {"step": 100, "psnr@10dB,cbr1/48": 20.0},
               {"step": 200, "psnr@10dB,cbr1/48": 22.0}]
    run = _ckpt(tmp_path / "run.pt", 200, 7200.0, history, init_from=str(stage1))
    curve = bench.run_curve(run)
    assert [c["checkpoint"] for c in curve["chain"]] == [str(stage1), str(run)]
    # stage 1's own validation at 1 h, then 1 h of stage 1 and 36 s per step
    assert [round(p["cpu_hours"], 6) for p in curve["points"]] == [1.0, 2.0, 3.0]
    assert [p["stage"] for p in curve["points"]] == [0, 1, 1]
    assert bench.at_budget(curve["points"], "psnr@10dB,cbr1/48", 2.5) == pytest.approx(21.0)
    assert bench.at_budget(curve["points"], "psnr@10dB,cbr1/48", 3.5) is None
    assert bench._cbr("psnr@10dB,cbr1/48") == pytest.approx(1 / 48)


def test_the_comparison_table_uses_the_budget_all_runs_reached(bench, tmp_path, capsys):
    a = _ckpt(tmp_path / "a.pt", 100, 3600.0, [{"step": 50, "psnr@10dB,cbr1/12": 24.0},
                                               {"step": 100, "psnr@10dB,cbr1/12": 26.0}])
    b = _ckpt(tmp_path / "b.pt", 100, 7200.0, [{"step": 50, "psnr@10dB,cbr1/12": 25.0},
                                               {"step": 100, "psnr@10dB,cbr1/12": 27.0}])
    result = bench.main(["--run", f"A={a}", "--run", f"B={b}"])
    assert result["budget_cpu_hours"] == pytest.approx(1.0)
    assert result["at_budget"]["A"]["psnr@10dB,cbr1/12"] == pytest.approx(26.0)
    assert result["at_budget"]["B"]["psnr@10dB,cbr1/12"] == pytest.approx(25.0)  # B reached 1 h at step 50
    assert "at_step" not in result  # no shared start: equal steps mean nothing here
    with pytest.raises(SystemExit):
        bench.main(["--run", f"no-label{a}"])


def test_equal_steps_compare_stages_that_started_from_the_same_checkpoint(bench, tmp_path):
    start = _ckpt(tmp_path / "latent.pt", 10, 360.0, [])
    a = _ckpt(tmp_path / "a.pt", 100, 3600.0, [{"step": 50, "psnr@10dB,cbr1/48": 20.0},
                                               {"step": 100, "psnr@10dB,cbr1/48": 21.0}], init_from=str(start))
    b = _ckpt(tmp_path / "b.pt", 50, 900.0, [{"step": 50, "psnr@10dB,cbr1/48": 20.5}], init_from=str(start))
    a2 = _ckpt(tmp_path / "a2.pt", 300, 3600.0, [{"step": 50, "psnr@10dB,cbr1/48": 23.0}], init_from=str(a))
    scratch = _ckpt(tmp_path / "s.pt", 100, 3600.0, [{"step": 50, "psnr@10dB,cbr1/48": 19.0}])
    result = bench.main(["--run", f"A={a2}", "--run", f"B={b}", "--run", f"S={scratch}"])
    # A's second stage (from a.pt) and S are not compared at equal steps; A's first stage and B are
    assert result["at_step"]["start"] == str(start) and result["at_step"]["step"] == 50
    assert result["at_step"]["values"] == {"A": {"psnr@10dB,cbr1/48": 20.0}, "B": {"psnr@10dB,cbr1/48": 20.5}}
    assert result["budget_cpu_hours"] == pytest.approx(0.35)  # B ends at 0.1 + 0.25 h
