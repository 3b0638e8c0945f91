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
# # 10 · A paired-comparison user study in your classroom
#
# The seed paper's headline, "about **50 % channel-bandwidth saving** at perceptually similar
# quality", is not a PSNR number: it comes from people comparing images. Metrics such as LPIPS
# and DISTS are proxies; a user study is the measurement. This notebook runs one with a class.
#
# **You will learn**
# - the two-alternative forced choice (2AFC) design, and why it beats asking for scores;
# - the point of subjective equality and the just-noticeable difference (JND);
# - how to turn answers into a **bandwidth saving with a confidence interval**: a logistic fit of
#   preference against the reference system's CBR, bootstrapped over participants;
# - how to run the study live: randomised sides and order, attention checks, answers that survive
#   a kernel restart.
#
# **Requirements**: a CPU. Full run: **19 s** on one CPU thread. The study widget needs the shipped checkpoints
# (`jscc_lab.pretrained`) and runs in Jupyter or as a page.
#
# > **Simulated data.** Section 3 analyses *simulated* participants, generated with a known saving
# > so you can check the analysis recovers it. They are not evidence about any real system.

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
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from jscc_lab import pretrained, settings
from jscc_lab.baselines import separate_transmit
from jscc_lab.classroom import (
    ATTENTION,
    ResultsFile,
    fit_preference,
    make_trials,
    simulate_answers,
    user_study,
)
from jscc_lab.data import center_crop, kodak

# %% [markdown]
# ## Parameters

# %%
SEED = 0
CBR_OURS = 1 / 48  # our perceptual system's bandwidth
CBR_REFS = [1 / 48, 1 / 32, 1 / 24, 1 / 16, 1 / 12]  # bandwidths of the reference system
SNR_DB = 10.0  # channel quality for every stimulus
CROP = settings.budget(256, 96)  # stimuli are centre crops of Kodak images
N_IMAGES = settings.budget(6, 2)
N_SIM_PARTICIPANTS = settings.budget(30, 12)  # simulated class size
TRUE_SAVING = 0.5  # the saving built into the simulated participants
N_BOOT = settings.budget(1000, 200)
OURS = "taejscc-perceptual-awgn"  # shipped checkpoint of our system (one model for every CBR)
BETA = 1.0  # its realism weight: the full perceptual (GAN) output

# %% [markdown]
# ## 1. The design: two-alternative forced choice
#
# Each trial shows the **reference** image and two reconstructions, one from our system at CBR
# $r$ and one from a reference system at CBR $c$. The participant must pick the one closer to the
# reference: no "equal" button. Forced choice is fast, needs no training, and is far less noisy
# than 1-5 opinion scores, whose scale every person uses differently.
#
# - **Sides** (left/right) and **order** are randomised per participant, so position and
#   fatigue biases average out.
# - **Attention checks**: now and then one side is a badly degraded copy of the original. A
#   participant who gets those wrong is not looking; their answers are excluded.
# - The reference system is shown at **several CBRs** $c$, from equal to ours to several times
#   more. Where participants prefer ours half the time, the two look equally good: the *point of
#   subjective equality* $c_{eq}$. The **bandwidth saving** is $1 - r / c_{eq}$.
#
# A *just-noticeable difference* is the change in $c$ that moves preference from 50 % to about
# 75 %: the steepness of the fitted curve tells you how sharp people's judgement is.

# %%
trials = make_trials([f"kodim{i:02d}" for i in range(1, 4)], CBR_OURS, CBR_REFS, participant="demo", seed=SEED)
print(f"{len(trials)} trials, {sum(t.kind == ATTENTION for t in trials)} attention checks; the first five:")
for t in trials[:5]:
    print(f"  {t.kind:9s} {t.image}  ours 1/{round(1 / t.cbr_ours)} vs ref "
          + (f"1/{round(1 / t.cbr_ref)}" if t.cbr_ref else "(degraded copy)") + f", ours on the {t.left == 'ours' and 'left' or 'right'}")

# %% [markdown]
# ## 2. The analysis: a logistic fit over log-CBR
#
# For every answer we know the reference's CBR $c$ and whether the participant preferred ours.
# We fit
#
# $$P(\text{prefer ours} \mid c) = \sigma\big(a + b \log c\big),$$
#
# solve $P = 1/2$ for $c_{eq} = e^{-a/b}$, and report saving $= 1 - r / c_{eq}$. Participants,
# not answers, are the unit of replication, so the 95 % interval **resamples participants**
# (bootstrap). If $c_{eq}$ lies outside the tested CBRs the result is flagged as extrapolated:
# test a wider range rather than trust it.
#
# ## 3. Check the analysis on simulated participants (SIMULATED DATA)
#
# Each simulated participant prefers ours with probability
# $\sigma(s(\log c_{eq} - \log c) + \text{bias})$, with a personal bias, 2 % random lapses, and the
# true saving set to `TRUE_SAVING`. A correct analysis must recover it within its interval.

# %%
images = [f"kodim{i:02d}" for i in range(1, N_IMAGES + 1)]
sim_trials = {f"sim{p:02d}": make_trials(images, CBR_OURS, CBR_REFS, f"sim{p:02d}", repeats=2, seed=SEED)
              for p in range(N_SIM_PARTICIPANTS)}
records = simulate_answers(sim_trials, true_saving=TRUE_SAVING, seed=SEED)
fit = fit_preference(records, n_boot=N_BOOT, seed=SEED)
print("SIMULATED participants:", fit)
lo, hi = fit.saving_ci
assert lo <= TRUE_SAVING <= hi, "the analysis must recover the simulated saving"

# %%
compare = [r for r in records if r["kind"] == "compare"]
cs = np.array(sorted({r["cbr_ref"] for r in compare}))
observed = [np.mean([r["prefers_ours"] for r in compare if r["cbr_ref"] == c]) for c in cs]
grid = np.exp(np.linspace(np.log(cs[0]) - 0.3, np.log(cs[-1]) + 0.3, 200))
fig, ax = plt.subplots(figsize=(5.5, 3.6))
ax.plot(1 / cs, observed, "o", label="observed (simulated class)")
ax.plot(1 / grid, 1 / (1 + np.exp(-(fit.intercept + fit.slope * np.log(grid)))), "-", label="logistic fit")
ax.axhline(0.5, color="gray", lw=0.8)
ax.axvline(1 / fit.cbr_equal, color="C3", ls="--", label=f"equal preference: ref at 1/{1 / fit.cbr_equal:.0f}")
ax.set_xscale("log")
ax.set_xticks(1 / cs, [f"1/{round(1 / c)}" for c in cs])
ax.set_xlabel("reference system's CBR")
ax.set_ylabel("P(prefer ours at 1/48)")
ax.set_title(f"SIMULATED: saving {100 * fit.saving:.0f} % [{100 * lo:.0f}, {100 * hi:.0f}]")
_ = ax.legend(fontsize=8)

# %% [markdown]
# ## 4. Run it with your class
#
# The study compares our perceptual system (shipped checkpoint `taejscc-perceptual-awgn` at realism
# `beta = 1`) with engineered separate coding (HEVC-intra at the Shannon-capacity bit budget), all
# at the same
# SNR, on Kodak crops. Each participant opens this notebook (or the page
# `voila tutorials/10_user_study.ipynb`), enters a pseudonym, and clicks through the trials. All
# answers go to one JSON-lines file: every click is written and flushed at once, so if a
# kernel dies, running the cell again with the same pseudonym continues where it stopped.
#
# **Checklist for a lecturer**: one screen per participant, same brightness, no zooming; say
# "pick the one closer to the reference", not "the nicer one"; about 40 trials take 5 minutes;
# collect the files (or share one on a network drive) and run section 5.

# %%
kodak_images = {f"kodim{i:02d}": center_crop(im, CROP) for i, im in enumerate(kodak()[:N_IMAGES], start=1)}
ours_model = pretrained.load(OURS)


@torch.inference_mode()
def reconstruct(image, system, cbr):
    x = kodak_images[image]
    generator = torch.Generator().manual_seed(SEED)
    if system == "ours":
        return ours_model(x, SNR_DB, generator=generator, cbr=CBR_OURS, beta=BETA)
    return separate_transmit(x, codec="hevc", cbr=cbr, snr_db=SNR_DB, channel_code="capacity").x_hat


RUNS = tempfile.TemporaryDirectory(prefix="jscc_lab_10_")  # this demo's answers; deleted at the end
results_path = Path(RUNS.name) / "study.jsonl"  # in class: one shared file, e.g. on a network drive
study = user_study(kodak_images.__getitem__, reconstruct, results_path, participant="demo-student",
                   images=list(kodak_images), cbr_ours=CBR_OURS, cbr_refs=CBR_REFS, seed=SEED)
study

# %% [markdown]
# In CI (and here, to show the mechanics) a scripted "participant" clicks through a few trials;
# in class the buttons do this.

# %%
for _ in range(min(3, len(study.remaining))):
    study.answer("left")
print(study.progress.value)
print(f"{len(ResultsFile(results_path).records)} answers on disk in {results_path.name} (in the folder RUNS.name)")

# %% [markdown]
# ## 5. Analyse your class
#
# Once everyone is done: `fit_preference(ResultsFile(path).records)`. With fewer than about 10
# participants the interval will be wide, which is the honest answer. Compare your result with the
# paper's 50 % and with the metric-based saving from notebook 08: do people and DISTS agree?

# %% [markdown]
# ## Exercises
#
# 1. Halve `N_SIM_PARTICIPANTS`. How much wider does the interval get? Why roughly $\sqrt2$?
# 2. Set `TRUE_SAVING = 0.8`. Is the point of equality still inside the tested CBRs? What does the
#    fit report, and what should you change in the design?
# 3. Why do we bootstrap over participants rather than over answers? Try it: give every answer
#    its own participant label and refit.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 1
#
# The interval's width scales like $1/\sqrt{n}$ in the number of independent participants, so
# half the class gives an interval about $\sqrt2 \approx 1.4$ times wider. One simulated class is
# noisy, so average the widths over a few classes (new answers per seed).

# %%
half = dict(list(sim_trials.items())[: N_SIM_PARTICIPANTS // 2])
widths = {"all": [], "half": []}
for seed in range(settings.budget(5, 2)):
    for size, trials_of in (("all", sim_trials), ("half", half)):
        ci = fit_preference(simulate_answers(trials_of, true_saving=TRUE_SAVING, seed=seed),
                            n_boot=N_BOOT, seed=seed).saving_ci
        widths[size].append(ci[1] - ci[0])
width_all, width_half = np.mean(widths["all"]), np.mean(widths["half"])
print(f"mean 95 % interval width: {width_all:.3f} with {N_SIM_PARTICIPANTS} participants, "
      f"{width_half:.3f} with half ({width_half / width_all:.2f}x)")

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 2
#
# A saving of 80 % puts $c_{eq} = r / 0.2 = 5r$, i.e. 1/9.6, beyond the largest tested CBR 1/12:
# the fit extrapolates and says so. Add reference CBRs such as 1/8 and 1/6.

# %%
fit_far = fit_preference(simulate_answers(sim_trials, true_saving=0.8, seed=SEED), n_boot=N_BOOT, seed=SEED)
print(fit_far)
print("extrapolated:", fit_far.extrapolated)

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ### Solution to exercise 3
#
# Answers from one person are correlated (their bias, their screen, their attention); treating
# them as independent pretends we have far more information than we do, and the interval comes
# out too narrow. Label every answer as its own "participant" and the bootstrap does exactly that:

# %%
by_answer = [{**r, "participant": f"answer{i}"} for i, r in enumerate(records) if r["kind"] == "compare"]
fit_answers = fit_preference(by_answer, n_boot=N_BOOT, seed=SEED)
width_answers = fit_answers.saving_ci[1] - fit_answers.saving_ci[0]
print(f"95 % interval resampling participants: {hi - lo:.3f} wide; resampling answers: "
      f"{width_answers:.3f} wide")

# %% [markdown]
# ## Clean up
#
# The demo's answers are in a temporary folder; this cell deletes it. Skip it to keep them
# (`RUNS.name` says where they are).

# %%
RUNS.cleanup()
