# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Separate source-channel coding and its cliff effect
#
# Before any deep JSCC model, meet the system it has to beat: **separate source-channel coding**.
# A real image codec squeezes the picture into a bit budget, then a real channel code protects
# those bits. Shannon's [separation theorem](../docs/glossary.md#separation-theorem) says this is optimal for infinitely long blocks; for
# one image over a noisy channel it has a weakness every wireless engineer knows: the **cliff
# effect**.
#
# **You will learn**
#
# 1. *Rate control*: fit an image into a bit budget with JPEG, WebP, [HEVC](../docs/glossary.md#bpg-and-hevc-intra) intra (our BPG stand-in)
#    and AVIF, what quality each buys, and what a file container costs at small budgets.
# 2. *[Capacity](../docs/glossary.md#capacity)*: the ideal channel code delivers `k * log2(1 + SNR)` bits per image; over
#    fading, the ergodic and the outage views.
# 3. *5G [LDPC](../docs/glossary.md#ldpc) + QAM* (NVIDIA Sionna) over our own channels: the [BLER](../docs/glossary.md#bler) waterfall and its gap to the
#    Shannon limit.
# 4. *The cliff*: with a fixed modulation and coding scheme ([MCS](../docs/glossary.md#mcs)), quality collapses just below a
#    threshold SNR and does not improve above it.
# 5. *The best-MCS envelope* on Kodak against the capacity bound, and an SNR slider to watch the
#    cliff on an image.
#
# **Requirements**: CPU only. Full run: **167 s** on one CPU thread (3 Kodak images);
# `JSCC_LAB_QUICK=1` runs the same code on one small crop in about a minute. Kodak is read
# from `$JSCC_LAB_DATA/kodak` (downloaded there when missing, unless `JSCC_LAB_OFFLINE=1`).

# %%
# Set-up. Where jscc_lab is not installed (Colab, Binder) this installs it from JSCC_LAB_SOURCE, its
# pip source (instructor's guide: "Without a clone"), then says which device and data this run uses.
import importlib.util
import os
import subprocess
import sys

SOURCE = os.environ.get("JSCC_LAB_SOURCE", "")
if importlib.util.find_spec("jscc_lab") is None:
    if not SOURCE:
        raise ModuleNotFoundError("jscc_lab is not installed: run `pip install -e .` in a clone, or set "
                                  "JSCC_LAB_SOURCE to its pip source, e.g. git+https://HOST/OWNER/jscc_lab")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", SOURCE], check=True)
from jscc_lab import settings

print(settings.environment())

# %%
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display

from jscc_lab import baselines, settings
from jscc_lab.baselines import (
    awgn_capacity,
    bler_table,
    capacity_bits,
    encode_to_budget,
    ergodic_capacity,
    get_mcs,
    outage_capacity,
    separate_transmit,
    separation_sweep,
    simulate_bler,
)
from jscc_lab.channels import RayleighFading, channel_uses
from jscc_lab.data import center_crop, kodak
from jscc_lab.metrics import psnr
from jscc_lab.plotting import show_images

# %% [markdown]
# ## Parameters
# Every knob of the notebook. `settings.budget(full, quick)` picks the second value under
# `JSCC_LAB_QUICK=1` (continuous integration): same code, smaller work.

# %%
N_IMAGES = settings.budget(3, 1)  # Kodak images for the envelope (kodim01, 02, ...)
CROP = settings.budget(None, 128)  # None: native 768x512; an int: centre crop (quick mode)
CODECS = ["jpeg", "webp", "hevc", "avif"]
CODEC = "hevc"  # HEVC intra in HEIF: our BPG stand-in
BUDGETS_BPP = settings.budget([0.1, 0.2, 0.4, 0.8], [0.25, 1.0])  # rate-control demo
SNRS_DB = settings.budget([0.0, 5.0, 10.0, 15.0, 20.0], [0.0, 10.0, 20.0])
CBR = settings.budget(1 / 48, 1 / 12)  # the envelope and the cliff
WATERFALL_MCS = ["qpsk-308/1024", "16qam-490/1024", "64qam-772/1024"]  # NR MCS table entries
N_CODEWORDS = settings.budget(200, 30)  # per point of the measured waterfall
CLIFF_MCS = "16qam-490/1024"  # NR MCS index 13: 16-QAM, code rate 490/1024
CLIFF_SNRS_DB = settings.budget(list(np.arange(2.0, 14.5, 1.0)), [3.0, 5.0, 7.0, 9.0])  # + slider
CONTAINER_CROPS = settings.budget([128, 256, 512], [128])  # crop sizes for the container's cost
CONTAINER_CBRS = [1 / 96, 1 / 48, 1 / 24]  # at 10 dB, capacity budget
SEED = 0

# %%
images = kodak()[:N_IMAGES]
if CROP is not None:
    images = [center_crop(x, CROP) for x in images]
x0 = images[0]
print(f"{len(images)} image(s), first one {tuple(x0.shape[-2:])}")

# %% [markdown]
# ## 1. Rate control: a codec at a bit budget
#
# A separate system first decides how many bits the channel will deliver, then asks the codec for
# the best image within that budget (counted in bits per pixel, [bpp](../docs/glossary.md#bpp)). Codecs are driven by a *quality* knob, not a size, so
# `encode_to_budget` searches for the **largest quality whose file fits** (a bisection on the
# integer quality). It never sends a file over budget: an image that does not fit even at the
# lowest quality is a *failure*.
#
# BPG (HEVC intra in a tiny container) is the codec of the deep JSCC papers; it has no Python
# binding, so we use the same x265 encoder through `pillow-heif`, which writes a HEIF file. The
# bits counted are those of a BPG file with the same HEVC data: the coded bitstream (parameter
# sets and slice data) plus BPG's 12-byte header, as the literature counts BPG. Section 1b shows
# what counting the whole HEIF file would cost.

# %%
pixels = x0.shape[-1] * x0.shape[-2]
rows = []
for codec in CODECS:
    for bpp in BUDGETS_BPP:
        r = encode_to_budget(x0, codec, max_bits=int(bpp * pixels))
        rows.append((codec, bpp, int(r.budget[0]), int(r.bits[0]), int(r.quality[0]),
                     float(psnr(x0, r.x_hat)) if r.fits[0] else float("nan")))
print(f"{'codec':6s} {'bpp':>5s} {'budget':>8s} {'bits':>8s} {'used':>5s} {'q':>4s} {'PSNR':>6s}")
for codec, bpp, budget, bits, q, p in rows:
    print(f"{codec:6s} {bpp:5.2f} {budget:8d} {bits:8d} {bits / budget:5.0%} {q:4d} {p:6.2f}")
assert all(bits <= budget for _, _, budget, bits, _, _ in rows)

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
for codec in CODECS:
    pts = [(bits / pixels, p) for c, _, _, bits, _, p in rows if c == codec and bits]
    ax.plot(*zip(*pts), marker="o", label=codec)
ax.set_xlabel("bits per pixel")
ax.set_ylabel("PSNR (dB)")
ax.set_title("Rate-distortion of the four codecs")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# HEVC and AVIF (modern intra coders) beat WebP and JPEG by several dB at low rates; JPEG cannot
# even reach the lowest budgets on some images. Below: what the lowest budget looks like.

# %%
low = int(BUDGETS_BPP[0] * pixels)
shown, titles = [x0], ["original"]
for codec in CODECS:
    r = encode_to_budget(x0, codec, max_bits=low)
    shown.append(r.x_hat if r.fits[0] else torch.full_like(x0, 0.5))
    titles.append(f"{codec} {int(r.bits[0]) / pixels:.3f} bpp" if r.fits[0] else f"{codec}: does not fit")
show_images(shown, titles, size=2.6)
plt.show()

# %% [markdown]
# ## 1b. What a file container costs
#
# A HEIF file wraps the HEVC bitstream in boxes (`ftyp`, `meta` with the item description and the
# parameter sets, `mdat`): a few hundred bytes that carry no picture. On a photo of a megapixel
# nobody notices; at the budgets of deep JSCC papers (a 256x256 crop at CBR 1/96 and 10 dB gets
# about 7,000 bits) they are a large share of the budget. `count="file"` counts them, the default
# `count="bitstream"` does not:

# %%
from jscc_lab.baselines import bpg_header, coded_bitstream, encode  # noqa: E402
from jscc_lab.data import to_image  # noqa: E402

container_rows = []
for size in CONTAINER_CROPS:
    crop_img = center_crop(kodak()[0], size)
    heif = encode(to_image(crop_img), CODEC, 50, "420")  # the container does not depend on quality
    overhead = 8 * (len(heif) - len(coded_bitstream(heif)))
    for cbr_c in CONTAINER_CBRS:
        budget = int(capacity_bits(channel_uses(cbr_c, size, size), 10.0))
        by_count = {count: encode_to_budget(crop_img, CODEC, budget, count=count)
                    for count in ("bitstream", "file")}
        container_rows.append({
            "size": size, "cbr": cbr_c, "budget": budget, "overhead": overhead,
            **{count: float(psnr(crop_img, r.x_hat)) if r.fits[0] else float("nan")
               for count, r in by_count.items()}})
print(f"{'crop':>5s} {'CBR':>6s} {'budget':>7s} {'HEIF overhead':>14s} {'PSNR bitstream':>15s} "
      f"{'PSNR whole file':>16s}")
def shown(v):
    return f"{v:.2f}" if v == v else "lost"  # NaN: the image does not fit its budget at all


for r in container_rows:
    print(f"{r['size']:5d} 1/{round(1 / r['cbr']):<4d} {r['budget']:7d} {r['overhead']:7d} bits "
          f"({r['overhead'] / r['budget']:3.0%}) {shown(r['bitstream']):>15s} {shown(r['file']):>16s}")
print(f"BPG header: {8 * len(bpg_header(768, 512, 9000))} bits")

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for i, size in enumerate(CONTAINER_CROPS):
    sub = [r for r in container_rows if r["size"] == size]
    ax.plot([r["overhead"] / r["budget"] for r in sub], [r["bitstream"] - r["file"] for r in sub],
            marker="o", color=f"C{i}", label=f"{size}x{size} crop")
    for r in sub:
        ax.annotate(f"1/{round(1 / r['cbr'])}", (r["overhead"] / r["budget"], r["bitstream"] - r["file"]),
                    fontsize=7, xytext=(3, 3), textcoords="offset points")
ax.set_xlabel("share of the budget taken by the HEIF container")
ax.set_ylabel("PSNR lost by counting it (dB)\n(images that no longer fit not drawn)")
ax.set_title("The container's cost at 10 dB, capacity budget")
ax.grid(alpha=0.3)
ax.legend()
plt.show()
lost_to_file = [r for r in container_rows if r["file"] != r["file"] and r["bitstream"] == r["bitstream"]]
print(f"Lost only because the container was counted: {len(lost_to_file)} of {len(container_rows)} "
      "settings (" + ", ".join(f"{r['size']}x{r['size']} at 1/{round(1 / r['cbr'])}" for r in lost_to_file)
      + "); the container is " + ", ".join(
          f"{r['overhead'] / r['budget']:.0%}" for r in lost_to_file) + " of their budgets.")

# %% [markdown]
# "lost" above means the image did not fit at all. The smaller the image and the lower the
# budget, the more a container handicaps a codec: a comparison of deep JSCC with
# "BPG" on small crops must count the bitstream, as the published baselines do, or it measures a
# file format instead of a codec.
#
# ## 2. The ideal channel code: capacity
#
# With `k` complex channel uses per image, CBR `rho = k / (3HW)`, and `SNR = P / sigma^2` per
# symbol, the AWGN channel carries at most `C = log2(1 + SNR)` bits per use, so an ideal code
# delivers `k * C` bits **error-free** and nothing more. Fading adds two views:
#
# * **fast fading** (each codeword spans many independent fades): the *ergodic* capacity
#   `E[log2(1 + |h|^2 SNR)]` is achievable;
# * **block fading** (one fade per image, unknown to the transmitter): any rate `R` fails when
#   `log2(1 + |h|^2 SNR) < R`, an *outage*, with probability `1 - exp(-(2^R - 1)/SNR)`. The
#   `eps`-outage capacity is the rate lost with probability `eps`.

# %%
snr_axis = np.linspace(-5, 25, 61)
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(snr_axis, awgn_capacity(snr_axis), label="AWGN  log2(1+SNR)")
ax.plot(snr_axis, ergodic_capacity(snr_axis), label="Rayleigh, ergodic")
ax.plot(snr_axis, outage_capacity(snr_axis, 0.1), label="Rayleigh block, 10 % outage")
for m in baselines.MCS_TABLE:
    ax.axhline(m.spectral_efficiency, color="grey", lw=0.5, ls=":")
ax.set_xlabel("SNR (dB)")
ax.set_ylabel("bits per channel use")
ax.set_title("Capacity (dotted: spectral efficiency of each MCS)")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %%
k = channel_uses(CBR, *x0.shape[-2:])
for snr in SNRS_DB:
    print(f"CBR {CBR:.4f}, {snr:5.1f} dB: k = {k} uses -> {int(capacity_bits(k, snr)):7d} bits "
          f"= {int(capacity_bits(k, snr)) / pixels:.3f} bpp")

# %% [markdown]
# ## 3. 5G LDPC + QAM: the waterfall
#
# The practical chain: `LDPC5GEncoder` -> QAM `Mapper` -> **our** `jscc_lab.channels` channel
# -> APP `Demapper` (given the noise variance `sigma^2`, or `sigma^2/|h|^2` after a fade) ->
# `LDPC5GDecoder` (20 belief-propagation iterations), all from Sionna's PyTorch PHY. The schemes
# are those of the 5G NR MCS tables (3GPP TS 38.214, Tables 5.1.3.1-1 and -2): QPSK at code rate
# 120/1024 up to 256-QAM at 948/1024, 37 in all (`baselines.MCS_TABLE`); every one uses
# codewords of 1152 coded bits (rates below 1/5 repeat the rate-1/5 code, as NR does). We measure the block error rate (BLER) and draw it next to
# the table the package ships for MCS selection, and the Shannon limit of each scheme (the SNR
# where `log2(1 + SNR)` equals its spectral efficiency).

# %%
fig, ax = plt.subplots(figsize=(6, 3.8))
gaps = {}
for i, name in enumerate(WATERFALL_MCS):
    snrs, table = bler_table("awgn")[name]
    grid = list(snrs)
    t0 = time.perf_counter()
    measured = [simulate_bler(name, s, N_CODEWORDS, generator=SEED + j) for j, s in enumerate(grid)]
    limit = 10 * np.log10(2 ** get_mcs(name).spectral_efficiency - 1)
    half = np.interp(0.5, table[::-1], snrs[::-1])
    gaps[name] = half - limit
    ax.semilogy(grid, np.maximum(measured, 0.5 / N_CODEWORDS), "o", color=f"C{i}",
                label=f"{name} measured ({time.perf_counter() - t0:.0f} s)")
    ax.semilogy(snrs, np.maximum(table, 0.5 / N_CODEWORDS), "-", color=f"C{i}", alpha=0.6)
    ax.axvline(limit, color=f"C{i}", ls=":")
ax.set_xlabel("SNR = Es/N0 (dB)")
ax.set_ylabel("BLER")
ax.set_title("5G LDPC + QAM on AWGN (dotted: Shannon limit; lines: shipped table)")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=8)
plt.show()
for name, gap in gaps.items():
    print(f"{name}: BLER = 1/2 at {gap:.1f} dB above its Shannon limit")
print(f"gap to the Shannon limit at BLER 1/2: {min(gaps.values()):.1f} to {max(gaps.values()):.1f} dB")

# %% [markdown]
# As in Sionna's own 5G channel-coding tutorial, BLER drops from 1 to 0 within about a dB: the
# **waterfall**. At this short block length each scheme sits a dB or more from its Shannon limit
# (printed above): the price of finite codewords, compared with the infinitely long codes of the
# capacity formula.
#
# **Fading costs SNR.** Over *fast* Rayleigh fading every symbol sees its own gain `h`; with
# perfect CSI the demapper knows each symbol's noise `sigma^2/|h|^2`, and the code averages over
# good and bad symbols. The package ships a second table measured that way
# (`bler_table("rayleigh-fast")`, used for best-MCS selection over `RayleighFading("fast")`):

# %%
fig, ax = plt.subplots(figsize=(6, 3.4))
for i, name in enumerate(WATERFALL_MCS):
    for channel, style in (("awgn", "-"), ("rayleigh-fast", "--")):
        snrs, table = bler_table(channel)[name]
        ax.semilogy(snrs, np.maximum(table, 1e-3), style, color=f"C{i}", label=f"{name}, {channel}")
    half = {c: np.interp(0.5, bler_table(c)[name][1][::-1], bler_table(c)[name][0][::-1])
            for c in ("awgn", "rayleigh-fast")}
    print(f"{name}: BLER = 1/2 at {half['awgn']:.1f} dB on AWGN, {half['rayleigh-fast']:.1f} dB "
          f"with fast fading (+{half['rayleigh-fast'] - half['awgn']:.1f} dB)")
ax.set_xlabel("average SNR (dB)")
ax.set_ylabel("BLER (shipped tables)")
ax.set_title("The same MCS over AWGN (solid) and fast Rayleigh fading (dashed)")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## 4. The cliff effect with a fixed MCS
#
# Fix the MCS, and therefore the bit budget, and sweep the SNR. One failed codeword makes the
# image undecodable (the HEVC bitstream has no resilience), so the image is scored as a mid-grey
# picture: *never* silently dropped from the average.

# %%
t0 = time.perf_counter()
frames = {}  # snr -> (fixed-MCS result, capacity result); the slider of section 6 reuses them
for i, snr in enumerate(CLIFF_SNRS_DB):
    r = separate_transmit(x0, codec=CODEC, cbr=CBR, snr_db=snr, channel_code="ldpc", mcs=CLIFF_MCS,
                          generator=SEED + i)
    c = separate_transmit(x0, codec=CODEC, cbr=CBR, snr_db=snr, channel_code="capacity")
    frames[float(snr)] = (r, c)
fixed = [float(psnr(x0, r.x_hat)) for r, _ in frames.values()]
ideal = [float(psnr(x0, c.x_hat)) for _, c in frames.values()]
print(f"{time.perf_counter() - t0:.0f} s; codewords per image: {int(r.codewords[0])}")
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(CLIFF_SNRS_DB, ideal, marker="o", label=f"{CODEC} at capacity")
ax.plot(CLIFF_SNRS_DB, fixed, marker="s", label=f"{CODEC} + LDPC {CLIFF_MCS}")
ax.set_xlabel("SNR (dB)")
ax.set_ylabel("PSNR (dB)")
ax.set_title(f"The cliff (CBR {CBR:.4f})")
ax.grid(alpha=0.3)
ax.legend()
plt.show()
lowest, highest = frames[CLIFF_SNRS_DB[0]][0], frames[CLIFF_SNRS_DB[-1]][0]
assert lowest.failed[0] and not highest.failed[0], "below the threshold lost, above it received"
assert max(fixed) - min(fixed) > 5, "a fixed MCS falls off a cliff"
assert all(a <= b + 1e-6 for a, b in zip(fixed, ideal)), "no practical code beats capacity"

# %% [markdown]
# Two flaws of separation in one picture: **below** the threshold the image is lost entirely;
# **above** it the quality is frozen, because the extra SNR is not turned into extra bits. The
# capacity curve (an ideal adaptive system) rises smoothly. Deep JSCC, as we will see, degrades
# gracefully like an analog system while compressing like a codec.
#
# ## 5. The best-MCS envelope versus capacity, on Kodak
#
# A real link adapts: given the SNR, `separate_transmit(..., channel_code="ldpc", mcs=None)` picks
# for each image the MCS with the highest *expected* PSNR, `P_ok * PSNR(budget) + (1 - P_ok) *
# PSNR(grey)`, with `P_ok = (1 - BLER)^codewords` read from the shipped BLER table. The envelope
# of all fixed-MCS curves is what adaptive modulation and coding achieves.

# %%
t0 = time.perf_counter()
cap_rows = separation_sweep(images, SNRS_DB, [CBR], codec=CODEC, channel_code="capacity",
                            generator=SEED, progress=False)
ldpc_rows = separation_sweep(images, SNRS_DB, [CBR], codec=CODEC, channel_code="ldpc",
                             generator=SEED, progress=False)
print(f"{time.perf_counter() - t0:.0f} s")
print(f"{'SNR':>5s} {'capacity':>9s} {'LDPC best':>10s} {'MCS':>18s} {'failed':>7s}")
for c, r in zip(cap_rows, ldpc_rows):
    print(f"{c['snr_db']:5.1f} {c['psnr']:9.2f} {r['psnr']:10.2f} {r['mcs']:>18s} "
          f"{r['failures']:3d}/{r['n_images']}")

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(SNRS_DB, [r["psnr"] for r in cap_rows], marker="o", label=f"{CODEC} at capacity")
ax.plot(SNRS_DB, [r["psnr"] for r in ldpc_rows], marker="s", label=f"{CODEC} + LDPC, best MCS")
ax.set_xlabel("SNR (dB)")
ax.set_ylabel(f"mean PSNR over {len(images)} image(s) (dB)")
ax.set_title(f"Adaptive MCS envelope vs the bound (CBR {CBR:.4f})")
ax.grid(alpha=0.3)
ax.legend()
plt.show()
assert all(r["bits"] <= c["budget_bits"] for c, r in zip(cap_rows, ldpc_rows))

# %% [markdown]
# The envelope is a staircase under the capacity curve: each step is one MCS, each gap the price
# of short practical codes and a discrete MCS table (a few dB of SNR, or equivalently a fraction
# of the bit budget). Separation with adaptation is good *when the transmitter knows the SNR*;
# when it does not (broadcast, block fading) it is back to the cliff.
#
# ## 6. Watch the cliff: an SNR slider
#
# The reconstructions of section 4 (fixed MCS and capacity, one per SNR of `CLIFF_SNRS_DB`) are
# already computed; the slider only switches between them. A static snapshot follows for
# readers of the executed notebook.

# %%
def show_cliff(snr_db):
    r, c = frames[float(snr_db)]
    status = "LOST (a codeword failed)" if r.failed[0] else f"{float(psnr(x0, r.x_hat)):.1f} dB"
    show_images([x0, r.x_hat, c.x_hat],
                ["original", f"LDPC {CLIFF_MCS} @ {snr_db:.1f} dB: {status}",
                 f"capacity @ {snr_db:.1f} dB: {float(psnr(x0, c.x_hat)):.1f} dB"], size=3.0)
    plt.show()


slider = widgets.SelectionSlider(options=list(frames), value=list(frames)[len(frames) // 2],
                                 description="SNR (dB)", continuous_update=False)
display(widgets.VBox([slider, widgets.interactive_output(show_cliff, {"snr_db": slider})]))

# %%
# static snapshot: the lowest, the middle and the highest SNR of the slider
for snr in (list(frames)[0], list(frames)[len(frames) // 2], list(frames)[-1]):
    show_cliff(snr)

# %% [markdown]
# ## Exercises
#
# 1. **Gap to capacity.** Predict first: does a 256-QAM scheme sit further from its Shannon limit
#    than a QPSK one, and why? Then for each MCS of `baselines.MCS_TABLE`, find from
#    `bler_table("awgn")` the lowest SNR with zero measured BLER and compare it with the Shannon
#    limit `10 log10(2^SE - 1)`. Average the gap per modulation.
# 2. **Codec matters.** At `CBR` and 10 dB, how many dB of PSNR does HEVC gain over JPEG at the
#    capacity budget on `x0`?
# 3. **Block fading.** Send 40 copies of `x0` over `RayleighFading("block")` at 10 dB with the
#    capacity code and an outage target of 10 %, then 30 %. What fraction of the images is lost,
#    and what happens to the mean PSNR?

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 1
#
# The last SNR of each shipped table is the first with zero measured BLER.

# %%
gaps_to_limit = {}
for m in baselines.MCS_TABLE:
    snrs, values = bler_table("awgn")[m.name]
    limit = 10 * np.log10(2**m.spectral_efficiency - 1)
    gaps_to_limit[m.name] = snrs[-1] - limit
    print(f"{m.name:18s} SE {m.spectral_efficiency:4.2f}  error-free from {snrs[-1]:5.2f} dB, "
          f"Shannon limit {limit:5.2f} dB, gap {snrs[-1] - limit:4.2f} dB")
print("furthest from the limit:", sorted(gaps_to_limit, key=gaps_to_limit.get)[-3:])
per_modulation = {}
for m in baselines.MCS_TABLE:
    per_modulation.setdefault(m.modulation, []).append(gaps_to_limit[m.name])
for modulation, values in per_modulation.items():
    print(f"{modulation:7s} mean gap {np.mean(values):.2f} dB over {len(values)} schemes")
print(f"gap range: {min(gaps_to_limit.values()):.2f} to {max(gaps_to_limit.values()):.2f} dB")

# %% [markdown]
# Two things add up in the gap (numbers above). **Finite codewords**: 1152 bits, 20 decoder
# iterations and a BLER of zero in a few hundred codewords are far from the infinitely long codes
# of the capacity formula. **Shaping**: `log2(1 + SNR)` needs Gaussian-distributed symbols; a
# uniform square QAM constellation loses up to 1.53 dB (`10 log10(pi e / 6)`, the *shaping loss*)
# at high SNR, and the loss grows with the constellation's order and rate, which is why the high
# orders sit further from the limit. QPSK at low rates loses almost nothing to shaping (a binary
# input is nearly optimal at low SNR): there the gap is the code's.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 2
#
# The same capacity budget, two codecs.

# %%
gain = {}
for codec in ("jpeg", "hevc"):
    r = separate_transmit(x0, codec=codec, cbr=CBR, snr_db=10.0, channel_code="capacity")
    gain[codec] = float(psnr(x0, r.x_hat))
print({c: round(v, 2) for c, v in gain.items()}, f"HEVC gains {gain['hevc'] - gain['jpeg']:.1f} dB")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 3
#
# With block fading the transmitter does not know the fade, so it picks a rate that fails with
# the target probability.

# %%
copies = torch.cat([x0] * 40)
for eps in (0.1, 0.3):
    r = separate_transmit(copies, codec=CODEC, cbr=CBR, snr_db=10.0, channel=RayleighFading("block"),
                          channel_code="capacity", outage=eps, generator=SEED)
    print(f"outage target {eps:.0%}: {r.failure_rate:.0%} lost, mean PSNR "
          f"{float(psnr(copies, r.x_hat).mean()):.2f} dB, {int(r.bits.max())} bits when received")

# %% [markdown]
# A higher target rate buys a better image when it arrives and loses more of them: the
# transmitter must gamble, because it does not know the fade. (In the full run the 30 % target loses
# more in the mean than it gains on the received images.)
