"""Bad input across the public API: every case must either work (a documented conversion) or
raise ValueError/TypeError whose message names the argument, never an obscure error from deep
inside torch. Property-based (hypothesis) where it fits; the number of cases tried is printed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from jscc_lab import channels, data, metrics
from jscc_lab.classroom import study as user_study

TRIED = {"cases": 0}
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(fn, *args, names=(), **kwargs):
    """Call ``fn`` with a bad input: it must raise ValueError/TypeError naming one of ``names``
    (accepting the input fails the test). Returns the error."""
    TRIED["cases"] += 1
    with pytest.raises((ValueError, TypeError)) as caught:
        fn(*args, **kwargs)
    err = caught.value
    assert any(n in str(err) for n in names), f"{_name(fn)}: message {err!r} names none of {names}"
    return err


def accept_or_reject(fn, *args, names=(), **kwargs):
    """Call ``fn`` with an input that may be valid: return its result, or the error, which must be
    ValueError/TypeError naming one of ``names``. The caller checks which outcome was right."""
    TRIED["cases"] += 1
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError) as err:
        assert any(n in str(err) for n in names), f"{_name(fn)}: message {err!r} names none of {names}"
        return err


def _name(fn):
    return getattr(fn, "__name__", type(fn).__name__)


# ---- channels --------------------------------------------------------------------------------

dtypes = st.sampled_from([torch.float32, torch.float64, torch.int64, torch.complex64,
                          torch.complex128, torch.bool, torch.uint8])
shapes = st.lists(st.integers(0, 5), min_size=0, max_size=4).map(tuple)
snrs = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32),
                 st.integers(-50, 80), st.just("10"), st.none(), st.booleans())


@FAST
@given(shape=shapes, dtype=dtypes, snr=snrs, mode=st.sampled_from(["awgn", "block", "fast"]))
def test_channels_reject_or_accept_cleanly(shape, dtype, snr, mode):
    s = torch.zeros(shape, dtype=dtype)
    channel = channels.AWGN() if mode == "awgn" else channels.RayleighFading(mode)
    out = accept_or_reject(channel, s, snr, names=("s ", "s must", "snr_db"))
    if isinstance(out, torch.Tensor):
        assert out.shape == s.shape and out.is_complex()
        assert s.is_complex() and s.ndim >= 2
        assert isinstance(snr, (int, float)) and not isinstance(snr, bool) and math.isfinite(snr)


@FAST
@given(snr=st.lists(st.floats(-30, 60, width=32), min_size=0, max_size=6))
def test_per_image_snr_tensors_must_match_the_batch(snr):
    s = channels.normalize_power(torch.ones(3, 4, dtype=torch.complex64))
    out = accept_or_reject(channels.AWGN(), s, torch.tensor(snr), names=("snr_db",))
    assert isinstance(out, torch.Tensor) == (len(snr) in (1, 3))


@FAST
@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 200),
                       st.fractions(), st.text(max_size=5), st.none()))
@example("0/0")
@example("1/0")
def test_cbr_helpers_reject_unrealisable_values(value):
    out = accept_or_reject(channels.latent_channels, value, names=("cbr",))
    if isinstance(out, int):
        assert out > 0 and math.isclose(channels.cbr_of_latent(out), float(value), rel_tol=1e-4)
    accept_or_reject(channels.channel_uses, value, 32, 32, names=("cbr",))


@FAST
@given(bad=st.sampled_from([float("nan"), float("inf"), -float("inf")]), where=st.integers(0, 11),
       part=st.sampled_from(["real", "imag"]), mode=st.sampled_from(["awgn", "block", "fast"]))
def test_channels_reject_non_finite_symbols(bad, where, part, mode):
    s = channels.normalize_power(torch.ones(3, 4, dtype=torch.complex64))
    value = complex(bad, 0) if part == "real" else complex(0, bad)
    s.view(-1)[where] = value
    channel = channels.AWGN() if mode == "awgn" else channels.RayleighFading(mode)
    out = check(channel, s, 10.0, names=("s contains NaN or infinite",))
    assert isinstance(out, ValueError)
    assert isinstance(check(channels.normalize_power, s, names=("s contains",)), ValueError)


def test_constructor_and_helper_cases():
    check(channels.RayleighFading, "sometimes", names=("mode",))
    check(channels.RayleighFading, "fast", csi=True, names=("csi",))
    check(channels.normalize_power, torch.ones(2, 3, dtype=torch.complex64), power=-1, names=("power",))
    check(channels.normalize_power, torch.ones(2, 3, dtype=torch.complex64), power=float("nan"), names=("power",))
    check(channels.real_to_complex, torch.ones(2, 3), names=("z ", "even"))
    check(channels.real_to_complex, torch.ones(4), names=("z ",))
    check(channels.snr_db_to_noise_var, float("nan"), names=("snr_db",))
    check(channels.noise_var_to_snr_db, 0.0, names=("noise_var",))
    check(channels.cbr, 0, 32, 32, names=("k ",))
    check(channels.AWGN(), torch.ones(2, 3, dtype=torch.complex64), 1.0, generator="seed", names=("generator",))


# ---- data ------------------------------------------------------------------------------------

arrays = st.tuples(
    st.lists(st.integers(0, 6), min_size=1, max_size=4).map(tuple),
    st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int32, np.bool_, np.complex64]),
    st.sampled_from([0.0, 0.5, 1.0, 2.0, -1.0, np.nan, np.inf]),
)


@FAST
@given(spec=arrays)
def test_to_tensor_converts_or_rejects_arrays(spec):
    shape, dtype, fill = spec
    with np.errstate(invalid="ignore"):
        a = np.full(shape, fill).astype(dtype)
    out = accept_or_reject(data.to_tensor, a, names=("images", "image"))
    if isinstance(out, torch.Tensor):
        assert out.ndim == 4 and out.shape[1] == 3 and out.dtype == torch.float32
        assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I",
                                  "F", "LA", "PA", "I;16", "RGBX"])
@pytest.mark.parametrize("size", [(1, 1), (3, 7), (64, 1)])
def test_every_pil_mode_and_tiny_size_converts(mode, size):
    from PIL import Image

    img = Image.new("RGB", size, (12, 200, 99)).convert(mode)
    out = accept_or_reject(data.to_tensor, img, names=("image",))
    assert isinstance(out, torch.Tensor) and out.shape == (1, 3, size[1], size[0])


def test_data_cases(tmp_path, monkeypatch):
    check(data.to_image, torch.zeros(1, 4, 2, 2), names=("x must",))
    check(data.to_image, torch.zeros(1, 3, 2, 2, dtype=torch.complex64), names=("x must",))
    check(data.center_crop, torch.zeros(1, 3, 4, 4), 0, names=("size",))
    check(data.RandomCrops, [torch.zeros(1, 3, 8, 8)], size=0, names=("size",))
    check(data.RandomCrops, [], size=4, names=("images",))
    check(data.sample_images, ["nope"], names=("sample image",))
    check(data.bsds500_files, "valid", names=("split",))
    TRIED["cases"] += 1
    with pytest.raises(FileNotFoundError, match="no image file"):
        data.load_image(tmp_path / "missing.png")


# ---- metrics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [
    torch.zeros(3, 8, 8), torch.zeros(1, 1, 8, 8), torch.zeros(1, 3, 8, 8, dtype=torch.int64),
    np.zeros((1, 3, 8, 8)), torch.zeros(2, 3, 8, 8),
])
def test_psnr_rejects_bad_pairs(bad):
    out = check(metrics.psnr, torch.zeros(1, 3, 8, 8), bad, names=("x_hat",))
    assert isinstance(out, Exception)


# ---- user study ------------------------------------------------------------------------------


def test_user_study_cases(tmp_path):
    check(user_study.make_trials, ["a"], -1.0, [0.1], "p", names=("cbr_ours",))
    check(user_study.make_trials, ["a"], 0.1, [float("nan")], "p", names=("cbr_refs",))
    check(user_study.fit_preference, [{"participant": 1}], names=("records[0]",))
    check(user_study.fit_preference, [], names=("no comparison",))
    path = tmp_path / "r.jsonl"
    path.write_text("[1, 2]\n")
    check(user_study.ResultsFile, path, names=("line 1",))


# ---- models, baselines, evaluate, pretrained, widgets ------------------------------------------


def _model_cases():
    from jscc_lab import baselines, evaluate, pretrained
    from jscc_lab.classroom import explorer_widget as widgets
    from jscc_lab.models import ADJSCC, PerceptualJSCC, build_model

    m = ADJSCC("1/12", width=8)
    p = PerceptualJSCC("1/48", width=8, res_blocks=1)
    img = torch.rand(1, 3, 16, 16)
    return [
        ("cbr", lambda: ADJSCC("1/100", width=8)),
        ("x must", lambda: m(torch.rand(3, 8, 8), 10.0)),
        ("x must", lambda: m(torch.zeros(1, 3, 8, 8, dtype=torch.int64), 10.0)),
        ("x is an empty batch", lambda: m(torch.rand(0, 3, 8, 8), 10.0)),
        ("x contains NaN", lambda: m(torch.full((1, 3, 8, 8), float("nan")), 10.0)),
        ("x must lie in [0, 1]", lambda: m(255 * torch.rand(1, 3, 8, 8), 10.0)),
        ("divide 8-bit images by 255", lambda: m(255 * torch.rand(1, 3, 8, 8), 10.0)),
        ("x must lie in [0, 1]", lambda: m(torch.rand(1, 3, 8, 8) - 0.5, 10.0)),
        ("x must lie in [0, 1]", lambda: p(torch.rand(1, 3, 16, 16) * 2, 10.0)),
        ("snr_db", lambda: m(img, float("nan"))),
        ("snr_db", lambda: m(img, torch.zeros(3))),
        ("y must", lambda: m.decode(torch.zeros(1, 5, dtype=torch.complex64), 10.0, size=(8, 8))),
        ("beta", lambda: p(img, 10.0, beta=2.0)),
        ("beta", lambda: p(img, 10.0, beta=float("nan"))),
        ("unknown model", lambda: build_model("transformer")),
        ("codec", lambda: baselines.separate_transmit(img, codec="png")),
        ("cbr", lambda: baselines.separate_transmit(img, cbr=0)),
        ("cbr", lambda: baselines.separate_transmit(img, cbr=float("inf"))),
        ("snr_db", lambda: baselines.separate_transmit(img, snr_db=float("nan"))),
        ("channel_code", lambda: baselines.separate_transmit(img, channel_code="turbo")),
        ("mcs", lambda: baselines.separate_transmit(img, channel_code="ldpc", mcs="bpsk-1/9")),
        ("metrics", lambda: metrics.evaluate(img, img, metrics=("foo",))),
        ("snrs_db", lambda: evaluate.sweep(m, img, [float("nan")])),
        ("reference", lambda: evaluate.bandwidth_saving([0.1], {1 / 48: [0.2]}, metric="lpips", cbr=1 / 48)),
        ("no pretrained checkpoint", lambda: pretrained.load("nope")),
        ("crop", lambda: widgets.Explorer(images={"a": img}, models={}, crop=0, separate=False)),
        ("images", lambda: widgets.Explorer(images={}, models={})),
    ]


def test_models_baselines_evaluate_pretrained_widgets_name_the_bad_argument():
    for expected, fn in _model_cases():
        out = check(fn, names=(expected,))
        assert isinstance(out, Exception), f"no error for a case expecting {expected!r}"
    TRIED["cases"] += 1
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        from jscc_lab.pretrained import load_checkpoint

        load_checkpoint("/nonexistent/model.pt")


@FAST
@given(h=st.integers(1, 40), w=st.integers(1, 40), n=st.integers(1, 2))
def test_models_take_any_image_size(h, w, n):
    from jscc_lab.models import ADJSCC

    model = _tiny_adjscc()
    x = torch.rand(n, 3, h, w)
    out = accept_or_reject(model, x, 10.0, names=("x",))
    assert isinstance(out, torch.Tensor) and out.shape == x.shape
    assert isinstance(model, ADJSCC)


@FAST
@given(low=st.floats(-3, 1, width=32), span=st.floats(0, 3, width=32))
def test_models_refuse_images_outside_the_unit_range(low, span):
    from jscc_lab.models.base import RANGE_TOLERANCE, check_images

    x = torch.linspace(low, low + span, 48).reshape(1, 3, 4, 4)
    lo, hi = x.min().item(), x.max().item()
    out = accept_or_reject(check_images, x, names=("x must lie in [0, 1]",))
    inside = lo >= -RANGE_TOLERANCE and hi <= 1 + RANGE_TOLERANCE
    assert (out is None) == inside, (lo, hi, out)
    if not inside:
        assert f"{lo:.4g}" in str(out) and f"{hi:.4g}" in str(out)  # the message shows the range found


_TINY = {}


def _tiny_adjscc():
    from jscc_lab.models import ADJSCC

    if "m" not in _TINY:
        _TINY["m"] = ADJSCC("1/96", width=4).eval()
    return _TINY["m"]


# ---- messages of the trainers and of checkpoints -------------------------------------------------


def test_training_checkpoint_messages_give_the_right_advice(tmp_path):
    from types import SimpleNamespace

    from jscc_lab.pretrained import CheckpointError, load_checkpoint
    from jscc_lab.train import GANTrainer, TrainingDiverged

    run = tmp_path / "run"
    run.mkdir()
    for name, other in (("last.pt", "best.pt"), ("best.pt", "last.pt")):
        (run / name).write_bytes(b"PK\x03\x04 cut short")
        TRIED["cases"] += 1
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(run / name)
        message = str(err.value)
        assert "truncated or corrupt" in message and str(run / other) in message
        assert "--overwrite" in message and "download" not in message and "\n" not in message
    (tmp_path / "model.pt").write_bytes(b"junk")
    TRIED["cases"] += 1
    with pytest.raises(CheckpointError, match="download or copy it again"):
        load_checkpoint(tmp_path / "model.pt")

    fake = SimpleNamespace(config=SimpleNamespace(output_dir=tmp_path / "fresh"))
    TRIED["cases"] += 1
    with pytest.raises(TrainingDiverged) as err:
        GANTrainer._stop(fake, 0, "generator_loss is nan")
    assert "nothing to resume" in str(err.value) and "resume from" not in str(err.value)
    fake.config.output_dir = run
    TRIED["cases"] += 1
    with pytest.raises(TrainingDiverged, match=r"last good checkpoint is .*last\.pt.*resume from it"):
        GANTrainer._stop(fake, 0, "generator_loss is nan")


# ---- the command line ----------------------------------------------------------------------------

CLI_TRIED = {"in-process": 0, "subprocess": 0}


def _train_fields():
    import dataclasses

    from jscc_lab.train import TrainConfig

    return [f.name for f in dataclasses.fields(TrainConfig)]


_CLI_DIR = {}


def _tiny_toml(tmp_path_factory):
    """A small valid config (one per session) whose out_dir already holds a run."""
    from jscc_lab.train import TrainConfig, save_config

    if "dir" not in _CLI_DIR:
        folder = _CLI_DIR["dir"] = tmp_path_factory.mktemp("cli")
        save_config(TrainConfig(name="tiny", width=8, steps=2, out_dir=str(folder / "run")), folder / "tiny.toml")
        (folder / "run").mkdir()
        (folder / "run" / "config.toml").write_text("# an earlier run\n")
        (folder / "broken.toml").write_text("steps = [\n")
    return _CLI_DIR["dir"] / "tiny.toml"


@FAST
@given(key=st.sampled_from(_train_fields()), text=st.text(max_size=12))
def test_cli_set_values_convert_or_fail_in_one_line(tmp_path_factory, key, text):
    """Any ``--set KEY=TEXT`` gives a config or a one-line error naming the key."""
    from jscc_lab.cli import UserError, load_train_config

    path = _tiny_toml(tmp_path_factory)
    CLI_TRIED["in-process"] += 1
    try:
        load_train_config(path, [(key, text)])
    except UserError as err:
        message = str(err)
        assert key in message, message


def _cli_cases():
    """Bad command lines: ``(argv after the program, text the one-line error must hold)``."""
    garbage = st.text(alphabet="xyz!?@", min_size=1, max_size=6)
    typed = st.sampled_from([("steps", "int"), ("lr", "float"), ("compile", "bool"), ("val_snr_db", "list[float]")])
    return st.one_of(
        st.builds(lambda kt, g: (["train", "{toml}", "--set", f"{kt[0]}={g}"], kt[1]), typed, garbage),
        st.builds(lambda g: (["train", "{toml}", "--set", f"q{g}=1"], "unknown key"), garbage),
        st.sampled_from([
            (["train", "{missing}"], "does not exist"),
            (["train", "{broken}"], "not valid TOML"),
            (["train", "{toml}", "--set", "steps=0"], "steps=0"),
            (["train", "{toml}"], "--overwrite"),  # its run folder already holds a run
            (["demo", "--out", "/proc/nope"], "--out"),
        ]),
    )


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_cli_cases())
@example(case=(["train", "{toml}", "--set", "steps=abc"], "int"))
def test_cli_bad_input_is_one_line_exit_2_as_a_subprocess(tmp_path_factory, case):
    """The real program (a new Python process each time, so few examples): exit status 2, one
    stderr line, no traceback."""
    import os
    import subprocess
    import sys

    toml = _tiny_toml(tmp_path_factory)
    folder = toml.parent
    argv, expected = case
    argv = [a.format(toml=toml, missing=folder / "missing.toml", broken=folder / "broken.toml") for a in argv]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "jscc_lab.cli", *argv], capture_output=True, text=True,
                          timeout=120, env=env)
    CLI_TRIED["subprocess"] += 1
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (argv, done.returncode, done.stderr)
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert expected in lines[0], (expected, lines[0])


def test_zz_report_case_count(capsys):
    with capsys.disabled():
        print(f"\n[bad-input suite] {TRIED['cases']} cases tried across channels, data, metrics, "
              "user_study, models, baselines, evaluate, pretrained, widgets (hypothesis examples included); "
              f"command line: {CLI_TRIED['in-process']} --set values in-process, "
              f"{CLI_TRIED['subprocess']} bad command lines as subprocesses")
    assert TRIED["cases"] > 200
