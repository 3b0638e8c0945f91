"""CBR is counted, not labelled: every deep model sends at most floor(cbr * 3 H W) complex symbols
on any image size (truncation off the stride grid), and nothing changes on the grid."""

from __future__ import annotations

import math

import pytest
import torch

from jscc_lab.channels import complex_to_real, normalize_power, real_to_complex
from jscc_lab.models import ADJSCC, TAEJSCC, DeepJSCC, PerceptualJSCC, ScratchJSCC
from jscc_lab.models.layers import crop_to, pad_to_multiple, snr_tensor


def _models():
    torch.manual_seed(0)
    return {
        "deepjscc": DeepJSCC(cbr="1/48", width=8),
        "adjscc": ADJSCC(cbr="1/48", width=8),
        "perceptual": PerceptualJSCC(cbr="1/48", width=8, res_blocks=1),
        "taejscc": TAEJSCC(width=8, blocks=1, pretrained=False),
        "scratchjscc": ScratchJSCC(width=8, blocks=1, transform_width=8),
    }


MODELS = _models()


def _kw(model):
    return {"cbr": "1/48"} if model.rate_adaptive else {}


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("size", [(321, 481), (100, 100)])
def test_symbols_sent_never_exceed_the_budget_and_decode_to_the_image_size(name, size):
    model = MODELS[name].eval()
    h, w = size
    budget = math.floor(3 * h * w / 48)
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        s = model.encode(x, 10.0, **_kw(model))
        assert s.shape == (1, model.channel_uses(h, w, cbr=1 / 48)) and s.shape[1] <= budget
        assert s.shape[1] == budget  # these sizes lose less than one symbol to the floor
        assert model.cbr_used(h, w, 1 / 48) == s.shape[1] / (3 * h * w) <= 1 / 48
        torch.testing.assert_close(s.abs().square().mean(), torch.tensor(1.0), atol=1e-5, rtol=0)
        y = model.channel(s, 10.0, generator=torch.Generator().manual_seed(2))
        assert model.decode(y, 10.0, size=size, **_kw(model)).shape == x.shape
        assert model(x, 10.0, generator=torch.Generator().manual_seed(2), **_kw(model)).shape == x.shape
        with pytest.raises(ValueError, match=f"y must have shape \\(N, {budget}\\)"):
            model.decode(torch.zeros(1, budget + 1, dtype=torch.complex64), 10.0, size=size, **_kw(model))


def test_the_numbers_of_the_review_321x481_at_1_48():
    """TAEJSCC used to send 10,416 symbols (CBR 1/44.5), ADJSCC 9,801; separate coding 9,650."""
    for name in ("taejscc", "adjscc"):
        assert MODELS[name].channel_uses(321, 481, cbr=1 / 48) == 9650
    assert MODELS["taejscc"].channel_uses(336, 496, cbr=1 / 48) == 10416  # the padded grid it came from


@pytest.mark.parametrize("name", ["deepjscc", "adjscc", "perceptual"])
def test_on_the_grid_the_single_cbr_models_are_unchanged(name):
    """On multiples of the stride the output is, bit for bit, the untruncated pipeline."""
    model = MODELS[name].eval()
    x = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        snr = snr_tensor(7.0, 2, x.device)
        z = model.encoder(pad_to_multiple(x, model.pad_multiple)[0], snr)
        s = normalize_power(real_to_complex(z))
        assert torch.equal(model.encode(x, 7.0), s)
        y = model.channel(s, 7.0, generator=torch.Generator().manual_seed(4))
        z_rx = complex_to_real(y).reshape(z.shape)
        ref = crop_to(model.render(z_rx, 7.0), (32, 48))
        assert torch.equal(model(x, 7.0, generator=torch.Generator().manual_seed(4)), ref)


@pytest.mark.parametrize("name", ["taejscc", "scratchjscc"])
def test_on_the_grid_the_rate_adaptive_models_are_unchanged(name):
    model = MODELS[name].eval()
    x = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        for cbr in ("1/96", "1/12"):
            m = model._channels_per_image(cbr, 2, x.device)
            snr = snr_tensor(7.0, 2, x.device)
            untruncated = model.transmit_latent(model.latent(x), snr, m)  # no size: the whole grid
            k = m[0].item() * untruncated.shape[-2] * untruncated.shape[-1] // 2
            assert torch.equal(model.encode(x, 7.0, cbr=cbr), real_to_complex(untruncated)[:, :k])
            z_hat, _, cond = model._transmit_receive(model.latent(x), 7.0, cbr, torch.Generator().manual_seed(4), None)
            ref = model._render(z_hat, (32, 48), cond)
            assert torch.equal(model(x, 7.0, cbr=cbr, generator=torch.Generator().manual_seed(4)), ref)


def test_truncation_drops_the_last_symbols_and_the_decoder_zero_fills_them():
    model = MODELS["adjscc"].eval()
    x = torch.rand(1, 3, 30, 30, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        z = model.encoder(pad_to_multiple(x, model.pad_multiple)[0], snr_tensor(10.0, 1, x.device))
        k = model.channel_uses(30, 30)
        assert k == 2 * 30 * 30 // 32 < z[0].numel() // 2
        assert torch.equal(model.encode(x, 10.0), normalize_power(real_to_complex(z)[:, :k]))
        latent = model.received_latent(model.encode(x, 10.0), (30, 30))
        assert latent.shape == z.shape and (latent.reshape(-1)[2 * k:] == 0).all()


def test_decode_needs_the_image_size_and_takes_one_signature():
    import inspect

    for model in MODELS.values():
        params = inspect.signature(model.decode).parameters
        assert [p for p in params if params[p].kind is inspect.Parameter.KEYWORD_ONLY] == ["cbr", "beta", "size"]
        x = torch.rand(1, 3, 32, 32)
        s = model.encode(x, 10.0, **_kw(model))
        with pytest.raises(ValueError, match=r"decode needs size=\(H, W\)"):
            model.decode(s, 10.0, **_kw(model))
        assert not hasattr(model, "_last_size")
    with pytest.raises(ValueError, match="cbr must be this model's own CBR"):
        MODELS["adjscc"].encode(torch.rand(1, 3, 32, 32), 10.0, cbr="1/12")
    with pytest.raises(ValueError, match="beta"):
        MODELS["adjscc"].decode(torch.zeros(1, 64, dtype=torch.complex64), 10.0, beta=0.5, size=(32, 32))
