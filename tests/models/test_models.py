"""Contracts of jscc_lab.models: shapes, power constraint, CBR, SNR conditioning, GDN."""

import inspect

import pytest
import torch

from jscc_lab.channels import AWGN, RayleighFading, channel_uses
from jscc_lab.models import (
    ADJSCC,
    GDN,
    MODELS,
    DeepJSCC,
    SNRAttention,
    build_model,
    crop_to,
    pad_to_multiple,
)

CBRS = ["1/12", "1/24", "1/48", "1/96"]
#: single-CBR models (``model.cbr``); rate-adaptive ones (``model.cbrs``) are tested in test_taejscc
SINGLE_CBR = sorted(n for n, cls in MODELS.items() if "cbrs" not in inspect.signature(cls).parameters)


def tiny(name, cbr="1/12"):
    return build_model(name, cbr=cbr, width=16).eval()


@pytest.mark.parametrize("name", SINGLE_CBR)
@pytest.mark.parametrize("size", [(37, 53), (32, 32), (1, 1), (66, 4)])
def test_any_input_size_comes_back_the_same_size(name, size):
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        x_hat = tiny(name)(x, 10.0)
    assert x_hat.shape == x.shape
    assert x_hat.min() >= 0 and x_hat.max() <= 1


@pytest.mark.parametrize("cbr", CBRS)
def test_odd_size_with_odd_latent_channels_gives_whole_symbols(cbr):
    model = build_model("adjscc", cbr=cbr, width=8)
    x = torch.rand(1, 3, 37, 53)
    s = model.encode(x)
    assert s.shape == (1, model.channel_uses(37, 53))
    assert model(x, 5.0).shape == x.shape


@pytest.mark.parametrize("name", SINGLE_CBR)
@pytest.mark.parametrize("cbr", ["1/12", "1/48", "1/96"])
def test_encode_is_complex_unit_power_with_the_promised_number_of_symbols(name, cbr):
    model = build_model(name, cbr=cbr, width=16)
    x = torch.rand(3, 3, 64, 96)
    s = model.encode(x, torch.tensor([0.0, 10.0, 20.0]))
    assert s.dtype == torch.complex64 and s.ndim == 2
    assert s.shape[1] == channel_uses(cbr, 64, 96) == model.channel_uses(64, 96)
    assert model.cbr == pytest.approx(eval(cbr))
    torch.testing.assert_close(s.abs().square().mean(dim=1), torch.ones(3), atol=1e-5, rtol=0)


def test_decode_inverts_encode_shape_and_needs_a_size():
    model = tiny("adjscc")
    x = torch.rand(2, 3, 40, 24)
    s = model.encode(x, 10.0)
    assert model.decode(s, 10.0, size=(40, 24)).shape == x.shape
    with pytest.raises(ValueError, match="shape"):
        model.decode(s[:, :-2], 10.0, size=(40, 24))
    with pytest.raises(ValueError, match=r"decode needs size=\(H, W\)"):  # no hidden state from encode
        model.decode(s, 10.0)


def test_forward_is_seeded_and_noise_matters():
    model = tiny("adjscc")
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        a = model(x, 0.0, generator=torch.Generator().manual_seed(1))
        b = model(x, 0.0, generator=torch.Generator().manual_seed(1))
        c = model(x, 0.0, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b)
    assert (a - c).abs().max() > 1e-4


def test_snr_attention_changes_the_adjscc_output_but_not_deepjscc():
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        adj = tiny("adjscc")
        s = adj.encode(x, 10.0)
        low, high = adj.decode(s, 0.0, size=(32, 32)), adj.decode(s, 20.0, size=(32, 32))
        # an untrained net reacts weakly, but far above float round-off (same inputs give
        # bit-identical outputs on the CPU)
        assert (low - high).abs().max() > 1e-6
        s_low, s_high = adj.encode(x, 0.0), adj.encode(x, 20.0)
        assert (s_low - s_high).abs().max() > 1e-6
        # per-image SNRs are honoured image by image
        mixed = adj.decode(s, torch.tensor([0.0, 20.0]), size=(32, 32))
        torch.testing.assert_close(mixed[0], low[0])
        torch.testing.assert_close(mixed[1], high[1])

        deep = tiny("deepjscc")
        s = deep.encode(x)
        torch.testing.assert_close(deep.decode(s, 0.0, size=(32, 32)), deep.decode(s, 20.0, size=(32, 32)))


def test_snr_attention_module_scales_channels_in_unit_range():
    att = SNRAttention(16)
    x = torch.rand(4, 16, 5, 7) + 0.1
    out = att(x, torch.tensor([0.0, 5.0, 10.0, 20.0]))
    ratio = out / x
    assert ratio.min() >= 0 and ratio.max() <= 1
    # one weight per (image, channel): constant over space
    torch.testing.assert_close(ratio, ratio[..., :1, :1].expand_as(ratio))
    assert (ratio[0] - ratio[3]).abs().max() > 1e-5
    with pytest.raises(ValueError, match="snr_db"):
        att(x, torch.zeros(3))


def test_gdn_matches_its_formula_and_igdn_undoes_it_for_small_inputs():
    gdn = GDN(6)
    with torch.no_grad():
        gdn.gamma.add_(0.05 * torch.rand(6, 6))
    x = torch.randn(2, 6, 4, 5)
    beta, gamma = gdn.effective_params()
    expected = x / torch.sqrt(beta[None, :, None, None]
                              + torch.einsum("ij,njhw->nihw", gamma, x * x))
    torch.testing.assert_close(gdn(x), expected, rtol=1e-5, atol=1e-6)
    igdn = GDN(6, inverse=True)
    igdn.load_state_dict(gdn.state_dict())
    small = 1e-2 * torch.randn(2, 6, 4, 5)
    torch.testing.assert_close(igdn(gdn(small)), small, rtol=1e-3, atol=1e-6)
    assert (igdn(gdn(x)) - x).abs().max() > 1e-4  # only approximately inverse for large inputs


def test_gdn_parameters_stay_non_negative_and_bounded_params_still_learn():
    gdn = GDN(4, beta_min=1e-3)
    with torch.no_grad():
        gdn.beta.fill_(-3.0)
        gdn.gamma.fill_(-3.0)
    beta, gamma = gdn.effective_params()
    assert (beta >= 1e-3 - 1e-9).all() and (gamma >= 0).all()
    x = torch.randn(2, 4, 3, 3)
    assert torch.isfinite(gdn(x)).all()
    # a gradient that pushes a bounded parameter back up reaches it (lower-bound trick)
    (-gdn.effective_params()[0].sum()).backward()
    assert (gdn.beta.grad < 0).all()
    with pytest.raises(ValueError, match="channels"):
        GDN(0)
    with pytest.raises(ValueError, match="GDN expects"):
        GDN(3)(torch.randn(1, 4, 2, 2))


def test_pad_and_crop_round_trip():
    x = torch.rand(1, 3, 37, 53)
    padded, size = pad_to_multiple(x, (8, 4))
    assert padded.shape[-2:] == (40, 56) and size == (37, 53)
    torch.testing.assert_close(crop_to(padded, size), x)
    assert pad_to_multiple(torch.rand(1, 3, 8, 8), 4)[0].shape == (1, 3, 8, 8)


def test_channel_is_a_swappable_attribute():
    model = tiny("adjscc")
    assert isinstance(model.channel, AWGN)
    model.channel = RayleighFading(mode="fast")
    x = torch.rand(1, 3, 32, 32)
    assert model(x, 10.0, generator=torch.Generator().manual_seed(0)).shape == x.shape
    fading = build_model("deepjscc", cbr="1/6", channel="rayleigh-block")
    assert isinstance(fading.channel, RayleighFading) and fading.channel.mode == "block"


def test_paper_width_adjscc_has_the_expected_size():
    # 256 channels: six 5x5 256->256 (transposed) convs (~1.64 M each) and two 9x9 end layers
    model = ADJSCC(cbr="1/12", width=256)
    n = sum(p.numel() for p in model.parameters())
    assert 1.0e7 < n < 1.1e7
    assert model.encoder.stages[1].layer.weight.shape == (256, 256, 5, 5)
    assert isinstance(build_model("deepjscc", cbr="1/6"), DeepJSCC)


def test_errors_name_the_argument_and_valid_values():
    with pytest.raises(ValueError, match="valid names"):
        build_model("nope", cbr="1/12")
    with pytest.raises(ValueError, match="valid names"):
        build_model("adjscc", channel="nope", cbr="1/12")
    with pytest.raises(ValueError, match="1/96"):
        ADJSCC(cbr="1/100", width=8)
    model = tiny("adjscc")
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        model(torch.rand(3, 32, 32), 10.0)
    with pytest.raises(ValueError, match="snr_db"):
        model(torch.rand(2, 3, 32, 32), torch.zeros(3))
