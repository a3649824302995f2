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
# (marwp)=
# # m-ARWP: mixed and adaptive random weight perturbation
#
# **The paper.** {cite:t}`li2024marwp` revisit random weight perturbation (RWP, {ref}`rwp`). Its abstract
# observes that, although RWP is cheaper than SAM {cite:p}`foret2021sam` and closely related to it, "its
# empirical performance has consistently lagged behind" SAM's, and proposes improvements "from two
# perspectives":
#
# 1. **the trade-off between generalisation and convergence**: training on the perturbed gradient alone
#    converges slowly; mixing in the clean gradient, $g = (1-\lambda)\nabla L(w) + \lambda\nabla L(w+\epsilon)$
#    (*m-RWP*), restores convergence while keeping the perturbation's effect;
# 2. **the generation of the random perturbation**: the noise of each filter is damped where recent
#    perturbed gradients were large, and its scale grows during training (*ARWP*, one gradient per step).
#
# Combined (*m-ARWP*), the enhanced RWP methods are claimed to "achieve greater efficiency in enhancing
# generalization, particularly in large-scale problems", with "comparable or even superior performance
# to SAM". The ideas are laid out in {ref}`sharpness-theory`.
#
# **This chapter** trains SGD, SAM, the perturbed-only RWP, m-RWP, ARWP and m-ARWP with the same model,
# data, epochs, learning-rate schedule and seeds as {ref}`rwp` (SGD and SAM are that chapter's very models),
# and compares their test accuracy, their training loss at the final weights (convergence), and the flatness
# of their solutions; an ablation trains ARWP under both readings of the paper's adaptive damping. What a step
# of each method costs is measured in {doc}`step_cost`.

# %% tags=["parameters"]
profile = "smoke"  # "tiny": a code check; "smoke": FashionMNIST subset, small CNN, CPU;
                   # "paper": CIFAR-100, ResNet-18, GPU
seed = 0  # the first of the profile's seeds (the profile fixes how many)
device = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
data_dir = None  # the data and checkpoint cache;
                 # None: $REPROBOOK_CACHE or ~/.cache/reprobook

# %%
from reprobook import claims, profiles
from reprobook.chapters.flat_minima import analysis, power, report
from reprobook.chapters.marwp import experiment as marwp_chapter
from reprobook.configs import marwp as paper
from reprobook.notebook import show_source, start
from reprobook.sharpness.arwp import (ARWP, CosineIncreasingSigma,
                                      adaptive_noise_divisor, filter_sums)

session = start("marwp", profile=profile, seed=seed, device=device, data_dir=data_dir,
                title="m-ARWP: mixed and adaptive random weight perturbation")
rec = session.record
cfg = profiles.config("marwp", profile)
seeds = cfg.seeds(seed)

# %% [markdown]
# ## The data
#
# The same data as {ref}`rwp`: in the smoke profile a small class-balanced subset of FashionMNIST
# {cite:p}`xiao2017fashion`; in the paper profile CIFAR-100, the paper's main benchmark, with random crops and
# flips.

# %%
train_ds, test_ds, train_plain = analysis.datasets(cfg, seed)
rec.glue("marwp_test_note", paper.test_split_note(cfg.n_test))
data = rec.glue_result(report.data_overview(cfg.dataset, train_ds, test_ds),
                       "marwp_data")

# %% [markdown]
# This run trains on {eval}`marwp_data_n_train` images of {eval}`marwp_data_dataset` (every class
# has between {eval}`marwp_data_min_class` and {eval}`marwp_data_max_class`) and tests on
# {eval}`marwp_data_n_test`, {eval}`marwp_test_note`.
#
# ## The method

# %%
setting = rec.glue_result(marwp_chapter.settings(cfg, profiles.config("rwp", profile),
                                                 len(train_ds)),
                          "marwp_set")

# %% [markdown]
# **Mixing.** As in RWP, the noise of output filter $j$ is Gaussian with a standard deviation
# proportional to the filter's norm, and the update mixes the clean and the perturbed gradient:
#
# $$
# \epsilon_j \sim \mathcal{N}\!\left(0, (\sigma\, \|W_j\|_2)^2 I\right), \qquad
# g = (1-\lambda)\, \nabla L(w) + \lambda\, \nabla L(w + \epsilon).
# $$ (eq-marwp-mix)
#
# With $\lambda = 1$ only the perturbed gradient is used (one gradient per step). This is the "RWP" the
# paper improves on, called *RWP (perturbed only)* here. The RWP chapter's RWP ($\gamma$ =
# {eval}`marwp_set_rwp_gamma`, $\alpha$ = {eval}`marwp_set_rwp_alpha`) is an m-RWP with
# $\sigma = \gamma$ and $\lambda = \alpha$; this chapter's m-RWP uses the paper's $\sigma$ =
# {eval}`marwp_set_sigma` and $\lambda$ = {eval}`marwp_set_lam`.
#
# **Adaptive noise.** An accumulator of the squared *perturbed* gradients $g_1 = \nabla L(w+\epsilon)$, summed
# over each filter, measures how steep the loss has recently been for that filter,
#
# $$
# A \leftarrow \beta A + g_1 \odot g_1, \qquad F_j = \sum_{i \in \text{filter } j} A_i,
# $$ (eq-marwp-accumulator)
#
# (no $(1-\beta)$ factor, as in the official code), and the next draw of the filter's noise is damped by
# $\sqrt{1 + \eta F_j}$. The paper's eq. 14 puts that damping on the *variance* of the perturbation; the
# official code (`temp /= torch.sqrt(1 + args.eta * fisher)` in `train_marwp.py`) divides its *standard
# deviation*. In this book's notation the two readings are
#
# $$
# \underbrace{\epsilon_j \sim \mathcal{N}\!\Big(0, \frac{(\sigma\|W_j\|_2)^2}{1 + \eta F_j} I\Big)}_{\text{"std": the official code}}
# \qquad\text{and}\qquad
# \underbrace{\epsilon_j \sim \mathcal{N}\!\Big(0, \frac{(\sigma\|W_j\|_2)^2}{\sqrt{1 + \eta F_j}} I\Big)}_{\text{"var": eq. 14 read literally}},
# $$ (eq-marwp-adaptive)
#
# that is, $\epsilon_j$ divided by $\sqrt{1 + \eta F_j}$ or by $(1 + \eta F_j)^{1/4}$. This chapter trains
# with {eval}`marwp_set_scaling` ({eval}`marwp_set_scaling_text`) and the ablation below trains ARWP
# with {eval}`marwp_set_other_scaling` ({eval}`marwp_set_other_scaling_text`). `filter_sums` and
# `adaptive_noise_divisor` implement {eq}`eq-marwp-accumulator` and {eq}`eq-marwp-adaptive` for one parameter;
# the optimiser computes the same for all parameters at once:

# %%
show_source(filter_sums)

# %%
show_source(adaptive_noise_divisor)

# %% [markdown]
# One step of `ARWP` covers all four variants: $\lambda < 1$ runs a clean pass first (m-RWP, m-ARWP),
# $\eta = 0$ turns the adaptive damping off (RWP, m-RWP). BatchNorm running statistics are updated by the
# clean pass and frozen on the perturbed one; with $\lambda = 1$ the perturbed pass is the only one and
# updates them, as in the official ARWP code. The noise, the damping and the accumulator of a parameter
# group live in flat buffers (`reprobook.sharpness.buffers.FlatBuffers`), which keeps the step's fixed cost small
# ({doc}`step_cost`); what they compute is the per-parameter functions above, to rounding:

# %%
show_source(ARWP.step)

# %% [markdown]
# **A growing noise scale.** ARWP (and the perturbed-only RWP here) raises $\sigma$ during training on a
# cosine schedule, step by step, from $\sigma_0$ = {eval}`marwp_set_sigma_start` to $\sigma_T$ =
# {eval}`marwp_set_sigma_end` over the $T$ steps of training,
#
# $$
# \sigma(t) = \sigma_0 + (\sigma_T - \sigma_0)\, \frac{1 - \cos(\pi t / T)}{2},
# $$ (eq-marwp-sigma)
#
# while m-RWP and m-ARWP keep $\sigma$ = {eval}`marwp_set_sigma` ({numref}`fig-marwp-sigma`).

# %%
show_source(CosineIncreasingSigma.value)

# %% [markdown]
# ```{figure}
# :name: fig-marwp-sigma
#
# {eval}`marwp_set_fig_sigma`
#
# The noise scale $\sigma$ of each method over the training steps of this run.
# ```
#
# ## The design
#
# As in {ref}`rwp`, each claim is declared before the run, with its unit (the seed: one initialisation and one
# order of the batches, shared by every method), its test and its smallest effect of interest (SESOI):

# %%
specs = paper.claim_specs(cfg)
rec.glue("marwp_paper_gain", paper.PAPER_GAIN, fmt="+.1%")
rec.glue("marwp_sesoi", paper.ACCURACY_SESOI, fmt=".2%")
rec.glue("marwp_ratio_sesoi", paper.RATIO_SESOI, fmt=".2f")
rec.glue("marwp_alpha", claims.ALPHA, fmt="g")
rec.glue("marwp_n_seeds", cfg.n_seeds)
rec.glue("marwp_pilot_source", paper.PILOT["source"])
rec.glue("marwp_budget_note", report.budget_note(specs, paper.PILOT, cfg.n_seeds))
claims.design_frame(specs)

# %% [markdown]
# The m-ARWP paper's tables were not available to this book and its abstract gives no number, so the accuracy
# claims take the {ref}`rwp` chapter's paper effect, the authors' {eval}`marwp_paper_gain` (RWP over SAM on
# ImageNet), and half of it, {eval}`marwp_sesoi`, as the smallest effect of interest (the largest loss, for
# "comparable to SAM"). The speed of convergence (the training loss at the final weights) and flatness are
# compared as logarithms of ratios, with a practical threshold of {eval}`marwp_ratio_sesoi` (a fifth lower).
# Read at the final weights, the speed of convergence has a ceiling: where every run of both arms
# classifies its whole training set, the last training losses cannot show which arm got there first, and
# the claim reads *not comparable*.
# Every test is one-sided at {eval}`marwp_alpha`; the tested claims form one Holm family.
#
# **How many seeds.** The runs use the profile's first {eval}`marwp_n_seeds` seeds from `seed`, a rule fixed
# before any result; the number comes from a pilot, {eval}`marwp_pilot_source`: from its seed-to-seed standard
# deviation of each claim's paired differences (never its estimates), the seeds a one-sided paired $t$-test at
# the Holm level needs for 80 % power:

# %%
power.seed_plan(specs, paper.PILOT["sd"], cfg.n_seeds)

# %% [markdown]
# {eval}`marwp_budget_note`
#
# ## The experiment
#
# Every method starts from the same initialisation for a given seed, sees the same batches and uses the
# same cosine learning-rate schedule, momentum and weight decay. The adaptive methods use $\eta$ =
# {eval}`marwp_set_eta` and $\beta$ = {eval}`marwp_set_beta`. The settings of each method:

# %%
setting.table

# %% [markdown]
# A trained model is cached under a hash of its configuration and of the code that trains it; SGD and SAM have
# the RWP chapter's settings, so they are its checkpoints. The ablation trains ARWP a second time with the other
# reading of {eq}`eq-marwp-adaptive` (ARWP, because there the adaptive damping is the only change from the
# perturbed-only RWP, and it costs one gradient per step), where the profile's budget allows: it describes, it
# tests no claim, so the budget goes to the claims' seeds first. After training, each model's loss and accuracy on its
# training images are measured at its final weights, without perturbation.

# %%
runs = analysis.train_all(cfg, seeds, train_ds, test_ds, session.device,
                          train_plain=train_plain,
                          variants=marwp_chapter.ablation_variants(cfg),
                          variant_seeds=cfg.ablation_seeds)
rec.glue_result(runs, "marwp_runs")
rec.metric("runs", runs.table().to_dict(orient="records"))

# %% [markdown]
# ### The regime reached

# %%
regime = rec.glue_result(analysis.training_regime(
    runs, cfg, dashed=("prwp", "arwp", marwp_chapter.ABLATION)), "marwp_regime")

# %% [markdown]
# ```{figure}
# :name: fig-marwp-curves
#
# {eval}`marwp_regime_fig_curves`
#
# Training loss and accuracy per epoch (mean over seeds, band over seeds) of each step's first pass: at $w$ for
# SGD, SAM, m-RWP and m-ARWP, but at the perturbed weights $w + \epsilon$ for the one-pass methods (dashed), as
# in the official code.
# ```
#
# As in {ref}`rwp`, the run counts as converged when every model's training loss at its final weights is below
# {eval}`marwp_regime_fit_loss_rule` and its training accuracy at least {eval}`marwp_regime_fit_acc_rule`.
# Here {eval}`marwp_regime_regime`. Over the last fifth of the epochs the epoch-mean training loss of the
# fastest-falling method dropped by a further {eval}`marwp_regime_still_falling` ({numref}`fig-marwp-curves`).
#
# ### Accuracy and convergence

# %%
compared = rec.glue_result(marwp_chapter.comparisons(runs), "marwp_cmp")
compared.summary

# %% [markdown]
# The paired gaps of test accuracy, and what each isolates (the tests are in the claims table below):

# %%
compared.table

# %% [markdown]
# **Convergence.** The training loss at the final weights (no perturbation) is
# {eval}`marwp_cmp_loss_prwp` for the perturbed-only RWP and {eval}`marwp_cmp_loss_mrwp` for m-RWP,
# {eval}`marwp_cmp_loss_arwp` for ARWP and {eval}`marwp_cmp_loss_marwp` for m-ARWP; SGD reaches
# {eval}`marwp_cmp_loss_sgd`.
#
# ### Flatness
#
# The two measures of {ref}`rwp` on a fixed subset of the training images: the scale-invariant filter-normalised
# sharpness for every model, and $\lambda_{\max}$ of the Hessian (Lanczos, `landscape.hessian_lambda_max`)
# for the models the flatness claim and its context need.

# %%
probe = analysis.probe_batches(train_plain, cfg.probe_samples, session.device)
flat = rec.glue_result(
    analysis.flatness(runs, cfg, probe, lambda_keys=cfg.lambda_methods), "marwp_flat")
summary = rec.glue_result(marwp_chapter.flatness_summary(runs, flat), "marwp_flat")
rec.metric("flatness", flat.table.to_dict(orient="records"))
summary.table

# %% [markdown]
# On {eval}`marwp_flat_probe_n` training images ($r$ = {eval}`marwp_flat_radius`,
# {eval}`marwp_flat_directions` directions per model; $\lambda_{\max}$ on the first
# {eval}`marwp_flat_hessian_n`, for the models of the first {eval}`marwp_flat_lambda_n_seeds` seeds),
# the mean filter-normalised sharpness is
# {eval}`marwp_flat_sharp_sgd` for SGD, {eval}`marwp_flat_sharp_sam` for SAM and
# {eval}`marwp_flat_sharp_marwp` for m-ARWP; the mean $\lambda_{\max}$ is {eval}`marwp_flat_lambda_text`
# (the Lanczos iteration converged
# for {eval}`marwp_flat_lanczos_converged` models, largest residual {eval}`marwp_flat_lanczos_max_residual`).
#
# ### Ablation: the two readings of the adaptive damping

# %%
ablated = rec.glue_result(marwp_chapter.ablation(cfg, runs), "marwp_abl")
ablated.table

# %% [markdown]
# {eval}`marwp_abl_text` The ablation describes the two readings; it is not one of the paper's claims, so it
# has no test and no verdict. Dividing the variance damps the noise
# less (a fourth root instead of a square root of $1 + \eta F_j$), so the two readings differ only where
# $\eta F_j$ is large.
#
# ## Paper vs this run
#
# The paper's accuracy tables were not available to this book, so the claims are stated as the abstract
# states them.
#
# The function that turns this run into the claims table below, as it runs: each declared claim tested on its
# units, with its guards and Holm's adjustment over the chapter's tested claims.

# %%
show_source(marwp_chapter.chapter_claims)

# %%
scale = report.scale_text(cfg, len(train_ds), len(test_ds), len(seeds),
                            session.device)
tests = marwp_chapter.chapter_claims(cfg, runs, regime, flat, scale)
rec.add_claims(tests)
rec.claims_frame()

# %% [markdown]
# Each declared claim tested on this run, as in {ref}`rwp`. The mixing comparison changes two things at once (the
# clean gradient, and a constant $\sigma$ instead of the growing one), as the paper's methods do; ARWP − RWP
# (perturbed only) isolates the adaptivity alone. With the spread this run observed, the seeds each tested
# claim would need for 80 % power, at the Holm level {eval}`marwp_power_level` over
# {eval}`marwp_power_family` claims:

# %%
values = marwp_chapter.claim_values(runs, flat)
power = rec.glue_result(report.power_report(tests, values), "marwp_power")
rec.glue("marwp_scale", scale)
rec.glue("marwp_paper_settings",
         marwp_chapter.paper_settings(profiles.config("marwp", "paper")))
rec.glue("marwp_profile_note", report.profile_note(profile))
power.table

# %% [markdown]
# Claims below 80 % power at their SESOI in this run: {eval}`marwp_power_below` (why the smoke profile has no
# more seeds: the design above).
#
# Scale of this run: {eval}`marwp_scale`. The paper's gains are largest "in large-scale problems"; a small
# CNN on a few hundred FashionMNIST images is far from that regime, and $\sigma$, $\lambda$, $\eta$ and SAM's
# $\rho$ are the paper's CIFAR values, not tuned for this model. The smoke run tests the direction of the
# effects on real data; it is not evidence about the paper's CIFAR-100 numbers.
#
# ## Deviations from the paper
#
# - **Scale.** The smoke profile trains a small CNN on a FashionMNIST subset until it fits it. The paper
#   profile follows the official script for CIFAR-100: {eval}`marwp_paper_settings`.
#   {eval}`marwp_profile_note`
# - **Both gradients from one batch.** The official m-ARWP script alternates batches: even steps compute
#   the clean gradient (BatchNorm statistics updating), odd steps the perturbed gradient on the *next*
#   batch (statistics frozen) and then update, with the number of epochs doubled so that the number of
#   updates stays that of SGD. Here both gradients of a step come from the *same* batch, one after the
#   other, for the profile's number of epochs: the same number of updates and of gradient evaluations,
#   the update of {eq}`eq-marwp-mix` as written, and the same step as the RWP chapter's RWP. The two
#   gradients' noise is more correlated than with two batches.
# - **The paper's RWP baseline.** Here it is the perturbed-only RWP with ARWP's growing $\sigma$ and no
#   adaptivity (the official ARWP script with $\eta = 0$); this is a reading of the paper's baseline,
#   whose exact settings were not available.
# - **Learning-rate schedule.** Every method here uses a per-epoch cosine schedule; the official ARWP
#   script anneals per step. The $\sigma$ schedule is per step, as in the official code.
# - **Adaptive damping.** The chapter uses the official code's reading; eq. 14 is quoted in this book's
#   notation ({eval}`marwp_set_eq14_source`), and its literal reading is the ablation above, run for ARWP
#   only. As in the official code, a 1-D
#   parameter (a bias, a BatchNorm scale or shift) draws its noise as one filter but accumulates $F$ entry by
#   entry.
# - **BatchNorm.** m-RWP and m-ARWP freeze the running statistics on the perturbed pass (the official
#   code sets BatchNorm's momentum to 0 there; here the buffers are restored bit-exactly); the one-pass
#   methods update them on their only pass, as the official ARWP code does.
# - **No cutout.** The official CIFAR runs use cutout; the paper profile here uses random crops and flips.
# - **SAM's radius** $\rho$ is SAM's usual CIFAR value, not tuned for this model.
# - **Effect sizes.** Without the paper's tables, the paper's effect and the smallest effect of interest of every
#   accuracy claim (and the parity margin) derive from the authors' RWP abstract; the thresholds for convergence
#   and flatness are practical ones (see the design above).

# %%
rec.save()
