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
# # 03 · Deep JSCC: one network from pixels to channel symbols
#
# Separate coding (tutorial 02) compresses the image to bits, protects the bits with a channel code
# and falls off a **cliff** when the channel gets worse than it was designed for. Deep joint
# source-channel coding (Bourtsoulatze, Kurka & Gunduz, 2019) replaces the whole chain by one
# convolutional autoencoder whose bottleneck *is* the channel: the encoder maps pixels straight to
# complex channel symbols, the noisy symbols go into the decoder, and everything is trained
# end to end on mean squared error.
#
# **You will learn**
# - to build the Bourtsoulatze et al. model from scratch in a few lines, and then use
#   `jscc_lab.models` (`DeepJSCC`, and the SNR-adaptive `ADJSCC` of Xu et al. 2021);
# - how the channel bandwidth ratio (CBR) fixes the number of latent channels, and the power
#   constraint on the symbols;
# - to train a model with `jscc_lab.train` on BSDS500 crops (a few CPU minutes);
# - *graceful degradation*: PSNR falls smoothly when the SNR drops, unlike the cliff of separate
#   coding, and how an SNR-adaptive model avoids the SNR-mismatch loss;
# - to load the shipped pretrained checkpoints and read their PSNR-vs-SNR curves on Kodak.
#
# **Requirements**: a CPU, about 5 minutes (one short training run, Kodak evaluations).
# `JSCC_LAB_QUICK=1` runs everything with tiny budgets. Needs BSDS500 and Kodak under
# `$JSCC_LAB_DATA` (downloaded on first use unless `JSCC_LAB_OFFLINE=1`).

# %%
import tempfile

import matplotlib.pyplot as plt
import torch
from torch import nn

from jscc_lab import pretrained, settings
from jscc_lab.analog import analog_transmit
from jscc_lab.baselines import separate_transmit
from jscc_lab.channels import AWGN, RayleighFading, channel_uses, normalize_power, real_to_complex
from jscc_lab.data import center_crop, kodak
from jscc_lab.metrics import psnr
from jscc_lab.models import ADJSCC, DeepJSCC
from jscc_lab.plotting import plot_curves, show_images
from jscc_lab.train import TrainConfig, Trainer

# %% [markdown]
# ## Parameters
# Every knob of the notebook; `settings.budget(full, quick)` picks the tiny value under
# `JSCC_LAB_QUICK=1`.

# %%
SEED = 0
CBR = "1/12"  # channel bandwidth ratio of the models we build and train
TRAIN_SNR_DB = 10.0  # the from-scratch DeepJSCC is trained at one SNR, like the 2019 paper
N_ITERS = settings.budget(300, 3)  # training steps of the CPU run
BATCH = settings.budget(16, 2)
CROP = 64  # training crop side (pixels)
WIDTH = settings.budget(32, 8)  # hidden channels of the DeepJSCC we train (paper: 32)
LR = 2e-3
VAL_IMAGES = settings.budget(20, 2)  # BSDS500 test centre crops for validation
SNRS_DB = [0.0, 5.0, 10.0, 15.0, 20.0]  # test SNRs of every curve
N_KODAK = settings.budget(4, 1)  # Kodak images for the evaluations
KODAK_CROP = settings.budget(256, 64)  # centre crop of each Kodak image (full size: 768x512)
SEPARATE_MCS = "16qam-1/2"  # fixed 5G LDPC modulation and coding of the separate scheme
OUT = tempfile.mkdtemp(prefix="jscc_lab_03_")  # checkpoints of the CPU run
torch.manual_seed(SEED)

# %% [markdown]
# ## 1 · The model from scratch
#
# The encoder is five 5x5 convolutions with PReLU; two of them stride by 2, so a `H x W` image
# becomes a `C x H/4 x W/4` latent. Its `C H W / 16` reals are paired into `C H W / 32` complex
# symbols, so the CBR is `(C H W / 32) / (3 H W) = C / 96`. The symbols are scaled to unit power
# per image (the transmitter's power budget), sent through the channel, and the decoder mirrors
# the encoder with transposed convolutions and a sigmoid.

# %%
C = int(96 * eval(CBR))  # latent channels for CBR = C / 96


class ScratchJSCC(nn.Module):
    def __init__(self, c=C, w=32):
        super().__init__()
        act = nn.PReLU
        self.encoder = nn.Sequential(
            nn.Conv2d(3, w // 2, 5, 2, 2), act(), nn.Conv2d(w // 2, w, 5, 2, 2), act(),
            nn.Conv2d(w, w, 5, 1, 2), act(), nn.Conv2d(w, w, 5, 1, 2), act(),
            nn.Conv2d(w, c, 5, 1, 2), act())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(c, w, 5, 1, 2), act(), nn.ConvTranspose2d(w, w, 5, 1, 2), act(),
            nn.ConvTranspose2d(w, w, 5, 1, 2), act(),
            nn.ConvTranspose2d(w, w // 2, 5, 2, 2, output_padding=1), act(),
            nn.ConvTranspose2d(w // 2, 3, 5, 2, 2, output_padding=1), nn.Sigmoid())
        self.channel = AWGN()

    def forward(self, x, snr_db, generator=None):
        z = self.encoder(x)  # (N, C, H/4, W/4) reals
        s = normalize_power(real_to_complex(z))  # (N, k) complex, mean |s|^2 = 1
        y = self.channel(s, snr_db, generator=generator)
        z_hat = torch.view_as_real(y).reshape(z.shape)  # back to (N, C, H/4, W/4)
        return self.decoder(z_hat)


scratch = ScratchJSCC()
x = torch.rand(2, 3, 32, 32)
s = normalize_power(real_to_complex(scratch.encoder(x)))
print("symbols:", tuple(s.shape), s.dtype, "| power per image:", s.abs().square().mean(1).tolist())
print("CBR =", s.shape[1] / (3 * 32 * 32), "| output:", tuple(scratch(x, 10.0).shape))
assert s.shape[1] == channel_uses(CBR, 32, 32)

# %% [markdown]
# ### ... and the library version
#
# `jscc_lab.models.DeepJSCC` is the same network, tested, with the contract every model in the
# lab follows: `encode(x) -> s`, `decode(y, snr_db) -> x_hat` and `model(x, snr_db)`. It also
# accepts any image size (padding to a multiple of 4 and cropping back), and its `channel`
# attribute can be swapped for fading. `ADJSCC` adds GDN normalisation and SNR attention modules
# that feed the SNR into every layer, so one network serves all SNRs.

# %%
deep = DeepJSCC(cbr=CBR, width=32)
n_params = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
print(f"scratch: {n_params(scratch):,} parameters | DeepJSCC: {n_params(deep):,}")
x_odd = torch.rand(1, 3, 37, 53)
s_odd = deep.encode(x_odd)
print("37x53 image ->", tuple(s_odd.shape), "symbols ->", tuple(deep.decode(s_odd, 10.0).shape))
adj = ADJSCC(cbr=CBR, width=256)
print(f"ADJSCC at the paper's width 256: {n_params(adj):,} parameters, CBR {adj.cbr:.4f}")

# %% [markdown]
# ## 2 · Train it on BSDS500 (CPU, a few minutes)
#
# `jscc_lab.train` runs any registered model from a `TrainConfig`: random 64x64 crops of the
# BSDS500 train+val images with flips, Adam with warm-up and cosine decay, validation PSNR on
# BSDS500 *test* centre crops, atomic checkpoints, exact resume. Here: the 2019 model at a fixed
# training SNR of 10 dB. The same config saved as TOML runs from a shell with
# `jscc-lab train CONFIG.toml`.

# %%
config = TrainConfig(
    name="tutorial03-deepjscc", model="deepjscc", cbr=CBR, width=WIDTH,
    snr_db_min=TRAIN_SNR_DB, snr_db_max=TRAIN_SNR_DB, crop=CROP, batch_size=BATCH,
    steps=N_ITERS, lr=LR, warmup_steps=min(20, N_ITERS), val_every=max(1, N_ITERS // 4),
    checkpoint_every=N_ITERS, val_images=VAL_IMAGES, val_crop=128, val_snr_db=[TRAIN_SNR_DB],
    log_every=max(1, N_ITERS // 20), out_dir=OUT, seed=SEED, device="cpu",
)
trainer = Trainer(config)
result = trainer.fit()
model = trainer.model.eval()
print(f"best validation PSNR at {TRAIN_SNR_DB:g} dB: {result['best']['val_psnr_db']:.2f} dB")

# %%
history = [h for h in result["history"] if "loss" in h]
val = [h for h in result["history"] if "val_psnr_db" in h]
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
axes[0].plot([h["step"] for h in history], [h["loss"] for h in history])
axes[0].set(xlabel="step", ylabel="training MSE", yscale="log")
axes[1].plot([h["step"] for h in val], [h["val_psnr_db"] for h in val], marker="o")
axes[1].set(xlabel="step", ylabel="validation PSNR (dB)")
fig.tight_layout()

# %% [markdown]
# ## 3 · Graceful degradation, and the cliff of separate coding
#
# Test the model at SNRs it was not trained for. Two references:
# - **analog** transmission (`jscc_lab.analog.analog_transmit`): pixels sent as symbols, no
#   coding at all. It degrades gracefully too, but uses CBR 1/2, **six times the bandwidth**;
# - **separate coding** at the same CBR: HEVC intra (the BPG stand-in) + 5G LDPC with a fixed
#   `SEPARATE_MCS`, the configuration a designer would pick for about 10 dB. Above its threshold
#   the quality is flat (more SNR does not help); below it, decoding fails and the image is lost.

# %%
images = [center_crop(im, KODAK_CROP) for im in kodak()[:N_KODAK]]
x_eval = torch.cat(images)


def psnr_curve(transmit, snrs=SNRS_DB):
    """Mean PSNR over x_eval of x_hat = transmit(x, snr_db, generator) at each SNR."""
    values = []
    with torch.no_grad():
        for snr in snrs:
            g = torch.Generator().manual_seed(SEED)
            values.append(psnr(x_eval, transmit(x_eval, snr, g)).mean().item())
    return values


curves = {
    f"DeepJSCC (trained at {TRAIN_SNR_DB:g} dB), CBR {CBR}": psnr_curve(
        lambda x, snr, g: model(x, snr, generator=g)),
    "analog, CBR 1/2": psnr_curve(lambda x, snr, g: analog_transmit(x, snr, generator=g)),
    f"HEVC + LDPC {SEPARATE_MCS}, CBR {CBR}": psnr_curve(
        lambda x, snr, g: separate_transmit(x, codec="hevc", cbr=eval(CBR), snr_db=snr,
                                            channel_code="ldpc", mcs=SEPARATE_MCS,
                                            generator=g).x_hat),
}
for label, ys in curves.items():
    print(f"{label:45s}", "  ".join(f"{v:5.2f}" for v in ys))
plot_curves(SNRS_DB, curves, "test SNR (dB)", "PSNR (dB)", title="Kodak crops, AWGN")

# %% [markdown]
# The JSCC curve bends, it does not break: the decoder always gets *some* image out of noisy
# symbols. The separate scheme is all-or-nothing around its design point.
#
# Be honest about the levels, too: a few hundred CPU steps give a weak JSCC model, and above its
# threshold HEVC + LDPC is far better here. Closing that gap takes the full recipe (the paper's
# width, 256x256 crops, hundreds of thousands of steps on a GPU); the pretrained models below
# show how far a longer CPU run gets.

# %% [markdown]
# ## 4 · What full training reaches: the shipped checkpoints
#
# `jscc_lab.pretrained` holds ADJSCC-style models trained with the SNR drawn per image from
# [0, 20] dB, one per CBR. Loading checks the file's SHA-256 and reads it with
# `weights_only=True`. Each file records where and how long it was trained; the shipped ones
# were trained on a **CPU** (narrow width, minutes), so they are well below what the same code
# reaches on a GPU with `jscc_lab/configs/adjscc_gpu.toml`.

# %%
names = [n for n in pretrained.available() if n.startswith("adjscc-psnr")]  # the MSE-trained ones
print(names)
models = {}
for name in names:
    m, ckpt = pretrained.load(name, return_checkpoint=True)
    models[name] = m
    prov = ckpt["provenance"]
    print(f"{name}: CBR {m.cbr:.4f}, width {ckpt['config']['width']}, {prov['steps']} steps, "
          f"{prov['wall_time_s'] / 60:.0f} min on {prov['device']}")

# %%
pretrained_curves = {name: psnr_curve(lambda x, snr, g, m=m: m(x, snr, generator=g))
                     for name, m in models.items()}
ax = plot_curves(SNRS_DB, pretrained_curves, "test SNR (dB)", "PSNR (dB)",
                 title=f"pretrained ADJSCC, {N_KODAK} Kodak crops, AWGN")
for name, ys in pretrained_curves.items():
    # graceful: PSNR never jumps, and never gets better when the SNR drops (up to the 0.1 dB
    # wiggle of these briefly trained models, whose curves flatten above ~10 dB)
    assert all(b > a - 0.1 for a, b in zip(ys, ys[1:])), (name, ys)
    assert ys[-1] - ys[0] < 6.0, (name, ys)

# %% [markdown]
# **SNR mismatch.** A model trained at one SNR is best at that SNR; an SNR-adaptive model is
# told the SNR and adapts. Compare the ADJSCC model at the same CBR with our fixed-SNR DeepJSCC
# (the gap also contains the difference in training time and width).

# %%
same_cbr = f"adjscc-psnr-awgn-cbr{CBR.replace('/', '_')}"
if same_cbr in pretrained_curves:
    mismatch = {f"DeepJSCC trained at {TRAIN_SNR_DB:g} dB": curves[next(iter(curves))],
                "ADJSCC, SNR-adaptive (pretrained)": pretrained_curves[same_cbr]}
    plot_curves(SNRS_DB, mismatch, "test SNR (dB)", "PSNR (dB)", title=f"CBR {CBR}")

# %%
snr_show = [0.0, 10.0, 20.0]
best = models[same_cbr] if same_cbr in models else next(iter(models.values()))
with torch.no_grad():
    shown = [x_eval[:1]] + [best(x_eval[:1], snr, generator=torch.Generator().manual_seed(SEED))
                            for snr in snr_show]
titles = ["original"] + [f"{snr:g} dB: {psnr(x_eval[:1], im).item():.1f} dB" for snr, im in
                         zip(snr_show, shown[1:])]
show_images(shown, titles=titles)

# %% [markdown]
# ## Exercises
#
# 1. **Fading.** Swap the channel of a pretrained model for block Rayleigh fading with perfect
#    CSI (`model.channel = RayleighFading()`) and plot its PSNR vs SNR next to AWGN. Why is the
#    curve lower even at 20 dB?
# 2. **Bandwidth.** How many complex channel uses does the CBR 1/12 model spend on a full
#    768x512 Kodak image? Check it against `model.channel_uses(512, 768)` and
#    `jscc_lab.channels.channel_uses`.
# 3. **Train at a range.** Retrain the DeepJSCC with `snr_db_min=0, snr_db_max=20` and compare
#    its mismatch curve with the fixed-SNR one. (DeepJSCC is not told the SNR; what can it do?)

# %% [markdown]
# ### Solutions

# %%
# 1. Fading: deep fades hit whole images (block fading), averaging in bad pictures
fading_model = best
fading_model.channel = RayleighFading(mode="block")
fading_curve = psnr_curve(lambda x, snr, g: fading_model(x, snr, generator=g))
fading_model.channel = AWGN()
awgn_curve = psnr_curve(lambda x, snr, g: fading_model(x, snr, generator=g))
plot_curves(SNRS_DB, {"AWGN": awgn_curve, "block Rayleigh (MMSE, perfect CSI)": fading_curve},
            "average SNR (dB)", "PSNR (dB)")

# %%
# 2. k = CBR * 3 * H * W complex uses
k = channel_uses(CBR, 512, 768)
print(f"{k:,} complex channel uses for a 768x512 image at CBR {CBR}")
assert k == DeepJSCC(cbr=CBR).channel_uses(512, 768)

# %%
# 3. The same config, SNR drawn per image from [0, 20] dB (a short run; compare the curves)
range_config = TrainConfig(**{**config.__dict__, "name": "tutorial03-range", "snr_db_min": 0.0,
                              "snr_db_max": 20.0, "out_dir": OUT + "/range",
                              "val_snr_db": [0.0, 10.0, 20.0]})
range_trainer = Trainer(range_config)
range_trainer.fit()
range_model = range_trainer.model.eval()
plot_curves(SNRS_DB, {f"trained at {TRAIN_SNR_DB:g} dB": curves[next(iter(curves))],
                      "trained on [0, 20] dB": psnr_curve(
                          lambda x, snr, g: range_model(x, snr, generator=g))},
            "test SNR (dB)", "PSNR (dB)", title="DeepJSCC: fixed vs range training")
