"""Statistics and contracts of jscc_lab.channels (seeded, with tolerances)."""

import math

import pytest
import torch

from jscc_lab.channels import (
    AWGN,
    RayleighFading,
    cbr,
    cbr_label,
    cbr_of_latent,
    channel_uses,
    complex_to_real,
    latent_channels,
    measure_snr_db,
    noise_var_to_snr_db,
    normalize_power,
    real_to_complex,
    snr_db_to_noise_var,
)
from jscc_lab.modulation import (
    bit_error_rate,
    qpsk_ber_theory,
    qpsk_demodulate,
    qpsk_modulate,
    random_bits,
)


def unit_symbols(n, k, generator):
    return normalize_power(torch.randn(n, k, dtype=torch.complex64, generator=generator))


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_awgn_measured_snr_matches_request(snr_db, generator):
    s = unit_symbols(4, 500_000, generator)  # 2e6 symbols
    y = AWGN()(s, snr_db, generator=generator)
    p_noise = (y - s).abs().square().mean()
    measured = 10 * math.log10(1.0 / p_noise.item())
    assert abs(measured - snr_db) < 0.05


def test_awgn_per_image_snr_tensor_is_honoured(generator):
    snrs = torch.tensor([0.0, 5.0, 10.0, 20.0])
    s = unit_symbols(4, 400_000, generator)
    measured = measure_snr_db(s, AWGN()(s, snrs, generator=generator))
    assert torch.allclose(measured, snrs, atol=0.05)


def test_awgn_noise_is_circular(generator):
    s = unit_symbols(1, 1_000_000, generator)
    n = AWGN()(s, 0.0, generator=generator) - s
    assert abs(n.real.var().item() - 0.5) < 0.01
    assert abs(n.imag.var().item() - 0.5) < 0.01
    assert abs((n.real * n.imag).mean().item()) < 0.005


def test_normalize_power_gives_exact_unit_power_per_image(generator):
    s = torch.randn(5, 333, dtype=torch.complex64, generator=generator) * torch.arange(1, 6)[:, None]
    p = normalize_power(s).abs().square().mean(dim=1)
    assert torch.allclose(p, torch.ones(5), atol=1e-5)
    p2 = normalize_power(s, power=2.0).abs().square().mean(dim=1)
    assert torch.allclose(p2, torch.full((5,), 2.0), atol=1e-5)


def test_normalize_power_keeps_trailing_shape_and_zero_images():
    s = torch.zeros(2, 4, 3, dtype=torch.complex64)
    s[1] = 3 + 4j
    out = normalize_power(s)
    assert out.shape == s.shape
    assert torch.all(out[0] == 0)
    assert torch.allclose(out[1].abs().square().mean(), torch.tensor(1.0))


@pytest.mark.parametrize("mode", ["block", "fast"])
def test_rayleigh_gain_has_unit_mean_power(mode, generator):
    s = unit_symbols(20_000, 64, generator)
    _, h = RayleighFading(mode)(s, 10.0, generator=generator, return_gains=True)
    assert abs(h.abs().square().mean().item() - 1.0) < 0.02
    if mode == "block":
        assert torch.all(h == h[:, :1])
    else:
        assert not torch.all(h == h[:, :1])


def test_rayleigh_without_csi_returns_faded_symbols(generator):
    s = unit_symbols(2, 10_000, generator)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    y, h = RayleighFading("block", csi="none")(s, 300.0, generator=g1, return_gains=True)
    assert torch.allclose(y, h * s, atol=1e-6)
    y_eq = RayleighFading("block", csi="perfect", equalizer="zf")(s, 300.0, generator=g2)
    assert torch.allclose(y_eq, s, atol=1e-4)


@pytest.mark.parametrize("snr_db", [0.0, 4.0, 8.0])
def test_qpsk_ber_over_awgn_matches_theory(snr_db, generator):
    bits = random_bits(4, 500_000, generator)
    y = AWGN()(qpsk_modulate(bits), snr_db, generator=generator)
    ber = bit_error_rate(bits, qpsk_demodulate(y))
    theory = qpsk_ber_theory(snr_db, "awgn").item()
    assert abs(ber - theory) / theory < 0.10


@pytest.mark.parametrize("mode", ["fast", "block"])
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_qpsk_ber_over_rayleigh_matches_theory(mode, snr_db, generator):
    # block fading averages over fades only with many images: 40k images x 50 symbols
    shape = (40_000, 100)
    bits = random_bits(*shape, generator)
    y = RayleighFading(mode)(qpsk_modulate(bits), snr_db, generator=generator)
    ber = bit_error_rate(bits, qpsk_demodulate(y))
    theory = qpsk_ber_theory(snr_db, "rayleigh").item()
    assert abs(ber - theory) / theory < 0.10


@pytest.mark.parametrize("channel", [AWGN(), RayleighFading("block"), RayleighFading("fast")])
def test_same_seed_same_output(channel):
    s = normalize_power(torch.randn(3, 100, dtype=torch.complex64))
    a = channel(s, 5.0, generator=torch.Generator().manual_seed(3))
    b = channel(s, 5.0, generator=torch.Generator().manual_seed(3))
    c = channel(s, 5.0, generator=3)
    assert torch.equal(a, b) and torch.equal(a, c)
    assert not torch.equal(a, channel(s, 5.0, generator=4))


def test_real_complex_round_trip(generator):
    z = torch.randn(3, 2, 4, 4, generator=generator)
    s = real_to_complex(z)
    assert s.shape == (3, 16) and s.dtype == torch.complex64
    assert torch.equal(complex_to_real(s), z.reshape(3, -1))
    assert s[0, 0] == torch.complex(z.reshape(3, -1)[0, 0], z.reshape(3, -1)[0, 1])


def test_snr_noise_variance_helpers():
    assert snr_db_to_noise_var(10.0).item() == pytest.approx(0.1)
    assert snr_db_to_noise_var(0.0, signal_power=2.0).item() == pytest.approx(2.0)
    assert noise_var_to_snr_db(0.01).item() == pytest.approx(20.0)
    snrs = torch.tensor([-5.0, 0.0, 13.0])
    assert torch.allclose(noise_var_to_snr_db(snr_db_to_noise_var(snrs)), snrs, atol=1e-5)


def test_cbr_helpers():
    assert cbr(k=4096, height=256, width=256) == pytest.approx(4096 / (3 * 256 * 256))
    assert channel_uses(1 / 48, 256, 256) == 4096
    assert channel_uses("1/12", 32, 32) == 256
    assert [latent_channels(r) for r in (1 / 96, 1 / 48, 1 / 24, 1 / 12)] == [1, 2, 4, 8]
    assert latent_channels(1 / 6, downsample=2) == 4
    assert cbr_of_latent(16) == pytest.approx(1 / 6)
    assert [cbr_label(c) for c in (1 / 96, 1 / 6, 3 / 64, cbr_of_latent(3))] == ["1/96", "1/6", "3/64", "1/32"]
    # the latent of C channels at (H/4, W/4) holds k = C*H*W/32 complex uses
    c, h, w = latent_channels(1 / 12), 64, 96
    assert cbr(c * (h // 4) * (w // 4) // 2, h, w) == pytest.approx(1 / 12)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_snr_is_rejected(bad):
    s = normalize_power(torch.randn(2, 8, dtype=torch.complex64))
    with pytest.raises(ValueError, match="snr_db"):
        AWGN()(s, bad)
    with pytest.raises(ValueError, match="snr_db"):
        RayleighFading()(s, torch.tensor([1.0, bad]))


def test_bad_snr_shape_and_type_are_rejected():
    s = normalize_power(torch.randn(2, 8, dtype=torch.complex64))
    with pytest.raises(ValueError, match="snr_db"):
        AWGN()(s, torch.zeros(3))
    with pytest.raises(TypeError, match="snr_db"):
        AWGN()(s, "10")


def test_bad_symbols_are_rejected():
    with pytest.raises(TypeError, match="s must be complex"):
        AWGN()(torch.randn(2, 8), 10.0)
    with pytest.raises(ValueError, match=r"shape \(N, k\)"):
        AWGN()(torch.randn(8, dtype=torch.complex64), 10.0)
    with pytest.raises(TypeError, match="s must be"):
        normalize_power([1 + 1j])


def test_bad_constructor_arguments_are_rejected():
    with pytest.raises(ValueError, match="mode"):
        RayleighFading("slow")
    with pytest.raises(ValueError, match="csi"):
        RayleighFading(csi="partial")
    with pytest.raises(ValueError, match="equalizer"):
        RayleighFading(equalizer="ml")


def test_unrealisable_cbr_is_rejected():
    with pytest.raises(ValueError, match="cbr"):
        latent_channels(1 / 100)
    with pytest.raises(ValueError, match="cbr"):
        latent_channels(0)
    with pytest.raises(ValueError, match="cbr"):
        channel_uses(1 / 7, 10, 10)
    with pytest.raises(ValueError, match="downsample"):
        latent_channels(1 / 48, downsample=0)
    with pytest.raises(TypeError, match="cbr"):
        latent_channels(None)


def test_analog_lmmse_receiver_helps_over_awgn_and_leaves_fading_alone():
    from jscc_lab.analog import analog_transmit
    from jscc_lab.data import center_crop, sample_images
    from jscc_lab.metrics import psnr

    x = torch.cat([center_crop(im, 64) for im in sample_images()])
    plain = psnr(x, analog_transmit(x, 0.0, generator=torch.Generator().manual_seed(0))).mean()
    lmmse = psnr(x, analog_transmit(x, 0.0, generator=torch.Generator().manual_seed(0), lmmse=True)).mean()
    assert lmmse > plain + 1.0  # at 0 dB shrinking by SNR / (1 + SNR) = 1/2 pays well
    fading = RayleighFading("block")
    a = analog_transmit(x, 0.0, channel=fading, generator=torch.Generator().manual_seed(0))
    b = analog_transmit(x, 0.0, channel=fading, generator=torch.Generator().manual_seed(0), lmmse=True)
    assert torch.equal(a, b)  # the fading channel's MMSE equaliser already is the LMMSE estimate
