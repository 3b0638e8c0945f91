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
# # 09 · The explorer: every system, live, side by side
#
# One image, one channel, four ways to send it: PSNR-optimised deep JSCC, perceptual deep JSCC,
# engineered separate coding (HEVC-intra at the Shannon-capacity budget) and the original. Move
# the sliders and watch what each system does with the same bandwidth and the same noise.
#
# **You will learn** to read the distortion-perception trade-off off real images: where PSNR and
# LPIPS disagree, what the realism knob $\beta$ adds and removes, and how each system degrades
# as the SNR falls (gracefully, or off a cliff).
#
# **Requirements**: a laptop CPU; the shipped checkpoints. For class, serve it as a web page:
# `jscc-lab explore` (Voila: code hidden, only the widgets).
#
# **How it stays responsive**: a new SNR costs two neural decoders, an HEVC rate control and
# three LPIPS evaluations: a few hundred milliseconds on a laptop CPU, too slow to feel live.
# So the explorer (1) fires each slider on release, (2) caches every panel per (system, image,
# CBR, SNR, channel, realism) with noise seeded per SNR, so moving back redraws at once,
# (3) computes the original's LPIPS features once per image, and (4) while you look at a
# result, a background thread computes the neighbouring slider positions, nearest first, and
# steps aside whenever you move a control. A step of the slider then usually finds its panels
# ready. `benchmarks/widget_latency.py` measures all of it (README, "Explorer latency").

# %%
import time

from jscc_lab import settings
from jscc_lab.widgets import Explorer

# %% [markdown]
# ## Parameters

# %%
CROP = settings.budget(256, 96)  # side of the centre crop shown (smaller is faster)
METRICS = ("psnr", "lpips")  # add "dists" for the slower, texture-aware metric

# %%
explorer = Explorer(crop=CROP, metrics=METRICS)
explorer

# %% [markdown]
# ## What to try
#
# 1. **The cliff.** Set the SNR to 0 dB, then raise it step by step. Separate coding's bit budget
#    follows the channel capacity: at low SNR it can afford only a blurry, blocky image (or none),
#    while both deep JSCC models degrade smoothly.
# 2. **Realism.** At CBR 1/48 move $\beta$ from 0 to 1: the perceptual model trades a little PSNR
#    for texture. Which side wins LPIPS? Which do *you* prefer on the zoom?
# 3. **Fading.** Switch to Rayleigh block fading: the whole image sees one fade. Deep JSCC keeps
#    degrading gracefully; separate coding has outages.
#
# The same callbacks a slider triggers can be driven from code, which is how the tests and the
# latency benchmark work:

# %%
for snr in (0.0, 10.0, 20.0):
    explorer.snr.value = snr
    print(explorer.status.value)
    for name, (_, _, text) in explorer.panels.items():
        if text.value:
            print(f"   {name:22s} {text.value}")

# %% [markdown]
# Prefetching at work: wait until the background thread has filled the neighbours of the
# current setting, then take one step with the slider.

# %%
explorer.wait_prefetched(timeout=300)
start = time.perf_counter()
explorer.snr.value = explorer.snr.value - 1
print(f"one SNR step, panels prefetched: {1000 * (time.perf_counter() - start):.0f} ms "
      f"(status line: {explorer.status.value})")

# %% [markdown]
# ## Exercises
#
# 1. Find an SNR where separate coding beats PSNR deep JSCC in PSNR but loses in LPIPS.
# 2. Upload one of your own photos with the upload button. Does the perceptual model invent
#    detail that is not there? Where?
#
# ### Solutions
#
# 1. At high SNR the capacity budget is large and HEVC wins PSNR (with the CPU-trained shipped
#    models even at 10 dB); check the printed table above for the crossing.
# 2. Generated texture (grass, hair, water) is plausible but not the original's: compare the zoom
#    panels. That is the price of realism, and why $\beta$ is a user choice.
