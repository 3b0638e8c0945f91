"""Tests of benchmarks/realism_knob.py: rows per checkpoint, CBR and beta; the change table; the CLI."""

import json

import pytest
import torch
from conftest import load_script

from jscc_lab.models.taejscc import TAEJSCC

knob = load_script("benchmarks/realism_knob.py")


def test_rows_and_changes_of_a_realism_model(data_root):
    torch.manual_seed(0)
    model = TAEJSCC(width=8, blocks=1, pretrained=False, cbrs=("1/48", "1/12"), realism=True).eval()
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    rows = knob.knob_rows({"tiny": model}, images, 10.0, [0.0, 1.0])
    assert [(r["cbr"], r["beta"]) for r in rows] == [(1 / 48, 0.0), (1 / 48, 1.0), (1 / 12, 0.0), (1 / 12, 1.0)]
    assert all(r["n"] == 2 and r["max_bias"] == max(abs(r["bias_r"]), abs(r["bias_g"]), abs(r["bias_b"]))
               for r in rows)
    changes = knob.knob_changes(rows)
    assert [c["cbr"] for c in changes] == [1 / 48, 1 / 12]
    lo, hi = rows[0], rows[1]
    assert changes[0]["dists_change_%"] == pytest.approx(100 * (hi["dists"] / lo["dists"] - 1))
    assert changes[0]["psnr_change_db"] == pytest.approx(hi["psnr"] - lo["psnr"])
    with pytest.raises(SystemExit, match="no realism input"):
        knob.knob_rows({"psnr": TAEJSCC(width=8, blocks=1, pretrained=False, cbrs=("1/48",))}, images, 10.0, [0, 1])


def test_cli_on_the_shipped_checkpoint_writes_valid_json(data_root, tmp_path, capsys):
    out = tmp_path / "knob.json"
    result = knob.main(["taejscc-perceptual-awgn", "--count", "1", "--crop", "64", "--betas", "0", "1",
                        "--json", str(out)])
    assert len(result["rows"]) == 8 and len(result["changes"]) == 4
    saved = json.loads(out.read_text())  # the SEM of one image is null, not NaN
    assert saved["setup"]["images"] == ["kodim01"] and saved["rows"][0]["psnr_sem"] is None
    assert "from the lowest to the highest beta" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="neither a registered checkpoint"):
        knob.main(["no-such-model"])
    with pytest.raises(SystemExit, match="--count must be in 1..24"):
        knob.main(["taejscc-perceptual-awgn", "--count", "0"])
