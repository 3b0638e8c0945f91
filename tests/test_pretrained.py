"""jscc_lab.pretrained: hashed registry, weights_only loading, and the shipped checkpoints."""

import os

import pytest
import torch

from jscc_lab import pretrained
from jscc_lab.data import center_crop, sample_images
from jscc_lab.metrics import psnr
from jscc_lab.models import build_model
from jscc_lab.pretrained import CheckpointError
from jscc_lab.train import save_checkpoint


def _write_checkpoint(path, width=8):
    torch.manual_seed(0)
    model = build_model("adjscc", cbr="1/48", width=width)
    spec = {"name": "adjscc", "channel": "awgn", "kwargs": {"cbr": "1/48", "width": width}}
    save_checkpoint({"model": spec, "state_dict": model.state_dict(), "config": {},
                     "provenance": {"device": "test"}}, path)
    return model


class _Exploit:
    """Unpickling this would create a folder: what a malicious checkpoint could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_weights_only_refuses_a_crafted_pickle(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "payload": _Exploit(marker)}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        pretrained.load_checkpoint(path)
    assert not marker.exists()


def test_registry_round_trip_and_hash_check(tmp_path):
    model = _write_checkpoint(tmp_path / "tiny.pt")
    pretrained.register(tmp_path / "tiny.pt", "adjscc-test-cbr1_48", "a test entry", root=tmp_path)
    assert pretrained.available(root=tmp_path) == ["adjscc-test-cbr1_48"]
    loaded = pretrained.load("adjscc-test-cbr1_48", root=tmp_path)
    assert not loaded.training
    x = torch.rand(1, 3, 32, 32)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, 5.0, generator=g()), model.eval()(x, 5.0, generator=g()))
    data = bytearray((tmp_path / "tiny.pt").read_bytes())
    data[-100] ^= 0xFF
    (tmp_path / "tiny.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        pretrained.load("adjscc-test-cbr1_48", root=tmp_path)
    with pytest.raises(ValueError, match="available"):
        pretrained.load("nope", root=tmp_path)


def test_missing_and_non_checkpoint_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        pretrained.load_checkpoint(tmp_path / "absent.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="state_dict"):
        pretrained.load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        pretrained.load_checkpoint(tmp_path / "junk.pt")


# ---- the shipped checkpoints ------------------------------------------------------------------

SHIPPED = pretrained.available()
needs_shipped = pytest.mark.skipif(not SHIPPED, reason="no checkpoints in assets/checkpoints")


@needs_shipped
def test_shipped_checkpoints_fit_the_size_budget_and_are_hashed():
    total = sum(f.stat().st_size for f in pretrained.CHECKPOINT_DIR.glob("*.pt"))
    assert total < 60e6
    for name in SHIPPED:
        entry = pretrained.info(name)
        assert pretrained.sha256_of(pretrained.CHECKPOINT_DIR / entry["file"]) == entry["sha256"]


@needs_shipped
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_loads_with_its_cbr_and_provenance(name):
    model, ckpt = pretrained.load(name, return_checkpoint=True)
    entry = pretrained.info(name)
    assert model.realism == entry["realism"] and entry["objective"] in ("psnr", "perceptual")
    if model.rate_adaptive:  # no CBR in the name, its CBRs in the model and registry
        assert "cbr" not in name.split("-")[-1] and model.cbr is None
        assert model.cbrs == pytest.approx([eval(c) for c in entry["cbrs"]])
    else:
        cbr = name.rsplit("cbr", 1)[1].replace("_", "/")
        assert model.cbr == pytest.approx(eval(cbr)) == pytest.approx(eval(entry["cbr"])) and model.cbrs is None
    for key in ("device", "torch", "steps", "wall_time_s", "date"):
        assert key in ckpt["provenance"]
    assert "optimizer" not in ckpt  # release files carry weights, not training state


@needs_shipped
def test_find_answers_by_registry_fields_not_names():
    assert set(pretrained.find(objective="psnr", channel="awgn", cbr="1/48")) == {
        "adjscc-psnr-awgn-cbr1_48", "taejscc-psnr-awgn"}
    assert pretrained.find(realism=True, model="taejscc") == ["taejscc-perceptual-awgn"]
    assert set(pretrained.find(objective="perceptual")) == {"perceptual-awgn-cbr1_48", "taejscc-perceptual-awgn"}
    assert pretrained.find(channel="rayleigh-block") == []


@needs_shipped
def test_shipped_checkpoint_degrades_gracefully_with_snr():
    name = "adjscc-psnr-awgn-cbr1_12" if "adjscc-psnr-awgn-cbr1_12" in SHIPPED else SHIPPED[0]
    model = pretrained.load(name)
    x = center_crop(sample_images(["astronaut"])[0], 128)
    values = []
    with torch.no_grad():
        for snr in (0.0, 5.0, 10.0, 15.0, 20.0):
            x_hat = model(x, snr, generator=torch.Generator().manual_seed(0))
            values.append(psnr(x, x_hat).item())
    assert all(b > a for a, b in zip(values, values[1:])), values
    assert values[0] > 15.0  # no cliff: still a usable picture at 0 dB
