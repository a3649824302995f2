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
#    rules made for each kind of detector, improves detection and reduces its variance.
#
# **This chapter** trains the OoD benchmark's classifier $K$ times from different seeds on the same data (the
# modes), scores seven detectors on every mode, looks at the loss between two modes on InD and OoD data,
# and scores mode ensembles of every size. Because it has $K$ trained classifiers, its verdicts cover the
# variation between trainings, not only the resampling of test images. The benchmark, the detectors' families
# and the metrics are introduced in {ref}`ood-theory`.

# %% tags=["parameters"]
profile = "smoke"  # "tiny": 2 modes of 1 epoch (checks the code); "smoke": CPU minutes; "paper": CIFAR-10, GPU
seed = 0  # the first mode's seed; the modes use seed, seed + 1, ..., seed + K - 1 (same data for all)
device = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
data_dir = None  # the data and checkpoint cache; None: $REPROBOOK_CACHE or ~/.cache/reprobook

# %%
import pandas as pd

from reprobook import profiles
from reprobook.notebook import show_source, start
from reprobook.ood.ensemble import (ensemble_gain, ensemble_scores, gradnorm_scores, mean_features, mean_logits,
                                    mode_spread, score_ensembles)
from reprobook.ood.ensemble_claims import mode_ensemble_claims
from reprobook.ood.landscape import combine_states, mode_landscape
from reprobook.ood.modes import build_modes, describe_modes, odin_logits, rankfeat_logits, run_scale
from reprobook.chapters.mode_ensemble import PAPER_RANKFEAT, PAPER_RANKFEAT_SOURCE

session = start("mode_ensemble", profile=profile, seed=seed, device=device, data_dir=data_dir,
                title="Mode ensemble for OoD detection")
rec = session.record
cfg = profiles.config("mode_ensemble", profile)
print(f"profile {profile}: K = {cfg.n_modes} modes of {cfg.model} on {cfg.in_dataset}; OoD sets "
      f"{', '.join(cfg.ood_datasets)}; device {session.device}, {session.threads} threads")

# %% [markdown]
# ## The modes
#
# A mode here is one training run of the benchmark's classifier. The seed fixes the initialisation and the
# order of the batches; the data, the architecture and the optimiser are the same for every mode (in the smoke
# profile, the settings of the OoD benchmark, so the Kernel PCA chapter loads these very checkpoints; in the
# paper profile, the paper's 150 epochs of SGD on CIFAR-10 with ResNet-18). Each mode is trained once and
# cached. Every detector then scores the same samples of the InD test set and of each OoD set.

# %%
with rec.timer("modes"):
    modes = build_modes(cfg, seed=seed, device=session.device, data_dir=data_dir, progress=False)
training = rec.glue_result(describe_modes(modes), "me_modes")
rec.metric("modes", training.table.reset_index().to_dict(orient="records"))
training.table.round(4)

# %% [markdown]
# ```{figure}
# :name: fig-me-modes
#
# {eval}`me_modes_figure`
#
# Left: the training loss of each mode, epoch by epoch. Right: each mode's mean cross-entropy on the InD test
# set (bars) and its mean cross-entropy to the uniform distribution on each OoD set (lines; the OoD loss of
# {ref}`the landscape section <me-landscape>`).
# ```
#
# The {eval}`me_modes_n_modes` modes (seeds {eval}`me_modes_seeds`) reach InD test accuracies from
# {eval}`me_modes_acc_min` to {eval}`me_modes_acc_max` (mean {eval}`me_modes_acc_mean`) and test
# losses from {eval}`me_modes_loss_min` to {eval}`me_modes_loss_max`
# ({numref}`fig-me-modes`). {eval}`me_modes_loaded_note` The detectors score
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
show_source(mean_logits)

# %% [markdown]
# where ODIN's $\ell_k$ are each mode's logits at its own perturbed input
# $\tilde x_k = x - \varepsilon \operatorname{sign} \nabla_x \mathrm{CE}(\ell_k(x)/T, \hat y_k)$ and RankFeat's are
# each mode's logits after the rank-1 part $\sigma_1 u_1 v_1^\top$ of its last feature map is removed. Both need the
# images again, so they are computed once per mode with `pytorch-ood`'s `odin_preprocessing` and `RankFeat`:

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
show_source(mean_features)

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
# since the $\ell_1$ norm of an outer product is the product of the norms: no backward pass is needed, so every
# ensemble costs the same as one mode (the tests check the closed form against autograd of the official rule and
# against `pytorch-ood`'s `GradNorm`):

# %%
show_source(gradnorm_scores)

# %% [markdown]
# One function scores any set of modes, a single mode being the ensemble of size 1:

# %%
show_source(ensemble_scores)

# %% [markdown]
# ## Modes differ on OoD data
#
# Every single mode and every ensemble are scored below (single modes first). For each detector and OoD set,
# {numref}`fig-me-spread` shows the FPR95 of each mode, the range they span, and the ensemble of all the modes.
# To tell a real difference between modes from the noise of a finite test set, each cell also gets the
# bootstrap standard deviation of the first mode's FPR95, from resampling its test and OoD samples.

# %%
with rec.timer("ensembles"):
    study = score_ensembles(modes, cfg, seed=seed)
    spread = rec.glue_result(mode_spread(study, cfg, seed=seed), "me_spread")
rec.metric("ensembles", study.table.to_dict(orient="records"))
(100 * spread.per_mode).round(1)

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
# The table gives each mode's FPR95 and AUROC in percent. The widest range is that of {eval}`me_spread_widest`, from
# {eval}`me_spread_widest_low` to {eval}`me_spread_widest_high`. Over the
# {eval}`me_spread_n_cells` cells, the standard deviation of FPR95 across modes averages
# {eval}`me_spread_between_std`, against {eval}`me_spread_sampling_std` for the bootstrap standard
# deviation of one mode ({eval}`me_spread_n_boot` resamplings): the seed moves FPR95
# {eval}`me_spread_ratio` times as much as re-drawing the test images does.

# %% [markdown]
# (me-landscape)=
# ## The loss between two modes
#
# The paper's picture: the modes are equally deep in the InD loss but sit in OoD landscapes of different
# heights. OoD images have no labels; the OoD loss here is the cross-entropy of the prediction to the uniform
# distribution (the Outlier Exposure objective {cite:p}`hendrycks2019oe`, whose gradient GradNorm measures): low
# when the network is unsure about an OoD image, as a detector wants it. The InD loss is the cross-entropy with the
# labels. On the segment $\theta(\alpha) = (1 - \alpha)\,\theta_1 + \alpha\,\theta_2$ between modes 1 and 2
# (extended beyond both), BatchNorm's statistics are re-estimated on training images at every point
# {cite:p}`garipov2018loss`:

# %%
show_source(combine_states)

# %%
with rec.timer("landscape"):
    landscape = rec.glue_result(mode_landscape(modes, cfg), "me_land")
rec.metric("landscape", landscape.segment.to_dict(orient="records"))
landscape.segment.set_index("alpha").round(3)

# %% [markdown]
# ```{figure}
# :name: fig-me-landscape
#
# {eval}`me_land_figure`
#
# Left: InD test cross-entropy on the segment between modes 1 ($\alpha$ = 0) and 2 ($\alpha$ = 1). Right: the
# cross-entropy to the uniform distribution on each OoD set (log scale), on the same segment.
# ```
#
# At the two modes the InD test loss is {eval}`me_land_ind_loss_a` and {eval}`me_land_ind_loss_b`,
# with a barrier of {eval}`me_land_ind_barrier` between them: two separate basins of similar depth
# ({numref}`fig-me-landscape`; {eval}`me_land_n_samples` images per set, {eval}`me_land_n_points`
# points between the modes). On the OoD sets the two modes differ by up to {eval}`me_land_ood_gap` in OoD
# loss (relative to the lower, on {eval}`me_land_ood_gap_set`). {numref}`fig-me-modes` (right) shows the same
# comparison at every mode.

# %% [markdown]
# ## Mode ensembles of growing size
#
# For each size $m$ from 1 to $K$, every ensemble of $m$ modes (or a seeded sample of them when there are many)
# is scored with the rules above; {numref}`fig-me-sizes` shows the mean and the spread over the ensembles of each
# size of the FPR95 averaged over the OoD sets. The table sets the ensemble of all modes against the best and
# the worst single mode.

# %%
gain = rec.glue_result(ensemble_gain(study), "me_gain")
rec.metric("ensemble_vs_single", gain.versus.reset_index().to_dict(orient="records"))
gain.versus.assign(**{c: 100 * gain.versus[c] for c in gain.versus.columns if c != "rule"}).round(1)

# %% [markdown]
# ```{figure}
# :name: fig-me-sizes
#
# {eval}`me_gain_figure`
#
# FPR95 averaged over the OoD sets, against the number of modes in the ensemble: mean over the ensembles of each
# size (line) and their standard deviation (band).
# ```
#
# The ensemble of all modes has a lower FPR95 than the average single mode for {eval}`me_gain_n_improved`
# of the {eval}`me_gain_n_detectors` detectors, and is at least as good as the *best* single mode for
# {eval}`me_gain_n_beats_best` of them. Averaged over the detectors, FPR95 goes from
# {eval}`me_gain_mean_single` for a single mode to {eval}`me_gain_mean_ensemble` for the ensemble.

# %% [markdown]
# ## Verdicts over the modes
#
# Each claim is tested with a rule of `reprobook.claims`, stated here before the numbers; all the chapter's
# p-values are Holm-adjusted together ({eval}`me_verdicts_n_tests` tests).
#
# - *Modes are alike on InD data*: {eval}`me_verdicts_rule_ind`, applied to each mode's InD test accuracy
#   against the mean of the other modes, with a margin of {eval}`me_verdicts_ind_margin`. It covers the
#   variation between trainings.
# - *OoD landscapes differ*: {eval}`me_verdicts_rule_landscape`, on the coefficient of variation over the
#   modes of each OoD set's loss against that of the InD test loss. The spread is over trainings; the test is
#   over OoD sets.
# - *Detection fluctuates across modes*: {eval}`me_verdicts_rule_fluctuation`, on the standard deviation of
#   FPR95 over the modes against the bootstrap standard deviation of one mode. It compares the variation between
#   trainings with that of the test sample; the cells share the modes, so they are not independent.
# - *The ensemble improves detection*: {eval}`me_verdicts_rule_ensemble`. It covers the variation between
#   trainings (the ensemble is built from the very modes it is compared with).
# - *The ensemble reduces the variance*: {eval}`me_verdicts_rule_variance`, on the standard deviation of
#   FPR95 over single modes against that over ensembles of two modes.
#
# A smoke run has few modes, a small network and small OoD sets: it checks the method and the direction of the
# effects, not the paper's numbers.

# %%
scale = run_scale(modes, profile)
verdicts = rec.glue_result(mode_ensemble_claims(training, study, spread, gain, landscape, cfg, scale,
                                                PAPER_RANKFEAT, PAPER_RANKFEAT_SOURCE), "me_verdicts")
rec.glue("me_scale", scale)
rec.add_claims(verdicts.rows)
verdicts.per_detector.round(4)

# %% [markdown]
# The table gives, per detector, the FPR95 of the average single mode and of the ensemble of all modes, with the
# Holm-adjusted p-value of the paired test over the modes.
#
# ## Paper vs this run
#
# The paper's README reports RankFeat on five DenseNet-121 modes trained on ImageNet; this run has its own
# classifier and OoD sets, so only the pattern compares: how wide the range over the modes is, and where the
# ensemble falls in it (FPR95 in percent). Scale of this run: {eval}`me_scale`.

# %%
display(verdicts.rankfeat.set_index(["run", "OoD set"]))
with pd.option_context("display.max_colwidth", None):
    display(rec.claims_frame().drop(columns="Scale of this run").set_index("Claim"))

# %% [markdown]
# ## Deviations from the paper
#
# - **Scale.** The smoke profile trains {eval}`me_modes_n_modes` modes of a small CNN on a FashionMNIST
#   subset with the OoD benchmark's settings (so that the Kernel PCA chapter shares the checkpoints) and uses
#   offline OoD sets (MNIST, animal silhouettes, grayscale CIFAR-10, two noise sets); the paper trains 10
#   ResNet-18 or WRN-28-10 modes for 150 epochs on CIFAR-10 and 5 ImageNet modes. The paper profile follows its
#   CIFAR-10 setting: {eval}`me_paper_settings`.
# - **Detectors.** All come from `pytorch-ood` with their papers' defaults. Mahalanobis uses the penultimate
#   features only, without the input preprocessing and the logistic regression over layers that the official
#   script fits on validation data; KNN is an exact search (scikit-learn) instead of faiss, same results. RankFeat
#   edits the last block only (the official scripts fuse blocks 3 and 4, for ImageNet networks). GradNorm is
#   computed in closed form, equal to autograd. In the official ODIN ensemble the input gradient is not reset
#   between modes, so every mode after the first perturbs with the sum of the gradients so far; here each mode
#   perturbs with its own gradient.
# - **Loss landscape.** The OoD loss is the cross-entropy to the uniform distribution, this book's choice (the
#   definition behind the paper's OoD landscape figures could not be checked here); BatchNorm statistics are
#   re-estimated at every point; the smoke profile draws the segment between two modes only (the plane through
#   three is in the paper profile).
# - **Samples.** Each detector scores a seeded subset of each set (sizes above), the same for every mode.
# - **Statistics.** The verdict rules are this book's; the paper reports means and ranges over modes.
# - **FPR95.** The fraction of OoD samples accepted at 95% InD acceptance, as in the paper.

# %% tags=["remove-cell"]
paper_cfg = profiles.config("mode_ensemble", "paper")
rec.glue("me_paper_settings", f"{paper_cfg.n_modes} modes of {paper_cfg.model}, {paper_cfg.epochs} epochs, "
         f"batch {paper_cfg.batch_size}, SGD lr {paper_cfg.lr}, weight decay {paper_cfg.weight_decay}, cosine schedule; "
         f"OoD sets {', '.join(paper_cfg.ood_datasets)}")
print(f"results written to {rec.save()}")
