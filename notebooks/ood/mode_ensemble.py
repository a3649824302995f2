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
# (mode-ensemble)=
# # Mode ensemble: independent modes and OoD detection
#
# **The paper.** {cite:t}`fang2024modeensemble` look at OoD detection from the loss landscape. Training the same
# network from different random seeds lands in different *modes*, isolated local optima of the loss. Their claims,
# from the abstract:
#
# 1. independent modes "all reach low-loss regions with InD data (training and test data), yet yield
#    significantly different loss landscapes with OoD data";
# 2. hence OoD detection performance fluctuates widely across modes: the FPR95 of RankFeat
#    {cite:p}`song2022rankfeat` "can range from 46.58% to 84.70% among 5 modes";
# 3. a *mode ensemble*, the deep ensemble {cite:p}`lakshminarayanan2017ensembles` of these modes with combination
#    rules made for each kind of detector, leads "to improved performance and benefiting the OoD detector with
#    reduced variances".
#
# **This chapter** trains the OoD benchmark's classifier $K$ times from different seeds on the same data (the
# modes, which every Part II chapter shares), scores seven detectors on every mode and on ensembles of 1 to $K$
# modes, and draws the loss around each mode on InD and OoD data. Every verdict is over the modes (or disjoint
# ensembles of them), so it covers the variation between trainings. The benchmark, the detectors' families and
# the metrics are introduced in {ref}`ood-theory`.

# %% tags=["parameters"]
profile = "smoke"  # "tiny": 4 modes of 1 epoch (checks the code); "smoke": CPU minutes;
                   # "paper": CIFAR-10, GPU
seed = 0  # the first mode's seed; the modes use seed, seed + 1, ..., seed + K - 1
          # (same data for all)
device = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
data_dir = None  # the data and checkpoint cache;
                 # None: $REPROBOOK_CACHE or ~/.cache/reprobook

# %%
import pandas as pd

from reprobook import claims, profiles
from reprobook.chapters.mode_ensemble import ensembles, report
from reprobook.chapters.mode_ensemble import experiment as tests_of
from reprobook.chapters.mode_ensemble.slices import mode_segment, mode_slices
from reprobook.configs.mode_ensemble import (PAPER_RANKFEAT, PAPER_RANKFEAT_SOURCE,
                                              claim_specs)
from reprobook.configs.ood_benchmark import natural_sets
from reprobook.notebook import show_source, start
from reprobook.ood import ensemble as ens
from reprobook.ood.mode_landscape import filter_normalized_direction, fixed_target_loss
from reprobook.ood.modes import build_modes, odin_logits, rankfeat_logits

session = start("mode_ensemble", profile=profile, seed=seed, device=device,
                data_dir=data_dir, title="Mode ensemble for OoD detection")
rec = session.record
cfg = profiles.config("mode_ensemble", profile)
natural = natural_sets(cfg.ood_datasets)
specs = claim_specs(cfg)
print(f"profile {profile}: K = {cfg.n_modes} modes of {cfg.model} on {cfg.in_dataset}; "
      f"OoD sets {', '.join(cfg.ood_datasets)} (natural: {', '.join(natural)}); "
      f"device {session.device}")

# %% [markdown]
# ## The claims and the design, before any result
#
# Each claim has one primary endpoint, stated here before the numbers, tested one-sided at $\alpha$ = 0.025 with
# a 95 % interval and Holm-adjusted over the chapter's five tests:
#
# - *alike*: the between-mode standard deviation of the InD test accuracy **and** of the InD test loss, each
#   with its $\chi^2$ interval; reproduced when both upper bounds lie below their margins (both stated below);
# - *landscape*: around each mode, the relative depth of its slice below the mode, $(L(\theta) - \min L)/L(\theta)$,
#   on OoD data against InD data (0: the mode is the minimum of its slice), a paired $t$-test over the modes;
# - *fluctuates*: the between-mode standard deviation of FPR95, averaged over the cells (the paper's CIFAR
#   detectors × the natural OoD sets), against a Monte-Carlo null: the same statistic for $K$ values drawn from one
#   mode's bootstrap rounds, i.e. the spread that re-drawing the test images alone would give;
# - *improves*: FPR95 averaged over the paper's CIFAR detectors and the natural OoD sets, for disjoint ensembles
#   (five pairs of the ten modes) against the mean of their own members, a paired $t$-test over the ensembles;
# - *variance*: over all pairs $\{i, j\}$, the standard deviation of the ensemble's FPR95 against that of
#   $(\mathrm{FPR95}_i + \mathrm{FPR95}_j)/2$, the spread averaging alone gives; a bootstrap over the modes.
#
# Every claim is about trained modes: a run whose modes had not converged, or whose modes are one network, is
# *not comparable*. The modes have converged when, over the last tenth of the epochs, their mean fall of the loss
# on the whole training set (eval mode, no augmentation), at its one-sided 95 % upper bound (a $t$ bound over the
# modes), is below the standard deviation of the final loss across the modes: the training still left moves a
# mode, on average, less than the seeds move the modes apart, so comparing modes compares trained networks. A
# pilot on this profile's own modes (seeds 0–9 trained by this chapter's code, the rule computed and nothing else)
# shows both sides: 10 and 20 epochs fail it (bounds 0.0384 and 0.0120 nats against spreads of 0.0124 and
# 0.0100); 30, 40, 60 and 80 epochs pass it (0.0063, 0.0066, 0.0023 and 0.0011 against 0.0096, 0.0093, 0.0046 and
# 0.0024), and so do seeds 10–19 at 60 and 80 epochs (0.0023 against 0.0032; 0.0010 against 0.0017). The profile
# trains 60 epochs.
#
# **This is the rule's fourth form, and each form was chosen after the earlier ones had been seen.** The run of
# 2026-12-04 used the epoch mean of the training steps' loss over the last epoch (tolerance 2 %), which mixes a
# whole epoch of weights with training-mode batch statistics. The next run used the whole training set's loss
# with a relative tolerance of 2 % over the last tenth: under a cosine schedule the last tenth lowered the loss by
# a few per cent at every length tried (up to 80 epochs, or twice the images), so that rule decided every claim
# before its data. The third form (2026-12-05 to 2026-12-07) asked *every* mode's fall to be below the spread.
# The largest of K falls grows with K while the spread does not, and from about 30 epochs on the falls and the
# spread shrink together, so that form passed or failed by chance, and failed more often the more modes a run
# trained: seeds 0–9 passed it at 30 epochs and failed it at 40 (seed 9: 0.0115 nats against 0.0093), which left
# every claim of this chapter and of Kernel PCA *not comparable* in the books of 2026-12-06; the profile then
# moved to 60 epochs, the one longer length its pilot tried, where seeds 0–9 pass and seeds 10–19 fail (0.0032
# against 0.0032), and at 80 epochs likewise (0.0016 against 0.0024; 0.0018 against 0.0017). The 40-epoch runs'
# estimates had been computed and shown (as *not comparable*) when 60 epochs was chosen. The present form
# converges with the number of modes to its question; the test suite checks that on simulated modes (its pass rate
# rises with K for falls like the pilots' and stays near zero for falls beyond the spread, where the third form's
# falls with K). It was declared knowing the pilots above and after the Part II estimates of the 40- and 60-epoch
# books had been seen; on seeds 0–9 at 60 epochs (the smoke book's) it reads as the third form did, and the
# convergence line below also says what the third form reads. Read these verdicts with that in mind.
#
# GradNorm and RankFeat run only on ImageNet networks in the official code: they are scored and
# shown, never in a primary endpoint. *Reproduced*: the test rejects; *contradicted*: the interval excludes the
# smallest effect of interest (SESOI), even where the test rejects (an effect real but smaller than any that
# would matter); otherwise *inconclusive*, with the power this run had and its minimum detectable effect (MDE).

# %%
claims.design_frame(specs)

# %% [markdown]
# ## The modes
#
# A mode here is one training run of the benchmark's classifier. The seed fixes the initialisation and the
# order of the batches; the data, the architecture and the optimiser are the same for every mode (in the smoke
# profile, the settings of the OoD benchmark, so the Kernel PCA and DDoS chapters load these very checkpoints; in
# the paper profile, the paper's 150 epochs of SGD on CIFAR-10 with ResNet-18). Each mode is trained once with a
# cosine learning rate down to zero and cached. Every detector then scores the same samples of the InD test set
# and of each OoD set.

# %%
with rec.timer("modes"):
    modes = build_modes(cfg, seed=seed, device=session.device, data_dir=data_dir,
                        progress=False)
training = rec.glue_result(report.describe_modes(modes), "me_modes")
rec.metric("modes", training.table.reset_index().to_dict(orient="records"))
training.table.drop(columns=["loaded"]).round(4)

# %% [markdown]
# ```{figure}
# :name: fig-me-modes
#
# {eval}`me_modes_figure`
#
# Left: the training loss of each mode, epoch by epoch. Right: each mode's InD test cross-entropy (bars) and its
# mean $-\log \max_c p_c$ on each OoD set (lines; the loss {eq}`eq-me-loss` at the mode).
# ```
#
# The {eval}`me_modes_n_modes` modes (seeds {eval}`me_modes_seeds`) end with losses on their whole training set
# (eval mode) from {eval}`me_modes_train_loss_min` to {eval}`me_modes_train_loss_max`, InD test accuracies from
# {eval}`me_modes_acc_min` to {eval}`me_modes_acc_max` (mean {eval}`me_modes_acc_mean`) and test losses from
# {eval}`me_modes_loss_min` to {eval}`me_modes_loss_max` ({numref}`fig-me-modes`). Convergence:
# {eval}`me_modes_convergence`. Two modes disagree on {eval}`me_modes_disagreement` of the InD test images on
# average: they are distinct networks. {eval}`me_modes_loaded_note` The detectors score
# {eval}`me_modes_n_scored` samples, the same for every mode.

# %% [markdown]
# ## The detectors and their combination rules
#
# Seven post-hoc detectors, as in the paper, each from `pytorch-ood` {cite:p}`kirchheim2022pytorchood` on a single
# mode: MSP {cite:p}`hendrycks2017baseline`, ODIN {cite:p}`liang2018odin` ($T$ = 1000, $\varepsilon$ = 0.0014),
# Energy {cite:p}`liu2020energy`, Mahalanobis {cite:p}`lee2018mahalanobis` and KNN {cite:p}`sun2022knn`
# ($k$ = 50) on the penultimate features, GradNorm {cite:p}`huang2021gradnorm` and RankFeat
# {cite:p}`song2022rankfeat`. Every score is an *outlier score*: larger means more likely OoD.
#
# The official repository combines $m$ modes at the representation each detector reads. For MSP, Energy, ODIN
# and RankFeat it averages the logits $\ell_k(x)$ of the modes and scores the average,
#
# $$
# \bar\ell(x) = \frac{1}{m} \sum_{k=1}^{m} \ell_k(x) ,
# $$ (eq-me-logits)

# %%
show_source(ens.mean_logits)

# %% [markdown]
# where ODIN's $\ell_k$ are each mode's logits at its own perturbed input
# $\tilde x_k = x - \varepsilon \operatorname{sign} \nabla_x \mathrm{CE}(\ell_k(x)/T, \hat y_k)$, the step taken on
# the normalised input as in the official `utils_ood.py` (not divided by the per-channel standard deviation), and
# RankFeat's are each mode's logits after the rank-1 part $\sigma_1 u_1 v_1^\top$ of its last feature map is removed.
# Both need the images again, so they are computed once per mode with `pytorch-ood`:

# %%
show_source(odin_logits)

# %%
show_source(rankfeat_logits)

# %% [markdown]
# For KNN and Mahalanobis the official code averages the penultimate features, of the training images as of the
# test ones, and fits and scores the detector on the averages:
#
# $$
# \bar z(x) = \frac{1}{m} \sum_{k=1}^{m} z_k(x) .
# $$ (eq-me-features)

# %%
show_source(ens.mean_features)

# %% [markdown]
# GradNorm scores the norm of the gradient of the cross-entropy to the uniform distribution with respect to the
# last layer. The official ensemble takes that loss on the averaged logits,
# $L = -\sum_c \log \operatorname{softmax}(\bar\ell/T)_c$, and averages the $\ell_1$ norms of the gradients it
# sends to each mode's last layer $W_k$. With $g = \partial L / \partial \bar\ell = (C \operatorname{softmax}(\bar\ell/T) - 1)/T$,
#
# $$
# \frac{\partial L}{\partial W_k} = \frac{1}{m}\, g\, z_k^\top, \qquad
# \text{GradNorm}_m(x) = \frac{1}{m} \sum_{k=1}^{m} \Big\| \frac{\partial L}{\partial W_k} \Big\|_1
# = \frac{1}{m^2}\, \|g\|_1 \sum_{k=1}^{m} \|z_k\|_1 ,
# $$ (eq-me-gradnorm)
#
# since the $\ell_1$ norm of an outer product is the product of the norms: no backward pass is needed (the tests
# check the closed form against autograd of the official rule and against `pytorch-ood`'s `GradNorm`):

# %%
show_source(ens.gradnorm_scores)

# %% [markdown]
# One function scores any set of modes, a single mode being the ensemble of size 1:

# %%
show_source(ens.ensemble_scores)

# %% [markdown]
# ## Modes differ on OoD data
#
# Every single mode, every pair of modes, a seeded sample of the ensembles of each size in
# {eval}`me_sizes` and the ensemble of all modes are scored. For each detector and OoD set,
# {numref}`fig-me-spread` shows the FPR95 of each mode, the range they span, and the ensemble of all the modes.
# Mode 1's test and OoD samples are also resampled ({eval}`me_spread_n_boot` bootstrap rounds, the same rounds for
# every detector): how much FPR95 moves when only the test images change.

# %%
rec.glue("me_sizes", "{" + ", ".join(str(m) for m in cfg.ensemble_sizes) + "}")
with rec.timer("ensembles"):
    study = ensembles.score_ensembles(modes, cfg, seed=seed)
    spread = rec.glue_result(ensembles.mode_spread(study, cfg, seed=seed), "me_spread")
rec.metric("ensembles", study.table.to_dict(orient="records"))
(100 * spread.per_mode["FPR95"]).round(1)

# %% [markdown]
# ```{figure}
# :name: fig-me-spread
#
# {eval}`me_spread_figure`
#
# FPR95 (lower is better) of each mode (dots; bar: the range over the modes) and of the ensemble of all modes
# (star), per detector and OoD set.
# ```
#
# The table gives each mode's FPR95 in percent. The widest range is that of {eval}`me_spread_widest`, from
# {eval}`me_spread_widest_low` to {eval}`me_spread_widest_high`. The fluctuation claim reads the cells of the
# paper's CIFAR detectors on the natural OoD sets:

# %%
per_mode, rounds = ensembles.fluctuation_inputs(spread, cfg.primary_detectors, natural)
fluct = rec.glue_result(tests_of.fluctuation_claim(
    specs[2], per_mode, rounds, draws=cfg.null_draws, family=len(specs),
    seed=seed), "me_fl")
spread.cells.set_index(["detector", "ood_set"]).mul(100).round(2)

# %% [markdown]
# Over those {eval}`me_fl_n_cells` cells, the standard deviation of FPR95 across the modes averages
# $\sigma_\text{seed}$ = {eval}`me_fl_sigma_seed` (95 % interval over the modes {eval}`me_fl_sigma_seed_low` to
# {eval}`me_fl_sigma_seed_high`), against $\sigma_\text{sample}$ = {eval}`me_fl_sigma_sample` for $K$ draws of mode
# 1's bootstrap rounds (95 % of {eval}`me_fl_draws` Monte-Carlo draws between {eval}`me_fl_null_low` and
# {eval}`me_fl_null_high`).

# %% [markdown]
# (me-landscape)=
# ## The loss around each mode
#
# The paper's picture (its README's figure, after {cite:t}`li2018visualizing`): a plane of two random directions
# around a mode, the InD loss beside the OoD loss. OoD images have no labels, so one loss serves both: the
# cross-entropy to the class the mode itself predicts, $\hat y(x) = \arg\max_c f_{\theta_0}(x)_c$, kept fixed along
# the slice,
#
# $$
# L(\theta; x) = -\log \operatorname{softmax}(f_\theta(x))_{\hat y(x)} .
# $$ (eq-me-loss)
#
# On every InD image the mode classifies correctly it is the labelled cross-entropy the mode was trained on; it is
# defined on OoD images alike; and at the mode it equals $-\log \max_c p_c$, below $\log C$ as the paper's OoD
# contours (1.1, 1.6, 2.1, below $\log 10$) are. (Measuring $-\log \max_c p_c$ at *every* point instead would not
# draw a landscape of the mode: any confident prediction lowers it, right or wrong.)

# %%
show_source(fixed_target_loss)

# %% [markdown]
# The directions are *filter-normalised* {cite:p}`li2018visualizing`: each filter of a Gaussian direction is
# rescaled to the norm of the same filter of the mode, so that the plane has the same scale for every layer and
# every mode; biases and BatchNorm parameters are not moved and BatchNorm keeps the mode's statistics. The grid is
# {eval}`me_sl_n_points` × {eval}`me_sl_n_points` points over $[-r, r]^2$, $r$ = {eval}`me_sl_radius`, on
# {eval}`me_sl_n_samples` images of each set:

# %%
show_source(filter_normalized_direction)

# %%
with rec.timer("slices"):
    slices = rec.glue_result(mode_slices(modes, cfg, natural, seed=seed), "me_sl")
rec.metric("slices", slices.table.to_dict(orient="records"))
slices.depths.round(3)

# %% [markdown]
# ```{figure}
# :name: fig-me-slices
#
# {eval}`me_sl_figure`
#
# Left and middle: mode 1's InD and OoD losses (the mean over the natural OoD sets) on its plane; the star is the
# mode. Right: for every mode, the depth of its slice below the mode, $(L(\theta) - \min L)/L(\theta)$.
# ```
#
# The InD slice has its minimum at the mode for {eval}`me_sl_ind_at_min` of the {eval}`me_sl_n_modes` modes (mean
# depth {eval}`me_sl_depth_ind`), the OoD slice (mean loss of the natural sets) for {eval}`me_sl_ood_at_min` (mean
# depth over the sets {eval}`me_sl_depth_ood`) ({numref}`fig-me-slices`).
#
# **Between two modes.** On the segment $\theta(\alpha) = (1 - \alpha)\,\theta_1 + \alpha\,\theta_2$ (extended
# beyond both), with BatchNorm's statistics re-estimated on training images at every point
# {cite:p}`garipov2018loss`, the same loss, its fixed targets the decisions of the two modes' ensemble:

# %%
with rec.timer("segment"):
    segment = rec.glue_result(mode_segment(modes, cfg, natural), "me_seg")
rec.metric("segment", segment.segment.to_dict(orient="records"))
segment.segment.set_index("alpha").round(3)

# %% [markdown]
# ```{figure}
# :name: fig-me-segment
#
# {eval}`me_seg_figure`
#
# The loss {eq}`eq-me-loss` on the segment between modes 1 ($\alpha$ = 0) and 2 ($\alpha$ = 1): InD test (black)
# and each natural OoD set.
# ```
#
# At the two modes the InD loss is {eval}`me_seg_ind_loss_a` and {eval}`me_seg_ind_loss_b`, with a barrier of
# {eval}`me_seg_ind_barrier` between them ({eval}`me_seg_n_samples` images per set, {eval}`me_seg_n_points` points
# between the modes). On the OoD sets the two modes differ by up to {eval}`me_seg_ood_gap` (relative to the lower,
# on {eval}`me_seg_ood_gap_set`) ({numref}`fig-me-segment`).

# %% [markdown]
# ## Mode ensembles of growing size
#
# {numref}`fig-me-sizes` shows the primary endpoint, FPR95 averaged over the CIFAR detectors and the natural OoD
# sets, for every scored ensemble against its size, and each detector's curve. The claim's units are the
# {eval}`me_gain_n_units` disjoint ensembles of {eval}`me_gain_unit_size` modes, each against the mean of its own
# members:

# %%
gain = rec.glue_result(ensembles.ensemble_gain(study, cfg, natural), "me_gain")
rec.metric("units", gain.units.reset_index().to_dict(orient="records"))
gain.units.mul(100).round(2)

# %% [markdown]
# ```{figure}
# :name: fig-me-sizes
#
# {eval}`me_gain_figure`
#
# Left: the primary endpoint of every scored ensemble (grey) and its mean per size (black). Right: each detector's
# FPR95 on the natural sets, mean per size (dashed: ImageNet-only in the official code).
# ```
#
# The units' members average {eval}`me_gain_mean_members` and their ensembles {eval}`me_gain_mean_ensembles`
# (mean gain {eval}`me_gain_mean_gain`); the ensemble of all modes reaches {eval}`me_gain_full`, against single
# modes from {eval}`me_gain_best_single` to {eval}`me_gain_worst_single`. Over the pairs, the ensembles' FPR95 has
# a standard deviation of {eval}`me_gain_sd_pairs`, against {eval}`me_gain_sd_pairs_averaged` for the averages of
# the two members' FPR95 and {eval}`me_gain_sd_singles` for single modes. Per detector (descriptive; mean gain of
# the units with its 95 % $t$-interval, in points of FPR95):

# %%
gain.per_detector.assign(**{c: 100 * gain.per_detector[c]
                            for c in ("mean gain", "95 % low", "95 % high")}).round(2)

# %% [markdown]
# ## The claims
#
# The chapter's own two tests (the others are rules of `reprobook.claims`) and the guard every claim passes: a
# claim about converged, distinct modes reads *not comparable* when the modes did not converge or do not disagree.

# %%
show_source(tests_of.alike_test)

# %%
show_source(tests_of.variance_test)

# %%
show_source(tests_of.guard_modes)

# %%
acc, loss = training.table["InD test accuracy"], training.table["InD test loss"]
results = [tests_of.alike_test(specs[0], acc, loss, cfg.alike_loss_margin),
           claims.evaluate(specs[1], slices.depths["OoD"], slices.depths["InD"]),
           fluct.test,
           claims.evaluate(specs[3], gain.units["members' mean"],
                           gain.units["ensemble"]),
           tests_of.variance_test(specs[4], gain.singles, gain.pairs, len(specs),
                                  ensembles.variance_ratio, seed=seed)]
scale = report.run_scale(modes, profile)
results = tests_of.guard_modes(results, training.converged, training.convergence_detail,
                               training.facts.disagreement)
results = [claims.ClaimTest(t.spec, t.verdict, t.this_run, scale)
           for t in claims.holm_tests(results)]
rec.add_claims(results)
rec.glue("me_scale", scale)
claims.claims_table(results)

# %% [markdown]
# Scale of this run: {eval}`me_scale`. A smoke run has a small network, a FashionMNIST subset and offline OoD
# sets: it tests the paper's mechanisms on ten real trainings, not its CIFAR-10 or ImageNet numbers.
#
# ## Paper vs this run
#
# The paper's README reports RankFeat on five DenseNet-121 modes trained on ImageNet; RankFeat edits the last
# feature map of an ImageNet network, and the official code runs it only there, so this run's RankFeat numbers are
# shown for the pattern only (how wide the range over the modes is, where the ensemble of all modes falls), FPR95
# in percent.

# %%
rank = spread.cells[spread.cells.detector == "RankFeat"].set_index("ood_set")
pd.DataFrame([{"run": "paper (DenseNet-121, ImageNet)", "OoD set": s,
               "best mode": min(v["modes"]), "worst mode": max(v["modes"]),
               "ensemble of all": v["ensemble"]} for s, v in PAPER_RANKFEAT.items()]
             + [{"run": "this run (ImageNet-only detector)", "OoD set": s,
                 "best mode": round(100 * r["min"], 2),
                 "worst mode": round(100 * r["max"], 2),
                 "ensemble of all": round(100 * r["ensemble of all"], 2)}
                for s, r in rank.iterrows()]).set_index(["run", "OoD set"])

# %% [markdown]
# Source of the paper's numbers: {eval}`me_rankfeat_source`.
#
# ## Deviations from the paper
#
# - **Scale.** The smoke profile trains {eval}`me_modes_n_modes` modes of a small CNN on a FashionMNIST subset
#   with the OoD benchmark's settings (shared by every Part II chapter) and uses offline OoD sets (MNIST, animal
#   silhouettes, grayscale CIFAR-10; two noise sets, shown but out of every endpoint); the paper trains 10 ResNet-18
#   or WRN-28-10 modes for 150 epochs on CIFAR-10 and 5 ImageNet modes. The paper profile follows its CIFAR-10
#   setting: {eval}`me_paper_settings`.
# - **Detectors.** All come from `pytorch-ood` with their papers' defaults. Mahalanobis uses the penultimate
#   features only, without the input preprocessing and the logistic regression over layers that the official
#   script fits on validation data; KNN is an exact search (scikit-learn) instead of faiss, same results. RankFeat
#   edits the last block only, and it and GradNorm (ImageNet-only in the official code) are out of the primary
#   endpoints. GradNorm is computed in closed form, equal to autograd. In the official ODIN ensemble the input
#   gradient is not reset between modes, so every mode after the first perturbs with the sum of the gradients so
#   far; here each mode perturbs with its own gradient.
# - **Loss landscape.** The paper does not say which loss its OoD landscape shows; this chapter uses
#   {eq}`eq-me-loss`, the cross-entropy to the mode's own decisions, on InD and OoD data alike. A first smoke run of
#   this chapter (whose modes had not converged, so no verdict was drawn) used $-\log \max_c p_c$ at every point
#   instead; every mode's InD slice dipped far below the mode, because any confident prediction lowers that loss,
#   and it was replaced by the fixed-target loss before the run this page shows. The plane's radius and resolution
#   are this book's; the endpoint reads the grid, so a dip narrower than its step is not seen. The smoke plane
#   spans $\pm 0.2$ filter norms: at $\pm 0.5$ (a run of 2026-12-05) the first grid point, 1/6 of a filter norm
#   away, already multiplied every mode's InD test loss by about five, every relative depth was 0 and the claim
#   had no variation to test; the radius was changed before any run at the new one.
# - **Ensemble sizes.** The README's ensemble row does not state its size (the official example uses 3 modes);
#   the claim's units are disjoint pairs, and the paper's 5-mode gain is scaled to a pair by $1 - 1/m$ for the
#   paper's effect (a model of averaging, stated in the design table).
# - **Samples.** Each detector scores a seeded subset of each set (sizes above), the same for every mode.
# - **Statistics.** The paper reports means and ranges over modes; the tests here are this book's, declared in the
#   design table. The variance claim bootstraps ten modes, where a percentile-type interval is only approximate.

# %% tags=["remove-cell"]
paper_cfg = profiles.config("mode_ensemble", "paper")
rec.glue("me_paper_settings",
         f"{paper_cfg.n_modes} modes of {paper_cfg.model}, {paper_cfg.epochs} epochs, "
         f"batch {paper_cfg.batch_size}, SGD lr {paper_cfg.lr}, "
         f"weight decay {paper_cfg.weight_decay}, cosine schedule; "
         f"OoD sets {', '.join(paper_cfg.ood_datasets)}")
rec.glue("me_rankfeat_source", PAPER_RANKFEAT_SOURCE)
print(f"results written to {rec.save()}")
