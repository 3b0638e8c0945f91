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
#   and to read the result on validation images: what LPIPS gains and what PSNR pays.
#
# **Requirements**: a CPU. Full run: **491 s** on one CPU thread (two short fine-tuning runs); `JSCC_LAB_QUICK=1` runs
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
# `0.01 * 65025 * 10**-2.5 = 2.1`: larger than typical LPIPS values (section 1 printed two), so MSE anchors colours and
# layout while LPIPS adds the texture. `DistortionLoss` returns the total per image and its parts.
# The balance moves with the quality: the lower the PSNR, the more the MSE term outweighs LPIPS
# (section 4 prints the ratio at the PSNR our models reach). The shipped `taejscc-perceptual-awgn`
# therefore ends with GAN steps at `mse_weight=0.001` (docs/results.md, "Perceptual JSCC").

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
# decoder trains at a quarter of the learning rate. Every `VAL_EVERY` steps the trainer
# validates on BSDS500 test crops (PSNR and LPIPS, mean over the four CBRs): a training loss on a
# batch of four crops is too noisy to compare two runs, a fixed validation set is not.
#
# *Predict first*: after these few steps, how far apart will the two runs be in PSNR, and in LPIPS?

# %%
warm = pretrained.CHECKPOINT_DIR / pretrained.info("taejscc-psnr-awgn")["file"]
VAL_EVERY = max(1, TRAIN_STEPS // 4)
spec = pretrained.load_checkpoint(warm)["model"]["kwargs"]
common = dict(model="taejscc", width=spec["width"], blocks=spec["blocks"], cbrs=list(spec["cbrs"]),
              init_from=str(warm), freeze=["ae_encoder"], pretrained_modules=["ae_decoder"],
              pretrained_lr_fraction=0.25, stage="distortion", crop=TRAIN_CROP, batch_size=BATCH,
              steps=TRAIN_STEPS, lr=1e-4, warmup_steps=min(10, TRAIN_STEPS), lr_final_fraction=0.1,
              val_images=VAL_IMAGES, val_crop=128, val_every=VAL_EVERY, checkpoint_every=TRAIN_STEPS,
              log_every=VAL_EVERY, device="cpu", seed=SEED, sample_every=0)
runs = {}
for name, weights in (("MSE", dict(mse_weight=0.01, lpips_weight=0.0)),
                      ("MSE+LPIPS", dict(mse_weight=0.01, lpips_weight=1.0))):
    config = PerceptualTrainConfig(name=name, out_dir=f"{OUT}/{name.replace('+', '_')}", **weights, **common)
    runs[name] = train_perceptual(config, progress=False)

# %%
fig, (ax_p, ax_l) = plt.subplots(1, 2, figsize=(9, 3.2))
for name, result in runs.items():
    vals = [h for h in result["history"] if "val_psnr_db" in h]
    steps = [h["step"] for h in vals]
    ax_p.plot(steps, [h["val_psnr_db"] for h in vals], "o-", label=name)
    ax_l.plot(steps, [h["val_lpips_beta0"] for h in vals], "o-", label=name)
ax_p.set(xlabel="step", ylabel="validation PSNR (dB)", title="PSNR: higher is better")
ax_l.set(xlabel="step", ylabel="validation LPIPS", title="LPIPS: lower is better")
ax_l.legend()
fig.tight_layout()
plt.show()

# %%
val = {name: {"psnr": r["last"]["val_psnr_db"], "lpips": r["last"]["val_lpips_beta0"]} for name, r in runs.items()}
print(f"validation after {TRAIN_STEPS} steps, {VAL_IMAGES} BSDS500 test crops at {SNR_DB:g} dB, mean over the CBRs:")
for name, v in val.items():
    print(f"{name:10s} PSNR {v['psnr']:5.2f} dB   LPIPS {v['lpips']:.4f}")
d_psnr = val["MSE+LPIPS"]["psnr"] - val["MSE"]["psnr"]
d_lpips = 100 * (val["MSE+LPIPS"]["lpips"] / val["MSE"]["lpips"] - 1)
mse_term = 0.01 * 255**2 * 10 ** (-val["MSE+LPIPS"]["psnr"] / 10)
print(f"MSE + LPIPS against MSE alone: LPIPS {d_lpips:+.0f} %, PSNR {d_psnr:+.2f} dB. At this PSNR the loss's "
      f"MSE term is 0.01 * MSE_255 = {mse_term:.2f}, {mse_term / val['MSE+LPIPS']['lpips']:.0f} times its LPIPS term.")
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
print(f"On {N_KODAK} Kodak crops the perceptual model at beta = 0 pays "
      f"{scores[mse_name]['psnr'] - scores[lpips_name]['psnr']:.2f} dB of PSNR for "
      f"{100 * (1 - scores[lpips_name]['lpips'] / scores[mse_name]['lpips']):.0f} % less LPIPS and "
      f"{100 * (1 - scores[lpips_name]['dists'] / scores[mse_name]['dists']):.0f} % less DISTS (a metric it never trained on).")

# %% [markdown]
# The longer training shows the price the short runs above did not yet pay: PSNR falls while
# LPIPS and DISTS fall further. Part of the PSNR gap is not the loss: the PSNR model's last stage
# fine-tuned the TAEF2 encoder for MSE, while the perceptual one branched off before that stage
# and keeps the published encoder. The PSNR price of realism grows when the receiver turns `beta`
# up (notebook 07).

# %% [markdown]
# ## Exercises
# 1. **Which metric moves?** Fine-tune the same start for the same number of steps once with
#    LPIPS-alex (the paper's) and once with `lpips_net="vgg"`. *Predict*: which of the two metrics
#    falls more in each run? Then measure both metrics on the Kodak crops. Why is it risky to report
#    only the metric you trained on?
# 2. **Drop the anchor.** Set `mse_weight=0` (LPIPS only). *Predict* what happens to PSNR and to
#    the colours, then measure PSNR and the largest mean colour shift (`color_bias`) against the
#    MSE + LPIPS run. Hint: compare what LPIPS and PSNR say about a global tint.
# 3. Compute the MSE term's value at 20 dB and 30 dB PSNR. At which PSNR do the MSE and LPIPS
#    terms have equal weight in the paper's loss, for an LPIPS of 0.2?
# 4. **What is LPIPS's best guess?** When the channel has destroyed the fine detail, the receiver
#    does not know where exactly an edge was. Model that with four plausible originals: the
#    parrots' detail (image minus its blur) shifted by 3 pixels up, down, left or right. Which
#    answer scores the lowest LPIPS against *other* plausible originals (shifted diagonally): the
#    MSE answer (the mean of the four), one more plausible original, or an image optimised for
#    LPIPS against the four? How much texture (detail energy) does each carry, against the real
#    image's? What could a discriminator add?

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 1
#
# Both runs start from the shipped PSNR model and train for `TRAIN_STEPS // 2` steps with the same
# seed; only the network inside LPIPS differs. The table prints each metric's change from the start.

# %%
EX_STEPS = max(2, TRAIN_STEPS // 2)
start_model = shipped[mse_name][0]


def fine_tune(name, **weights):
    """The shipped PSNR model fine-tuned for EX_STEPS steps with `weights`, in eval mode."""
    cfg = PerceptualTrainConfig(name=name, out_dir=f"{OUT}/{name}", **{**common, "steps": EX_STEPS,
                                "val_every": EX_STEPS, "log_every": EX_STEPS}, **weights)
    return model_from_checkpoint(load_checkpoint(train_perceptual(cfg, progress=False)["checkpoint"])).eval()


def kodak_scores(model, metrics, **kw):
    with torch.no_grad():
        out = model(crops, SNR_DB, cbr=CBR, generator=torch.Generator().manual_seed(1), **kw)
    return {k: v.mean().item() for k, v in evaluate(crops, out, metrics=metrics).items()}


tuned = {"alex": fine_tune("alex", mse_weight=0.01, lpips_weight=1.0),
         "vgg": fine_tune("vgg", mse_weight=0.01, lpips_weight=1.0, lpips_net="vgg")}
before = kodak_scores(start_model, ("lpips", "lpips_vgg"))
change = {net: {k: 100 * (v / before[k] - 1) for k, v in kodak_scores(m, ("lpips", "lpips_vgg"), beta=0.0).items()}
          for net, m in tuned.items()}
print(f"change from the start after {EX_STEPS} steps ({N_KODAK} Kodak crops, CBR 1/48, {SNR_DB:g} dB):")
print(f"{'trained on':12s} {'LPIPS-alex':>11s} {'LPIPS-vgg':>10s}")
for net, c in change.items():
    print(f"LPIPS-{net:6s} {c['lpips']:+10.1f} % {c['lpips_vgg']:+9.1f} %")
own = {net: change[net]["lpips" if net == "alex" else "lpips_vgg"] for net in change}
other = {net: change[net]["lpips_vgg" if net == "alex" else "lpips"] for net in change}
for net in change:
    print(f"trained on LPIPS-{net}: its own metric {own[net]:+.1f} %, the other {other[net]:+.1f} %")
if not settings.quick():
    assert own["alex"] < 2 * other["alex"] < 0, "the alex run's own metric falls more than twice as much as the other"

# %% [markdown]
# Read the rows, not only your own metric. The run trained on LPIPS-alex lowers LPIPS-alex more than
# twice as much as LPIPS-vgg: reported alone, the trained-on metric overstates the gain an
# independent judge sees. The two networks reward different features, so the same steps move them
# by different amounts (compare the LPIPS-vgg row with your prediction). A model can learn what one
# network happens to reward; an independent metric (the other LPIPS, or DISTS) is the fairer
# judge, which is why notebook 08 reports DISTS and LPIPS-vgg for a model trained on LPIPS-alex.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 2
#
# The mechanism first: a global tint costs far more PSNR than LPIPS, because LPIPS normalises its
# deep features per channel. Then the run without the MSE anchor, against the MSE + LPIPS run of
# exercise 1 (same steps, same seed).

# %%
tinted = (x + torch.tensor([0.08, 0.0, -0.08]).view(1, 3, 1, 1)).clamp(0, 1)
print(f"tint: PSNR {psnr(x, tinted).item():.2f} dB, LPIPS {lpips_alex(x, tinted).item():.3f}; "
      f"blur: PSNR {psnr(x, blurred).item():.2f} dB, LPIPS {lpips_alex(x, blurred).item():.3f}")
tuned["LPIPS only"] = fine_tune("lpips_only", mse_weight=0.0, lpips_weight=1.0)
colour = ("psnr", "lpips", "bias_r", "bias_g", "bias_b")
anchor = {}
for name, key in (("MSE + LPIPS", "alex"), ("LPIPS only", "LPIPS only")):
    r = kodak_scores(tuned[key], colour, beta=0.0)
    anchor[name] = {"psnr": r["psnr"], "shift": 255 * max(abs(r[f"bias_{c}"]) for c in "rgb")}
    print(f"{name:12s} PSNR {r['psnr']:5.2f} dB  LPIPS {r['lpips']:.4f}  largest mean colour shift "
          f"{anchor[name]['shift']:.1f} of 255 levels")
print(f"without the MSE anchor: PSNR {anchor['LPIPS only']['psnr'] - anchor['MSE + LPIPS']['psnr']:+.2f} dB, "
      f"colour shift {anchor['LPIPS only']['shift'] / anchor['MSE + LPIPS']['shift']:.1f} times as large, "
      f"after {EX_STEPS} steps")
if not settings.quick():
    assert anchor["LPIPS only"]["psnr"] < anchor["MSE + LPIPS"]["psnr"], "without the anchor PSNR falls"

# %% [markdown]
# Compare your prediction with the two rows. Without the anchor nothing ties the pixel values to
# the original: LPIPS falls further, PSNR falls with it, and the colours start to drift. How far
# they drift depends on how long you train (try `EX_STEPS` ten times larger): LPIPS hardly notices
# a tint, so nothing pulls a drifting colour back.

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
# Build the plausible originals, optimise an image for the mean LPIPS against four of them (Adam on
# the pixels, as in section 3, from their mean), and score every candidate against four others.
# Texture is the standard deviation of the detail (image minus its blur).

# %%
detail = x - blurred


def plausible(shifts):
    return torch.cat([(blurred + torch.roll(detail, s, dims=(2, 3))).clamp(0, 1) for s in shifts])


seen = plausible([(0, 3), (3, 0), (0, -3), (-3, 0)])
unseen = plausible([(2, 2), (-2, 2), (2, -2), (-2, -2)])
guess = seen.mean(0, keepdim=True).clone().requires_grad_(True)
opt = torch.optim.Adam([guess], lr=0.01)
for _ in range(OPT_STEPS):
    opt.zero_grad()
    lpips_loss(seen, guess.clamp(0, 1).expand_as(seen)).mean().backward()
    opt.step()
answers = {"MSE answer (mean)": seen.mean(0, keepdim=True), "one plausible original": plausible([(1, -3)]),
           "optimised for LPIPS": guess.detach().clamp(0, 1)}


def texture(img):
    return (img - gaussian_blur(img, 1.5)).std().item()


score = {name: lpips_alex(unseen, a.expand_as(unseen)).mean().item() for name, a in answers.items()}
for name, a in answers.items():
    print(f"{name:24s} LPIPS against unseen plausible originals {score[name]:.3f}   texture {texture(a):.4f}")
print(f"{'the real image':24s} {'':43s}texture {texture(x):.4f}")
best = min(score, key=score.get)
if not settings.quick():
    assert max(score, key=score.get) == "MSE answer (mean)", "LPIPS does not reward the average"
    assert score["one plausible original"] < score["MSE answer (mean)"], "a sharp, misplaced guess beats the mean"

print(f"LPIPS prefers: {best}. The MSE answer keeps {100 * texture(answers['MSE answer (mean)']) / texture(x):.0f} % "
      f"of the real texture, the LPIPS-optimised image {100 * texture(answers['optimised for LPIPS']) / texture(x):.0f} %.")
show_images(list(answers.values()), titles=list(answers))
plt.show()

# %% [markdown]
# LPIPS, unlike MSE, does not reward the average: the blurry mean scores worst, and a sharp
# plausible image scores well even though its edges sit in the wrong place. So LPIPS already asks
# for texture. What it cannot say is whether an image *is a photograph*: it only compares with one
# reference, and an image optimised for it carries whatever texture its network's features happen
# to reward (compare its texture with the real image's above). A discriminator needs no reference:
# it learns the statistics of real photographs and penalises whatever departs from them, including
# the artefacts a network learns in order to please LPIPS. Notebook 07 trains one.

# %% [markdown]
# ## Clean up
#
# The training runs of this notebook (checkpoints, logs) are in a temporary folder; this cell
# deletes it. Skip it to keep them (`RUNS.name` says where they are).

# %%
RUNS.cleanup()
