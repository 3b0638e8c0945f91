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
# # 08 · The full perceptual system: GPU training, shipped checkpoints, bandwidth saving
#
# Notebooks 05 and 06 trained small perceptual models on a CPU. This one is about the real thing:
# the paper-size system of Wang et al. (GLOBECOM 2022), how to train it on a GPU with the
# command line, and how to measure its headline claim, the **channel-bandwidth saving at matched
# perceptual quality**, with the shipped checkpoints.
#
# **You will learn**
# - the GPU configurations and commands (stage 1 MSE+LPIPS, stage 2 GAN, multi-GPU with torchrun);
# - to load shipped checkpoints with `jscc_lab.pretrained` and read their provenance;
# - to sweep systems on Kodak with `jscc_lab.evaluate.sweep` and turn curves into a bandwidth
#   saving with a bootstrap interval (`bandwidth_saving`), refusing to extrapolate;
# - what the realism knob $\beta$ does to one received signal.
#
# **Requirements**: runs on a CPU in a few minutes with the shipped checkpoints. Training the
# paper-size models needs a GPU (see section 1).
#
# > **Honest status.** The checkpoints shipped so far were trained on a 2-core CPU for minutes
# > (their provenance says so); they are teaching models, far from the paper's quality. The numbers
# > below are what *these* files give. Rerun the notebook after training the GPU configurations.

# %%
import matplotlib.pyplot as plt
import torch

from jscc_lab import pretrained, settings
from jscc_lab.data import center_crop, kodak
from jscc_lab.evaluate import (
    bandwidth_saving,
    curve,
    format_table,
    separate_coding,
    summarize,
    sweep,
)
from jscc_lab.plotting import show_images

# %% [markdown]
# ## Parameters

# %%
SEED = 0
SNR_DB = 10.0
CBR = 1 / 48  # our perceptual model's bandwidth
N_IMAGES = settings.budget(8, 2)  # Kodak images (centre crops) in the sweep
CROP = settings.budget(256, 128)
REF_CBRS = settings.budget([1 / 96, 1 / 48, 1 / 24, 1 / 12], [1 / 48, 1 / 24])  # HEVC reference CBRs
METRICS = settings.budget(("psnr", "lpips", "dists"), ("psnr", "lpips"))
BETAS = [0.0, 0.5, 1.0]
N_BOOT = settings.budget(1000, 100)

# %% [markdown]
# ## 1. Training the paper-size system on a GPU
#
# Everything is a TOML config read by one trainer; the shipped GPU configs follow the paper's
# code: ADJSCC backbone (x4 down, 256 channels, GDN, SNR attention), CBR = C/96, 256x256 crops,
# batch 8, Adam 1e-4, bf16 autocast, `channels_last`. Stage 1 optimises
# $0.01\,\mathrm{MSE}_{0..255} + \mathrm{LPIPS}$; stage 2 warm-starts from it and adds the
# adversarial term, weighted by the realism $\beta$ drawn per image.
#
# ```bash
# jscc-lab train jscc_lab/configs/adjscc_gpu.toml --set cbr=1/48 --set name=adjscc-psnr-awgn-cbr1_48
# jscc-lab train jscc_lab/configs/perceptual_gpu_stage1.toml     # MSE + LPIPS
# jscc-lab train jscc_lab/configs/perceptual_gpu_gan.toml        # GAN fine-tune, realism-conditioned
# torchrun --nproc_per_node 4 -m jscc_lab.cli train jscc_lab/configs/perceptual_gpu_gan.toml  # 4 GPUs
# ```
#
# Every checkpoint records its device, steps, wall time and data; `resume` continues exactly.
# What to expect: on 2 CPU cores a width-64 model does a few steps per second at 64x64 crops, the
# paper-size model about 0.1 image/s; a single modern GPU is several hundred times faster, and the
# paper-size models need on the order of 10^5 steps.

# %%
for name in pretrained.available():
    entry = pretrained.info(name)
    print(f"{name:28s} {entry.get('device', '?'):26s} steps {entry.get('steps', '?'):>5}  {entry['description'][:60]}…")

# %% [markdown]
# ## 2. Sweep on Kodak: ours vs separate coding
#
# `sweep` sends each image on its own with seeded noise shared by every system, and returns one
# row per image, so curves and bootstrap intervals stay paired by image.

# %%
images = [center_crop(x, CROP) for x in kodak()[:N_IMAGES]]
ours = pretrained.load(f"perceptual-awgn-cbr1_{round(1 / CBR)}")
rows = sweep(ours, images, [SNR_DB], metrics=METRICS, betas=BETAS, name="perceptual", seed=SEED)
rows += sweep(pretrained.load(f"adjscc-psnr-awgn-cbr1_{round(1 / CBR)}"), images, [SNR_DB],
              metrics=METRICS, name="adjscc-psnr", seed=SEED)
rows += sweep(separate_coding("hevc", "capacity"), images, [SNR_DB], metrics=METRICS, cbrs=REF_CBRS,
              name="hevc+capacity", seed=SEED)
print(format_table(summarize(rows)))

# %% [markdown]
# ## 3. Bandwidth saving at matched quality
#
# For a metric, find the CBR the reference needs to match our quality at CBR $r$ (interpolating
# its curve in log-CBR), and report saving $= 1 - r/\mathrm{CBR_{needed}}$ with a bootstrap
# interval over images. If our quality lies outside the reference's measured range, the answer is
# a bound ("> x %" or "< x %"), never an extrapolated number.

# %%
for metric in METRICS[1:]:
    mine = curve(rows, metric, system="perceptual", beta=1.0)[CBR]
    reference = curve(rows, metric, system="hevc+capacity")
    result = bandwidth_saving(mine, reference, metric=metric, cbr=CBR, n_boot=N_BOOT, seed=SEED)
    print(f"{metric:6s} vs HEVC + capacity: {result}")

# %% [markdown]
# ## 4. The realism knob on one received signal
#
# The encoder never sees $\beta$: one transmission can be decoded anywhere between the
# MSE+LPIPS reconstruction ($\beta=0$) and the full GAN one ($\beta=1$). Same noise, same symbols,
# three decodings:

# %%
x = images[0]
with torch.inference_mode():
    s = ours.encode(x, SNR_DB)
    y = ours.channel(s, SNR_DB, generator=torch.Generator().manual_seed(SEED))
    decoded = [ours.decode(y, SNR_DB, beta=b, size=tuple(x.shape[-2:])) for b in BETAS]
show_images([x] + decoded, ["original"] + [f"β = {b}" for b in BETAS], size=3.0)
plt.show()
means = summarize([r for r in rows if r["system"] == "perceptual"], by=("beta",))
print(format_table(means))

# %% [markdown]
# ## Exercises
#
# 1. Add the PSNR-optimised ADJSCC at several CBRs as a second reference
#    (`{cbr: pretrained.load(...)}` is a valid `sweep` system). Which reference is harder to beat?
# 2. Why must ours and the reference be evaluated on the *same* images, and the bootstrap resample
#    them in pairs?
#
# ### Solutions
#
# 1. Pass `{c: pretrained.load(f"adjscc-psnr-awgn-cbr1_{round(1/c)}") for c in cbrs}` to `sweep`
#    and call `bandwidth_saving` with its curve. With well-trained models the separate-coding
#    reference at the capacity bound is the stronger one on PSNR, and deep JSCC is at low SNR.
# 2. Image difficulty varies far more than the difference between systems; pairing cancels it.
#    Resampling images independently for the two systems would mix that variation into the
#    interval and make it much wider than the real uncertainty.
