"""ScratchJSCC: TAEJSCC's rate-adaptive channel layers around learned (not pretrained) transforms."""

from __future__ import annotations

import pytest
import torch

from jscc_lab.models import MODELS, ScratchJSCC, build_model
from jscc_lab.models.scratchjscc import AnalysisTransform, SynthesisTransform


def small_model(**kw):
    torch.manual_seed(0)
    return ScratchJSCC(width=16, blocks=1, transform_width=16, **kw)


def test_transforms_map_images_to_the_taef2_latent_shape_and_back():
    x = torch.rand(2, 3, 64, 48)
    z = AnalysisTransform(16)(x)
    assert z.shape == (2, 32, 8, 6)
    out = SynthesisTransform(16)(z)
    assert out.shape == x.shape
    assert abs(SynthesisTransform(16)(torch.zeros(1, 32, 4, 4)).mean().item() - 0.5) < 0.05  # starts mid-grey


@pytest.mark.parametrize("cbr", ["1/96", "1/12"])
def test_decode_of_encode_returns_the_image_size(cbr):
    """(The symbol count and power of encode are tested with TAEJSCC's, tests/models/test_taejscc.py.)"""
    model = small_model().eval()
    x = torch.rand(3, 3, 48, 80)
    with torch.no_grad():
        assert model.decode(model.encode(x, 5.0, cbr=cbr), 5.0, cbr=cbr, size=(48, 80)).shape == x.shape


def test_every_weight_trains_and_a_step_lowers_the_loss():
    from jscc_lab.train import mse_objective

    model = small_model()
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    cbr = torch.tensor([1 / 96, 1 / 48, 1 / 24, 1 / 12], dtype=torch.float64)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def value():
        return mse_objective(model, x, torch.full((4,), 10.0), torch.Generator().manual_seed(5), cbr=cbr)[0]

    before = value().item()
    value().backward()
    assert model.ae_encoder[0].weight.grad.abs().sum() > 0  # the transforms learn, unlike TAEF2's frozen encoder
    for _ in range(10):
        opt.zero_grad()
        value().backward()
        opt.step()
    assert value().item() < before * 0.95


def test_registry_config_and_checkpoint_round_trip(tmp_path):
    from jscc_lab.pretrained import load_checkpoint, model_from_checkpoint
    from jscc_lab.train import TrainConfig, save_checkpoint

    assert MODELS["scratchjscc"] is ScratchJSCC
    # its transforms are learned: jscc-lab export must keep them in the file (TAEJSCC leaves TAEF2's encoder out)
    assert ScratchJSCC.published_weights == {} and MODELS["taejscc"].published_weights == {"ae_encoder": "taef2_encoder"}
    spec = TrainConfig(model="scratchjscc", width=16, blocks=1, cbrs=["1/48", "1/12"]).model_spec()
    assert spec["kwargs"] == {"width": 16, "blocks": 1, "cbrs": ["1/48", "1/12"]}
    model = build_model(spec["name"], **spec["kwargs"])
    save_checkpoint({"model": spec, "state_dict": model.state_dict()}, tmp_path / "m.pt")
    again = model_from_checkpoint(load_checkpoint(tmp_path / "m.pt"))
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(again.eval().encode(x, cbr="1/48"), model.eval().encode(x, cbr="1/48"))
    assert again.cbrs == (1 / 48, 1 / 12)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "64"])
def test_bad_transform_width_is_refused(bad):
    with pytest.raises(ValueError, match="transform_width"):
        ScratchJSCC(width=8, blocks=1, transform_width=bad)
