"""benchmarks/grid_artefacts.py: every system at one CBR, the gridded model told apart from HEVC."""

import json

import pytest
from conftest import load_script

grid = load_script("benchmarks/grid_artefacts.py")


def test_the_model_users_saw_a_grid_in_scores_above_hevc(data_root, tmp_path):
    summary = grid.main(["--count", "2", "--crop", "128", "--json", str(tmp_path / "g.json")])
    by = {(r["system"], r["beta"]): r for r in summary}
    assert {("hevc+capacity", None), ("taef2 alone", None), ("taejscc-psnr-awgn", None),
            ("taejscc-perceptual-awgn", 0.0), ("taejscc-perceptual-awgn", 1.0)} <= set(by)
    assert ("adjscc-psnr-awgn-cbr1_96", None) not in by  # only the systems that serve the CBR
    assert all(r["grid"] >= 0 and r["n"] == 2 for r in summary)
    # the realism-conditioned model users saw, at its full-GAN end (beta = 1)
    assert by[("perceptual-awgn-cbr1_48", 1.0)]["grid"] > 3 * by[("hevc+capacity", None)]["grid"]
    assert json.loads((tmp_path / "g.json").read_text())["setup"]["cbr"] == "1/48"
    with pytest.raises(SystemExit, match="--crop"):
        grid.main(["--crop", "100"])
