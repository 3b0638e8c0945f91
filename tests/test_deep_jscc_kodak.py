"""benchmarks/deep_jscc_kodak.py --merge: one model re-evaluated, the other systems' rows kept."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "deep_jscc_kodak.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("deep_jscc_kodak", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
