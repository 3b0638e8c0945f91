"""Tests of jscc_lab.evaluate: sweeps and bandwidth saving on synthetic curves with known answers."""

import functools
import math

import numpy as np
import pytest
import torch
from torch import nn

from jscc_lab.channels import AWGN
from jscc_lab.evaluate import (
    bandwidth_saving,
    cbr_for_quality,
    curve,
    format_table,
    monotone_fit,
    reconstruct,
    reference_cbrs,
    summarize,
    sweep,
)

REF_CBRS = [1 / 96, 1 / 48, 1 / 24, 1 / 12]


def psnr_curve(cbr, a=30.0, b=3.0):
    """Synthetic reference: PSNR linear in log2(CBR), +3 dB per doubling."""
    return a + b * math.log2(cbr * 12)


# ---- cbr_for_quality / bandwidth_saving -----------------------------------------------------


def test_log_cbr_interpolation_is_exact_on_log_linear_curves():
    quality = [psnr_curve(c) for c in REF_CBRS]
    for true_cbr in (1 / 90, 1 / 40, 1 / 30, 1 / 13):
        kind, needed = cbr_for_quality(REF_CBRS, quality, psnr_curve(true_cbr), higher_is_better=True)
        assert kind == "=" and math.isclose(needed, true_cbr, rel_tol=1e-9)
    # lower-is-better metric (LPIPS-like): same answer on the negated curve
    kind, needed = cbr_for_quality(REF_CBRS, [-q for q in quality], -psnr_curve(1 / 30), higher_is_better=False)
    assert kind == "=" and math.isclose(needed, 1 / 30, rel_tol=1e-9)


def test_dense_reference_grid_and_monotone_fit():
    grid = reference_cbrs()
    assert math.isclose(grid[0], 1 / 128) and math.isclose(grid[-1], 1 / 6)
    assert max(b / a for a, b in zip(grid, grid[1:])) <= 2 ** 0.25 + 1e-12
    assert monotone_fit([1.0, 3.0, 2.0, 4.0]).tolist() == [1.0, 2.5, 2.5, 4.0]
    # a noisy dip does not create a second crossing: the fitted curve is non-decreasing
    kind, needed = cbr_for_quality(REF_CBRS, [27.0, 29.5, 29.3, 35.0], 29.4, higher_is_better=True)
    assert kind == "=" and 1 / 48 <= needed <= 1 / 24


def test_the_saving_of_a_system_against_itself_is_zero():
    rng = np.random.default_rng(3)
    grid = reference_cbrs()
    offsets = rng.normal(0, 1.0, 24)
    reference = {c: 30 + 8 * math.tanh(math.log2(c * 24)) + offsets for c in grid}
    for c in (grid[3], grid[9], grid[15]):
        result = bandwidth_saving(reference[c], reference, metric="psnr", cbr=c, n_boot=100)
        assert result.bound == "=" and abs(result.saving) < 1e-9 and result.interpolation_error < 1e-9


def test_monotone_cubic_beats_linear_on_a_bent_curve_and_reports_the_difference():
    # a curve that bends sharply between factor-2 CBRs: the cubic is closer to the truth
    def bent(c):
        return 30 + 8 * math.tanh(2 * math.log2(c * 48))
    coarse = [1 / 96, 1 / 48, 1 / 24, 1 / 12]
    truth = 1 / 40
    errors = {}
    for method in ("pchip", "linear"):
        _, needed = cbr_for_quality(coarse, [bent(c) for c in coarse], bent(truth), True, method)
        errors[method] = abs(math.log(needed / truth))
    assert errors["pchip"] < errors["linear"]
    n = 12
    ours = np.full(n, bent(truth))
    result = bandwidth_saving(ours, {c: np.full(n, bent(c)) for c in coarse}, metric="psnr",
                              cbr=1 / 64, n_boot=0)
    assert result.interpolation_error > 0.005 and "interpolation +-" in str(result)
    dense = {c: np.full(n, bent(c)) for c in reference_cbrs()}
    exact = 1 - (1 / 64) / truth
    on_dense = bandwidth_saving(ours, dense, metric="psnr", cbr=1 / 64, n_boot=0)
    assert abs(on_dense.saving - exact) < abs(result.saving - exact)
    assert on_dense.interpolation_error < result.interpolation_error


def test_saving_known_answer_with_tight_ci():
    # our system at CBR 1/48 is as good as the reference at 1/24: saving exactly 50 %
    n = 24
    ours = np.full(n, psnr_curve(1 / 24))
    reference = {c: np.full(n, psnr_curve(c)) for c in REF_CBRS}
    result = bandwidth_saving(ours, reference, metric="psnr", cbr=1 / 48, n_boot=200)
    assert result.bound == "="
    assert math.isclose(result.cbr_needed, 1 / 24, rel_tol=1e-9)
    assert math.isclose(result.saving, 0.5, abs_tol=1e-9)
    assert result.ci[0] == pytest.approx(0.5) and result.ci[1] == pytest.approx(0.5)
    assert str(result).startswith("50.0 %")


def test_saving_with_noisy_images_ci_covers_truth():
    rng = np.random.default_rng(0)
    n = 40
    offsets = rng.normal(0, 1.0, n)  # image difficulty shared by both systems (paired)
    reference = {c: psnr_curve(c) + offsets for c in REF_CBRS}
    true_needed = 1 / 20
    ours = psnr_curve(true_needed) + offsets + rng.normal(0, 0.3, n)
    result = bandwidth_saving(ours, reference, metric="psnr", cbr=1 / 48, n_boot=500, seed=1)
    truth = 1 - (1 / 48) / true_needed
    assert result.bound == "="
    assert abs(result.saving - truth) < 0.05
    lo, hi = result.ci
    assert lo < result.saving < hi and lo < truth < hi
    assert hi - lo < 0.2


def test_lpips_direction_is_looked_up():
    n = 8
    reference = {c: np.full(n, 0.5 - 0.05 * math.log2(c * 96)) for c in REF_CBRS}  # falls with CBR
    ours = np.full(n, 0.5 - 0.05 * 2)  # equal to the reference at CBR 4/96 = 1/24
    result = bandwidth_saving(ours, reference, metric="lpips", cbr=1 / 96, n_boot=0)
    assert result.bound == "=" and math.isclose(result.cbr_needed, 1 / 24, rel_tol=1e-9)
    assert math.isclose(result.saving, 0.75, abs_tol=1e-9)


def test_refuses_to_extrapolate_above_the_measured_range():
    n = 10
    reference = {c: np.full(n, psnr_curve(c)) for c in REF_CBRS}
    ours = np.full(n, psnr_curve(1 / 12) + 1.0)  # better than the reference at its largest CBR
    result = bandwidth_saving(ours, reference, metric="psnr", cbr=1 / 48, n_boot=100)
    assert result.bound == ">" and result.saving is None and result.cbr_needed is None
    assert math.isclose(result.limit, 1 - 12 / 48)
    assert str(result).startswith("> 75.0 %")
    assert result.ci == (math.inf, math.inf)  # every resample is above the range too
    assert "CI > 75.0 % .. > 75.0 %" in str(result)


def test_refuses_to_extrapolate_below_the_measured_range():
    n = 10
    reference = {c: np.full(n, psnr_curve(c)) for c in REF_CBRS}
    ours = np.full(n, psnr_curve(1 / 96) - 2.0)  # worse than the reference's smallest CBR
    result = bandwidth_saving(ours, reference, metric="psnr", cbr=1 / 48, n_boot=0)
    assert result.bound == "<" and result.saving is None
    assert math.isclose(result.limit, 1 - 96 / 48)  # < -100 %: needs more than the reference
    assert str(result) == "< -100.0 %"
    with_ci = bandwidth_saving(ours, reference, metric="psnr", cbr=1 / 48, n_boot=50)
    assert with_ci.ci == (-math.inf, -math.inf)
    assert str(with_ci).endswith("(95 % CI < -100.0 % .. < -100.0 %)")


def test_ci_end_censored_when_bootstrap_leaves_the_range():
    rng = np.random.default_rng(3)
    n = 30
    reference = {c: np.full(n, psnr_curve(c)) for c in REF_CBRS}
    # our mean sits just below the reference's top: some resamples land above its range
    ours = psnr_curve(1 / 12) - 0.05 + rng.normal(0, 1.0, n)
    ours += psnr_curve(1 / 12) - 0.05 - ours.mean()
    result = bandwidth_saving(ours, reference, metric="psnr", cbr=1 / 48, n_boot=400)
    assert result.bound == "="
    assert result.ci[1] == math.inf and math.isfinite(result.ci[0])
    assert ".. > 75.0 %;" in str(result) and "interpolation +- 0.0 %" in str(result)


def test_bandwidth_saving_argument_errors():
    ref = {c: [1.0, 2.0] for c in REF_CBRS}
    with pytest.raises(ValueError, match="same images"):
        bandwidth_saving([1.0, 2.0, 3.0], ref, metric="psnr", cbr=1 / 48)
    with pytest.raises(ValueError, match="at least 2 CBRs"):
        bandwidth_saving([1.0, 2.0], {1 / 48: [1.0, 2.0]}, metric="psnr", cbr=1 / 48)
    with pytest.raises(ValueError, match="cbr must be a positive"):
        bandwidth_saving([1.0, 2.0], ref, metric="psnr", cbr=0)
    with pytest.raises(ValueError, match="unknown metric"):
        bandwidth_saving([1.0, 2.0], ref, metric="sharpness", cbr=1 / 48)
    with pytest.raises(ValueError, match="confidence"):
        bandwidth_saving([1.0, 2.0], ref, metric="psnr", cbr=1 / 48, confidence=95)


# ---- sweeps ---------------------------------------------------------------------------------


class NoisyIdentity(nn.Module):
    """A toy 'system': the image plus channel-like noise that shrinks with SNR and CBR."""

    realism = True  # it takes beta= (declared, as every model declares it)

    def __init__(self, cbr):
        super().__init__()
        self.cbr = cbr
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x, snr_db, generator=None, beta=None):
        std = 0.3 * 10 ** (-snr_db / 20) * (1 / 48 / self.cbr) ** 0.5
        noise = torch.randn(x.shape, generator=generator)
        extra = 0.0 if beta is None else 0.05 * beta
        return (x + std * noise + extra).clamp(0, 1) * self.scale


def test_sweep_rows_are_per_image_and_reproducible(generator):
    images = [torch.rand(2, 3, 16, 16, generator=generator), torch.rand(1, 3, 16, 24, generator=generator)]
    zoo = {1 / 48: NoisyIdentity(1 / 48), 1 / 24: NoisyIdentity(1 / 24)}
    rows = sweep(zoo, images, snrs_db=[0.0, 10.0], metrics=["psnr"], name="toy")
    assert len(rows) == 2 * 2 * 3
    assert {r["image"] for r in rows} == {0, 1, 2}
    assert rows == sweep(zoo, images, snrs_db=[0.0, 10.0], metrics=["psnr"], name="toy")
    table = summarize(rows)
    assert len(table) == 4 and all(r["n"] == 3 for r in table)
    by = {(r["cbr"], r["snr_db"]): r["psnr"] for r in table}
    assert by[(1 / 48, 10.0)] > by[(1 / 48, 0.0)] and by[(1 / 24, 10.0)] > by[(1 / 48, 10.0)]
    text = format_table(table, columns=["system", "cbr", "snr_db", "psnr"])
    assert "| toy | 1/48 | 10.000 |" in text
    per_cbr = curve(rows, "psnr", snr_db=10.0)
    assert list(per_cbr) == [1 / 48, 1 / 24] and per_cbr[1 / 48].shape == (3,)


def test_sweep_callable_baseline_and_betas(generator):
    x = torch.rand(2, 3, 16, 16, generator=generator)
    calls = []

    def baseline(x, snr_db, cbr, generator=None, codec="jpeg"):
        calls.append((snr_db, cbr, codec, generator is not None))
        return {"x_hat": x.flip(-1), "bits": 100}

    rows = sweep(functools.partial(baseline, codec="webp"), x, [5.0], metrics=["psnr"], cbrs=[1 / 12, 1 / 24])
    assert len(rows) == 4 and calls[0] == (5.0, 1 / 12, "webp", True)
    with pytest.raises(ValueError, match="needs cbrs"):
        sweep(baseline, x, [5.0], metrics=["psnr"])
    model = NoisyIdentity(1 / 48)
    rows = sweep(model, x, [10.0], metrics=["psnr"], betas=[0.0, 1.0])
    assert [r["beta"] for r in rows] == [0.0, 0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="one CBR"):
        sweep(model, x, [10.0], cbrs=[1 / 48])


def test_sweep_uses_common_noise_across_systems(generator):
    """Two systems driven by the same channel noise: identical rows up to the name."""

    class ThroughAWGN(nn.Module):
        cbr = 1 / 6

        def forward(self, x, snr_db, generator=None):
            s = torch.complex(x[:, 0].reshape(x.shape[0], -1), x[:, 1].reshape(x.shape[0], -1))
            y = AWGN()(s, snr_db, generator=generator)
            out = x.clone()
            out[:, 0] = y.real.reshape(out[:, 0].shape)
            return out.clamp(0, 1)

    x = torch.rand(3, 3, 8, 8, generator=generator)
    a = sweep(ThroughAWGN(), x, [3.0], metrics=["psnr"], name="a")
    b = sweep(ThroughAWGN(), x, [3.0], metrics=["psnr"], name="b")
    assert [r["psnr"] for r in a] == [r["psnr"] for r in b]
    c = sweep(ThroughAWGN(), x, [3.0], metrics=["psnr"], name="c", seed=1)
    assert [r["psnr"] for r in a] != [r["psnr"] for r in c]


def test_reconstruct_gives_back_the_images_sweep_scored(generator):
    """Figures show reconstructions beside their rows: they must be the very images scored."""
    from jscc_lab.metrics import psnr

    images = [torch.rand(2, 3, 16, 16, generator=generator), torch.rand(1, 3, 16, 24, generator=generator)]
    xs = [images[0][:1], images[0][1:], images[1]]
    zoo = {1 / 48: NoisyIdentity(1 / 48), 1 / 24: NoisyIdentity(1 / 24)}
    rows = sweep(zoo, images, [5.0], metrics=["psnr"], seed=3)
    x_hats = reconstruct(zoo, images, 5.0, cbr=1 / 24, indices=[2, 0], seed=3)
    assert [tuple(x.shape) for x in x_hats] == [(1, 3, 16, 24), (1, 3, 16, 16)]
    scored = {r["image"]: r["psnr"] for r in rows if r["cbr"] == 1 / 24}
    assert float(psnr(xs[2], x_hats[0])) == pytest.approx(scored[2], abs=1e-5)
    assert float(psnr(xs[0], x_hats[1])) == pytest.approx(scored[0], abs=1e-5)
    model = NoisyIdentity(1 / 48)
    by_beta = {r["beta"]: r["psnr"] for r in sweep(model, xs[0], [5.0], metrics=["psnr"], betas=[0.0, 1.0])}
    for beta in (0.0, 1.0):
        (x_hat,) = reconstruct(model, xs[0], 5.0, beta=beta)
        assert float(psnr(xs[0], x_hat)) == pytest.approx(by_beta[beta], abs=1e-5)
    with pytest.raises(ValueError, match="cbr="):
        reconstruct(zoo, images, 5.0)
    with pytest.raises(ValueError, match="model's CBR"):
        reconstruct(model, xs[0], 5.0, cbr=1 / 24)
    with pytest.raises(ValueError, match="outside"):
        reconstruct(zoo, images, 5.0, cbr=1 / 48, indices=[3])


def test_json_ready_makes_non_finite_floats_null():
    import json

    from jscc_lab.evaluate import json_ready

    doc = {"a": float("nan"), "b": [1.5, float("inf"), {"c": -float("inf")}], "d": (2, "x")}
    assert json_ready(doc) == {"a": None, "b": [1.5, None, {"c": None}], "d": [2, "x"]}
    json.dumps(json_ready(doc), allow_nan=False)  # valid JSON


def test_save_json_writes_valid_json_into_a_new_folder(tmp_path):
    import json

    from jscc_lab.evaluate import save_json

    path = save_json({"x": float("nan"), "y": [1, 2.5]}, tmp_path / "new" / "r.json")
    text = path.read_text()
    assert json.loads(text) == {"x": None, "y": [1, 2.5]} and "NaN" not in text and text.endswith("\n")
    rows = {"meta": {"n": 2, "snrs": [0, 5]}, "rows": [{"a": 1, "b": [1, 2]}, {"a": 2, "b": [3, 4]}], "e": []}
    text = save_json(rows, tmp_path / "rows.json").read_text()
    assert json.loads(text) == rows
    assert '  {"a": 1, "b": [1, 2]},' in text.splitlines()  # one row per line
