# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
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
# - to train the perceptual JSCC model (ADJSCC encoder + residual generator) with MSE only and
#   with MSE + LPIPS, and to read the trade: texture comes back, PSNR drops.
#
# **Requirements**: a CPU, about 5 minutes (two short training runs); `JSCC_LAB_QUICK=1` runs
# everything in well under a minute with tiny budgets. Needs the offline AlexNet weights for LPIPS
# (`$JSCC_LAB_DATA/weights`, see `jscc_lab.metrics`) and BSDS500 for training.

# %%
import tempfile

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from jscc_lab import settings
from jscc_lab.data import center_crop, kodak
from jscc_lab.losses import DistortionLoss, LPIPSLoss, mse_255
from jscc_lab.metrics import DISTS, LPIPS, psnr
from jscc_lab.plotting import show_images
from jscc_lab.train_gan import PerceptualTrainConfig, train_perceptual

# %% [markdown]
# ## Parameters

# %%
SEED = 0
CROP = settings.budget(192, 96)  # side of the Kodak crop used for the demos
OPT_STEPS = settings.budget(150, 10)  # gradient steps of the "optimise an image" demo
TRAIN_STEPS = settings.budget(200, 3)  # steps of each of the two training runs
TRAIN_CROP = 64  # training crops (pixels)
BATCH = settings.budget(8, 2)
WIDTH, RES_BLOCKS = 32, 1  # a narrow model, so that both runs take minutes on a CPU
VAL_IMAGES = settings.budget(8, 2)
SNR_DB = 10.0
OUT = tempfile.mkdtemp(prefix="jscc_tutorial06_")  # training runs (checkpoints, logs)
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
# ## 4. Training the perceptual JSCC model with MSE, then with MSE + LPIPS
# The model is the one of the paper: an ADJSCC encoder (GDN, SNR attention; CBR 1/48 here, so
# the encoder sends 2 latent channels at 1/4 resolution) and a generator with residual blocks.
# `PerceptualTrainConfig(stage="distortion")` trains it on the distortion loss alone (the paper's
# first stage). Both runs use the same seed: same crops, same SNRs, same channel noise.

# %%
common = dict(cbr="1/48", width=WIDTH, res_blocks=RES_BLOCKS, stage="distortion", crop=TRAIN_CROP,
              batch_size=BATCH, steps=TRAIN_STEPS, lr=1e-3, warmup_steps=min(20, TRAIN_STEPS),
              lr_final_fraction=0.1, val_images=VAL_IMAGES, val_crop=128, val_every=TRAIN_STEPS,
              checkpoint_every=TRAIN_STEPS, log_every=max(1, TRAIN_STEPS // 20), device="cpu", seed=SEED)
runs = {}
for name, weights in (("MSE", dict(mse_weight=0.01, lpips_weight=0.0)),
                      ("MSE+LPIPS", dict(mse_weight=0.01, lpips_weight=1.0))):
    config = PerceptualTrainConfig(name=name, out_dir=f"{OUT}/{name.replace('+', '_')}", **weights, **common)
    runs[name] = train_perceptual(config, progress=False)

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, result in runs.items():
    logs = [h for h in result["history"] if "mse_255" in h]
    ax.plot([h["step"] for h in logs], [10 * torch.log10(torch.tensor(255**2 / h["mse_255"])).item() for h in logs],
            label=name)
ax.set(xlabel="step", ylabel="training PSNR (dB)", title="same model, two losses")
ax.legend()
plt.show()

# %%
print(f"validation on {VAL_IMAGES} BSDS500 test crops at {SNR_DB:g} dB:")
for name, result in runs.items():
    v = result["best"]
    print(f"{name:10s} PSNR {v[f'psnr@{SNR_DB:g}dB,beta=0']:5.2f} dB   LPIPS {v[f'lpips@{SNR_DB:g}dB,beta=0']:.3f}")

# %% [markdown]
# A few hundred CPU steps leave both models far from converged (compare the shipped,
# longer-trained checkpoint in notebook 07), and at this budget the two runs differ little:
# the LPIPS run is typically a bit lower in LPIPS at a similar PSNR. Longer runs (the GPU configs
# `jscc_lab/configs/perceptual_gpu_stage1.toml`) make the gap obvious: the MSE model blurs, the
# LPIPS model draws texture, sometimes texture that was not there.

# %%
from jscc_lab.pretrained import load_checkpoint, model_from_checkpoint  # noqa: E402

models = {name: model_from_checkpoint(load_checkpoint(f"{r['checkpoint']}")).eval() for name, r in runs.items()}
kodak_crop = center_crop(kodak()[22], 128)
with torch.no_grad():
    recon = {name: m(kodak_crop, SNR_DB, beta=0.0, generator=torch.Generator().manual_seed(1))
             for name, m in models.items()}
show_images([kodak_crop, *recon.values()], titles=["original", *recon])
plt.show()

# %% [markdown]
# ## Exercises
# 1. Train with `lpips_net="vgg"` instead of AlexNet. Which metric improves more, LPIPS-alex or
#    LPIPS-vgg? Why is it risky to report only the metric you trained on?
# 2. Set `mse_weight=0` (LPIPS only). What happens to colours? (LPIPS is nearly blind to a global
#    colour shift.)
# 3. Compute the MSE term's value at 20 dB and 30 dB PSNR. At which PSNR do the MSE and LPIPS
#    terms have equal weight in the paper's loss?
# 4. Notebook 06 adds the discriminator: what can a GAN add that LPIPS cannot?
