# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: jp-MarkdownHeadingCollapsed,-all
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
# # 06 · Perceptual loss: training deep JSCC with LPIPS
#
# A JSCC system trained on mean squared error (MSE) at a low channel bandwidth ratio produces
# blurry images: when the received symbols leave the details uncertain, the MSE-optimal answer is
# the *average* of every plausible image, and averages are smooth. The seed paper (Wang et al.,
# GLOBECOM 2022) first changes the loss: **MSE + LPIPS**, a learned distance that compares deep
# features and punishes lost texture.
#
# **You will learn**
# - why two reconstructions with the same PSNR can look very different, and how LPIPS sees it;
# - the paper's distortion loss `0.01 * MSE(0-255) + 1.0 * LPIPS(alex)` and its scales;
# - that LPIPS is differentiable: gradient descent on LPIPS alone sharpens a blurred image;
# - to fine-tune the rate-adaptive deep JSCC of notebook 04 with MSE only and with MSE + LPIPS,
#   and to read the result: LPIPS falls by about a quarter at almost the same PSNR; the price in
#   PSNR comes with the adversarial term (notebook 07).
#
# **Requirements**: a CPU. Full run: **448 s** on one CPU thread (two short fine-tuning runs); `JSCC_LAB_QUICK=1` runs
# everything in about a minute with tiny budgets. Needs the offline AlexNet weights for LPIPS
# (`$JSCC_LAB_DATA/weights`, see `jscc_lab.metrics`), BSDS500 and the shipped checkpoints.

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
import math
import tempfile

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from jscc_lab import pretrained, settings
from jscc_lab.data import center_crop, kodak
from jscc_lab.losses import DistortionLoss, LPIPSLoss, mse_255
from jscc_lab.metrics import DISTS, LPIPS, evaluate, psnr
from jscc_lab.plotting import show_images
from jscc_lab.pretrained import load_checkpoint, model_from_checkpoint
from jscc_lab.train import PerceptualTrainConfig, train_perceptual

# %% [markdown]
# ## Parameters

# %%
SEED = 0
CROP = settings.budget(192, 96)  # side of the Kodak crop used for the demos
OPT_STEPS = settings.budget(150, 10)  # gradient steps of the "optimise an image" demo
TRAIN_STEPS = settings.budget(120, 3)  # steps of each of the two fine-tuning runs
TRAIN_CROP = settings.budget(96, 64)  # training crops (pixels)
BATCH = settings.budget(4, 2)
VAL_IMAGES = settings.budget(8, 2)
CBR = 1 / 48  # the operating point compared (the models serve 1/96 ... 1/12)
N_KODAK = settings.budget(8, 2)  # Kodak crops for the shipped pair
SNR_DB = 10.0
RUNS = tempfile.TemporaryDirectory(prefix="jscc_lab_06_")  # training runs (checkpoints, logs); deleted at the end
OUT = RUNS.name
torch.manual_seed(SEED)
generator = torch.Generator().manual_seed(SEED)

# %% [markdown]
# ## 1. Same PSNR, different images
# Blur and additive noise at (about) the same PSNR. PSNR cannot tell them apart; LPIPS and DISTS
# (lower is better) can, and they agree with your eyes that the blurred image lost more.

# %%
x = center_crop(kodak()[22], CROP)  # kodim23, the parrots


def gaussian_blur(img, sigma):
    radius = int(3 * sigma) + 1
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    img = F.pad(img, (radius, radius, radius, radius), mode="replicate")
    img = F.conv2d(img, k.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    return F.conv2d(img, k.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)


blurred = gaussian_blur(x, 1.5)
target_mse = F.mse_loss(blurred, x).item()
noisy = (x + target_mse**0.5 * torch.randn(x.shape, generator=generator)).clamp(0, 1)
lpips_alex, dists = LPIPS("alex"), DISTS()
for name, img in (("blurred", blurred), ("noisy", noisy)):
    print(f"{name:8s} PSNR {psnr(x, img).item():5.2f} dB   LPIPS {lpips_alex(x, img).item():.3f}"
          f"   DISTS {dists(x, img).item():.3f}")
show_images([x, blurred, noisy], titles=["original", "blurred", "noisy (same MSE)"])
plt.show()

# %% [markdown]
# ## 2. The paper's distortion loss and its scales
# The published code computes the MSE on pixel values in **0-255** (65025 times the MSE on
# [0, 1]) and weights it by 0.01; LPIPS(alex) gets weight 1. At 25 dB PSNR the MSE term is
# `0.01 * 65025 * 10**-2.5 = 2.1`: larger than LPIPS (0.1-0.5), so MSE anchors colours and
# layout while LPIPS adds the texture. `DistortionLoss` returns the total per image and its parts.
# The balance moves with the quality: at the ~22 dB our CPU-trained models reach at CBR 1/48 the
# MSE term is about 4.5, some 25 times LPIPS, and LPIPS hardly shapes the result. The shipped
# `taejscc-perceptual-awgn` therefore ends with GAN steps at `mse_weight=0.001` (docs/results.md,
# "Perceptual JSCC": lower LPIPS-vgg at every CBR and DISTS at three of four, neither in the loss).

# %%
loss = DistortionLoss()  # mse_weight=0.01, lpips_weight=1.0, lpips_net="alex": the paper's
for name, img in (("blurred", blurred), ("noisy", noisy)):
    total, parts = loss(x, img)
    print(f"{name:8s} total {total.item():.3f} = 0.01 * {parts['mse_255'].item():.1f} (MSE_255) "
          f"+ 1.0 * {parts['lpips'].item():.3f} (LPIPS)")
assert abs(mse_255(x, blurred).item() - 255**2 * target_mse) < 1e-2 * 255**2 * target_mse

# %% [markdown]
# ## 3. LPIPS has gradients: optimise an image
# From scratch first: start from the blurred image and let Adam change its pixels to lower a loss
# against the original. (The LPIPS network is frozen: `LPIPSLoss` has no parameters, gradients
# flow only into the image.) Watch the PSNR: MSE descent walks back to the exact pixels, PSNR
# climbs without bound. LPIPS descent drives LPIPS to almost 0 at a PSNR *lower* than the blurred
# start: it restores edges and texture *statistics*, not the exact pixel values. That is why the
# paper keeps the MSE term next to LPIPS, and why an LPIPS-trained model can look sharper while
# measuring worse in PSNR.

# %%
lpips_loss = LPIPSLoss("alex")
assert list(lpips_loss.parameters()) == []


def optimise(loss_fn, steps, lr=0.01):
    img = blurred.clone().requires_grad_(True)
    opt = torch.optim.Adam([img], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(x, img.clamp(0, 1)).mean().backward()
        opt.step()
    return img.detach().clamp(0, 1)


by_mse = optimise(lambda a, b: mse_255(a, b), OPT_STEPS)
by_lpips = optimise(lpips_loss, OPT_STEPS)
for name, img in (("blurred start", blurred), ("MSE steps", by_mse), ("LPIPS steps", by_lpips)):
    print(f"{name:13s} PSNR {psnr(x, img).item():5.2f} dB  LPIPS {lpips_alex(x, img).item():.3f}")
show_images([blurred, by_mse, by_lpips], titles=["start", f"{OPT_STEPS} MSE steps", f"{OPT_STEPS} LPIPS steps"])
plt.show()

# %% [markdown]
# ## 4. Fine-tuning deep JSCC with MSE, then with MSE + LPIPS
# The model is the rate-adaptive deep JSCC of notebook 04 (`TAEJSCC`: the pretrained TAEF2
# autoencoder with learned layers around the channel; one checkpoint for CBR 1/96 ... 1/12). We
# start both runs from the shipped PSNR checkpoint `taejscc-psnr-awgn` and fine-tune it for a
# few minutes, once on MSE alone and once on the paper's MSE + LPIPS loss
# (`PerceptualTrainConfig(stage="distortion")`, the paper's first stage). Same seed: same crops,
# same SNRs and CBRs, same channel noise. The encoder of the autoencoder stays frozen; its
# decoder trains at a quarter of the learning rate.

# %%
warm = pretrained.CHECKPOINT_DIR / pretrained.info("taejscc-psnr-awgn")["file"]
spec = pretrained.load_checkpoint(warm)["model"]["kwargs"]
common = dict(model="taejscc", width=spec["width"], blocks=spec["blocks"], cbrs=list(spec["cbrs"]),
              init_from=str(warm), freeze=["ae_encoder"], pretrained_modules=["ae_decoder"],
              pretrained_lr_fraction=0.25, stage="distortion", crop=TRAIN_CROP, batch_size=BATCH,
              steps=TRAIN_STEPS, lr=1e-4, warmup_steps=min(10, TRAIN_STEPS), lr_final_fraction=0.1,
              val_images=VAL_IMAGES, val_crop=128, val_every=TRAIN_STEPS, checkpoint_every=TRAIN_STEPS,
              log_every=max(1, TRAIN_STEPS // 20), device="cpu", seed=SEED, sample_every=0)
runs = {}
for name, weights in (("MSE", dict(mse_weight=0.01, lpips_weight=0.0)),
                      ("MSE+LPIPS", dict(mse_weight=0.01, lpips_weight=1.0))):
    config = PerceptualTrainConfig(name=name, out_dir=f"{OUT}/{name.replace('+', '_')}", **weights, **common)
    runs[name] = train_perceptual(config, progress=False)

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, result in runs.items():
    logs = [h for h in result["history"] if "mse_255" in h]
    ax.plot([h["step"] for h in logs], [10 * math.log10(255**2 / h["mse_255"]) for h in logs], label=name)
ax.set(xlabel="step", ylabel="training PSNR (dB)", title="same start, two losses")
_ = ax.legend()
plt.show()

# %%
key = f"@{SNR_DB:g}dB,beta=0"
val = {name: {m: sum(v for k, v in r["best"].items() if k.startswith(m + key)) /
              sum(1 for k in r["best"] if k.startswith(m + key)) for m in ("psnr", "lpips")}
       for name, r in runs.items()}
print(f"validation on {VAL_IMAGES} BSDS500 test crops at {SNR_DB:g} dB, mean over the CBRs:")
for name, v in val.items():
    print(f"{name:10s} PSNR {v['psnr']:5.2f} dB   LPIPS {v['lpips']:.4f}")
if not settings.quick():
    assert val["MSE+LPIPS"]["lpips"] < val["MSE"]["lpips"], "the LPIPS term must lower LPIPS"

# %% [markdown]
# A few CPU minutes already move LPIPS. The shipped pair shows what longer training does: the
# PSNR model (`taejscc-psnr-awgn`) against the perceptual one (`taejscc-perceptual-awgn`, MSE +
# LPIPS then the GAN stage of notebook 07) decoded at realism `beta = 0`, its MSE + LPIPS end.

# %%
shipped = {"MSE (taejscc-psnr-awgn)": (pretrained.load("taejscc-psnr-awgn"), {}),
           "MSE+LPIPS (taejscc-perceptual-awgn, beta=0)": (pretrained.load("taejscc-perceptual-awgn"), {"beta": 0.0})}
crops = torch.cat([center_crop(im, 256 if not settings.quick() else 128) for im in kodak()[:N_KODAK]])
scores, recon = {}, {}
with torch.no_grad():
    for name, (m, kw) in shipped.items():
        recon[name] = m(crops, SNR_DB, cbr=CBR, generator=torch.Generator().manual_seed(1), **kw)
        scores[name] = {k: v.mean().item() for k, v in evaluate(crops, recon[name], metrics=("psnr", "lpips", "dists")).items()}
        print(f"{name:44s} PSNR {scores[name]['psnr']:5.2f} dB  LPIPS {scores[name]['lpips']:.4f}  DISTS {scores[name]['dists']:.4f}")
k = min(3, N_KODAK - 1)
fig = show_images([crops[k : k + 1], *(r[k : k + 1] for r in recon.values())], titles=["original", "MSE", "MSE + LPIPS"])
plt.show()
mse_name, lpips_name = shipped
assert scores[lpips_name]["lpips"] < scores[mse_name]["lpips"], "LPIPS training brings texture back"
assert scores[lpips_name]["psnr"] < scores[mse_name]["psnr"] + 0.5, "... at no gain in PSNR"

# %% [markdown]
# On these crops the perceptual model at `beta = 0` pays about 1.5 dB of PSNR for a third less
# LPIPS and lower DISTS (which it never trained on). Part of the PSNR gap is not the loss: the PSNR
# model's last stage fine-tuned the TAEF2 encoder for MSE, while the perceptual one branched off
# before that stage and keeps the published encoder. The PSNR price of realism grows when the
# receiver turns `beta` up (notebook 07).

# %% [markdown]
# ## Exercises
# 1. Fine-tune with `lpips_net="vgg"` instead of AlexNet. Which metric improves more, LPIPS-alex or
#    LPIPS-vgg? Why is it risky to report only the metric you trained on?
# 2. Set `mse_weight=0` (LPIPS only). What happens to colours? (LPIPS is nearly blind to a global
#    colour shift.)
# 3. Compute the MSE term's value at 20 dB and 30 dB PSNR. At which PSNR do the MSE and LPIPS
#    terms have equal weight in the paper's loss, for an LPIPS of 0.2?
# 4. Notebook 07 adds the discriminator: what can a GAN add that LPIPS cannot?

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 1
#
# Training on a metric improves that metric most; an independent metric (here LPIPS-vgg, or
# DISTS) is the fairer judge. Reporting only the trained-on metric can show progress that is
# partly the network learning the metric's blind spots.

# %%
cfg = PerceptualTrainConfig(name="vgg", out_dir=f"{OUT}/vgg", mse_weight=0.01, lpips_weight=1.0, lpips_net="vgg",
                            **{**common, "steps": max(2, TRAIN_STEPS // 2)})
tuned = model_from_checkpoint(load_checkpoint(train_perceptual(cfg, progress=False)["checkpoint"])).eval()
with torch.no_grad():
    out = tuned(crops, SNR_DB, cbr=CBR, beta=0.0, generator=torch.Generator().manual_seed(1))
print({k: round(v.mean().item(), 4) for k, v in evaluate(crops, out, metrics=("lpips", "lpips_vgg")).items()})

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 2
#
# Without the MSE anchor nothing ties the mean colour to the original: LPIPS normalises its deep
# features per channel, so a global tint costs little. A quick check on the parrots: shift the
# red channel and compare the two losses.

# %%
tinted = (x + torch.tensor([0.08, 0.0, -0.08]).view(1, 3, 1, 1)).clamp(0, 1)
print(f"tint: PSNR {psnr(x, tinted).item():.2f} dB, LPIPS {lpips_alex(x, tinted).item():.3f}; "
      f"blur: PSNR {psnr(x, blurred).item():.2f} dB, LPIPS {lpips_alex(x, blurred).item():.3f}")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 3
#
# $\mathrm{MSE}_{255} = 255^2 \cdot 10^{-\mathrm{PSNR}/10}$, times 0.01: 6.5 at 20 dB, 0.65 at
# 30 dB. Equal to an LPIPS of 0.2 where $0.01 \cdot 65025 \cdot 10^{-P/10} = 0.2$:

# %%
for p_db in (20, 30):
    print(f"{p_db} dB: 0.01 * MSE_255 = {0.01 * 255**2 * 10 ** (-p_db / 10):.2f}")
print(f"equal weight at {10 * math.log10(0.01 * 255**2 / 0.2):.1f} dB")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 4
#
# LPIPS compares each reconstruction to *its* original, so under uncertainty it still rewards a
# compromise between the plausible textures. A discriminator judges whether the output looks like
# *a* real photograph given what was received: it pushes the generator to commit to one sharp,
# plausible texture (notebook 07), which the realism knob then lets the receiver dial in.

# %%
print("see notebook 07, section 4: one received signal decoded at beta = 0 ... 1")

# %% [markdown]
# ## Clean up
#
# The training runs of this notebook (checkpoints, logs) are in a temporary folder; this cell
# deletes it. Skip it to keep them (`RUNS.name` says where they are).

# %%
RUNS.cleanup()
