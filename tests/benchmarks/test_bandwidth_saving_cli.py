"""Tests of benchmarks/bandwidth_saving.py on tiny inputs: image folders, image identity for
--rows-from, the JSON it writes, and CBRs read from the models. No LPIPS / DISTS / HEVC runs:
the one end-to-end test scores PSNR of untrained tiny models on 32x32 crops."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_script
from PIL import Image

from jscc_lab.data import center_crop, load_image
from jscc_lab.evaluate import bandwidth_saving, save_json
from jscc_lab.models import TAEJSCC, build_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/bandwidth_saving.py")


def _write(path, width, height, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def folder(tmp_path):
    """a.png 40x30, b.png 20x20 (small), c.png 50x60, and a file that is not an image."""
    _write(tmp_path / "c.png", 50, 60, seed=3)
    _write(tmp_path / "a.png", 40, 30, seed=1)
    _write(tmp_path / "b.png", 20, 20, seed=2)
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


@pytest.fixture
def photos(tmp_path):
    """p1.png and p2.png, 40x36 random photos, for the end-to-end runs."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for k, name in enumerate(["p1.png", "p2.png"]):
        _write(folder / name, 40, 36, seed=k)
    return folder


def _one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


# ---- images ---------------------------------------------------------------------------------


def test_folder_loader_sorts_by_name_and_skips_other_files(bench, folder):
    names, images = bench.folder_images(folder)
    assert names == ["a.png", "b.png", "c.png"]
    assert [tuple(x.shape) for x in images] == [(1, 3, 30, 40), (1, 3, 20, 20), (1, 3, 60, 50)]


def test_folder_loader_count_min_size_and_crop(bench, folder):
    names, images = bench.folder_images(folder, count=2, min_size=25, crop=24)
    assert names == ["a.png", "c.png"]  # b is below 25 px; count applies to the images kept
    assert all(tuple(x.shape) == (1, 3, 24, 24) for x in images)
    assert torch.equal(images[1], center_crop(load_image(folder / "c.png"), 24))  # a centre crop
    assert bench.folder_images(folder, count=1)[0] == ["a.png"]


def test_folder_loader_errors(bench, folder, tmp_path_factory):
    with pytest.raises(SystemExit) as err:
        bench.folder_images(folder, crop=24)  # b.png is 20x20
    assert "b.png" in _one_line(err) and "--min-size 24" in str(err.value)
    with pytest.raises(SystemExit, match="no image whose shorter side"):
        bench.folder_images(folder, min_size=100)
    with pytest.raises(SystemExit, match="holds no images"):
        bench.folder_images(tmp_path_factory.mktemp("empty"))
    with pytest.raises(SystemExit, match="is not a folder"):
        bench.folder_images(folder / "a.png")


def test_image_identity_refuses_a_changed_image_with_the_same_count(bench, folder):
    names, images = bench.folder_images(folder, min_size=25)
    saved = bench.image_ids(names, images)
    assert [e["name"] for e in saved] == names and all(len(e["sha256"]) == 64 for e in saved)
    bench.check_images(saved, bench.image_ids(names, [x.clone() for x in images]), "rows.json")  # same pixels

    changed = [x.clone() for x in images]
    changed[1][0, 0, 0, 0] = 1 - changed[1][0, 0, 0, 0]  # one pixel of c.png
    with pytest.raises(SystemExit) as err:
        bench.check_images(saved, bench.image_ids(names, changed), "rows.json")
    assert "image 1 is c.png" in _one_line(err) and "other pixels" in str(err.value)

    with pytest.raises(SystemExit) as err:  # same pixels, other names
        bench.check_images(saved, bench.image_ids(["a.png", "z.png"], images), "rows.json")
    assert "image 1 is c.png" in _one_line(err) and "z.png" in str(err.value)

    cropped = bench.folder_images(folder, min_size=25, crop=24)
    with pytest.raises(SystemExit, match="image 0 is a.png"):  # another crop: other pixels
        bench.check_images(saved, bench.image_ids(*cropped), "rows.json")
    with pytest.raises(SystemExit, match="image 2 is nothing"):
        bench.check_images(saved, bench.image_ids(names + ["b.png"], images + images[:1]), "rows.json")
    with pytest.raises(SystemExit, match="records no images"):
        bench.check_images(None, saved, "rows.json")


# ---- JSON -----------------------------------------------------------------------------------

REF = {1 / 96: [20.0, 20.5, 19.5], 1 / 48: [22.0, 22.5, 21.5], 1 / 24: [24.0, 24.5, 23.5]}


def test_json_writer_gives_valid_json_with_numeric_savings_and_labelled_bounds(bench, tmp_path):
    exact = bandwidth_saving([23.0, 23.5, 22.5], REF, metric="psnr", cbr=1 / 48, n_boot=200)
    above = bandwidth_saving([30.0, 30.5, 29.5], REF, metric="psnr", cbr=1 / 48, n_boot=50)
    below = bandwidth_saving([10.0, 10.5, 9.5], REF, metric="psnr", cbr=1 / 48, n_boot=0)
    savings = [{"reference": "x", **r.as_dict()} for r in (exact, above, below)]
    rows = [{"system": "ours", "cbr": 1 / 48, "snr_db": 10.0, "beta": None, "image": 0, "psnr": math.inf}]
    doc = bench.json_doc({"ours": ["m"]}, [{"name": "a.png", "sha256": "0" * 64}], rows, savings)
    doc = json.loads(save_json(doc, tmp_path / "s.json").read_text())
    json.dumps(doc, allow_nan=False)
    assert doc["rows"][0]["psnr"] is None  # an infinite PSNR is not valid JSON

    e, a, b = doc["savings"]
    assert e["bound"] is None and e["bound_value"] is None
    assert e["saving"] == pytest.approx(1 - math.sqrt(0.5)) and isinstance(e["cbr_needed"], float)
    lo, hi = e["ci"]["low"], e["ci"]["high"]
    assert e["ci"]["confidence"] == 0.95 and lo["saving"] <= e["saving"] <= hi["saving"]
    assert a == {**a, "saving": None, "bound": "above", "bound_value": pytest.approx(0.5), "cbr_needed": None}
    assert a["ci"]["low"] == {"saving": None, "bound": "above", "bound_value": pytest.approx(0.5)}
    assert b["saving"] is None and b["bound"] == "below" and b["bound_value"] == pytest.approx(-1.0)
    assert b["ci"] is None and b["text"] == str(below)
    assert a["reference_range"] == [pytest.approx(1 / 96), pytest.approx(1 / 24)]


# ---- CBRs from the models -------------------------------------------------------------------


def test_cbrs_of_a_rate_adaptive_model(bench):
    model = TAEJSCC(width=8, blocks=1, pretrained=False, cbrs=("1/48", "1/12"))
    system, cbrs = bench.model_system({"taejscc-cbr1_96": model}, "--ours")  # the name says nothing
    assert cbrs == [pytest.approx(1 / 48), pytest.approx(1 / 12)] == list(system.cbrs)
    assert all(system.model_at(c) is model for c in cbrs)
    assert system.cbr_used(321, 481, 1 / 48) == 9650 / (3 * 321 * 481)  # counted: floor(cbr * 3HW)
    assert bench.select_cbrs(cbrs, []) == cbrs
    assert bench.select_cbrs(cbrs, ["1/12", "1/12"]) == [cbrs[1]]
    with pytest.raises(SystemExit, match="1/24 is not served"):
        bench.select_cbrs(cbrs, ["1/24"])
    with pytest.raises(SystemExit, match="not a CBR"):
        bench.select_cbrs(cbrs, ["fast"])
    assert not bench._realism(model)
    assert bench._realism(build_model("perceptual", cbr="1/48", width=8, res_blocks=1))  # takes beta


def test_cbrs_of_single_cbr_checkpoints(bench):
    models = {"adjscc-psnr-awgn-cbr1_96": build_model("adjscc", cbr="1/12", width=8),
              "adjscc-psnr-awgn-cbr1_12": build_model("adjscc", cbr="1/24", width=8)}
    system, cbrs = bench.model_system(models, "--psnr-reference")
    assert cbrs == [pytest.approx(1 / 24), pytest.approx(1 / 12)]  # from model.cbr, not the names
    assert list(system.cbrs) == cbrs and system.model_at(cbrs[1]) is models["adjscc-psnr-awgn-cbr1_96"]

    with pytest.raises(SystemExit, match="both have CBR 1/12"):
        bench.model_system({"a": build_model("adjscc", cbr="1/12", width=8),
                            "b": build_model("adjscc", cbr="1/12", width=8)}, "--psnr-reference")
    adaptive = TAEJSCC(width=8, blocks=1, pretrained=False, cbrs=("1/48", "1/12"))
    with pytest.raises(SystemExit, match="rate-adaptive"):
        bench.model_system({"t": adaptive, **models}, "--ours")


# ---- end to end, PSNR only ------------------------------------------------------------------


def test_main_on_a_folder_with_rate_adaptive_models_and_rows_from(bench, photos, tmp_path, monkeypatch):
    torch.manual_seed(0)
    models = {"ours-ra": TAEJSCC(width=8, blocks=1, pretrained=False, cbrs=("1/48", "1/12")),
              "psnr-ra": TAEJSCC(width=8, blocks=1, pretrained=False, cbrs=("1/96", "1/48", "1/24", "1/12"))}
    monkeypatch.setattr(bench, "_load", lambda name: models[name])
    out = tmp_path / "rows.json"
    common = ["--folder", str(photos), "--crop", "32", "--ours", "ours-ra", "--references", "psnr-model",
              "--psnr-reference", "psnr-ra", "--metrics", "psnr", "--n-boot", "20"]
    assert bench.main([*common, "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [e["name"] for e in doc["images"]] == ["p1.png", "p2.png"]
    assert doc["setup"]["cbrs"] == [pytest.approx(1 / 48), pytest.approx(1 / 12)]
    assert [s["cbr"] for s in doc["savings"]] == doc["setup"]["cbrs"]  # a saving at each of our CBRs
    for s in doc["savings"]:
        assert isinstance(s["saving"], float) or s["bound"] in ("above", "below")

    assert bench.main([*common, "--cbrs", "1/12", "--rows-from", str(out)]) == 0  # the same images
    curves = tmp_path / "curves.png"  # ours at two CBRs: drawn as a curve
    assert bench.main([*common, "--rows-from", str(out), "--curves-figure", str(curves)]) == 0
    assert curves.stat().st_size > 0
    models["psnr-ra"] = TAEJSCC(width=8, blocks=1, pretrained=False, cbrs=("1/96", "1/48", "1/24", "1/12"))
    again = tmp_path / "again.json"  # the reference's checkpoint changed: sweep it again, reuse ours
    assert bench.main([*common, "--rows-from", str(out), "--resweep", "psnr-model", "--json", str(again)]) == 0
    before, after = doc["rows"], json.loads(again.read_text())["rows"]
    assert [r for r in after if r["system"] == "ours"] == [r for r in before if r["system"] == "ours"]
    assert [r["psnr"] for r in after if r["system"] == "psnr-model"] != [r["psnr"] for r in before
                                                                         if r["system"] == "psnr-model"]
    with pytest.raises(SystemExit, match="--resweep hevc-ldpc: needs --rows-from"):
        bench.main([*common, "--rows-from", str(out), "--resweep", "hevc-ldpc"])
    _write(photos / "p2.png", 40, 36, seed=9)  # same names and count, other pixels
    with pytest.raises(SystemExit, match="image 1 is p2.png"):
        bench.main([*common, "--rows-from", str(out)])


# ---- realism knob -----------------------------------------------------------------------------


def _ours_rows(values_by_beta, metric="dists", cbr=1 / 48):
    return [{"system": "ours", "cbr": cbr, "snr_db": 10.0, "beta": b, "image": i, metric: v, "psnr": 20.0 - b}
            for b, vals in values_by_beta.items() for i, v in enumerate(vals)]


def test_realism_table_says_whether_dists_falls_by_the_target(bench):
    met = bench.realism_table(_ours_rows({0.0: [0.30, 0.30], 1.0: [0.26, 0.26]}), [1 / 48], ["psnr", "dists"], 1.0)
    assert [r["metric"] for r in met] == ["psnr", "dists"]
    assert met[0]["change"] == "-1.00 dB" and met[0]["target"] == "-"
    assert met[1]["change"] == "-13.3 %" and met[1]["target"] == "met"
    missed = bench.realism_table(_ours_rows({0.0: [0.30, 0.30], 1.0: [0.28, 0.28]}), [1 / 48], ["dists"], 1.0)
    assert missed[0]["target"] == "missed"


def test_main_with_a_realism_model_evaluates_every_beta_and_the_colour_diagnostics(bench, photos, tmp_path,
                                                                                   monkeypatch):
    torch.manual_seed(0)
    ours = TAEJSCC(width=8, blocks=1, pretrained=False, cbrs=("1/48", "1/12"), realism=True)
    with torch.no_grad():
        ours.rx_condition.beta.weight.normal_()  # so that beta changes the output
    monkeypatch.setattr(bench, "_load", lambda name: ours)
    out, grid = tmp_path / "rows.json", tmp_path / "grid.jpg"
    assert bench.main(["--folder", str(photos), "--crop", "32", "--ours", "ours", "--references", "hevc-capacity",
                       "--hevc-cbrs", "1/24", "1/12", "--metrics", "psnr", "--betas", "0.5", "--n-boot", "20",
                       "--json", str(out), "--figure", str(grid), "--figure-images", "0"]) == 0
    doc = json.loads(out.read_text())
    betas = sorted({r["beta"] for r in doc["rows"] if r["system"] == "ours"})
    assert betas == [0.0, 0.5, 1.0]
    assert all(abs(r[k]) < 1 for r in doc["rows"] for k in ("bias_r", "bias_g", "bias_b"))
    assert all(r["chroma_ratio"] > 0 for r in doc["rows"] if r["system"] == "ours")
    assert [r["metric"] for r in doc["realism"]] == ["psnr", "psnr"]  # one per CBR
    assert grid.stat().st_size > 0


def test_a_json_without_rows_cannot_serve_rows_from(bench, tmp_path):
    path = tmp_path / "summary.json"
    path.write_text('{"setup": {}, "images": [], "rows": [], "savings": [], "realism": []}')
    with pytest.raises(SystemExit, match="--json-without-rows"):
        bench._rows_from(str(path), {}, [], {})
