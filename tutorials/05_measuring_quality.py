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
# # 05 · Measuring quality: PSNR, MS-SSIM, LPIPS, DISTS and the perception-distortion trade-off
#
# Every claim in this course ("better than BPG + LDPC", "50 % [bandwidth saving](../docs/glossary.md#bandwidth-saving)") is a statement
# about a **quality metric**. The perceptual JSCC paper we reproduce argues that at low rates PSNR
# and [MS-SSIM](../docs/glossary.md#ms-ssim) stop tracking what people see, while learned perceptual metrics still do. Before we
# train anything on a perceptual loss, we look at the rulers themselves.
#
# **You will learn**
# - what PSNR, MS-SSIM, [LPIPS](../docs/glossary.md#lpips) and [DISTS](../docs/glossary.md#dists) measure, their ranges, and which direction is better;
# - how four everyday distortions (blur, noise, JPEG, HEVC-intra) move each metric on Kodak;
# - a case where PSNR prefers a blurry image that looks clearly worse;
# - the **[perception-distortion](../docs/glossary.md#perception-distortion-trade-off) trade-off** (Blau & Michaeli, CVPR 2018): why no decoder can be
#   both MSE-optimal and realistic, and what the best compromise costs;
# - the conventions that make numbers comparable across papers (RGB vs grayscale MS-SSIM, LPIPS
#   backbone, offline weights).
#
# **Requirements**: a laptop CPU. Full run: **117 s** on one CPU thread (LPIPS and DISTS run ImageNet networks);
# `JSCC_LAB_QUICK=1` runs the same cells on one small crop in under a minute. No GPU. Needs the
# Kodak images (`jscc_lab.data.kodak()`, downloaded once, or `JSCC_LAB_DATA`) and the ImageNet
# backbone weights (downloaded once by torchvision, or `$JSCC_LAB_DATA/weights` offline).

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
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from jscc_lab import settings
from jscc_lab.data import center_crop, kodak
from jscc_lab.distortions import gaussian_blur, gaussian_noise, hevc_intra, jpeg, misplaced_detail
from jscc_lab.metrics import evaluate, markdown_table, ms_ssim, psnr
from jscc_lab.plotting import show_images

# %% [markdown]
# ## Parameters
# Every knob of the notebook. `settings.budget(full, quick)` picks the second value under
# `JSCC_LAB_QUICK=1` (CI); the code paths are the same.

# %%
KODAK_IDS = settings.budget((1, 5, 7, 13, 21, 23), (13,))  # kodimNN used for the tables
CROP = settings.budget(256, 192)            # centre crop side; MS-SSIM needs > 160 pixels
SHOWCASE_ID = 13                            # kodim13 (mountain stream): rich texture
SHOWCASE_CROP = settings.budget(384, 192)
BLUR_SIGMAS = (1.0, 2.0, 4.0)               # Gaussian blur, pixels
NOISE_SIGMAS = (0.02, 0.05, 0.1)            # Gaussian noise std, [0, 1] units
JPEG_QUALITIES = (10, 30, 70)
HEVC_QUALITIES = (10, 30, 60)
METRICS = ("psnr", "ms_ssim", "lpips", "dists")
DETAIL_SIGMA, DETAIL_SHIFT = 2.0, 4         # the "PSNR prefers blur" case
TRADEOFF_STEPS = settings.budget(6, 3)      # points on the image trade-off curve
TOY_NOISE_STD = 0.7                         # toy perception-distortion experiment
TOY_SAMPLES = settings.budget(400_000, 50_000)
EXERCISE_QUALITIES = settings.budget((5, 10, 20, 30, 45, 60, 75, 90), (10, 40, 80))
SEED = 0

# %% [markdown]
# ## 1 · Four distortions
# Blur removes detail, noise adds false detail, JPEG and HEVC-intra (the open stand-in for BPG,
# the codec of the separate-coding baseline) do a bit of both, in 8x8 or larger blocks.
# Each Kodak image is centre-cropped to `CROP` pixels so that LPIPS and DISTS stay fast on a CPU.

# %%
images = kodak()
x = torch.cat([center_crop(images[i - 1], CROP) for i in KODAK_IDS])
generator = torch.Generator().manual_seed(SEED)

distorted, bpp = {}, {}
for s in BLUR_SIGMAS:
    distorted[f"blur σ={s:g}"] = gaussian_blur(x, s)
for s in NOISE_SIGMAS:
    distorted[f"noise σ={s:g}"] = gaussian_noise(x, s, generator=generator)
for q in JPEG_QUALITIES:
    distorted[f"JPEG q={q}"], bpp[f"JPEG q={q}"] = jpeg(x, q)
for q in HEVC_QUALITIES:
    distorted[f"HEVC q={q}"], bpp[f"HEVC q={q}"] = hevc_intra(x, q)

shown = ["blur σ=2", "noise σ=0.05", "JPEG q=10", "HEVC q=10"]
fig = show_images([x[:1]] + [distorted[k][:1] for k in shown],
                  ["original"] + [f"{k}\n{psnr(x[:1], distorted[k][:1]).item():.1f} dB" for k in shown],
                  size=3.0)

# %% [markdown]
# ## 2 · Four metrics, one call
#
# | metric | better | range | what it compares |
# |---|---|---|---|
# | PSNR | higher | dB, +inf if identical | mean squared pixel error: `10 log10(1 / MSE)` |
# | MS-SSIM | higher | [0, 1] | local means, contrasts and correlations at 5 scales |
# | LPIPS (AlexNet) | lower | [0, ~1] | distances between normalised deep features, weighted by human judgements |
# | DISTS (VGG16) | lower | [0, 1] | structure (correlations) and texture (feature means) of deep features |
#
# `jscc_lab.metrics` implements each with its reference package (`pytorch-msssim`, `lpips`,
# `dists-pytorch`) and is tested against the published values on five calibration pairs:
# PSNR to 0.01 dB, LPIPS to 1e-4, DISTS to 1e-3. Two conventions to remember when you compare with
# a paper: our `ms_ssim` averages over R, G, B like deep JSCC papers (`grayscale=True` gives the
# original MATLAB convention on the luma, up to 0.05 apart), and LPIPS means the AlexNet v0.1
# model unless a paper says otherwise.
#
# `evaluate` returns one value per image for each metric.

# %%
scores = {name: evaluate(x, x_hat, metrics=METRICS) for name, x_hat in distorted.items()}
display(Markdown(f"Mean over {len(x)} Kodak crops of {CROP}x{CROP}:\n\n"
                 + markdown_table(scores, label="distortion")))

# %% [markdown]
# On these easy cases all four metrics agree on the order within each family: more blur or more
# noise is worse, per image, for every metric. The next cell checks it.

# %%
for family, levels in (("blur", BLUR_SIGMAS), ("noise", NOISE_SIGMAS)):
    for metric in METRICS:
        values = torch.stack([scores[f"{family} σ={s:g}"][metric] for s in levels])  # (levels, N)
        better_first = values[:-1] > values[1:] if metric in ("psnr", "ms_ssim") else values[:-1] < values[1:]
        assert better_first.all(), (family, metric, values)

# %% [markdown]
# Across families they disagree. Plot each metric against PSNR: at the same PSNR, blur and noise
# get very different perceptual scores. Near 26 dB, MS-SSIM slightly prefers blur σ=1 to noise
# σ=0.05, DISTS rates them about equal, and LPIPS finds the blur about twice as bad; at 20-21 dB
# both perceptual metrics judge heavy blur far worse than heavy noise.

# %%
families = {"blur": BLUR_SIGMAS, "noise": NOISE_SIGMAS, "JPEG": JPEG_QUALITIES, "HEVC": HEVC_QUALITIES}


def keys_of(family):
    return [k for k in distorted if k.startswith(family)]


fig, axes = plt.subplots(1, 3, figsize=(14, 4))
for ax, metric in zip(axes, ("ms_ssim", "lpips", "dists")):
    for family in families:
        keys = keys_of(family)
        xs = [scores[k]["psnr"].mean().item() for k in keys]
        ys = [scores[k][metric].mean().item() for k in keys]
        ax.plot(xs, ys, marker="o", label=family)
        for k, a, b in zip(keys, xs, ys):
            ax.annotate(k.split()[-1], (a, b), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("PSNR (dB) ↑")
    ax.set_ylabel(f"{metric} {'↑' if metric == 'ms_ssim' else '↓'}")
    ax.grid(True, alpha=0.3)
axes[0].legend()
fig.suptitle("Same PSNR, different perceived quality")
fig.tight_layout()

# %% [markdown]
# The two codecs spend bits to buy quality. Plotting quality against **bits per pixel** is how
# codecs (and later, our JSCC systems against them) are compared: HEVC-intra's curve lies above
# JPEG's (same quality for fewer bits; exercise 2 puts a number on it).

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for codec in ("JPEG", "HEVC"):
    keys = keys_of(codec)
    rates = [bpp[k].mean().item() for k in keys]
    axes[0].plot(rates, [scores[k]["psnr"].mean().item() for k in keys], marker="o", label=codec)
    axes[1].plot(rates, [scores[k]["dists"].mean().item() for k in keys], marker="o", label=codec)
for ax, label in zip(axes, ("PSNR (dB) ↑", "DISTS ↓")):
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.3)
    ax.legend()
fig.tight_layout()

# %% [markdown]
# ## 3 · When PSNR prefers the blurry image
#
# A generative decoder does not know the exact grass, hair or water of the original, so it paints
# plausible texture. We imitate that without a network: blur the image, then add back its *own*
# fine detail taken `DETAIL_SHIFT` pixels away (`jscc_lab.distortions.misplaced_detail`). The
# result is as sharp as the original, with the right kind of texture in the wrong place.

# %%
showcase = center_crop(images[SHOWCASE_ID - 1], SHOWCASE_CROP)
blurry = gaussian_blur(showcase, DETAIL_SIGMA)
sharp = misplaced_detail(showcase, DETAIL_SIGMA, shift=DETAIL_SHIFT)
case = {"blurred": evaluate(showcase, blurry, METRICS), "misplaced detail": evaluate(showcase, sharp, METRICS)}
display(Markdown(markdown_table(case, label=f"kodim{SHOWCASE_ID:02d}")))
fig = show_images([showcase, blurry, sharp], ["original", "blurred: higher PSNR",
                                              "misplaced detail: lower PSNR"], size=4.0)

# %%
psnr_gap = (case["blurred"]["psnr"] - case["misplaced detail"]["psnr"]).item()
assert psnr_gap > 1.0, psnr_gap                      # PSNR (and MS-SSIM) prefer the blur ...
assert case["blurred"]["ms_ssim"] > case["misplaced detail"]["ms_ssim"]
assert case["blurred"]["lpips"] > case["misplaced detail"]["lpips"]  # ... LPIPS and DISTS do not
assert case["blurred"]["dists"] > case["misplaced detail"]["dists"]
print(f"PSNR prefers the blurred image by {psnr_gap:.2f} dB")

# %% [markdown]
# Why about 3 dB? If `r` is the detail the blur removed, the blurred image's error is `r`, and the
# sharp one's error is `r - r'` with `r'` the moved detail. When `r` and `r'` are uncorrelated,
# `E|r - r'|² = 2 E|r|²`: twice the MSE, 3 dB less PSNR, for an image that looks better. That
# factor 2 is no accident, as the next section shows.
#
# ## 4 · The perception-distortion trade-off
#
# Blau & Michaeli (2018) separate two questions about a reconstruction `x̂` of `x`:
# - **distortion**: how far is each `x̂` from its own `x`? (MSE, or any full-reference metric);
# - **perception**: how far is the *distribution* of all `x̂` from the distribution of natural
#   images? (a divergence; a perfect discriminator could not tell them apart at 0).
#
# Their theorem: the best distortion achievable at perception index `P`, `D(P)`, is convex and
# non-increasing. Minimising distortion alone gives the MMSE estimate `E[x|y]`, an *average* of
# all plausible images, hence blurry and off the natural-image distribution. Reaching `P = 0`
# costs distortion; for MSE at most **twice** the minimum (sample from the posterior).
#
# A 1-D toy makes everything computable. `X = ±1` with equal probability, observed as
# `Y = X + N(0, σ²)`. Then `E[X|Y] = tanh(Y/σ²)`, and the 2-Wasserstein distance `W2` between
# estimate and source distribution is our perception index. Freirich, Michaeli & Meir (2021)
# showed that the optimal estimators on the whole curve blend the MMSE estimate with its optimal
# transport `T` onto the source distribution (here: the lower half of the estimates to -1, the
# upper half to +1, i.e. almost exactly `sign(Y)`): `x̂_λ = (1-λ) x̂_MMSE + λ T(x̂_MMSE)`, and
# `D(P) = D_MMSE + (W2(p_X, p_MMSE) - P)²`.

# %%
rng = np.random.default_rng(SEED)
source = rng.permutation(np.repeat([-1.0, 1.0], TOY_SAMPLES // 2))  # exactly half each
observed = source + TOY_NOISE_STD * rng.standard_normal(len(source))
mmse = np.tanh(observed / TOY_NOISE_STD**2)
ranks = np.argsort(np.argsort(mmse))
transported = np.where(ranks >= len(source) // 2, 1.0, -1.0)  # optimal transport of mmse onto ±1


def mse(estimate):
    return np.mean((estimate - source) ** 2)


def w2(estimate):  # 2-Wasserstein distance between the 1-D sample distributions
    return np.sqrt(np.mean((np.sort(estimate) - np.sort(source)) ** 2))


lambdas = np.linspace(0, 1, 21)
curve = [(1 - lam) * mmse + lam * transported for lam in lambdas]
curve_p, curve_d = np.array([w2(e) for e in curve]), np.array([mse(e) for e in curve])
posterior_sample = np.where(rng.random(len(source)) < (1 + mmse) / 2, 1.0, -1.0)
theory = mse(mmse) + (w2(mmse) - curve_p) ** 2
assert np.allclose(curve_d, theory, atol=0.01), np.abs(curve_d - theory).max()
ratio = mse(posterior_sample) / mse(mmse)
assert abs(ratio - 2.0) < 0.05, ratio
print(f"MMSE {mse(mmse):.3f}; posterior sample {mse(posterior_sample):.3f} = {ratio:.2f} x MMSE; "
      f"best perfect-perception estimate T(MMSE): {mse(transported):.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
bins = np.linspace(-1.3, 1.3, 105)
for estimate, label in ((mmse, "MMSE  E[X|Y]"), (curve[10], "λ = 0.5"), (posterior_sample, "posterior sample")):
    axes[0].hist(estimate, bins=bins, histtype="step", density=True, label=label, lw=1.5)
axes[0].set_title("Distribution of the estimates (the source is ±1)")
axes[0].set_xlabel("x̂")
axes[0].legend()
ax = axes[1]
ax.fill_between(curve_p, 0, curve_d, color="0.85", label="unattainable")
ax.plot(curve_p, curve_d, "k-", lw=2, label="D(P): best MSE at perception P")
for estimate, label, marker in ((mmse, "MMSE (blurry)", "o"), (transported, "T(MMSE) ≈ sign(Y): best at P=0", "s"),
                                (posterior_sample, "posterior sample (2x MMSE)", "^")):
    ax.plot(w2(estimate), mse(estimate), marker, ms=9, label=label)
ax.axhline(2 * mse(mmse), color="C3", ls=":", label="2 x MMSE")
ax.set_xlabel("perception index P = W2(p_x̂, p_X)  (0 = indistinguishable) →")
ax.set_ylabel("distortion D = MSE")
ax.set_xlim(left=-0.02)
ax.set_ylim(0, 2.3 * mse(mmse))
ax.set_title("The perception-distortion trade-off")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# The same shape appears on a real image. Blend the blurred image (the "MMSE-like" end) with the
# misplaced-detail image (the "realistic" end): `x̂_t = (1-t) blur + t detail`. MSE rises while
# LPIPS and DISTS fall. Strictly, LPIPS and DISTS compare each `x̂` with its own `x`, so they are
# *distortion* measures that happen to reward realistic texture; true perception indices look at
# distributions (FID, or the discriminator we train later). They are still what the paper reports.

# %%
ts = np.linspace(0, 1, TRADEOFF_STEPS)
blends = [((1 - t) * blurry + t * sharp).clamp(0, 1) for t in ts]
blend_scores = [evaluate(showcase, b, metrics=("psnr", "lpips", "dists")) for b in blends]
mses = [10 ** (-s["psnr"].item() / 10) for s in blend_scores]
fig, ax = plt.subplots(figsize=(5.5, 4))
for metric in ("lpips", "dists"):
    ax.plot([s[metric].item() for s in blend_scores], mses, marker="o", label=metric)
ax.set_xlabel("perceptual distance (lower = looks better) →")
ax.set_ylabel("MSE (lower = more faithful)")
ax.set_title(f"kodim{SHOWCASE_ID:02d}: blur → misplaced detail")
ax.grid(True, alpha=0.3)
ax.legend()
assert mses[-1] > mses[0] and blend_scores[-1]["dists"] < blend_scores[0]["dists"]

# %% [markdown]
# **Take-away for the rest of the course.** A decoder trained on MSE lands at the MMSE end:
# best PSNR, blurry images. The perceptual JSCC system trades a little PSNR for a large gain in
# LPIPS/DISTS (and realism) by adding a perceptual loss and a discriminator. Report both kinds of
# metric, and never read a PSNR gap of 1-3 dB as "worse-looking" without looking.

# %% [markdown]
# ## Exercises
#
# 1. **Colour convention.** Compute MS-SSIM with `grayscale=True` and with the default RGB average
#    on the JPEG q=10 images. How large is the gap, and which is higher? Why must a results table say
#    which one it uses?
# 2. **Bits at matched quality.** Sweep the quality of JPEG and HEVC-intra over
#    `EXERCISE_QUALITIES` on the crops `x`, and interpolate the bits per pixel each needs to reach
#    30 dB PSNR. What fraction of JPEG's bits does HEVC save? (The same computation at matched
#    *perceptual* quality is the paper's bandwidth-saving claim.)
# 3. **The factor 2.** In the toy, vary `TOY_NOISE_STD` over (0.3, 0.7, 1.5). Compute the MSE of the
#    posterior sample and of `sign(Y)` relative to MMSE. Which perfect-perception estimator is
#    better, and does the factor 2 hold for the posterior sample at every noise level?

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 1
#
# The two conventions differ by a few hundredths (the luma-only MS-SSIM is higher here: JPEG
# spends its errors on chroma), enough to change the ranking of methods that are close.

# %%
jpeg_low = distorted["JPEG q=10"]
gray, rgb = ms_ssim(x, jpeg_low, grayscale=True), ms_ssim(x, jpeg_low)
print("grayscale:", gray.numpy().round(4), " RGB average:", rgb.numpy().round(4))
print(f"mean gap {float((gray - rgb).mean()):+.4f}")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 2
#
# Rate-quality curves by sweeping the quality knob, then interpolation at the target.

# %%
target_db = 30.0
needed = {}
for codec, code in (("JPEG", jpeg), ("HEVC", hevc_intra)):
    results = [code(x, q) for q in EXERCISE_QUALITIES]
    rates = np.array([r[1].mean().item() for r in results])
    quality = np.array([psnr(x, r[0]).mean().item() for r in results])
    needed[codec] = float(np.interp(target_db, quality, rates))
    print(f"{codec}: PSNR {quality.round(1)} dB at {rates.round(2)} bpp -> {needed[codec]:.2f} bpp for {target_db} dB")
print(f"HEVC-intra saves {100 * (1 - needed['HEVC'] / needed['JPEG']):.0f} % of JPEG's bits at {target_db} dB")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 3
#
# The posterior sample always costs 2x MMSE (the bound is tight for it); the deterministic
# `sign(Y)`, optimal at perfect perception, costs less, and its ratio depends on the noise.

# %%
for noise_std in (0.3, 0.7, 1.5):
    y = source + noise_std * rng.standard_normal(len(source))
    mmse_y = np.tanh(y / noise_std**2)
    sample = np.where(rng.random(len(source)) < (1 + mmse_y) / 2, 1.0, -1.0)
    print(f"σ={noise_std}: MMSE {mse(mmse_y):.4f}, posterior sample {mse(sample) / mse(mmse_y):.2f}x, "
          f"sign(Y) {mse(np.sign(y)) / mse(mmse_y):.2f}x")

# %% [markdown]
# ## Further reading
# - Y. Blau, T. Michaeli, *The Perception-Distortion Tradeoff*, CVPR 2018.
# - D. Freirich, T. Michaeli, R. Meir, *A Theory of the Distortion-Perception Tradeoff in
#   Wasserstein Space*, NeurIPS 2021.
# - R. Zhang et al., *The Unreasonable Effectiveness of Deep Features as a Perceptual Metric*
#   (LPIPS), CVPR 2018; K. Ding et al., *Image Quality Assessment: Unifying Structure and Texture
#   Similarity* (DISTS), TPAMI 2020; Z. Wang et al., *Multi-scale structural similarity*, 2003.
