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
# # 01 · The wireless channel
#
# Every system in this course sends an image as **complex channel symbols** through a noisy,
# sometimes fading, channel. This notebook builds that channel model from the ground up.
#
# **You will learn**
# - how complex baseband symbols, the average power constraint and the [SNR](../docs/glossary.md#snr) in dB fit together;
# - the [AWGN](../docs/glossary.md#awgn) channel, and [Rayleigh](../docs/glossary.md#rayleigh-block-and-fast-fading) fading (block and fast) with and without channel state
#   information ([CSI](../docs/glossary.md#csi)) at the receiver;
# - to check a channel model against theory: uncoded [QPSK](../docs/glossary.md#qam) bit error rates vs the closed forms;
# - the **channel bandwidth ratio** ([CBR](../docs/glossary.md#cbr)) and why counting real instead of complex channel uses is
#   off by a factor of 2 (a common bug when reproducing papers);
# - what happens to an image sent *uncoded*, pixel values as analog symbols: graceful
#   degradation, the property [deep JSCC](../docs/glossary.md#deep-jscc) keeps at a fraction of the bandwidth.
#
# **Requirements**: a laptop CPU. Full run: **7 s** on one CPU thread. No GPU, no download (the sample photos ship
# with scikit-image). Set `JSCC_LAB_QUICK=1` for a few-second run with smaller budgets.

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
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display

from jscc_lab import settings
from jscc_lab.analog import analog_transmit
from jscc_lab.channels import (
    AWGN,
    RayleighFading,
    cbr,
    channel_uses,
    latent_channels,
    measure_snr_db,
    normalize_power,
    snr_db_to_noise_var,
)
from jscc_lab.data import center_crop, sample_images
from jscc_lab.metrics import psnr
from jscc_lab.modulation import (
    bit_error_rate,
    qpsk_ber_theory,
    qpsk_demodulate,
    qpsk_modulate,
    random_bits,
)
from jscc_lab.plotting import show_images

# %% [markdown]
# ## Parameters
# Every knob of this notebook. `settings.budget(full, quick)` picks the small value when
# `JSCC_LAB_QUICK=1` (that is how CI runs the notebook: same code, smaller budgets).

# %%
SEED = 0
N_BITS = settings.budget(2_000_000, 100_000)  # bits per BER point
BER_SNRS_DB = [0, 2, 4, 6, 8, 10]  # SNR grid for the AWGN BER curve
FADING_SNRS_DB = [0, 5, 10, 15, 20, 25]  # SNR grid for the Rayleigh BER curves
N_FADING_BLOCKS = settings.budget(20_000, 2_000)  # images (blocks) for block fading
CONSTELLATION_SNRS_DB = [20, 10, 0]
IMAGE_SNRS_DB = [0, 5, 10, 20]
CROP = settings.budget(192, 96)  # image crop side for the analog transmission
generator = torch.Generator().manual_seed(SEED)

# %% [markdown]
# ## 1. Complex baseband symbols and the power constraint
#
# A radio sends a carrier whose amplitude and phase we control. In baseband we describe each
# channel use by one **complex number** $s = a + jb$: the in-phase and quadrature parts. A batch
# of $N$ images, each sent with $k$ channel uses, is a complex tensor of shape $(N, k)$.
#
# The transmitter has a power budget. We use the **average power constraint per image**:
# $\frac1k\sum_i |s_i|^2 = 1$. `normalize_power` enforces it by scaling each image's symbols.

# %%
s = torch.randn(3, 1000, dtype=torch.complex64, generator=generator) * torch.tensor([[0.5], [1.0], [4.0]])
print("power before:", s.abs().square().mean(dim=1))
s = normalize_power(s)
print("power after: ", s.abs().square().mean(dim=1))
assert torch.allclose(s.abs().square().mean(dim=1), torch.ones(3), atol=1e-5)

# %% [markdown]
# ## 2. AWGN and the SNR in dB
#
# The additive white Gaussian noise channel adds $n \sim \mathcal{CN}(0, \sigma^2)$: real and
# imaginary parts independent, each of variance $\sigma^2/2$. With unit signal power,
#
# $$\mathrm{SNR} = \frac{P}{\sigma^2} = \frac{1}{\sigma^2},\qquad \mathrm{SNR_{dB}} = 10\log_{10}\mathrm{SNR}.$$
#
# So 10 dB means noise power 0.1, 20 dB means 0.01. Every channel in `jscc_lab` has the same call
# shape, `y = channel(s, snr_db, generator=...)`, with the SNR a float or one value per image.

# %%
awgn = AWGN()
bits = random_bits(1, 2000, generator)
s_qpsk = qpsk_modulate(bits)
fig, axes = plt.subplots(1, len(CONSTELLATION_SNRS_DB), figsize=(10, 3.4))
for ax, snr in zip(axes, CONSTELLATION_SNRS_DB):
    y = awgn(s_qpsk, snr, generator=generator)
    ax.scatter(y.real[0], y.imag[0], s=2, alpha=0.4)
    ax.scatter(s_qpsk.real[0], s_qpsk.imag[0], s=30, c="red", marker="x")
    ax.set_title(f"QPSK over AWGN, {snr} dB\n$\\sigma^2$ = {snr_db_to_noise_var(snr).item():.3g}")
    ax.set_aspect("equal")
    ax.set_xlim(-2.5, 2.5)
    ax.set_ylim(-2.5, 2.5)
fig.tight_layout()

# %% [markdown]
# Does the channel deliver the SNR we asked for? Measure it, and note that a per-image SNR
# tensor gives each image its own noise level ([SNR-adaptive](../docs/glossary.md#snr-adaptive-adjscc) training samples one per image).

# %%
s = normalize_power(torch.randn(4, N_BITS // 4, dtype=torch.complex64, generator=generator))
requested = torch.tensor([0.0, 5.0, 10.0, 20.0])
measured = measure_snr_db(s, awgn(s, requested, generator=generator))
for r, m in zip(requested, measured):
    print(f"requested {r:5.1f} dB   measured {m:6.2f} dB")
assert torch.allclose(measured, requested, atol=0.1)

# %% [markdown]
# ## 3. Checking the model against theory: uncoded QPSK
#
# Gray-mapped QPSK sends 2 bits per symbol with $E_s = 1$ (so [Es/N0](../docs/glossary.md#esn0) is the SNR), so $E_b/N_0 = \mathrm{SNR}/2$ and the
# bit error rate over AWGN is $Q(\sqrt{\mathrm{SNR}}) = \tfrac12\,\mathrm{erfc}(\sqrt{\mathrm{SNR}/2})$.
# Simulation and formula must agree; if they do not, the channel (or the SNR convention) is wrong.

# %%
bits = random_bits(1, N_BITS, generator)
s_qpsk = qpsk_modulate(bits)
ber_sim = [bit_error_rate(bits, qpsk_demodulate(awgn(s_qpsk, snr, generator=generator))) for snr in BER_SNRS_DB]
ber_theory = qpsk_ber_theory(BER_SNRS_DB, "awgn").numpy()
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.semilogy(BER_SNRS_DB, ber_theory, "k-", label="theory $Q(\\sqrt{SNR})$")
ax.semilogy(BER_SNRS_DB, ber_sim, "o", label="simulated")
ax.set_xlabel("SNR (dB)")
ax.set_ylabel("bit error rate")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
for snr, sim, th in zip(BER_SNRS_DB, ber_sim, ber_theory):
    if sim * N_BITS > 200:  # enough errors for a 10 % check
        assert abs(sim - th) / th < 0.1, (snr, sim, th)

# %% [markdown]
# ## 4. Rayleigh fading, with and without CSI
#
# Without a line of sight, many reflected paths add up to a complex Gaussian gain
# $h \sim \mathcal{CN}(0, 1)$: $y = h s + n$, with $\mathbb{E}|h|^2 = 1$ so the *average* SNR is
# still the one we ask for.
#
# - **Block fading** (`mode="block"`): one $h$ per image: the whole image sees one fade (slow
#   fading, no diversity within the image).
# - **Fast fading** (`mode="fast"`): one $h$ per symbol (ideal interleaving).
#
# What the receiver is given depends on its channel state information:
# - `csi="perfect"` (default): the channel's receiver knows $h$ and hands on *equalised symbols*,
#   zero-forcing $y/h$ or (default) [MMSE](../docs/glossary.md#mmse-and-lmmse-equaliser) $h^* y / (|h|^2 + \sigma^2)$; a decoder after it sees
#   those symbols and the average SNR, never the gains themselves;
# - `csi="none"`: it gets the raw $h s + n$: amplitude *and phase* unknown.
#
# `return_gains=True` hands back the drawn $h$ in both cases.

# %%
bits = random_bits(1, 2000, generator)
s_qpsk = qpsk_modulate(bits)
cases = {
    "block fading, no CSI": RayleighFading("block", csi="none"),
    "fast fading, no CSI": RayleighFading("fast", csi="none"),
    "fast fading, ZF-equalised": RayleighFading("fast", equalizer="zf"),
    "fast fading, MMSE-equalised": RayleighFading("fast", equalizer="mmse"),
}
fig, axes = plt.subplots(1, len(cases), figsize=(13, 3.4))
for ax, (name, channel) in zip(axes, cases.items()):
    y = channel(s_qpsk, 20.0, generator=generator)
    ax.scatter(y.real[0], y.imag[0], s=2, alpha=0.4)
    ax.set_title(name + ", 20 dB", fontsize=9)
    ax.set_aspect("equal")
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
fig.tight_layout()

# %% [markdown]
# Without CSI a block fade rotates and scales the whole constellation (here one image: one
# rotation); fast fading smears it into a cloud. With CSI, zero forcing puts the points back but
# blows up the noise of symbols received in a deep fade; MMSE shrinks those towards zero instead.
#
# The BER of coherent QPSK over Rayleigh fading averages the AWGN BER over the fades:
# $P_b = \tfrac12\left(1 - \sqrt{g/(1+g)}\right)$, $g = E_b/N_0$. It falls only as $1/\mathrm{SNR}$ —
# 10x fewer errors per 10 dB — instead of exponentially: deep fades dominate.

# %%
n_sym = N_BITS // 2
bits_fast = random_bits(1, N_BITS, generator)
bits_block = random_bits(N_FADING_BLOCKS, 2 * max(n_sym // N_FADING_BLOCKS, 1), generator)
ber_fast, ber_block = [], []
for snr in FADING_SNRS_DB:
    y = RayleighFading("fast")(qpsk_modulate(bits_fast), snr, generator=generator)
    ber_fast.append(bit_error_rate(bits_fast, qpsk_demodulate(y)))
    y = RayleighFading("block")(qpsk_modulate(bits_block), snr, generator=generator)
    ber_block.append(bit_error_rate(bits_block, qpsk_demodulate(y)))
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.semilogy(FADING_SNRS_DB, qpsk_ber_theory(FADING_SNRS_DB, "rayleigh"), "k-", label="Rayleigh theory")
ax.semilogy(FADING_SNRS_DB, ber_fast, "o", label="fast fading, simulated")
ax.semilogy(FADING_SNRS_DB, ber_block, "s", mfc="none", label=f"block fading ({N_FADING_BLOCKS} blocks)")
ax.semilogy(FADING_SNRS_DB, qpsk_ber_theory(FADING_SNRS_DB, "awgn"), "k--", label="AWGN theory")
ax.set_ylim(1e-6, 0.5)
ax.set_xlabel("average SNR (dB)")
ax.set_ylabel("bit error rate")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8)
theory = qpsk_ber_theory(FADING_SNRS_DB, "rayleigh").numpy()
assert np.all(np.abs(np.array(ber_fast) - theory) / theory < 0.15)

# %% [markdown]
# Fast and block fading have the *same average* BER; they differ in how errors cluster. With block
# fading an image is either lucky or not. That is why separate coding suffers *[outages](../docs/glossary.md#outage)* under
# block fading (notebook 02), and why a JSCC decoder that sees the SNR of its block helps.
#
# ## 5. The channel bandwidth ratio
#
# The CBR compares channel uses to source values: an image of $H \times W$ pixels holds
# $n = 3HW$ real numbers; if we send $k$ **complex** channel uses,
#
# $$\rho = \frac{k}{n}.$$
#
# Each complex use carries two reals, so an encoder that outputs $2k$ real numbers uses $k$
# channel uses. A paper that says "CBR 1/12" with $k$ counted in complex uses sends *twice* as
# many reals as one counting $2k$ real uses. Mixing the two conventions is a common reproduction
# bug: it doubles (or halves) the bandwidth, worth several dB of [PSNR](../docs/glossary.md#psnr).
#
# For a convolutional encoder that downsamples by $d$ and outputs $C$ real channels, the [latent](../docs/glossary.md#latent)
# holds $C\,HW/d^2$ reals, i.e. $k = C\,HW/(2d^2)$ complex uses, so $\rho = C / (6 d^2)$:
# at $d = 4$, **$\rho = C/96$**, the convention of the deep JSCC papers we reproduce.

# %%
print(f"{'CBR':>6} | k for 256x256 | latent channels C at x4 down")
for rho in [1 / 96, 1 / 48, 1 / 24, 1 / 12, 1 / 6]:
    print(f"1/{round(1 / rho):<4} | {channel_uses(rho, 256, 256):13d} | {latent_channels(rho):3d}")
k = channel_uses(1 / 12, 256, 256)
print("\nsanity check: CBR of", k, "complex uses on 256x256 =", cbr(k, 256, 256))
print("the same latent counted as 2k real uses would claim CBR", cbr(2 * k, 256, 256))

# %% [markdown]
# ## 6. An image sent as analog symbols
#
# The simplest joint source-channel scheme: no compression, no channel code. Remove each image's
# mean, pair pixel values into complex symbols, scale to unit power and transmit
# (`jscc_lab.analog.analog_transmit`). That is $k = 3HW/2$, a CBR of 1/2, far more bandwidth than
# the 1/12 to 1/96 of deep JSCC. Its virtue: no [cliff](../docs/glossary.md#cliff-effect). The quality follows the SNR smoothly.

# %%
x = torch.cat([center_crop(im, CROP) for im in sample_images()])
channels = {"AWGN": AWGN(), "Rayleigh block": RayleighFading("block"), "Rayleigh fast": RayleighFading("fast")}
rows, titles = [], []
print(f"{'channel':<16}" + "".join(f"{s:>9} dB" for s in IMAGE_SNRS_DB))
for name, channel in channels.items():
    scores = []
    for snr in IMAGE_SNRS_DB:
        x_hat = analog_transmit(x, snr, channel=channel, generator=generator)
        scores.append(psnr(x, x_hat).mean().item())
        if name == "AWGN":
            rows.append(x_hat[:1])
            titles.append(f"AWGN {snr} dB: {psnr(x[:1], x_hat[:1]).item():.1f} dB")
    print(f"{name:<16}" + "".join(f"{v:12.2f}" for v in scores))
    assert all(a < b for a, b in zip(scores, scores[1:])), "quality must grow with SNR"
fig = show_images([x[:1]] + rows, ["original"] + titles, ncols=len(rows) + 1, size=2.4)

# %% [markdown]
# ## 7. Try it: an SNR slider
#
# Move the slider (in a live notebook) to see the received image change continuously.
# Compare with notebook 02, where a digital system stays perfect down to a threshold and then
# collapses.

# %%
slider = widgets.FloatSlider(value=10.0, min=-5.0, max=25.0, step=1.0, description="SNR (dB)")
channel_choice = widgets.Dropdown(options=list(channels), value="AWGN", description="channel")
output = widgets.Output()


def show_received(change=None):
    x_hat = analog_transmit(x[:1], slider.value, channel=channels[channel_choice.value],
                            generator=torch.Generator().manual_seed(SEED))
    with output:
        output.clear_output(wait=True)
        show_images([x[:1], x_hat], ["original", f"{channel_choice.value}, {slider.value:g} dB: "
                                     f"{psnr(x[:1], x_hat).item():.1f} dB PSNR"])
        plt.show()


slider.observe(show_received, names="value")
channel_choice.observe(show_received, names="value")
show_received()
display(widgets.VBox([widgets.HBox([slider, channel_choice]), output]))

# %% [markdown]
# ## Exercises
#
# 1. **Noise per real dimension.** At 10 dB, what is the variance of the real part of the AWGN
#    noise? Check it on a simulated tensor.
# 2. **Diversity.** Over Rayleigh fading, how many dB more SNR does QPSK need than over AWGN to
#    reach a BER of $10^{-3}$? Use `qpsk_ber_theory`.
# 3. **The factor-2 bug.** An encoder downsamples by 4 and outputs $C = 8$ real channels. What is
#    its CBR? A paper reports the same system as CBR 1/6. Which convention did it use?
# 4. **Analog at low SNR.** In section 6 the analog scheme under block fading can beat AWGN at the
#    same average SNR at 0 dB, and loses at high SNR. Fading cannot help a receiver, so look at the
#    two receivers: `RayleighFading` equalises with MMSE, the AWGN path takes `y` as it comes.
#    Predict what happens at 0 dB when the AWGN receiver also makes the linear MMSE estimate
#    (`analog_transmit(..., lmmse=True)`), then check it.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 1
#
# $\sigma^2 = 10^{-10/10} = 0.1$ in total, split equally between the real and imaginary parts:
# 0.05 per real dimension.

# %%
s = torch.zeros(1, 200_000, dtype=torch.complex64)
noise = AWGN()(s, 10.0, generator=generator)
print("variance of the real part:", round(noise.real.var().item(), 4), "(theory 0.05)")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 2
#
# Find the lowest SNR that reaches BER $10^{-3}$ on a fine grid, for both closed forms.

# %%
grid = torch.linspace(0, 40, 4001)
snr_awgn = grid[(qpsk_ber_theory(grid, "awgn") <= 1e-3).nonzero()[0]].item()
snr_ray = grid[(qpsk_ber_theory(grid, "rayleigh") <= 1e-3).nonzero()[0]].item()
print(f"AWGN {snr_awgn:.2f} dB, Rayleigh {snr_ray:.2f} dB: {snr_ray - snr_awgn:.1f} dB more")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 3
#
# $\rho = C / 96 = 8/96 = 1/12$ with $k$ counted in complex uses; "1/6" counts the $2k$ real
# numbers, i.e. real channel uses: the factor-2 bug.

# %%
print("CBR =", cbr(channel_uses(1 / 12, 256, 256), 256, 256), "=", 8 / 96, "with complex uses;",
      "counting real uses:", cbr(2 * channel_uses(1 / 12, 256, 256), 256, 256), "= 1/6")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 4
#
# The comparison was not like with like. MMSE equalisation shrinks what a deep fade received
# towards the mean (grey), which at low SNR is a better guess than AWGN's noisy pixels taken as
# they are. Give the AWGN receiver the same linear MMSE estimate (shrink `y` by SNR / (1 + SNR))
# and AWGN is ahead at every SNR, as it must be: at equal average SNR a fading channel is a
# mixture of better and worse AWGN channels, and the quality lost in the bad fades outweighs what
# the good ones add (Jensen's inequality on a concave quality-vs-SNR curve). At high SNR the
# shrinkage hardly matters and block fading is held down by the images that hit a deep fade.

# %%
for snr in (0.0, 20.0):
    scores = {}
    for label, name, lmmse in (("AWGN, y as is", "AWGN", False), ("AWGN, LMMSE", "AWGN", True),
                               ("block fading, MMSE", "Rayleigh block", False)):
        g = torch.Generator().manual_seed(SEED)
        per_draw = [psnr(x, analog_transmit(x, snr, channel=channels[name], generator=g, lmmse=lmmse))
                    for _ in range(settings.budget(20, 4))]
        scores[label] = torch.cat(per_draw)
    print(f"{snr:4.0f} dB: " + ", ".join(f"{k} {v.mean():.2f} dB" for k, v in scores.items())
          + f" (block fading's worst image {scores['block fading, MMSE'].min():.2f} dB)")
