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
# (rwp)=
# # RWP: random instead of adversarial weight perturbation
#
# **The paper.** {cite:t}`li2022rwp` replace the adversarial perturbation of SAM {cite:p}`foret2021sam` by
# *filter-wise random* perturbations, and train on a mix of the clean loss and the loss at the perturbed
# weights. Their claims, from the abstract:
#
# 1. the perturbed term "guides the network towards a wider flat region" and improves generalisation;
# 2. the two gradients are independent, so they "can be efficiently computed in parallel, enabling nearly
#    the same training speed as regular training", where SAM "inevitably doubles the training time";
# 3. RWP is "very competitive" with SAM on CIFAR and better on ImageNet (+1.1% top-1), at half SAM's
#    training time.
#
# **This chapter** trains SGD, SAM and RWP with the same model, data, epochs, learning-rate schedule and
# seeds, until they fit their training set, then compares their test accuracy, the time of a step, and two
# measures of the flatness of their solutions: the largest eigenvalue of the Hessian and a scale-invariant,
# filter-normalised sharpness. The ideas behind the method are in {ref}`sharpness-theory`.

# %% tags=["parameters"]
profile = "smoke"  # "tiny": a code check; "smoke": FashionMNIST subset, small CNN, CPU;
                   # "paper": CIFAR-10, ResNet-18, GPU
seed = 0  # the first of the profile's seeds (the profile fixes how many)
device = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
data_dir = None  # the data and checkpoint cache;
                 # None: $REPROBOOK_CACHE or ~/.cache/reprobook

# %%
from reprobook import claims, profiles
from reprobook.chapters.flat_minima import analysis, cost, power, report
from reprobook.chapters.rwp import experiment as rwp_chapter
from reprobook.configs import rwp as paper
from reprobook.notebook import show_source, start
from reprobook.sharpness.landscape import (filter_normalized_sharpness,
                                           hessian_lambda_max)
from reprobook.sharpness.rwp import RWP, filter_wise_noise
from reprobook.sharpness.sam import SAM

session = start("rwp", profile=profile, seed=seed, device=device, data_dir=data_dir,
                title="RWP: random weight perturbation")
rec = session.record
cfg = profiles.config("rwp", profile)
seeds = cfg.seeds(seed)

# %% [markdown]
# ## The data
#
# The smoke profile trains on a small class-balanced subset of FashionMNIST {cite:p}`xiao2017fashion` (real
# images, offline), small enough for every method to fit it within the budget, and tests on the whole
# test split; the paper profile uses CIFAR-10 with random crops and flips. A look at the data:

# %%
train_ds, test_ds, train_plain = analysis.datasets(cfg, seed)
rec.glue("rwp_test_note", paper.test_split_note(cfg.n_test))
data = rec.glue_result(report.data_overview(cfg.dataset, train_ds, test_ds),
                       "rwp_data")

# %% [markdown]
# ```{figure}
# :name: fig-rwp-samples
#
# {eval}`rwp_data_fig_samples`
#
# The first sixteen training images with their class index.
# ```
#
# {numref}`fig-rwp-samples` shows the first training images. The run trains on {eval}`rwp_data_n_train`
# images of {eval}`rwp_data_dataset` (every class has between {eval}`rwp_data_min_class` and
# {eval}`rwp_data_max_class`) and tests on {eval}`rwp_data_n_test`,
# {eval}`rwp_test_note`.

# %% [markdown]
# ## The method
#
# RWP minimises a mix of the loss and its expectation under a random perturbation $\epsilon$ of the
# weights,
#
# $$
# \min_w \; (1-\alpha)\, L(w) + \alpha\, \mathbb{E}_{\epsilon}\, L(w + \epsilon),
# $$ (eq-rwp-chapter-objective)
#
# with the noise of each output filter $j$ scaled by the filter's norm,
#
# $$
# \epsilon_j \sim \mathcal{N}\!\left(0, (\gamma\, \|W_j\|_2)^2 I\right).
# $$ (eq-rwp-chapter-noise)
#
# The noise of {eq}`eq-rwp-chapter-noise` is drawn by `filter_wise_noise`:

# %%
show_source(filter_wise_noise)

# %% [markdown]
# One optimiser step estimates the gradient of {eq}`eq-rwp-chapter-objective` with one draw of
# $\epsilon$: $g = (1-\alpha)\nabla L(w) + \alpha \nabla L(w+\epsilon)$, and hands $g$ to the base
# optimiser (SGD with momentum). Neither gradient needs the other, which is what makes the method
# parallel; this implementation computes them one after the other on one device. The step draws $z$ once
# for all the parameters of a group (one vector, split in parameter order) and scales each filter as
# `filter_wise_noise` does, with every quantity of the group in one flat buffer (`FlatBuffers`, in
# {doc}`step_cost`), so that a step issues a handful of operator calls whatever the number of parameter
# tensors:

# %%
show_source(RWP.step)

# %% [markdown]
# SAM's step, for comparison, needs the clean gradient *before* it can compute the perturbed one,
# $\hat\epsilon = \rho \nabla L(w)/\|\nabla L(w)\|_2$:

# %%
show_source(SAM.step)

# %% [markdown]
# **A check of the noise.** On the first convolution of a freshly initialised model, the empirical
# standard deviation of many draws of $\epsilon_j$ should be $\gamma \|W_j\|_2$ for every filter $j$ (the first
# filters below):

# %%
noise = rec.glue_result(rwp_chapter.noise_scale_check(cfg, seed), "rwp_noise")
rec.check("RWP noise has the filter-wise scale γ‖W_j‖₂", noise.passed, noise.detail)
noise.table

# %% [markdown]
# Over all filters the largest relative gap between the two is {eval}`rwp_noise_rel_err`
# ({eval}`rwp_noise_n_draws` draws; the check passes below {eval}`rwp_noise_tolerance`, and a failed
# check fails the book's end-to-end test).

# %% [markdown]
# ## The design
#
# Each claim is declared before the run: what is compared, over which independent units, by which test, and the
# smallest effect that would matter (SESOI) with where its size comes from. The unit is the seed: one
# initialisation and one order of the batches, shared by every method, so each seed gives one paired value
# per comparison.

# %%
specs = paper.claim_specs(cfg)
rec.glue("rwp_paper_gain", paper.PAPER_GAIN, fmt="+.1%")
rec.glue("rwp_sesoi", paper.ACCURACY_SESOI, fmt=".2%")
rec.glue("rwp_ratio_sesoi", paper.RATIO_SESOI, fmt=".2f")
rec.glue("rwp_alpha", claims.ALPHA, fmt="g")
rec.glue("rwp_n_seeds", cfg.n_seeds)
rec.glue("rwp_pilot_source", paper.PILOT["source"])
rec.glue("rwp_budget_note", report.budget_note(specs, paper.PILOT, cfg.n_seeds))
claims.design_frame(specs)

# %% [markdown]
# The papers' CIFAR tables were not available to this book; the one accuracy gain the authors quantify in the
# text at hand is RWP's {eval}`rwp_paper_gain` of ImageNet top-1 over SAM (abstract). It is the paper's effect
# here for a gain in test accuracy (SAM being above SGD, it is also the least the paper implies for RWP over
# SGD), and half of it, {eval}`rwp_sesoi`, the smallest gain (or, for "competitive", the largest loss) that
# matters. Flatness is compared as the logarithm of a ratio of sharpness, with a practical threshold of
# {eval}`rwp_ratio_sesoi` (a fifth lower): no paper gives a number for it. Every test is one-sided at
# {eval}`rwp_alpha`, the tested claims form one Holm family, and power is computed at its level.
#
# **How many seeds.** The runs use the profile's first {eval}`rwp_n_seeds` seeds from `seed` (`seed`,
# `seed` + 1, …), a rule fixed before any result. That number comes from a pilot, {eval}`rwp_pilot_source`:
# from its seed-to-seed standard deviation of each claim's paired differences (never its estimates), the
# seeds a one-sided paired $t$-test at the Holm level needs for 80 % power:

# %%
power.seed_plan(specs, paper.PILOT["sd"], cfg.n_seeds)

# %% [markdown]
# {eval}`rwp_budget_note`
#
# ## The experiment
#
# Every method starts from the same initialisation for a given seed, sees the same batches, and uses
# the same learning-rate schedule (cosine), momentum and weight decay; SAM uses radius $\rho$, RWP uses
# $\gamma$ and $\alpha$ from the profile. A trained model is cached under a hash of its configuration and of
# the code that trains it: executing the notebook again re-evaluates without re-training, and a change to the
# training code trains again. After training, each model's loss and accuracy on its training images are
# measured at its final weights.
#
# Every (method, seed) is trained, or loaded from the cache, by one loop. On a CPU, where each training
# loop runs on a fixed number of threads (`train_threads`), as many run at once as the notebook's cores hold,
# one process each, which gives the same models as one after the other:

# %%
show_source(analysis.train_all)

# %%
runs = rec.glue_result(analysis.train_all(cfg, seeds, train_ds, test_ds, session.device,
                                          train_plain=train_plain),
                       "rwp_runs")
rec.metric("runs", runs.table().to_dict(orient="records"))

# %% [markdown]
# ### The regime reached

# %%
regime = rec.glue_result(analysis.training_regime(runs, cfg), "rwp_regime")

# %% [markdown]
# ```{figure}
# :name: fig-rwp-curves
#
# {eval}`rwp_regime_fig_curves`
#
# Training loss and accuracy per epoch (mean over seeds; the band spans the seeds), those of each step's first
# pass (at $w$). RWP and SAM optimise a perturbed objective, so their training loss may sit above SGD's.
# ```
#
# The flat-minima claims are about the converged regime, where many weight vectors fit the training set and the
# method decides which one is found. This run counts as converged when every model's training loss at its final
# weights is below {eval}`rwp_regime_fit_loss_rule` and its training accuracy at least
# {eval}`rwp_regime_fit_acc_rule`. Here {eval}`rwp_regime_regime`. Over the last fifth of the epochs
# the epoch-mean training loss of the fastest-falling method dropped by a further
# {eval}`rwp_regime_still_falling` ({numref}`fig-rwp-curves`).

# %% [markdown]
# ### Accuracy and cost
#
# The time of a step is measured in this run, on this device, never taken from a cached model trained elsewhere
# (or from the training's own epochs, which on a shared machine meet different loads).

# %%
timing = rec.glue_result(
    cost.step_timing(cfg, train_ds, session.device, cfg.methods), "rwp_timing")
acc = rec.glue_result(rwp_chapter.accuracy(runs, timing), "rwp_acc")
acc.table

# %% [markdown]
# The times come from {eval}`rwp_timing_source`. Over {eval}`rwp_runs_n_seeds` seeds the mean test
# accuracy is {eval}`rwp_acc_acc_sgd` for SGD, {eval}`rwp_acc_acc_sam` for SAM and
# {eval}`rwp_acc_acc_rwp` for RWP: RWP − SGD {eval}`rwp_acc_gap_rwp_sgd`, RWP − SAM
# {eval}`rwp_acc_gap_rwp_sam`, SAM − SGD
# {eval}`rwp_acc_gap_sam_sgd` (the tests are in the claims table below). A step of RWP costs
# {eval}`rwp_acc_time_rwp` SGD steps here and a step of SAM {eval}`rwp_acc_time_sam`: both compute
# two gradients one after the other.

# %% [markdown]
# ### Flatness
#
# Two measures of the minimum each method found, on a fixed subset of the training images. The first is
# $\lambda_{\max}$, the largest eigenvalue of the Hessian of the training loss, by the Lanczos method
# {cite:p}`lehoucq1998arpack` (`scipy.sparse.linalg.eigsh`) on exact Hessian-vector
# products; the residual $\|Hv - \lambda v\| / |\lambda|$ of the returned pair says whether it converged:

# %%
show_source(hessian_lambda_max)

# %% [markdown]
# $\lambda_{\max}$ is not invariant to the scale of the weights: multiplying a filter that feeds a BatchNorm by
# $c > 0$ leaves the network's function unchanged and divides the curvature along that filter by $c^2$
# {cite:p}`dinh2017sharp`, and the methods compared here end with different weight norms. The second measure
# does not depend on that scale: the mean rise of the loss, $L(w + r\,d) - L(w)$, over random directions $d$
# whose filters have the norms of the model's filters {cite:p}`li2018visualizing`, so that every filter moves
# by the same fraction $r$ of its norm. The flatness claim is tested on it; $\lambda_{\max}$ is reported beside it.
# An average over random directions carries their spread into each model's value: the smoke profile
# averages over enough of them that this spread no longer makes up most of the seed-to-seed variance
# of the flatness claim (the measurement is in `configs/rwp.py`).

# %%
show_source(filter_normalized_sharpness)

# %%
probe = analysis.probe_batches(train_plain, cfg.probe_samples, session.device)
flat = rec.glue_result(analysis.flatness(runs, cfg, probe), "rwp_flat")
rec.glue_result(rwp_chapter.flatness_summary(flat), "rwp_flat")
rec.figure("rwp_fig_landscape", report.landscape_figure(runs, cfg, probe))
rec.metric("flatness", flat.table.to_dict(orient="records"))
flat.table.pivot(index="seed", columns="method",
                 values=["sharpness", "lambda_max"]).round(3)

# %% [markdown]
# ```{figure}
# :name: fig-rwp-landscape
#
# {eval}`rwp_fig_landscape`
#
# Training loss along one random filter-normalised direction through each method's solution (first seed),
# $L(w + t\,d)$. A wider, lower basin is a flatter minimum.
# ```
#
# On {eval}`rwp_flat_probe_n` training images, with $r$ = {eval}`rwp_flat_radius` and
# {eval}`rwp_flat_directions` directions per model ($\lambda_{\max}$ on the first
# {eval}`rwp_flat_hessian_n` of them, for the models of the first {eval}`rwp_flat_lambda_n_seeds` seeds),
# the mean filter-normalised sharpness is
# {eval}`rwp_flat_sharp_sgd` for SGD, {eval}`rwp_flat_sharp_sam`
# for SAM and {eval}`rwp_flat_sharp_rwp` for RWP; the mean $\lambda_{\max}$ is {eval}`rwp_flat_lambda_sgd`,
# {eval}`rwp_flat_lambda_sam` and {eval}`rwp_flat_lambda_rwp`. The Lanczos iteration converged (to a
# relative tolerance of {eval}`rwp_flat_lanczos_tol`) for {eval}`rwp_flat_lanczos_converged` models,
# with at most {eval}`rwp_flat_lanczos_max_matvecs` Hessian-vector products and a largest residual of
# {eval}`rwp_flat_lanczos_max_residual` ({numref}`fig-rwp-landscape` shows one direction per method).

# %% [markdown]
# ## Paper vs this run
#
# Each declared claim tested on this run (`reprobook.claims`: estimate with its 95 % interval, Holm-adjusted
# $p$, power at the SESOI and at the paper's effect with the spread this run observed, the minimum detectable
# effect, the verdict). Generalisation and flatness are claims about the converged regime: on a run that has
# not converged they read *not comparable*, whatever the outcome.
#
# The function that turns this run into the claims table below, as it runs: each declared claim tested on its
# units, with its guards and Holm's adjustment over the chapter's tested claims.

# %%
show_source(rwp_chapter.chapter_claims)

# %%
scale = report.scale_text(cfg, len(train_ds), len(test_ds), len(seeds),
                            session.device)
tests = rwp_chapter.chapter_claims(cfg, runs, regime, flat, scale)
rec.add_claims(tests)
rec.claims_frame()

# %% [markdown]
# With the spread this run observed, the seeds each tested claim would need for 80 % power, at the Holm level
# {eval}`rwp_power_level` over {eval}`rwp_power_family` claims:

# %%
values = rwp_chapter.claim_values(runs, flat)
power = rec.glue_result(report.power_report(tests, values), "rwp_power")
rec.glue("rwp_scale", scale)
rec.glue("rwp_paper_settings",
         rwp_chapter.paper_settings(profiles.config("rwp", "paper")))
rec.glue("rwp_profile_note", report.profile_note(profile))
power.table

# %% [markdown]
# Claims below 80 % power at their SESOI in this run: {eval}`rwp_power_below` (why the smoke profile has no
# more seeds: the design above).
#
# Scale of this run: {eval}`rwp_scale`. A smoke run tests the direction of each effect on a small problem
# with real data; it is not evidence about the paper's CIFAR or ImageNet numbers.
#
# ## Deviations from the paper
#
# - **Scale.** The smoke profile trains a small CNN on a FashionMNIST subset of a few hundred images until it
#   fits them; the paper trains ResNet-18 and wider networks on CIFAR-10/100 for 200 epochs and ResNets on
#   ImageNet. The paper profile of this notebook follows the official CIFAR recipe:
#   {eval}`rwp_paper_settings`. {eval}`rwp_profile_note`
# - **Sequential gradients.** The official code computes the clean and the perturbed gradient on two GPUs
#   at once, each on its own batch; here both are computed one after the other on the same batch, so the
#   cost claim cannot be tested (it is marked "not comparable"). A batched single-device step and a
#   two-process step are timed in {doc}`step_cost`.
# - **No cutout.** The paper's CIFAR runs use cutout; the paper profile here uses random crops and flips only.
#   The smoke profile uses no augmentation.
# - **The smoke model** halves its feature maps with stride-2 convolutions instead of max-pooling (the same
#   sides and parameters; max-pooling with indices is slow on a CPU).
# - **SAM's radius** $\rho$ is SAM's usual CIFAR value, not tuned for this model.
# - **BatchNorm.** Running statistics are not updated on the perturbed passes of RWP and SAM (they are
#   on the clean pass), as in the official code of the follow-up paper.
# - **Flatness measures.** The paper motivates RWP by flatness; $\lambda_{\max}$ and the filter-normalised
#   sharpness on a fixed subset of training images are this chapter's own measures of it.
# - **Effect sizes.** The paper's CIFAR tables were not available: the paper's effect and the smallest effect
#   of interest of every accuracy claim derive from the one gain its abstract quantifies (ImageNet, over SAM),
#   and the flatness threshold is a practical one (see the design above).

# %%
rec.save()
