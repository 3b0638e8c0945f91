"""The main job (``jscc-lab demo``), the analog baseline and uncoded QPSK helpers."""

import pytest
import torch

from jscc_lab.analog import analog_transmit
from jscc_lab.channels import AWGN, RayleighFading
from jscc_lab.cli import main
from jscc_lab.metrics import psnr


@pytest.mark.slow
def test_demo_writes_figure_and_table(tmp_path, monkeypatch):
    monkeypatch.setenv("JSCC_LAB_QUICK", "1")
    assert main(["demo", "--out", str(tmp_path), "--snr", "5", "15"]) == 0
    assert (tmp_path / "demo.png").stat().st_size > 1000
    table = (tmp_path / "demo.md").read_text()
    for system in ("PSNR deep JSCC", "perceptual deep JSCC", "HEVC + capacity", "analog"):
        assert table.count(system) == 2, system  # one row per SNR


def test_analog_transmission_degrades_gracefully(generator):
    x = torch.rand(2, 3, 16, 16, generator=generator)
    scores = [psnr(x, analog_transmit(x, snr, generator=generator)).mean().item() for snr in (0, 10, 20)]
    assert scores[0] < scores[1] < scores[2]
    # AWGN at 20 dB on unit-power symbols: about SNR + 10 log10(var ratio) dB, never a cliff
    assert scores[2] - scores[1] == pytest.approx(10.0, abs=1.0)
    assert psnr(x, analog_transmit(x, 10, channel=RayleighFading("fast"), generator=generator)).mean() > 5


def test_analog_rejects_bad_images():
    with pytest.raises(ValueError, match="x must be"):
        analog_transmit(torch.rand(3, 8, 8), 10.0)
    with pytest.raises(ValueError, match="even"):
        analog_transmit(torch.rand(1, 3, 3, 3), 10.0, channel=AWGN())


def test_cli_rejects_unknown_command(capsys):
    with pytest.raises(SystemExit):
        main(["fly"])
    assert "invalid choice" in capsys.readouterr().err


# ---- the command line: every user error is one line on stderr, exit status 2 ------------------


def _fails_in_one_line(capsys, argv, *expected):
    """``main(argv)`` returns 2 (or exits 2) with one stderr line holding every ``expected``."""
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse errors
        code = exit_.code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, (argv, code, captured.err)
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


@pytest.fixture
def tiny_toml(tmp_path):
    from jscc_lab.train import TrainConfig, save_config

    config = TrainConfig(name="tiny", width=8, steps=2, out_dir=str(tmp_path / "run"), device="cpu")
    return save_config(config, tmp_path / "tiny.toml")


def test_cli_set_values_are_converted_and_checked(tiny_toml, capsys):
    from jscc_lab.cli import load_train_config

    config = load_train_config(tiny_toml, [("steps", "7"), ("lr", "3e-4"), ("channels_last", "false"),
                                           ("val_snr_db", "0,10"), ("train_splits", '["train"]'),
                                           ("cbr", "1/48"), ("name", '"quoted"')])
    assert (config.steps, config.lr, config.channels_last) == (7, 3e-4, False)
    assert config.val_snr_db == [0.0, 10.0] and config.train_splits == ["train"]
    assert (config.cbr, config.name) == ("1/48", "quoted")
    _fails_in_one_line(capsys, ["train", str(tiny_toml), "--set", "steps=abc"], "steps", "int", "'abc'")
    _fails_in_one_line(capsys, ["train", str(tiny_toml), "--set", "lr=fast"], "lr", "float")
    _fails_in_one_line(capsys, ["train", str(tiny_toml), "--set", "compile=maybe"], "compile", "bool")
    _fails_in_one_line(capsys, ["train", str(tiny_toml), "--set", "val_snr_db=0,loud"], "val_snr_db", "list[float]")
    _fails_in_one_line(capsys, ["train", str(tiny_toml), "--set", "stepz=10"],
                       "unknown key 'stepz'", "did you mean 'steps'", "valid keys:", "batch_size")
    _fails_in_one_line(capsys, ["train", str(tiny_toml), "--set", "steps"], "KEY=VALUE")
    _fails_in_one_line(capsys, ["train", str(tiny_toml), "--set", "steps=-3"], "steps=-3")


def test_cli_config_file_errors(tmp_path, capsys):
    _fails_in_one_line(capsys, ["train", str(tmp_path / "missing.toml")], "missing.toml", "does not exist")
    _fails_in_one_line(capsys, ["train", str(tmp_path)], "is a folder")
    (tmp_path / "broken.toml").write_text("steps = [1, 2\nname = 'x'\n")
    _fails_in_one_line(capsys, ["train", str(tmp_path / "broken.toml")], "broken.toml", "not valid TOML")
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00garbage")
    _fails_in_one_line(capsys, ["train", str(tmp_path / "binary.toml")], "binary.toml")
    (tmp_path / "invalid.toml").write_text("steps = 0\n")
    _fails_in_one_line(capsys, ["train", str(tmp_path / "invalid.toml")], "invalid.toml", "steps=0")
    (tmp_path / "typed.toml").write_text('steps = "100"\n')
    _fails_in_one_line(capsys, ["train", str(tmp_path / "typed.toml")], "typed.toml", "steps", "int")
    (tmp_path / "unknown.toml").write_text("stepz = 100\n")
    _fails_in_one_line(capsys, ["train", str(tmp_path / "unknown.toml")], "unknown key 'stepz'", "valid keys")
    (tmp_path / "gan.toml").write_text('model = "perceptual"\nstage = "later"\n')
    _fails_in_one_line(capsys, ["train", str(tmp_path / "gan.toml")], "gan.toml", "stage")
    _fails_in_one_line(capsys, ["train", str(tmp_path / "gan.toml"), "--set", "stage=gan",
                                "--set", "d_filters=8,x"], "d_filters", "list[int]")


def test_cli_refuses_to_overwrite_a_run(tiny_toml, tmp_path, capsys):
    from jscc_lab.cli import _check_run_folder, load_train_config

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text("# an earlier run\n")
    _fails_in_one_line(capsys, ["train", str(tiny_toml)], str(run), "--resume", "--overwrite")
    _fails_in_one_line(capsys, ["train", str(tiny_toml), "--resume", "--overwrite"], "not allowed")
    (run / "last.pt").write_bytes(b"old")
    (run / "best.pt").write_bytes(b"old")
    config = load_train_config(tiny_toml)
    _check_run_folder(config, resume=True, overwrite=False, main_process=True)  # resuming is fine
    assert (run / "last.pt").exists()
    _check_run_folder(config, resume=False, overwrite=True, main_process=True)
    assert not (run / "last.pt").exists() and not (run / "best.pt").exists()  # no stale checkpoints


def test_cli_demo_refuses_an_unwritable_folder(capsys, tmp_path):
    _fails_in_one_line(capsys, ["demo", "--out", "/proc/nope"], "/proc/nope", "--out")
    (tmp_path / "file").write_text("")
    _fails_in_one_line(capsys, ["demo", "--out", str(tmp_path / "file" / "sub")], "--out")
    _fails_in_one_line(capsys, ["demo", "--snr", "ten"], "--snr", "'ten'")
    _fails_in_one_line(capsys, ["demo", "--snr", "nan"], "--snr", "finite")
    _fails_in_one_line(capsys, ["explore", "--port", "99999"], "--port")
    _fails_in_one_line(capsys, ["fly"], "invalid choice")


def test_cli_help_texts(capsys):
    from jscc_lab.demo import DEFAULT_SNRS_DB

    for argv in (["--help"], ["demo", "--help"], ["train", "--help"], ["explore", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
    top, demo, train, explore = capsys.readouterr().out.split("usage: ")[1:]
    assert "deep joint source-channel coding\n(deep JSCC) of images over wireless channels." in top
    assert all(command in top for command in ("demo", "train", "explore", "examples:"))
    assert "rayleigh" not in demo.lower() and "AWGN" in demo and "HEVC" in demo and "analog" in demo
    flat = " ".join(demo.split())  # argparse wraps lines at the terminal's width
    assert "(default: jscc_lab_demo)" in flat
    assert " ".join(f"{s:g}" for s in DEFAULT_SNRS_DB) in flat  # the help states the demo's default
    assert "--overwrite" in train and "--resume" in train
    assert "(default: 8866)" in " ".join(explore.split())


def test_cli_imports_no_trainer():  # (no import cycles at all: tests/test_repo.py)
    import subprocess
    import sys

    code = ("import sys, jscc_lab.cli; bad = [m for m in ('torch', 'jscc_lab.train', 'jscc_lab.train_gan') "
            "if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_cli_export_ships_a_run_with_its_stages(tmp_path, capsys):
    from jscc_lab import pretrained
    from jscc_lab.models import ADJSCC
    from jscc_lab.train import CHECKPOINT_FORMAT, save_checkpoint

    torch.manual_seed(0)
    model = ADJSCC("1/12", width=8)
    spec = {"name": "adjscc", "channel": "awgn", "kwargs": {"cbr": "1/12", "width": 8}}

    def stage(name, steps, init_from=""):
        path = tmp_path / f"{name}.pt"
        save_checkpoint({"format": CHECKPOINT_FORMAT, "model": spec, "state_dict": model.state_dict(),
                         "optimizer": {"state": {}}, "step": steps,
                         "config": {"name": name, "init_from": init_from, "batch_size": 4, "loss": "image"},
                         "metrics": {"history": [{"step": steps, "val_psnr_db": 20.0}]},
                         "provenance": {"steps": steps, "wall_time_s": 60.0 * steps, "cpu_time_s": 100.0 * steps,
                                        "device": "CPU (test)"}}, path)
        return path

    last = stage("second", 20, init_from=str(stage("first", 10)))
    out = tmp_path / "ckpts"
    assert main(["export", str(last), "adjscc-psnr-awgn-cbr1_12", "--out", str(out)]) == 0
    assert "2 stage(s), 30 steps" in capsys.readouterr().out
    entry = pretrained.info("adjscc-psnr-awgn-cbr1_12", root=out)
    assert entry["steps"] == 30 and entry["wall_time_s"] == 1800.0 and entry["cpu_time_s"] == 3000.0
    assert entry["cbr"] == "1/12"
    shipped = pretrained.load_checkpoint(out / "adjscc-psnr-awgn-cbr1_12.pt")
    assert "optimizer" not in shipped and [s["name"] for s in shipped["provenance"]["stages"]] == ["first", "second"]
    assert all(v.dtype == torch.float16 for v in shipped["state_dict"].values() if v.is_floating_point())

    _fails_in_one_line(capsys, ["export", str(tmp_path / "nope.pt"), "x-psnr-awgn", "--out", str(out)], "no file")
    _fails_in_one_line(capsys, ["export", str(last), "Bad Name", "--out", str(out)], "name must be")
