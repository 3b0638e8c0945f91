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
# ---

# %% [markdown]
# # 07 · Adversarial training: the discriminator, its losses, dynamics and guards
#
# LPIPS (notebook 06) brings texture back, but it still rewards a *safe* average in feature
# space. A **discriminator** asks a different question: does this look like a real photograph?
# Trained against it, the generator draws plausible detail instead of averaging it away. This is
# the second stage of the seed paper (Wang et al., GLOBECOM 2022), built like HiFiC.
#
# **You will learn**
# - the conditional PatchGAN discriminator, and why it is conditioned on the *received* symbols;
# - the non-saturating, hinge and least-squares GAN losses and their discriminator/generator parts;
# - the GAN schedule: warm start, separate optimisers, one D step and one G step per batch;
# - a failure you can measure: the **grid** a generator stamps on its output (`grid_rms`);
# - what goes wrong (D wins, NaNs, run-away distortion) and how the trainer's guards stop it;
# - the **realism knob** `beta` (Agustsson et al., CVPR 2023): one checkpoint, decoded anywhere
#   between the MSE+LPIPS reconstruction (`beta=0`) and the full GAN one (`beta=1`).
#
# **Requirements**: a CPU, about 6 minutes; `JSCC_LAB_QUICK=1` takes about a minute. Uses the
# shipped checkpoint `taejscc-perceptual-awgn` (the rate-adaptive model of notebook 04 trained
# with both stages of the paper on a CPU), Kodak and BSDS500, and the offline backbone weights for
# LPIPS / DISTS.

# %%
import tempfile

import matplotlib.pyplot as plt
import torch

from jscc_lab import pretrained, settings
from jscc_lab.channels import cbr_label
from jscc_lab.data import center_crop, kodak
from jscc_lab.losses import ADVERSARIAL_LOSSES
from jscc_lab.metrics import evaluate, fixed_pattern, grid_rms
from jscc_lab.models.discriminator import Discriminator, ProjectedDiscriminator
from jscc_lab.plotting import show_images
from jscc_lab.train_gan import GANTrainer, PerceptualTrainConfig, TrainingDiverged

# %% [markdown]
# ## Parameters

# %%
SEED = 0
CHECKPOINT = "taejscc-perceptual-awgn"
CBR = 1 / 48  # the operating point shown (the model serves 1/96 ... 1/12)
GAN_STEPS = settings.budget(60, 2)  # steps of the small GAN run
GUARD_STEPS = settings.budget(40, 4)  # steps of the deliberately unstable run
BATCH = settings.budget(4, 2)
N_EVAL = settings.budget(8, 2)  # Kodak crops for the realism sweep
EVAL_CROP = settings.budget(256, 128)
BETAS = [0.0, 0.25, 0.5, 0.75, 1.0]
SNR_DB = 10.0
RUNS = tempfile.TemporaryDirectory(prefix="jscc_lab_07_")  # training runs (checkpoints, logs); deleted at the end
OUT = RUNS.name
_ = torch.manual_seed(SEED)


# %%
model, ckpt = pretrained.load(CHECKPOINT, return_checkpoint=True)
print(pretrained.info(CHECKPOINT)["description"])

# %% [markdown]
# ## 1. The discriminator sees what the receiver sees
# HiFiC's discriminator judges an image *together with* the latent it was decoded from. In JSCC
# the decoder never has the transmitter's clean latent, only the **received, equalised symbols**
# `z_rx = s + n` on the latent grid (here 128 channels at 1/16 resolution, zero in the channels
# not sent at this CBR). So our D is conditioned on `z_rx` and the SNR: it asks "is this a
# plausible original given what was received?" A D given the clean latent could demand details
# that no receiver can recover.

# %%
x = center_crop(kodak()[22], 64)
g = torch.Generator().manual_seed(SEED)
with torch.no_grad():
    x_hat, z_rx = model(x, SNR_DB, cbr=CBR, beta=1.0, generator=g, return_latent=True)
# 64-128-256-512, spectral norm, LeakyReLU 0.2; the received grid is upsampled to the image
D = Discriminator(latent_channels=model.latent_channels, upsample=model.downsample)
with torch.no_grad():
    logits = D(x, z_rx, SNR_DB)
print(f"image {tuple(x.shape)}  received latent {tuple(z_rx.shape)}  ->  patch logits {tuple(logits.shape)}")
print(f"D has {sum(p.numel() for p in D.parameters()) / 1e6:.2f} M parameters")

# %% [markdown]
# A D trained from scratch must first learn what images look like; on a CPU, with a few thousand
# steps of batch 8, it barely does (section 3 measures `d_acc`, how often D is right). *Projected
# GANs* (Sauer et al. 2021) start D from features that already know: small trainable heads read
# the maps of a **frozen** ImageNet network. `ProjectedDiscriminator` is the PatchGAN above plus
# one conditional head on each of four AlexNet feature maps (1/4 to 1/16 resolution), all resized
# to the PatchGAN's grid: five logit maps, each weighing the same in the loss. AlexNet is also
# LPIPS-alex's network (in our loss); the VGG16 behind DISTS and LPIPS-vgg, the metrics we judge
# with, stays out of training. In the trainer: `d_backbone = "alexnet"`.

# %%
D_proj = ProjectedDiscriminator(latent_channels=model.latent_channels, upsample=model.downsample)
with torch.no_grad():
    logits = D_proj(x, z_rx, SNR_DB)
trainable = sum(p.numel() for p in D_proj.parameters()) / 1e6
frozen = sum(p.numel() for p in D_proj.backbone.parameters()) / 1e6
print(f"patch logits {tuple(logits.shape)}: the pixel PatchGAN, then AlexNet relu1, relu2, relu3, relu5")
print(f"trainable {trainable:.2f} M parameters, frozen ImageNet backbone {frozen:.2f} M")

# %% [markdown]
# ## 2. Three GAN losses
# Each returns a discriminator part `d_loss(real_logits, fake_logits)` and a generator part
# `g_loss(fake_logits)`. The paper uses the non-saturating one (binary cross-entropy). Plotted
# against the logit D gives a fake: the generator's loss keeps a slope even when D confidently
# rejects the fake (logit << 0), which is why "non-saturating" trains better than the original
# minimax loss.

# %%
t = torch.linspace(-4, 4, 200).reshape(-1, 1)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for name, (d_loss, g_loss) in ADVERSARIAL_LOSSES.items():
    axes[0].plot(t, d_loss(torch.full_like(t, 2.0), t), label=name)
    axes[1].plot(t, g_loss(t), label=name)
axes[0].set(xlabel="logit of a fake (real logit fixed at 2)", ylabel="D loss", title="discriminator part")
axes[1].set(xlabel="logit of a fake", ylabel="G loss", title="generator part")
_ = axes[1].legend()
plt.show()

# %% [markdown]
# ## 3. A small GAN run
# The schedule of the paper and HiFiC: warm start from a model trained without the adversarial
# term (here: the shipped checkpoint itself), two Adam optimisers at 1e-4, and per batch one
# discriminator step (real crops vs detached reconstructions) then one generator step on
# `0.01 * MSE_255 + LPIPS + 5 * beta * G_ns`, with `beta ~ U[0, 1]` and one CBR drawn per image.
# As in the shipped run, the TAEF2 encoder stays frozen and its GAN-trained decoder is fine-tuned
# at a quarter of the learning rate.

# %%
warm = pretrained.CHECKPOINT_DIR / pretrained.info(CHECKPOINT)["file"]
spec = ckpt["model"]["kwargs"]
common = dict(model="taejscc", width=spec["width"], blocks=spec["blocks"],
              cbrs=[cbr_label(c) for c in model.cbrs], stage="gan", init_from=str(warm),
              freeze=["ae_encoder"], pretrained_modules=["ae_decoder"], pretrained_lr_fraction=0.25,
              crop=64, batch_size=BATCH, val_images=2, val_crop=64, device="cpu", seed=SEED, log_every=5,
              sample_every=0)
config = PerceptualTrainConfig(name="gan-demo", steps=GAN_STEPS, val_every=GAN_STEPS,
                               checkpoint_every=GAN_STEPS, out_dir=f"{OUT}/gan", **common)
trainer = GANTrainer(config, progress=False)
result = trainer.fit()
logs = [h for h in result["history"] if "d_loss" in h]

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
steps = [h["step"] for h in logs]
axes[0].plot(steps, [h["d_real"] for h in logs], label="mean D logit, real")
axes[0].plot(steps, [h["d_fake"] for h in logs], label="mean D logit, fake")
axes[0].plot(steps, [h["d_acc"] for h in logs], label="D accuracy (0.5 = chance)")
_ = axes[0].legend()
axes[0].set(xlabel="step", title="who is winning?")
axes[1].plot(steps, [h["d_loss"] for h in logs], label="D loss")
axes[1].plot(steps, [h["g_adv"] for h in logs], label="G adversarial loss")
axes[1].plot(steps, [h["lpips"] for h in logs], label="LPIPS (train)")
_ = axes[1].legend()
axes[1].set(xlabel="step", title="losses")
plt.show()

# %% [markdown]
# Healthy GAN training looks like a stalemate: the D loss hovers around `2 log 2 = 1.39` or a bit
# below, and the real and fake logits stay close. But a D loss at `1.39` and a D accuracy
# (`d_acc`, the share of real and fake images D puts on the right side) at 0.5 *all the time*
# can also mean a discriminator that tells the generator nothing. Which one? Freeze the generator
# and train a fresh D against it: `benchmarks/discriminator_probe.py` does exactly that. For the
# shipped checkpoint's last GAN stage (D loss 1.37-1.39 for 1000 steps) the fresh D reaches
# `d_acc` 0.78 in 150 steps at the run's `d_lr = 1e-4` and 0.85 at 4e-4: D *can* see the fakes, the
# generator simply keeps moving to where it cannot (a race the generator wins when its distortion
# term is weak; in the first GAN stage, at 10x the MSE weight, D held a small lead, D loss ~1.25).
# A higher `d_lr` than the generator's (two time-scale updates) or several D updates per G update
# (`d_steps`) are the usual levers; neither moved this stalemate (250 steps at `d_lr = 4e-4`, 150
# at `d_steps = 2`: `d_acc` stayed 0.5-0.6), and neither did the projected discriminator of
# section 1 (`d_backbone = "alexnet"`: mean `d_acc` 0.58 over 1000 steps). Warning signs:
# - **D wins**: the D loss goes to 0, the fake logits run to large negative values, the
#   generator's adversarial loss grows. The generator then gets gradients that say "everything is
#   wrong" and produces artefacts. Remedies: lower `d_lr`, an R1 penalty (`r1_weight`), spectral
#   norm (already on), a better warm start.
# - **NaN / Inf**: an exploding loss or gradient. The trainer checks every loss and gradient norm
#   *before* the optimiser step and stops with `TrainingDiverged`, naming the last good checkpoint.
# - **Run-away distortion**: the generator buys realism with fidelity (hallucinated content, colour
#   drift). The trainer stops when the distortion stays above `divergence_factor` x its starting
#   level for `divergence_patience` steps.
#
# Provoke the last one: an adversarial weight 200 times the paper's and a hair-trigger guard.

# %%
unstable = PerceptualTrainConfig(name="unstable", steps=GUARD_STEPS, val_every=GUARD_STEPS,
                                 checkpoint_every=GUARD_STEPS, out_dir=f"{OUT}/unstable",
                                 adversarial_weight=1000.0, lr=1e-3, d_lr=1e-3, divergence_factor=1.2,
                                 divergence_patience=2, guard_warmup=2, **common)
try:
    GANTrainer(unstable, progress=False).fit()
    print(f"no divergence within {GUARD_STEPS} steps (try more steps)")
except TrainingDiverged as err:
    print("stopped:", err)

# %% [markdown]
# ## 4. The realism knob
# The receiver is FiLM-conditioned on `beta`, and in training the adversarial loss of each image
# is weighted by its own `beta`. So `beta = 0` was only ever asked for MSE + LPIPS and `beta = 1`
# for the full GAN objective, and the receiver picks any point in between **after** the
# transmission: the same received symbols are decoded at every `beta` below.

# %%
images = [center_crop(im, EVAL_CROP) for im in kodak()[:N_EVAL]]
batch = torch.cat(images)
with torch.no_grad():
    s = model.encode(batch, SNR_DB, cbr=CBR)
    y = model.channel(s, SNR_DB, generator=torch.Generator().manual_seed(SEED))
    recon = {beta: model.decode(y, SNR_DB, cbr=CBR, beta=beta, size=batch.shape[-2:]) for beta in BETAS}
scores = {beta: {k: v.mean().item() for k, v in evaluate(batch, r, metrics=("psnr", "lpips", "dists")).items()}
          for beta, r in recon.items()}
print(f"{N_EVAL} Kodak crops ({EVAL_CROP} px), CBR {cbr_label(CBR)}, AWGN {SNR_DB:g} dB")
print("beta   PSNR (dB)  LPIPS   DISTS")
for beta, sc in scores.items():
    print(f"{beta:4.2f}   {sc['psnr']:7.2f}  {sc['lpips']:.4f}  {sc['dists']:.4f}")
k = min(3, N_EVAL - 1)  # kodim04, a face, when there are enough crops
fig = show_images([batch[k : k + 1], *(recon[b][k : k + 1] for b in BETAS)], titles=["original", *(f"beta={b:g}" for b in BETAS)])
plt.show()

# %%
fig, ax = plt.subplots(figsize=(5, 4))
ax.plot([scores[b]["psnr"] for b in BETAS], [scores[b]["dists"] for b in BETAS], "o-")
for b in BETAS:
    ax.annotate(f"beta={b:g}", (scores[b]["psnr"], scores[b]["dists"]))
ax.set(xlabel="PSNR (dB, distortion: higher is better)", ylabel="DISTS (perception: lower is better)",
       title="one checkpoint, a distortion-perception curve")
plt.show()
assert scores[1.0]["psnr"] < scores[0.0]["psnr"], "realism costs PSNR"
assert scores[1.0]["dists"] < scores[0.0]["dists"], "... and buys perceptual quality (DISTS)"

# %% [markdown]
# Turning `beta` from 0 to 1 walks along a perception-distortion curve: PSNR falls, DISTS falls
# (better). The full Kodak-24 numbers, at every CBR and for LPIPS-vgg too, are in docs/results.md
# (`benchmarks/bandwidth_saving.py`, realism table).
#
# ## 5. A failure you can measure: the grid
# The generator's gradients reach the image through the decoder's upsampling layers (TAEF2 goes
# from 1/8 resolution to full size in three x2 steps; our symbols sit on a 1/16 grid). A cheap way
# for it to add "detail" is a faint pattern locked to that pixel grid: the checkerboard artefact
# (Odena et al., *Deconvolution and checkerboard artifacts*, Distill 2016). To see it, average
# the error over all pixels at the same position inside a 16x16 tile (`fixed_pattern`): what the
# decoder stamps on every tile survives, everything else averages out. `grid_rms` is its size in
# 8-bit levels, corrected for what a random error leaves in such an average (HEVC: about 0.2; the
# published TAEF2 autoencoder alone: 0.5; the from-scratch perceptual model whose "fine grid"
# users reported: 2.6).

# %%
psnr_model = pretrained.load_model("taejscc-psnr-awgn")
with torch.no_grad():
    psnr_recon = psnr_model(batch, SNR_DB, cbr=CBR, generator=torch.Generator().manual_seed(SEED))
systems = {"PSNR model": psnr_recon, "beta=0": recon[0.0], "beta=1": recon[1.0]}
grids = {name: grid_rms(batch, r) for name, r in systems.items()}
for name, g in grids.items():
    print(f"{name:10s}  grid {g.mean():.2f} levels (RMS)  per image: {' '.join(f'{v:.1f}' for v in g)}")
fig, axes = plt.subplots(1, len(systems), figsize=(3 * len(systems), 3.2))
for ax, (name, r) in zip(axes, systems.items()):
    tile = fixed_pattern(batch, r).mean(0)  # the pattern common to the crops, tiled 3 x 3
    ax.imshow(tile.repeat(3, 3), cmap="RdBu_r", vmin=-3, vmax=3)
    ax.set(title=f"{name}: {grids[name].mean():.1f} levels", xticks=[], yticks=[])
fig.suptitle(f"the error's 16-pixel fixed pattern, mean of the {N_EVAL} crops (red +, blue -, +-3 levels)")
plt.show()
assert grids["beta=1"].mean() > grids["PSNR model"].mean(), "the GAN end carries more grid than MSE training"

# %% [markdown]
# On these crops the MSE-trained model leaves 0.7 levels, the perceptual checkpoint 1.3 at
# `beta = 0` and 2.0 at `beta = 1`: the GAN end of the knob stamps the strongest grid, bars every
# 8 pixels and a checkerboard, and it is the same pattern on every crop. A discriminator should
# notice a pattern no photograph has, but ours sits at chance (section 3). The trainer's
# `grid_weight` adds a direct penalty on the grid the decoder stamps on the whole batch
# (`jscc_lab.losses.grid_ms_255`: the error's fixed pattern averaged over the batch, so one
# image's chance error does not count). In a 250-step continuation of this checkpoint it cut the
# grid at CBR 1/48 and `beta = 1` from 2.0 to 1.4 levels, but the `beta = 1` end also lost PSNR
# and the knob stopped helping (docs/results.md, "Perceptual JSCC"): removing the grid is easy, keeping
# what the GAN adds while doing so is not yet.
#
# ## Exercises
# 1. Switch `gan_loss` to `"hinge"` and `"least_squares"` in the small run. How do the D logits
#    behave differently?
# 2. Set `r1_weight=1.0`. What does the R1 penalty do to the real logits?
# 3. Give the discriminator the *transmitter's* latent instead of `z_rx`. Why would a deployed
#    receiver not be able to use such a model fairly, and what would the generator learn?
# 4. Decode one received image at `beta = 1` with 8 different channel noise draws. Which details
#    change from draw to draw? Those are the ones the generator invents.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 1
#
# The non-saturating and least-squares losses keep the logits near the decision boundary; the
# hinge loss stops pushing once a logit passes its margin (real > 1, fake < -1), so its logits
# spread further apart before D stops learning from those samples.

# %%
for loss in ("hinge", "least_squares"):
    cfg = PerceptualTrainConfig(name=f"gan-{loss}", steps=max(2, GAN_STEPS // 3), val_every=GAN_STEPS,
                                checkpoint_every=GAN_STEPS, out_dir=f"{OUT}/{loss}", gan_loss=loss, **common)
    hist = [h for h in GANTrainer(cfg, progress=False).fit()["history"] if "d_loss" in h]
    print(f"{loss:14s} last D logits: real {hist[-1]['d_real']:+.3f}, fake {hist[-1]['d_fake']:+.3f}")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 2
#
# R1 penalises the gradient of D on real images, so D cannot make its real logits arbitrarily
# confident: they stay smaller and D's decisions smoother.

# %%
cfg = PerceptualTrainConfig(name="gan-r1", steps=max(2, GAN_STEPS // 3), val_every=GAN_STEPS,
                            checkpoint_every=GAN_STEPS, out_dir=f"{OUT}/r1", r1_weight=1.0, **common)
hist = [h for h in GANTrainer(cfg, progress=False).fit()["history"] if "d_loss" in h]
print(f"with R1: last D logits real {hist[-1]['d_real']:+.3f}, fake {hist[-1]['d_fake']:+.3f}")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 3
#
# A receiver never has the transmitter's latent, so D would judge images against information
# the generator cannot have: it would reward details the received symbols do not support, and
# the generator would learn to invent them confidently (hallucination). Conditioning on `z_rx`
# asks only for what is plausible given what arrived. The two conditions differ by the channel
# noise, which at low SNR is as large as the signal:

# %%
with torch.no_grad():
    s1 = model.encode(x, 0.0, cbr=CBR)
    y1 = model.channel(s1, 0.0, generator=torch.Generator().manual_seed(SEED))
print(f"at 0 dB: |noise|^2 / |symbols|^2 = {(y1 - s1).abs().square().mean() / s1.abs().square().mean():.2f}")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 4
#
# The map of the per-pixel standard deviation over noise draws lights up in textures (foliage,
# hair, water), not on edges: the generator redraws fine texture each time, while structure
# carried by the symbols stays put. At `beta = 0` the spread is smaller.

# %%
x4 = images[0]
spread = {}
with torch.no_grad():
    s4 = model.encode(x4, SNR_DB, cbr=CBR)
    for beta in (0.0, 1.0):
        draws = torch.cat([model.decode(model.channel(s4, SNR_DB, generator=torch.Generator().manual_seed(k)),
                                        SNR_DB, cbr=CBR, beta=beta, size=x4.shape[-2:]) for k in range(8)])
        spread[beta] = draws.std(0).mean(0)
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, (beta, m) in zip(axes, spread.items()):
    ax.imshow(m, cmap="magma", vmin=0, vmax=float(max(v.max() for v in spread.values())))
    ax.set(title=f"per-pixel std over 8 draws, beta={beta:g}")
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Clean up
#
# The training runs of this notebook (checkpoints, logs) are in a temporary folder; this cell
# deletes it. Skip it to keep them (`RUNS.name` says where they are).

# %%
RUNS.cleanup()
