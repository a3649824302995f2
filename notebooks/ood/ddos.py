# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -user_expressions,-execution,-papermill,-scrolled,-collapsed,-ExecuteTime
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (reprobook)
#     language: python
#     name: reprobook
# ---

# %% [markdown]
# (ddos)=
# # DDoS: distribution similarity of diffusion reconstructions
#
# **The paper.** {cite:t}`fang2024ddos` build on detectors that use a diffusion model trained on the
# in-distribution (InD) data: a test image $x$ is turned into a generated image $\hat x$ close to the InD
# {cite:p}`graham2023ddpmood`, and the disparity between $x$ and $\hat x$ flags OoD inputs. Their claims, from the
# abstract:
#
# 1. the perceptual metrics earlier detectors use on $(x, \hat x)$ (LPIPS, SSIM, MSE) are "devised essentially for
#    human-perceived similarities of low-level image patterns" and are insufficient to measure *distribution*
#    disparities;
# 2. a "distribution similarity" between $x$ and $\hat x$ "in the informative feature space and probability space
#    learned by the classifier-under-protection" detects better;
# 3. an "anomaly-removal strategy" that removes "abnormal OoD information in the feature space" enlarges the
#    disparities and helps further; the whole reaches "new state-of-the-art detection performance".
#
# No official code was found, and the abstract gives no formulas: this chapter chooses each piece, says why, and
# ablates it. It trains a small DDPM {cite:p}`ho2020ddpm` on the InD images with `diffusers`, reconstructs every
# scored image with DDIM {cite:p}`song2021ddim`, and compares the perceptual baselines, DDoS with and without
# anomaly removal, and detectors that read the classifier alone, on the OoD benchmark of {ref}`ood-theory`.

# %% tags=["parameters"]
profile = "smoke"  # "tiny": a minute DDPM and a handful of images (checks the code); "smoke": CPU minutes; "paper": GPU
seed = 0  # the classifier's seed (the mode-ensemble chapter's first mode), the DDPM's, and the noise draws
device = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
data_dir = None  # the data and checkpoint cache; None: $REPROBOOK_CACHE or ~/.cache/reprobook

# %%
import pandas as pd

from reprobook import benchmarks, profiles
from reprobook.notebook import show_source, start
from reprobook.ood import build_benchmark
from reprobook.ood.ddos import (AnomalyRemoval, combine_terms, feature_dissimilarity, mse_distance,
                                perceptual_distance, probability_divergence, ssim_score)
from reprobook.ood.ddos_experiment import (component_ablation, ddos_claims, ddos_cost, ddos_results, noise_ablation,
                                           run_ddos, training_pixels)
from reprobook.ood.diffusion import ddpm_training_step, describe_diffusion, reconstruct, train_ddpm

session = start("ddos", profile=profile, seed=seed, device=device, data_dir=data_dir, title="DDoS: diffusion-based OoD detection")
rec = session.record
cfg = profiles.config("ddos", profile)
print(f"profile {profile}: {cfg.model} on {cfg.in_dataset}; OoD sets {', '.join(cfg.ood_datasets)}; "
      f"device {session.device}, {session.threads} threads")

# %% [markdown]
# ## The classifier under protection
#
# DDoS protects a trained classifier and reads its features. It is the OoD benchmark's classifier of this seed,
# the first mode of {ref}`the mode-ensemble chapter <mode-ensemble>` (the same checkpoint, trained once).

# %%
with rec.timer("classifier"):
    bench = build_benchmark(cfg, device=session.device, seed=seed, data_dir=data_dir, progress=False)
rec.glue("dd_classifier", f"{cfg.model} trained for {cfg.epochs} epochs on {len(bench.train)} {cfg.in_dataset} images")
rec.glue("dd_test_acc", bench.test_accuracy, ".1%")
print(f"classifier {'loaded from' if bench.loaded else 'trained and saved to'} {bench.checkpoint}")

# %% [markdown]
# The classifier ({eval}`dd_classifier`) reaches {eval}`dd_test_acc` InD test accuracy.
#
# ## The diffusion model
#
# A DDPM learns to predict the noise $\varepsilon$ added to a training image $x_0$ at a random step $t$ of the
# forward process $q(x_t \mid x_0) = \mathcal{N}(\sqrt{\bar\alpha_t}\, x_0, (1 - \bar\alpha_t) I)$:
#
# $$
# \mathcal{L} = \mathbb{E}_{x_0, t, \varepsilon} \big\| \varepsilon - \varepsilon_\theta(\sqrt{\bar\alpha_t}\, x_0 +
# \sqrt{1 - \bar\alpha_t}\, \varepsilon,\; t) \big\|^2 ,
# \qquad t \sim \mathcal{U}\{0, \dots, T - 1\},\; \varepsilon \sim \mathcal{N}(0, I),
# $$ (eq-ddos-ddpm)
#
# with $\varepsilon_\theta$ a `diffusers` `UNet2DModel` and the linear $\beta$ schedule of `DDPMScheduler`. One
# training step:

# %%
show_source(ddpm_training_step)

# %% [markdown]
# The model learns from InD training images only; it is trained once and cached like the classifiers (the
# training code is part of the cache key).

# %%
images = training_pixels(bench, cfg.ddpm_train_images, seed=seed)
with rec.timer("ddpm"):
    diffusion = train_ddpm(cfg, images, device=session.device, seed=seed, progress=False)
ddpm = rec.glue_result(describe_diffusion(diffusion, cfg, len(images), seed=seed), "dd_ddpm")

# %% [markdown]
# ```{figure}
# :name: fig-ddos-loss
#
# {eval}`dd_ddpm_loss_figure`
#
# The DDPM's training loss, every step (grey) and its running mean.
# ```
#
# ```{figure}
# :name: fig-ddos-samples
#
# {eval}`dd_ddpm_samples_figure`
#
# Unconditional samples of the DDPM (DDIM, from pure noise).
# ```
#
# The UNet has {eval}`dd_ddpm_n_params` parameters and was trained for {eval}`dd_ddpm_steps` steps of
# {eval}`dd_ddpm_batch` images drawn from {eval}`dd_ddpm_n_images` InD training images; its loss fell from
# {eval}`dd_ddpm_first_loss` to {eval}`dd_ddpm_final_loss` ({numref}`fig-ddos-loss`).
# {eval}`dd_ddpm_loaded_note` {numref}`fig-ddos-samples` shows what it learned: samples drawn from pure noise.
#
# ## Reconstruction
#
# A test image is diffused to an intermediate step $t$, $x_t = \sqrt{\bar\alpha_t}\, x + \sqrt{1 - \bar\alpha_t}\,
# \varepsilon$, and brought back to step 0 by deterministic DDIM ($\eta = 0$) on the steps $t, t - s, \dots, 0$:
#
# $$
# x_{t-s} = \sqrt{\bar\alpha_{t-s}}\; \hat x_0(x_t) + \sqrt{1 - \bar\alpha_{t-s}}\; \varepsilon_\theta(x_t, t),
# \qquad \hat x_0(x_t) = \frac{x_t - \sqrt{1 - \bar\alpha_t}\, \varepsilon_\theta(x_t, t)}{\sqrt{\bar\alpha_t}} .
# $$ (eq-ddos-ddim)
#
# The noise erases the details of $x$; the reverse process, which only knows InD images, fills them in with
# InD-like content. An InD image comes back close to itself, an OoD image is pulled towards the InD. The step
# $t$ = {eval}`dd_res_t` of the main results was fixed before any OoD result was seen; the ablation below
# varies it. $t = 0$ returns $x$ itself.

# %%
show_source(reconstruct)

# %%
with rec.timer("reconstruction"):
    rec.glue("dd_clip_low", cfg.clip_low, ".0%")
    rec.glue("dd_clip_high", cfg.clip_high, ".0%")
    run = run_ddos(bench, diffusion, cfg, seed=seed, log=print)

# %% [markdown]
# ## The perceptual baselines
#
# Earlier diffusion-based detectors score the pair $(x, \hat x)$ with image metrics: the mean squared error over
# the pixels, $\frac{1}{P}\sum_p (x_p - \hat x_p)^2$; one minus the structural similarity SSIM
# {cite:p}`wang2004ssim` (here $-\mathrm{SSIM}$, from `pytorch-msssim`); and LPIPS {cite:p}`zhang2018lpips`, a
# distance between deep activations with learned layer weights. LPIPS's weights must be downloaded, which this
# book cannot do: its substitute compares the *protected classifier's own* stage outputs $a_l$, unit-normalised
# over the channels at every position, with uniform layer weights,
#
# $$
# d(x, \hat x) = \sum_l \frac{1}{H_l W_l} \sum_{h,w} \big\| \hat a_l(x)_{hw} - \hat a_l(\hat x)_{hw} \big\|_2^2 ,
# \qquad \hat a = a / \|a\|_2 ,
# $$ (eq-ddos-lpips)
#
# so "Deep features" in the tables is an LPIPS-style distance, not LPIPS.

# %%
show_source(perceptual_distance)

# %% [markdown]
# ## DDoS: similarity in the classifier's spaces
#
# The paper's formulas are not public; these are this book's choices, each from the abstract's wording.
#
# **Feature space.** The penultimate features $z = \phi(x)$ and $\hat z = \phi(\hat x)$ of the classifier under
# protection: the "informative feature space" its decisions are linear in, where post-hoc detectors such as KNN and
# Kernel PCA separate InD from OoD. Their dissimilarity is one minus the cosine,
#
# $$
# s_f(x) = 1 - \frac{\langle z, \hat z \rangle}{\|z\|_2 \|\hat z\|_2} .
# $$ (eq-ddos-feature)
#
# The cosine rather than the Euclidean distance: the reconstruction is smoother than the image, which lowers
# the activations of InD and OoD images alike; the direction of $z$, which carries the class evidence, is what
# should survive the reconstruction of an InD image.

# %%
show_source(feature_dissimilarity)

# %% [markdown]
# **Probability space.** The class beliefs $p = \operatorname{softmax}(h(z))$ and $\hat p = \operatorname{softmax}(h(\hat z))$,
# $h$ the last layer, compared by the Kullback–Leibler divergence of the reconstruction's belief from the
# image's,
#
# $$
# s_p(x) = \mathrm{KL}(p \,\|\, \hat p) = \sum_c p_c \log \frac{p_c}{\hat p_c} :
# $$ (eq-ddos-prob)
#
# an InD image and its reconstruction should be classified alike, an OoD image has no class to keep.

# %%
show_source(probability_divergence)

# %% [markdown]
# **Anomaly removal.** "Abnormal OoD information in the feature space" is read as activations outside the range
# InD images produce: each dimension $d$ of $z$ is clipped to the interval between the
# {eval}`dd_clip_low` and {eval}`dd_clip_high` quantiles of that dimension over the InD training
# features, before both terms are computed,
#
# $$
# A(z)_d = \min\big(\max(z_d, l_d), u_d\big) .
# $$ (eq-ddos-removal)
#
# Activations inside the InD range pass unchanged. Why it should *enlarge* the disparity: an OoD image and its
# reconstruction can share a few abnormally large activations (ReAct's observation {cite:p}`sun2021react`), which
# dominate the cosine and the logits and make the pair look alike; clipped, the comparison rests on the normal
# activations, where the two differ. Per-dimension bounds rather than ReAct's single threshold, because the
# dimensions have different scales.

# %%
show_source(AnomalyRemoval.__call__)

# %% [markdown]
# **The score.** The two terms have different units; each is divided by its median $m$ over
# {eval}`dd_res_n_calibration` reconstructed InD *training* images, and the two are added,
# $s(x) = s_f(x)/m_f + s_p(x)/m_p$. No weight is tuned and no OoD data is used.

# %%
show_source(combine_terms)

# %% [markdown]
# ## Results
#
# All detectors score the same {eval}`dd_res_n_scored` images of the InD test set and of each OoD set at
# $t$ = {eval}`dd_res_t`: the perceptual baselines and the DDoS variants on $(x, \hat x)$, and four
# `pytorch-ood` detectors that read the classifier's output on $x$ alone (MSP, Energy, ReAct, KNN), fitted on the
# InD training features.

# %%
results = rec.glue_result(ddos_results(run, cfg, seed=seed), "dd_res")
rec.metric("results", results.table.to_dict(orient="records"))
results.shown

# %% [markdown]
# FPR95 (lower is better) and AUROC (higher is better) in percent. Averaged over the OoD sets, DDoS reaches an
# AUROC of {eval}`dd_res_auroc_ddos` (FPR95 {eval}`dd_res_fpr_ddos`), against
# {eval}`dd_res_auroc_perceptual` for the best perceptual baseline ({eval}`dd_res_best_perceptual`;
# plain MSE {eval}`dd_res_auroc_mse`), {eval}`dd_res_auroc_no_removal` for DDoS without anomaly
# removal, and {eval}`dd_res_auroc_classifier` for the best detector on $x$ alone
# ({eval}`dd_res_best_classifier`). The AUROC differences are {eval}`dd_res_gain_perceptual`,
# {eval}`dd_res_gain_removal` and {eval}`dd_res_gain_classifier` (paired bootstrap,
# {eval}`dd_res_n_boot` resamplings, in the verdicts below).
#
# ```{figure}
# :name: fig-ddos-pairs
#
# {eval}`dd_res_pairs_figure`
#
# Test images $x$ and their reconstructions $\hat x$ at the main noise level, for the InD test set and each OoD set.
# ```
#
# {numref}`fig-ddos-pairs` shows what the detectors compare. The anomaly removal changes, on average,
# {eval}`dd_res_abnormal_in` of the activations of InD test images and {eval}`dd_res_abnormal_out` of
# those of OoD images (per set, for $x$ and $\hat x$):

# %%
(100 * results.abnormal).round(1)

# %% [markdown]
# ## Ablations
#
# **Noise level.** The reconstructions were made at every $t$ of the grid; {numref}`fig-ddos-noise` shows the
# average AUROC of each $(x, \hat x)$ detector against $t$, with the detectors on $x$ alone as references.

# %%
noise = rec.glue_result(noise_ablation(run), "dd_t")
rec.metric("noise_ablation", noise.table.to_dict(orient="records"))
noise.table.pivot(index="t", columns="detector", values="AUROC").mul(100).round(1)

# %% [markdown]
# ```{figure}
# :name: fig-ddos-noise
#
# {eval}`dd_t_figure`
#
# Average AUROC over the OoD sets against the noise level $t$ (dashed: the $t$ of the main results; dotted: the
# detectors that read $x$ alone).
# ```
#
# Over $t \in$ \{{eval}`dd_t_levels`\}, DDoS is best at $t$ = {eval}`dd_t_best_t_ddos` and MSE at
# $t$ = {eval}`dd_t_best_t_mse` (read after the fact: the main results keep the $t$ fixed in advance).
#
# **Components.** Each term alone and both, with and without anomaly removal, at the main $t$:

# %%
components = rec.glue_result(component_ablation(run), "dd_comp")
components.table.assign(FPR95=100 * components.table.FPR95, AUROC=100 * components.table.AUROC).round(1)

# %% [markdown]
# With anomaly removal, the feature term alone reaches an average AUROC of {eval}`dd_comp_auroc_feature`,
# the probability term alone {eval}`dd_comp_auroc_probability`, and both together
# {eval}`dd_comp_auroc_both`.
#
# ## Cost
#
# DDoS pays for the reconstruction: {eval}`dd_cost_evaluations` UNet evaluations per image at the main $t$,
# then two passes of the classifier. `reprobook bench ddos-throughput` times, in one run on one machine, the
# whole detector on a batch of {eval}`dd_cost_n_images` images against a plain classifier detector (MSP),
# with freshly initialised networks of this profile's sizes (the cost does not depend on the weights).

# %%
with rec.timer("throughput"):
    measured = benchmarks.run("ddos-throughput", device=session.device, profile=profile, seed=seed)
measured.save()
cost = rec.glue_result(ddos_cost(measured), "dd_cost")
cost.table.round(2)

# %% [markdown]
# On {eval}`dd_cost_device`, the classifier detector scores {eval}`dd_cost_classifier_per_s` images per
# second and DDoS {eval}`dd_cost_ddos_per_s`: DDoS is {eval}`dd_cost_slowdown` times slower (the median
# of the per-round ratios).
#
# ## Verdicts
#
# Each claim compares DDoS with one rival on the same scored images: the {eval}`dd_verdicts_rule`, on both
# the average AUROC and the average FPR95; the three comparisons are Holm-adjusted together. The test covers
# {eval}`dd_verdicts_covers`. A smoke run, with a small DDPM and a small classifier, checks the method and
# the direction of its effects, not the paper's numbers.

# %%
scale = (f"{profile} profile: {cfg.in_dataset}, {cfg.model} (test accuracy {bench.test_accuracy:.1%}); DDPM of "
         f"{diffusion.n_params:,} parameters, {cfg.ddpm_steps} steps; t = {cfg.noise_t}, DDIM stride {cfg.ddim_stride}; "
         f"{len(run.pixels['test'])} images per set; {session.device.type}")
rec.glue("dd_scale", scale)
verdicts = rec.glue_result(ddos_claims(results, cfg, scale), "dd_verdicts")
rec.add_claims(verdicts.rows)

# %% [markdown]
# ## Paper vs this run
#
# The paper's tables could not be read for this book, so its claims are compared in words. Scale of this run:
# {eval}`dd_scale`.

# %%
with pd.option_context("display.max_colwidth", None):
    display(rec.claims_frame().drop(columns="Scale of this run").set_index("Claim"))

# %% [markdown]
# ## Deviations from the paper
#
# - **Formulas.** The paper's similarity metric, its anomaly removal, its layers and its noise level are not
#   public; every one here is this book's choice, argued above and ablated.
# - **Scale.** The smoke profile uses FashionMNIST, a small CNN and a DDPM of {eval}`dd_ddpm_n_params`
#   parameters trained for minutes on a CPU, and offline OoD sets; the paper protects CIFAR-10 and ImageNet
#   classifiers with full-size diffusion models. The paper profile trains the CIFAR-10 DDPM of
#   {cite:t}`ho2020ddpm` ({eval}`dd_paper_settings`).
# - **LPIPS.** Replaced by an LPIPS-style distance on the protected classifier's stages with uniform weights
#   (LPIPS's learned weights cannot be downloaded here).
# - **Reconstruction.** One DDIM reconstruction per image and noise level, with a fixed stride; the noise level of
#   the main results was fixed a priori.
# - **Samples.** A seeded subset of each set is scored ({eval}`dd_res_n_scored` images), to keep the
#   reconstructions within the CPU budget.
# - **Statistics.** One classifier and one DDPM: the verdicts rest on a paired bootstrap over the scored images,
#   which says nothing about the variation between trainings.

# %% tags=["remove-cell"]
paper_cfg = profiles.config("ddos", "paper")
rec.glue("dd_paper_settings", f"UNet {paper_cfg.ddpm_channels}, {paper_cfg.ddpm_steps:,} steps of batch {paper_cfg.ddpm_batch}")
print(f"results written to {rec.save()}")
