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
