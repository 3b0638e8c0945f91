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
# **You will learn**
# - to read the distortion-perception trade-off off real images: where PSNR and LPIPS disagree;
# - what the realism knob $\beta$ adds and removes;
# - how each system degrades as the SNR falls: gracefully (deep JSCC), or off a cliff (separate
#   coding, whose bit budget follows the channel capacity).
#
# **Requirements**: a laptop CPU. Full run: **46 s** on one CPU thread (most of it is the
# background prefetch the notebook waits for); the shipped checkpoints (`assets/checkpoints/`).
# No data download: the photos ship with scikit-image (Kodak is offered too when it is under
# `$JSCC_LAB_DATA`). For class, serve it as a web page: `jscc-lab explore` (Voila: code hidden,
# only the widgets).
#
# **How it stays responsive**: a new SNR costs two neural decoders, an HEVC rate control and
# three LPIPS evaluations: a few hundred milliseconds on a laptop CPU, too slow to feel live.
# So the explorer (1) fires each slider on release, (2) caches every panel per (system, image,
# CBR, SNR, channel, realism) with noise seeded per SNR, so moving back redraws at once,
# (3) computes the original's LPIPS features once per image, and (4) while you look at a
# result, a background thread computes the neighbouring slider positions, nearest first, and
# steps aside whenever you move a control. A step of the slider then usually finds its panels
# ready. `benchmarks/widget_latency.py` measures all of it (docs/results.md, "Explorer latency").

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
import datetime
import io
import re
import time

from jscc_lab import settings
from jscc_lab.channels import cbr_label
from jscc_lab.classroom import Explorer
from jscc_lab.data import sample_images, to_image
from jscc_lab.metrics import evaluate, psnr
from jscc_lab.plotting import show_images

# %% [markdown]
# ## Parameters

# %%
CROP = settings.budget(256, 96)  # side of the centre crop shown (smaller is faster)
METRICS = ("psnr", "lpips")  # add "dists" for the slower, texture-aware metric
SNRS_DB = (0.0, 10.0, 20.0)  # SNRs driven from code below
EXERCISE_SNRS_DB = settings.budget(tuple(float(s) for s in range(0, 21, 2)), (0.0, 10.0, 20.0))

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
scores = {}
for snr in SNRS_DB:
    explorer.snr.value = snr
    print(explorer.status.value)
    for name, (_, _, text) in explorer.panels.items():
        if text.value:  # the panel's caption is HTML: print its text
            print(f"   {name:22s} {re.sub('<[^>]+>', ' ', text.value).strip()}")
    original = explorer.reconstruct("original")
    scores[snr] = {name: psnr(original, x_hat).item() for name in explorer.panels
                   if name != "original" and (x_hat := explorer.reconstruct(name)) is not None}

# %% [markdown]
# The lesson in numbers: how much PSNR each system loses when the SNR falls from 20 to 0 dB.

# %%
drop = {name: scores[SNRS_DB[-1]][name] - scores[SNRS_DB[0]][name] for name in scores[SNRS_DB[0]]}
for name, d in drop.items():
    print(f"{name:22s} loses {d:5.2f} dB from {SNRS_DB[-1]:g} to {SNRS_DB[0]:g} dB")
# deep JSCC degrades gracefully: better with more SNR, and it never collapses; separate coding
# loses far more when its bit budget (the channel capacity) falls below what HEVC needs
assert scores[SNRS_DB[-1]]["PSNR deep JSCC"] > scores[SNRS_DB[0]]["PSNR deep JSCC"]
if not settings.quick():  # the quick 96-pixel crop leaves HEVC no usable bits at any SNR
    assert drop["HEVC + capacity"] > 2 * drop["PSNR deep JSCC"], drop

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
# 1. **Crossing points.** At the explorer's CBR, find the SNR above which separate coding beats
#    the PSNR deep JSCC model in PSNR. Is it the same SNR in LPIPS?
# 2. **Invented detail.** Upload one of your own photos with the upload button and compare the
#    perceptual model at $\beta = 0$ and $\beta = 1$ on the zoom. Does it invent detail that is
#    not there? Where? What happens to PSNR and LPIPS?

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 1
#
# Drive the SNR slider from code and score both panels with `evaluate` (the explorer's caches make
# revisited settings free).

# %%
table = {}
for snr in EXERCISE_SNRS_DB:
    explorer.snr.value = snr
    original = explorer.reconstruct("original")
    table[snr] = {name: evaluate(original, explorer.reconstruct(name), METRICS)
                  for name in ("PSNR deep JSCC", "HEVC + capacity")}
print(f"CBR {cbr_label(explorer.cbr.value)}: PSNR (dB) and LPIPS of deep JSCC | separate coding")
for snr, row in table.items():
    deep, sep = row["PSNR deep JSCC"], row["HEVC + capacity"]
    print(f"{snr:5.1f} dB   PSNR {deep['psnr'].item():5.2f} | {sep['psnr'].item():5.2f}   "
          f"LPIPS {deep['lpips'].item():.3f} | {sep['lpips'].item():.3f}")
wins = {"PSNR": [snr for snr, row in table.items()
                 if row["HEVC + capacity"]["psnr"] > row["PSNR deep JSCC"]["psnr"]],
        "LPIPS": [snr for snr, row in table.items()
                  if row["HEVC + capacity"]["lpips"] < row["PSNR deep JSCC"]["lpips"]]}
for metric, snrs in wins.items():
    print(f"in {metric}, separate coding is better at", ", ".join(f"{s:g}" for s in snrs) + " dB"
          if snrs else "no tested SNR")

# %% [markdown]
# Separate coding at the capacity budget wins once its budget is large enough for a good HEVC
# image; below that the image is lost or blocky and deep JSCC is far ahead. The two metrics
# need not cross at the same SNR: LPIPS punishes HEVC's blur and blocks more than PSNR does.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 2
#
# The upload button hands the explorer the file's bytes; in code its `value` is a tuple of
# files. Here a PNG of one of scikit-image's photos stands in for yours.

# %%
png = io.BytesIO()
to_image(sample_images("chelsea")[0]).save(png, format="PNG")
explorer.upload.value = ({"name": "my_photo.png", "type": "image/png", "size": png.tell(),
                          "content": memoryview(png.getvalue()),
                          "last_modified": datetime.datetime.now(datetime.UTC)},)
explorer.snr.value = 10.0
original = explorer.reconstruct("original")
side = min(64, original.shape[-1])
top, left = (original.shape[-2] - side) // 2, (original.shape[-1] - side) // 2
zooms, titles = [original[..., top:top + side, left:left + side]], ["original (centre)"]
for beta in (0.0, 1.0):
    explorer.beta.value = beta
    x_hat = explorer.reconstruct("perceptual deep JSCC")
    s = evaluate(original, x_hat, METRICS)
    zooms.append(x_hat[..., top:top + side, left:left + side])
    titles.append(f"β = {beta:g}: PSNR {s['psnr'].item():.2f} dB, LPIPS {s['lpips'].item():.3f}")
    print(titles[-1])
fig = show_images(zooms, titles, size=3.0)

# %% [markdown]
# At $\beta = 1$ a GAN-trained decoder paints texture (fur, hair, grass, water) that looks
# plausible but is not the original's: compare the zooms. The price is PSNR, the aim a lower LPIPS
# (the perception-distortion trade-off of tutorial 05), which is why $\beta$ is the user's
# choice. Read the two numbers above for the shipped checkpoint: how far it gets along that
# trade-off depends on how long its GAN stage was trained (tutorials 07 and 08).
