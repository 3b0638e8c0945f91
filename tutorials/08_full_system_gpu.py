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
# # 08 · The full perceptual system: one checkpoint, three knobs, and the bandwidth saving
#
# Notebooks 06 and 07 built the two stages of the seed paper (Wang et al., GLOBECOM 2022): MSE +
# LPIPS, then the conditional GAN. This one puts the whole system to the test with the shipped
# checkpoint `taejscc-perceptual-awgn`: the rate-adaptive deep JSCC of notebook 04 (TAEF2
# pretrained autoencoder, learned layers around the channel) trained with both stages on a CPU,
# one file for every **SNR**, **CBR** (1/96 to 1/12) and **realism weight** $\beta$. The paper's
# headline claim is a **channel-bandwidth saving at matched perceptual quality**; we measure it.
#
# **You will learn**
# - to load a shipped checkpoint with `jscc_lab.pretrained` and read its provenance;
# - to sweep ours, the PSNR-trained model of the same family and separate coding (HEVC + an
#   ideal capacity-achieving code, HEVC + 5G LDPC) on the same images with
#   `jscc_lab.evaluate.sweep`, per image, with shared noise;
# - to turn curves into a bandwidth saving with a paired bootstrap interval
#   (`bandwidth_saving`), refusing to extrapolate;
# - what the realism knob $\beta$ does to one received signal, and to PSNR, LPIPS and DISTS;
# - how the paper-size system is trained on a GPU (configs, one prepared command).
#
# **Requirements**: a CPU. Full run: **483 s** on one CPU thread (8 Kodak crops, LPIPS and DISTS on every
# reconstruction); `JSCC_LAB_QUICK=1` takes about a minute. Uses the shipped checkpoints, Kodak,
# and the offline backbone weights for LPIPS / DISTS. Full Kodak-24 numbers come from
# `benchmarks/bandwidth_saving.py` (read at the end).

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
import json

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from jscc_lab import pretrained, settings
from jscc_lab.channels import cbr_label
from jscc_lab.data import center_crop, kodak
from jscc_lab.evaluate import (
    bandwidth_saving,
    curve,
    format_table,
    reference_cbrs,
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
OURS, PSNR_MODEL = "taejscc-perceptual-awgn", "taejscc-psnr-awgn"
N_IMAGES = settings.budget(8, 2)  # Kodak images (centre crops) in the sweep
CROP = settings.budget(256, 128)
CBRS = settings.budget([1 / 96, 1 / 48, 1 / 24, 1 / 12], [1 / 48, 1 / 12])  # ours and the PSNR model
# HEVC: a dense CBR grid (1/128 to 1/6, neighbours at most 2^(1/4) apart), since its curve bends
REF_CBRS = settings.budget(reference_cbrs(), [1 / 48, 1 / 12, 1 / 6])
METRICS = ("psnr", "lpips", "dists")
BETAS = [0.0, 0.5, 1.0]
N_BOOT = settings.budget(1000, 100)
RESULTS = pretrained.CHECKPOINT_DIR.parents[1] / "benchmarks" / "results"  # saved benchmark results

# %% [markdown]
# ## 1. The shipped checkpoint and where it came from
#
# Every checkpoint carries its provenance: the stages that trained it, steps, wall time, threads,
# data and the hashes of the pretrained weights it started from.

# %%
ours, ckpt = pretrained.load(OURS, return_checkpoint=True)
psnr_model = pretrained.load(PSNR_MODEL)
prov = ckpt["provenance"]
print(pretrained.info(OURS)["description"])
print("CBRs:", ", ".join(cbr_label(c) for c in ours.cbrs), "| realism input:", ours.realism)
for stage in prov.get("stages", []):
    print(f"{stage['name'][:70]:70s} {stage['steps']:5d} steps, {stage['wall_time_s'] / 60:5.1f} min")

# %% [markdown]
# ## 2. Sweep on Kodak: ours, the PSNR model and separate coding
#
# `sweep` sends each image on its own with seeded noise shared by every system, and returns one
# row per image, so curves and bootstrap intervals stay paired by image. Ours is evaluated at
# $\beta = 0$ (the MSE + LPIPS end), $0.5$ and $1$ (the full GAN objective).

# %%
images = [center_crop(x, CROP) for x in kodak()[:N_IMAGES]]
rows = sweep(ours, images, [SNR_DB], metrics=METRICS, cbrs=CBRS, betas=BETAS, name="perceptual", seed=SEED)
rows += sweep(psnr_model, images, [SNR_DB], metrics=METRICS, cbrs=CBRS, name="psnr-model", seed=SEED)
rows += sweep(separate_coding("hevc", "capacity"), images, [SNR_DB], metrics=METRICS, cbrs=REF_CBRS,
              name="hevc+capacity", seed=SEED)
print(format_table(summarize(rows), columns=["system", "cbr", "beta", "n", *METRICS]))

# %%
fig, axes = plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS), 3.4))
for ax, metric in zip(axes, METRICS):
    for system, beta, style in (("hevc+capacity", None, "s--"), ("psnr-model", None, "o-"),
                                ("perceptual", 0.0, "^-"), ("perceptual", 1.0, "v-")):
        c = curve(rows, metric, system=system, **({} if beta is None else {"beta": beta}))
        label = system if beta is None else f"{system}, β={beta:g}"
        ax.plot(list(c), [v.mean() for v in c.values()], style, label=label)
    ax.set(xscale="log", xlabel="CBR", title=f"{metric} ({'higher' if metric == 'psnr' else 'lower'} is better)")
    ticks = [1 / 96, 1 / 48, 1 / 24, 1 / 12, 1 / 6]
    ax.set_xticks(ticks, [cbr_label(c) for c in ticks])
    ax.minorticks_off()
_ = axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the plots left to right: on PSNR the PSNR-trained model is the better deep JSCC model; on
# LPIPS and DISTS (lower is better) the order flips. That is the perception-distortion trade-off
# of notebook 05, on real transmissions. Where $\beta = 1$ ranks among the perceptual model's
# decodings on PSNR, per CBR:

# %%
perc = {m: curve(rows, m, system="perceptual", beta=1.0) for m in METRICS}
ref = {m: curve(rows, m, system="psnr-model") for m in METRICS}
for c in CBRS:
    by_b = {b: curve(rows, "psnr", system="perceptual", beta=b)[c].mean() for b in BETAS}
    order = sorted(by_b, key=by_b.get)
    print(f"CBR {cbr_label(c)}: PSNR " + ", ".join(f"beta {b:g} {by_b[b]:.2f} dB" for b in BETAS)
          + f" -> lowest at beta {order[0]:g}")
for c in CBRS:
    assert perc["lpips"][c].mean() < ref["lpips"][c].mean(), "the perceptual model must beat the PSNR model on LPIPS"
    assert perc["psnr"][c].mean() < ref["psnr"][c].mean(), "... and pay for it in PSNR"

# %% [markdown]
# ## 3. Bandwidth saving at matched quality
#
# For a metric, find the CBR the reference needs to match our quality at CBR $r$ (interpolating
# its curve in log-CBR), and report saving $= 1 - r/\mathrm{CBR_{needed}}$ with a bootstrap
# interval over images. If our quality lies outside the reference's measured range, the answer is
# a bound ("> x %" or "< x %"), never an extrapolated number.

# %%
savings = []
for c in CBRS:
    for metric in METRICS[1:]:
        result = bandwidth_saving(perc[metric][c], curve(rows, metric, system="hevc+capacity"), metric=metric,
                                  cbr=c, n_boot=N_BOOT, seed=SEED)
        savings.append({"reference": "hevc+capacity", **result.as_row()})
print(format_table(savings, columns=["reference", "metric", "cbr", "quality", "cbr_needed", "saving"], digits=4))

# %% [markdown]
# The full benchmark does the same on Kodak-24 (256-pixel centre crops) against three references
# (the PSNR model, HEVC + capacity, HEVC + 5G LDPC), with LPIPS-alex (in the training loss) and
# DISTS and LPIPS-vgg (not in it), at 0, 5 and 10 dB. Its saved results:

# %%
for path in sorted(RESULTS.glob("bandwidth_saving_taejscc_kodak24_snr*.json")):
    doc = json.loads(path.read_text())
    table = [{"reference": s["reference"], "metric": s["metric"], "cbr": cbr_label(s["cbr"]),
              "saving": "-" if s["saving"] is None else f"{100 * s['saving']:.0f} %",
              "bound": s.get("bound") or ""} for s in doc["savings"] if s["metric"] == "dists"]
    print(f"{path.name}: {doc['setup']['images']} images, {doc['setup']['snr']:g} dB, DISTS")
    print(format_table(table, columns=["reference", "cbr", "saving", "bound"]))

# %% [markdown]
# ## 4. The realism knob on one received signal
#
# The encoder never sees $\beta$: one transmission can be decoded anywhere between the
# MSE + LPIPS reconstruction ($\beta=0$) and the full GAN one ($\beta=1$). Same noise, same
# symbols, three decodings:

# %%
x = images[min(3, N_IMAGES - 1)]
cbr = 1 / 48
with torch.inference_mode():
    s = ours.encode(x, SNR_DB, cbr=cbr)
    y = ours.channel(s, SNR_DB, generator=torch.Generator().manual_seed(SEED))
    decoded = [ours.decode(y, SNR_DB, cbr=cbr, beta=b, size=tuple(x.shape[-2:])) for b in BETAS]
fig = show_images([x] + decoded, ["original"] + [f"β = {b:g}" for b in BETAS], size=3.0)
plt.show()
knob = summarize([r for r in rows if r["system"] == "perceptual"], by=("beta",))
print(format_table(knob, columns=["beta", "n", *METRICS]))
by_beta = {r["beta"]: r for r in knob}
assert by_beta[1.0]["psnr"] < by_beta[0.0]["psnr"], "more realism costs PSNR"
if not settings.quick():  # two small crops in CI are too few to rank DISTS
    assert by_beta[1.0]["dists"] < by_beta[0.0]["dists"], "... and buys perceptual quality (DISTS, not in the loss)"

# %% [markdown]
# At full size the three decodings look alike; the knob acts on fine texture. Zoom into the most
# detailed 64 x 64 patch of a stone-wall photo (4x, no smoothing), and show where $\beta$ changes
# the image: $|\hat x_\beta - \hat x_0|$, amplified 4x. The *texture energy* (mean squared
# Laplacian: how much pixel-scale detail a patch holds) says the same in one number.

# %%
def texture_energy(img: torch.Tensor) -> float:
    """Mean squared Laplacian of an image (per channel): its pixel-scale detail."""
    kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3).repeat(3, 1, 1, 1)
    return F.conv2d(img, kernel, groups=3).pow(2).mean().item()


x = images[0]  # kodim01: a stone wall, window frames, a door
with torch.inference_mode():
    y = ours.channel(ours.encode(x, SNR_DB, cbr=cbr), SNR_DB, generator=torch.Generator().manual_seed(SEED))
    decoded = [ours.decode(y, SNR_DB, cbr=cbr, beta=b, size=tuple(x.shape[-2:])) for b in BETAS]
gray = x.mean(1, keepdim=True)
detail = F.avg_pool2d((gray - F.avg_pool2d(gray, 9, 1, 4)).pow(2), 64, 16)  # local variance, 64 px windows
row, col = divmod(int(detail.flatten().argmax()), detail.shape[-1])


def patch(img: torch.Tensor) -> torch.Tensor:
    return img[..., 16 * row:16 * row + 64, 16 * col:16 * col + 64]


def zoom(img: torch.Tensor) -> torch.Tensor:
    return F.interpolate(patch(img), scale_factor=4, mode="nearest")


changes = [(d - decoded[0]).abs().mul(4).clamp(0, 1) for d in decoded[1:]]
fig = show_images([zoom(x)] + [zoom(d) for d in decoded] + [zoom(c) for c in changes],
                  ["original (zoom 4x)"] + [f"β = {b:g}" for b in BETAS]
                  + [f"|β = {b:g} − β = 0| × 4" for b in BETAS[1:]], ncols=4, size=2.6)
plt.show()
energy = {b: texture_energy(patch(d)) for b, d in zip(BETAS, decoded)}
print(f"texture energy of the patch: original {texture_energy(patch(x)):.4f}; "
      + ", ".join(f"β = {b:g}: {e:.4f}" for b, e in energy.items()))
assert energy[0.0] < energy[0.5] < energy[1.0], "the realism knob adds pixel-scale detail"

# %% [markdown]
# Read the strip left to right: $\beta = 0$ smooths the wall's texture away (the MSE + LPIPS
# decoding), $\beta = 1$ draws grain and edges back. The difference maps show *where*: on
# texture and edges, not on flat areas. The added detail is *invented* by the generator from the
# received symbols; its energy approaches the original's, its pixels are not the original's
# (PSNR falls, printed above), which is exactly the perception-distortion trade-off of notebook 05.

# %% [markdown]
# ## 5. Training the paper-size system on a GPU
#
# Everything is a TOML config read by one trainer. The shipped model above took CPU hours; the
# GPU configs follow the paper's code: ADJSCC backbone (x4 down, 256 channels, GDN, SNR
# attention), 256x256 crops, batch 8, Adam 1e-4, bf16 autocast, `channels_last`; stage 1
# optimises $0.01\,\mathrm{MSE}_{0..255} + \mathrm{LPIPS}$, stage 2 adds the adversarial term
# weighted by the $\beta$ drawn per image.
#
# ```bash
# jscc-lab train jscc_lab/configs/perceptual_gpu_stage1.toml     # MSE + LPIPS
# jscc-lab train jscc_lab/configs/perceptual_gpu_gan.toml        # GAN fine-tune, realism-conditioned
# torchrun --nproc_per_node 4 -m jscc_lab.cli train jscc_lab/configs/perceptual_gpu_gan.toml  # 4 GPUs
# python benchmarks/gpu_burst.py --minutes 8 --out $OUT   # one prepared command for a borrowed GPU
# ```
#
# `benchmarks/gpu_burst.py` (docs/training.md, "Training on a GPU") checks the GPU, measures throughput
# and trains this notebook's model family and the paper-size one within a time budget. Every
# checkpoint records its device, steps, wall time and data; `--resume` continues exactly.
#
# **On a free Colab GPU.** Colab's free tier lends an NVIDIA T4, which has no bf16, so the trainer
# runs fp32 there. `benchmarks/colab_time.py` counts the floating-point operations of one real
# training step of each GPU config and divides by what a T4 delivers (an estimate until someone
# measures it on a T4 with `benchmarks/gpu_burst.py`):

# %%
colab = json.loads((RESULTS / "colab_time.json").read_text())
for stage, row in colab["configs"].items():
    per_hour = [round(3600 * m * colab["t4_fp32_tflops"] * 1e12 / row["flops_per_step"]) for m in colab["mfu"]]
    print(f"{stage}: {row['flops_per_step'] / 1e12:.2f} TFLOP a step (batch {row['batch_size']}, crop {row['crop']}); "
          f"{per_hour[0]}-{per_hour[1]} steps an hour on a T4, so {row['steps']} steps take "
          f"{row['hours_at_50pct']:.0f}-{row['hours_at_30pct']:.0f} h")

# %% [markdown]
# A free Colab session ends after a few hours, so the paper's schedule spans many sessions: the
# run folder on Google Drive and `--resume` after each disconnect continue it exactly. Within one
# session a smaller schedule (`--set steps=...`) or the CPU-sized configs are what fits.

# %%
for name in pretrained.available():
    entry = pretrained.info(name)
    print(f"{name:26s} {entry.get('device', '?'):26s} steps {entry.get('steps', '?'):>5}  "
          f"{entry['description'][:70]}…")

# %% [markdown]
# ## Exercises
#
# 1. Add HEVC + 5G LDPC (`separate_coding("hevc", "ldpc")`) as a second separate-coding reference.
#    Which reference is harder to beat, and why?
# 2. Why must ours and the reference be evaluated on the *same* images, and the bootstrap resample
#    them in pairs?
# 3. Compute the saving at $\beta = 0$ instead of $\beta = 1$. Which metric moves most?

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 1
#
# Predict first: the capacity bound is an ideal code no real system reaches; 5G LDPC with a finite
# set of modulation and coding schemes needs more bandwidth for the same bits. So HEVC + LDPC
# should be the easier reference. Check it on the notebook's numbers:

# %%
rows_ldpc = sweep(separate_coding("hevc", "ldpc"), images, [SNR_DB], metrics=METRICS, cbrs=REF_CBRS,
                  name="hevc+ldpc", seed=SEED)
metric = METRICS[-1]
savings_ex1 = {}
for name, rws in (("hevc+capacity", rows), ("hevc+ldpc", rows_ldpc)):
    r = bandwidth_saving(perc[metric][CBRS[0]], curve(rws, metric, system=name), metric=metric,
                         cbr=CBRS[0], n_boot=N_BOOT, seed=SEED)
    print(f"{name:14s} {r}")
    savings_ex1[name] = r
easier = max(savings_ex1, key=lambda k: savings_ex1[k].saving if savings_ex1[k].saving is not None
             else savings_ex1[k].limit)
print(f"the larger saving (the easier reference) at CBR {cbr_label(CBRS[0])} on {metric}: {easier}")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 2
#
# Image difficulty varies far more than the difference between systems; pairing cancels it.
# Resampling images independently for the two systems would mix that variation into the interval
# and make it much wider than the real uncertainty. In PSNR the images differ by several dB, the
# two systems on the same image by a fraction of that:

# %%
a, b = perc["psnr"][CBRS[0]], ref["psnr"][CBRS[0]]  # image difficulty dominates PSNR
print(f"PSNR spread across images: {a.std():.2f} dB (ours), {b.std():.2f} dB (PSNR model); "
      f"spread of the paired differences: {(a - b).std():.2f} dB")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 3

# %%
for metric in METRICS[1:]:
    at0 = bandwidth_saving(curve(rows, metric, system="perceptual", beta=0.0)[CBRS[0]],
                           curve(rows, metric, system="hevc+capacity"), metric=metric, cbr=CBRS[0],
                           n_boot=N_BOOT, seed=SEED)
    print(f"{metric:6s} beta=0: {at0}")
