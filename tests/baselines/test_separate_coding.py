"""Separate source-channel coding: codecs at a budget, capacity, 5G LDPC + QAM, the cliff."""

import math

import pytest
import torch

from jscc_lab.baselines import (
    CODECS,
    MCS_TABLE,
    NR_TABLE_64QAM,
    NR_TABLE_256QAM,
    RateControlCache,
    SeparateCoding,
    awgn_capacity,
    bler,
    bler_table,
    bpg_header,
    capacity_bits,
    coded_bitstream,
    counted_bytes,
    encode,
    encode_to_budget,
    ergodic_capacity,
    get_mcs,
    mcs_names,
    mother_code_length,
    outage_capacity,
    outage_probability,
    select_mcs,
    separate_transmit,
    separation_sweep,
    simulate_bler,
)
from jscc_lab.channels import AWGN, RayleighFading
from jscc_lab.data import center_crop, sample_images, to_image
from jscc_lab.metrics import psnr

MID = "16qam-490/1024"  # an NR scheme near rate 1/2


@pytest.fixture(scope="module")
def crop():
    """A 128x128 natural image (astronaut's face): codecs behave as on photos, and fast."""
    return center_crop(sample_images(["astronaut"])[0], 128)


@pytest.fixture(scope="module")
def crops():
    """Two 96x96 natural crops of different content."""
    a, c = sample_images(["astronaut", "coffee"])
    return torch.cat([center_crop(a, 96), center_crop(c, 96)])


# ---------------------------------------------------------------------------------------------
# source coding at a bit budget
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", list(CODECS))
def test_rate_control_never_exceeds_budget_and_fills_it(crop, codec):
    cache = RateControlCache()
    spec = CODECS[codec]
    for budget in (12_000, 30_000):
        r = encode_to_budget(crop, codec, budget, cache=cache)
        assert r.fits.all() and r.x_hat.shape == crop.shape
        bits, q = int(r.bits[0]), int(r.quality[0])
        assert 0 < bits <= budget
        # >= 85 % of the budget, unless the next quality step would already overshoot it
        if bits < 0.85 * budget and q < spec.q_max:
            assert 8 * len(encode(to_image(crop), codec, q + 1)) > budget
        assert psnr(crop, r.x_hat)[0] > 20.0


def test_rate_control_utilisation_hevc(crops):
    r = encode_to_budget(crops, "bpg", [20_000, 40_000], cache=RateControlCache())
    assert (r.bits <= r.budget).all()
    assert (r.bits.double() / r.budget).mean() >= 0.85


def test_budget_below_codec_minimum_is_a_failure_not_an_overshoot(crop):
    r = encode_to_budget(crop, "hevc", 500, cache=RateControlCache())  # a HEIF file is > 500 bits
    assert not r.fits[0] and r.bits[0] == 0 and r.quality[0] == -1
    t = separate_transmit(crop, codec="hevc", cbr=1 / 3072, snr_db=0.0)  # 16 channel uses
    assert t.failed.tolist() == [True] and t.reason == ["budget"] and t.bits[0] == 0
    assert torch.equal(t.x_hat, torch.full_like(crop, 0.5))


def test_an_image_over_budget_at_the_lowest_quality_is_coded_smaller_not_lost():
    x = center_crop(sample_images(["astronaut"])[0], 256)
    lowest = counted_bytes(encode(to_image(x), "hevc", 0, "420"), "hevc", "420", "bitstream", (256, 256))
    budget = int(0.7 * 8 * len(lowest))  # below what the full-size image needs at quality 0
    r = encode_to_budget(x, "hevc", budget, chroma="420", cache=RateControlCache(), downscale=True)
    assert r.fits[0] and r.scale == [2] and r.bits[0] <= budget
    assert r.x_hat.shape == x.shape  # the receiver upsamples to the image's size
    stream = coded_bitstream(r.data[0])
    assert r.sent[0] == bpg_header(128, 128, len(stream)) + stream  # header counts the coded size
    grey = float(psnr(x, torch.full_like(x, 0.5)))
    assert float(psnr(x, r.x_hat)) > grey + 5
    off = encode_to_budget(x, "hevc", budget, chroma="420", cache=RateControlCache())  # the default
    assert not off.fits[0] and off.scale == [0]
    t = separate_transmit(x, codec="hevc", cbr=budget / (3 * 256 * 256 * math.log2(11)) * 0.999,
                          snr_db=10.0, chroma="420", downscale=True)
    assert t.scale == [2] and t.n_downscaled == 1 and not t.failed[0]


def test_hevc_chroma_444_and_cache_reuse(crop):
    cache = RateControlCache()
    r420 = encode_to_budget(crop, "hevc", 20_000, chroma="420", cache=cache)
    r444 = encode_to_budget(crop, "hevc", 20_000, chroma="4:4:4", cache=cache)
    assert r420.bits[0] <= 20_000 and r444.bits[0] <= 20_000
    assert r420.data[0] != r444.data[0]
    encodes = cache.encodes
    again = encode_to_budget(crop, "hevc", 20_000, chroma="420", cache=cache)
    assert cache.encodes == encodes and cache.hits == 1 and again.data == r420.data


def test_counted_bits_are_the_hevc_bitstream_plus_a_bpg_header():
    x = center_crop(sample_images(["astronaut"])[0], 256)
    cache = RateControlCache()
    r = encode_to_budget(x, "hevc", 12_000, chroma="420", cache=cache)
    stream = coded_bitstream(r.data[0])
    header = bpg_header(256, 256, len(stream))
    assert len(header) <= 12  # magic 4, format 2, then width, height and length as ue7 numbers
    assert int(r.bits[0]) == 8 * (len(stream) + len(header)) <= 12_000
    assert r.sent[0] == header + stream and r.sent[0][:4] == b"BPG\xfb"
    # the HEIF container costs ~270 bytes more: counting it leaves far less for the picture
    whole = encode_to_budget(x, "hevc", 12_000, chroma="420", cache=cache, count="file")
    assert whole.fits[0] and int(whole.bits[0]) == 8 * len(whole.data[0])
    assert len(whole.data[0]) - len(coded_bitstream(whole.data[0])) > 200
    assert whole.quality[0] < r.quality[0]
    assert psnr(x, r.x_hat)[0] > psnr(x, whole.x_hat)[0] + 0.5


def test_chroma_auto_keeps_the_better_format_per_image(crops):
    cache = RateControlCache()
    scores = {c: psnr(crops, encode_to_budget(crops, "hevc", 30_000, chroma=c, cache=cache).x_hat)
              for c in ("420", "444", "auto")}
    assert torch.allclose(scores["auto"], torch.maximum(scores["420"], scores["444"]))
    with pytest.raises(ValueError, match="auto"):
        encode(to_image(crops[:1]), "hevc", 50, chroma="auto")


def test_separate_coding_is_monotone_in_cbr_at_every_snr(crops):
    cbrs = [1 / 96, 1 / 48, 1 / 24, 1 / 12]
    for code in ("capacity", "ldpc"):
        for snr in (0.0, 10.0, 20.0):
            rows = separation_sweep(crops, [snr], cbrs, codec="hevc", channel_code=code,
                                    generator=0, progress=False)
            values = [r["psnr"] for r in rows]
            assert all(b >= a - 0.05 for a, b in zip(values, values[1:])), (code, snr, values)
            assert all(r["cbr_used"] <= r["cbr"] for r in rows)


# ---------------------------------------------------------------------------------------------
# the ideal bound
# ---------------------------------------------------------------------------------------------


def test_capacity_values_and_monotonicity():
    assert int(capacity_bits(12288, 10.0)) == math.floor(12288 * math.log2(11.0))
    snrs = torch.arange(-5.0, 30.0, 2.5)
    c = awgn_capacity(snrs)
    assert (c.diff() > 0).all()
    assert (ergodic_capacity(snrs) < c).all()  # Jensen: fading costs rate at equal average SNR
    by_k = torch.stack([capacity_bits(k, 10.0) for k in (100, 200, 400, 800)])
    assert (by_k.diff() > 0).all()
    eps = 0.1
    assert float(outage_probability(outage_capacity(10.0, eps), 10.0)) == pytest.approx(eps)
    g = torch.distributions.Exponential(1.0).sample((200_000,)).double()
    assert float(ergodic_capacity(10.0)) == pytest.approx(float(torch.log2(1 + 10 * g).mean()), rel=0.01)


def test_capacity_transmit_budget_grows_with_snr_and_cbr(crop):
    budgets = [[int(separate_transmit(crop, codec="jpeg", cbr=c, snr_db=s).budget_bits[0])
                for s in (0.0, 10.0, 20.0)] for c in (1 / 24, 1 / 12)]
    assert budgets[0][0] < budgets[0][1] < budgets[0][2]
    assert all(a < b for a, b in zip(budgets[0], budgets[1]))


# ---------------------------------------------------------------------------------------------
# 5G LDPC + QAM
# ---------------------------------------------------------------------------------------------


def test_ldpc_bler_extremes_and_waterfall(generator):
    assert simulate_bler("16qam-1/2", 30.0, 30, generator=generator) == 0.0
    assert simulate_bler("16qam-1/2", -5.0, 30, generator=generator) == 1.0
    assert simulate_bler("256qam-948/1024", 35.0, 20, generator=generator) == 0.0
    # BLER falls with SNR across the measured waterfall of an NR scheme near rate 1/2
    snrs, values = bler_table("awgn")[MID]
    half = snrs[min(range(len(values)), key=lambda i: abs(values[i] - 0.5))]
    measured = [simulate_bler(MID, half + d, 80, generator=generator) for d in (-1.0, 0.0, 1.0)]
    assert measured[0] > measured[1] > measured[2]
    assert measured[0] > 0.8 and measured[2] < 0.1
    assert abs(measured[1] - bler(MID, half)) < 0.3  # the shipped table matches the chain


def test_nr_mcs_tables_span_low_and_high_spectral_efficiency():
    se = [m.spectral_efficiency for m in MCS_TABLE]
    assert len(MCS_TABLE) == 37 and se == sorted(se)
    assert se[0] < 0.25 and se[-1] > 7.0
    assert {m.bits_per_symbol for m in MCS_TABLE} == {2, 4, 6, 8}
    assert len(NR_TABLE_64QAM) == 29 and len(NR_TABLE_256QAM) == 28
    assert set(mcs_names()) == set(bler_table("awgn")) == set(bler_table("rayleigh-fast"))
    assert get_mcs("QPSK-120/1024") is MCS_TABLE[0] and get_mcs("16qam-1/2").k == 576
    with pytest.raises(ValueError, match="mcs"):
        get_mcs("256qam-19/20")  # above the highest NR rate, 948/1024


def test_rates_below_one_fifth_repeat_the_mother_code(generator):
    low = get_mcs("qpsk-120/1024")
    assert low.k == 135 and mother_code_length(low) == 674 < low.n  # rate 135/674 >= 1/5
    assert mother_code_length(get_mcs("qpsk-251/1024")) == low.n
    # the repeated bits are combined: it decodes below 0 dB, where an unrepeated QPSK code cannot
    assert simulate_bler(low, -4.0, 60, generator=generator) == 0.0
    assert simulate_bler(low, -12.0, 30, generator=generator) == 1.0


@pytest.mark.parametrize("channel", ["awgn", "rayleigh-fast"])
def test_bler_table_is_monotone_and_ordered(channel):
    for name, (snrs, values) in bler_table(channel).items():
        assert list(snrs) == sorted(snrs) and values[0] >= 0.9 and values[-1] == 0.0, name
        # past the last measured error the waterfall continues (a measured 0 is only "< 1/120")
        assert 0.0 < bler(name, snrs[-1], channel) < 0.05, name
        assert bler(name, snrs[-1] + 6.0, channel) < 1e-3, name  # fast fading at rate ~0.9 decays slowly
        grid = [snrs[0] - 1.0 + 0.25 * i for i in range(40)]
        curve = [bler(name, g, channel) for g in grid]
        assert all(a >= b for a, b in zip(curve, curve[1:])), name
    thresholds = [bler_table(channel)[m.name][0][-1] for m in MCS_TABLE]
    assert thresholds[0] < thresholds[3] < thresholds[6] < thresholds[-1]


def test_fast_fading_needs_more_snr_than_awgn_for_every_mcs(generator):
    for m in MCS_TABLE:
        fast = bler_table("rayleigh-fast")[m.name][0]
        awgn = bler_table("awgn")[m.name][0]
        assert fast[-1] > awgn[-1], m.name  # error-free later
    # the shipped table matches the chain: half-way up the waterfall, measured again
    snrs, values = bler_table("rayleigh-fast")[MID]
    half = snrs[min(range(len(values)), key=lambda i: abs(values[i] - 0.5))]
    measured = simulate_bler(MID, half, 80, channel=RayleighFading("fast"), generator=generator)
    assert abs(measured - bler(MID, half, "rayleigh-fast")) < 0.3


def test_best_mcs_over_fast_fading_is_more_cautious_and_decodes(crop):
    k = 128 * 128 * 3 // 12
    awgn, _ = select_mcs(crop, "webp", 12.0, k)
    fast, _ = select_mcs(crop, "webp", 12.0, k, channel=RayleighFading("fast"))
    assert fast.spectral_efficiency < awgn.spectral_efficiency
    result = separate_transmit(crop, codec="webp", cbr=1 / 12, snr_db=16.0, channel_code="ldpc",
                               channel=RayleighFading("fast"), generator=4)
    assert result.mcs[0] is not None and not result.failed[0]


def test_ldpc_over_block_fading_needs_csi(generator):
    fading = RayleighFading("block")
    assert simulate_bler("qpsk-1/2", 40.0, 30, channel=fading, generator=generator) < 0.1
    with pytest.raises(ValueError, match="csi"):
        simulate_bler("qpsk-1/2", 10.0, 5, channel=RayleighFading(csi="none"), generator=generator)


# ---------------------------------------------------------------------------------------------
# end to end: the cliff, failures, selection, reproducibility
# ---------------------------------------------------------------------------------------------


def test_cliff_with_fixed_mcs_but_capacity_degrades_smoothly(crop, generator):
    mcs = get_mcs("qpsk-526/1024")
    snrs, values = bler_table("awgn")[mcs.name]
    threshold = snrs[-1]  # lowest SNR measured error-free
    below, above = threshold - 2.0, threshold + 0.5
    kw = dict(codec="webp", cbr=1 / 12, generator=generator)  # WebP: a 30-byte header
    ldpc = {s: separate_transmit(crop, snr_db=s, channel_code="ldpc", mcs=mcs.name, **kw)
            for s in (below, above)}
    cap = {s: separate_transmit(crop, snr_db=s, channel_code="capacity", **kw) for s in (below, above)}
    p_ldpc = {s: float(psnr(crop, r.x_hat)) for s, r in ldpc.items()}
    p_cap = {s: float(psnr(crop, r.x_hat)) for s, r in cap.items()}
    assert ldpc[above].failed.tolist() == [False] and ldpc[below].failed.tolist() == [True]
    assert ldpc[above].codewords[0] == ldpc[below].codewords[0] > 0  # same file, same budget
    assert ldpc[below].reason == ["decoding"] and ldpc[below].codeword_errors[0] > 0
    assert p_ldpc[above] - p_ldpc[below] > 10.0  # the cliff
    assert 0.0 < p_cap[above] - p_cap[below] < 6.0  # the bound moves gently
    assert p_ldpc[above] <= p_cap[above] + 1e-6  # the practical chain stays below the bound


def test_failures_are_counted_and_scored_never_dropped(crops, generator):
    grey = float(psnr(crops[:1], torch.full_like(crops[:1], 0.5)))
    rows = separation_sweep(crops, snrs_db=[-3.0], cbrs=[1 / 12], codec="webp",
                            channel_code="ldpc", mcs="16qam-3/4", generator=0, progress=False)
    row = rows[0]
    assert row["n_images"] == 2 and row["failures"] == 2 and row["failure_rate"] == 1.0
    assert row["per_image"]["reason"] == ["decoding", "decoding"]
    assert len(row["per_image"]["psnr"]) == 2
    assert row["per_image"]["psnr"][0] == pytest.approx(grey, abs=1e-4)
    assert row["psnr"] == pytest.approx(sum(row["per_image"]["psnr"]) / 2)


def test_best_mcs_follows_snr_and_stays_below_capacity(crop):
    k = 128 * 128 * 3 // 12
    low, low_psnr = select_mcs(crop, "webp", 1.5, k)
    high, high_psnr = select_mcs(crop, "webp", 30.0, k)
    grey = float(psnr(crop, torch.full_like(crop, 0.5)))
    assert low.bits_per_symbol == 2 and high.bits_per_symbol == 8 and high_psnr > low_psnr > grey
    for snr in (3.0, 12.0):
        best = separate_transmit(crop, codec="webp", cbr=1 / 12, snr_db=snr, channel_code="ldpc",
                                 generator=1)
        assert best.budget_bits[0] < capacity_bits(k, snr)
        assert not best.failed[0] and best.codewords[0] > 0


def test_reproducible_with_a_seed(crops):
    half = bler_table("awgn")["qpsk-679/1024"][0][1]  # inside the waterfall: outcomes are random
    kw = dict(codec="webp", cbr=1 / 12, snr_db=half, channel_code="ldpc", mcs="qpsk-679/1024")
    a = separate_transmit(crops, generator=7, **kw)
    b = separate_transmit(crops, generator=torch.Generator().manual_seed(7), **kw)
    assert (a.codewords > 0).all()
    assert torch.equal(a.x_hat, b.x_hat) and torch.equal(a.codeword_errors, b.codeword_errors)


def test_block_fading_capacity_has_outages(crops):
    r = separate_transmit(torch.cat([crops] * 8), codec="webp", cbr=1 / 12, snr_db=10.0,
                          channel=RayleighFading("block"), generator=3, outage=0.3)
    assert 0 < r.n_failures < 16 and set(r.reason) == {"", "outage"}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(codec="bmp"), "codec"),
        (dict(cbr=0.0), "cbr"),
        (dict(cbr=-1 / 48), "cbr"),
        (dict(snr_db=float("nan")), "snr_db"),
        (dict(channel_code="turbo"), "channel_code"),
        (dict(channel_code="ldpc", mcs="256qam-19/20"), "mcs"),
        (dict(count="container"), "count"),
        (dict(mcs="qpsk-1/2"), "mcs"),
        (dict(codec="webp", chroma="444"), "chroma"),
        (dict(channel_code="ldpc", channel=RayleighFading(csi="none")), "channel"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_argument(crop, kwargs, name):
    args = dict(codec="jpeg", cbr=1 / 12, snr_db=10.0) | kwargs
    with pytest.raises(ValueError, match=name):
        separate_transmit(crop, **args)


def test_bad_budget_raises(crop):
    with pytest.raises(ValueError, match="max_bits"):
        encode_to_budget(crop, "jpeg", 0)
    with pytest.raises(ValueError, match="max_bits"):
        encode_to_budget(crop, "jpeg", float("nan"))


def test_awgn_and_default_channel_agree(crop):
    a = separate_transmit(crop, codec="webp", cbr=1 / 12, snr_db=8.0, channel_code="ldpc",
                          mcs="16qam-1/2", generator=5)
    b = separate_transmit(crop, codec="webp", cbr=1 / 12, snr_db=8.0, channel=AWGN(),
                          channel_code="ldpc", mcs="16qam-1/2", generator=5)
    assert torch.equal(a.x_hat, b.x_hat) and a.mcs == b.mcs == ["16qam-1/2"] and not a.failed[0]


def test_block_fading_selection_is_more_cautious_than_awgn(crop):
    k = 128 * 128 * 3 // 12
    awgn, _ = select_mcs(crop, "webp", 12.0, k)
    faded, _ = select_mcs(crop, "webp", 12.0, k, channel=RayleighFading("block"))
    assert faded.spectral_efficiency < awgn.spectral_efficiency


def test_separate_coding_block_matches_the_function(crop):
    system = SeparateCoding("webp", "ldpc", mcs="qpsk-1/2")
    a = system(crop, 6.0, 1 / 12, generator=2)
    b = separate_transmit(crop, codec="webp", cbr=1 / 12, snr_db=6.0, channel_code="ldpc",
                          mcs="qpsk-1/2", generator=2)
    assert torch.equal(a.x_hat, b.x_hat) and a.mcs == ["qpsk-1/2"]
