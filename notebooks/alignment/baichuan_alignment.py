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
# (baichuan-alignment)=
# # Baichuan Alignment: SFT, reward models, DPO, GRPO and model merging
#
# **The report.** {cite:t}`lin2024baichuanalignment` describe how the Baichuan models are aligned, in three
# stages: a prompt augmentation system (PAS, reproduced in its own chapter), supervised fine-tuning
# (SFT) and preference alignment. The report names the techniques it kept:
#
# 1. **SFT efficiency**: packing samples into full-length sequences (kept apart by FlashAttention-2's
#    `cu_seqlens`) raised token utilisation "from 10% to 98%";
# 2. **reward model**: the Bradley–Terry loss plus a pointwise squared error toward normalised absolute
#    scores (weight $\alpha$, 0 for pairwise-only data);
# 3. **reinforcement learning**: PPO and GRPO were both tried and GRPO kept (3 samples per prompt) "at about
#    half the compute"; a KL toward the original model replaces PPO's pre-training term;
# 4. **model merging**: of Linear, Task Arithmetic and Model Stock, Model Stock {cite:p}`jang2024modelstock`
#    worked best;
# 5. the results: user-experience gains of 17–28% for Baichuan-Instruct (Table 1), and Qwen2-Nova-72B and
#    Llama3-PBM-Nova-70B ahead of the official instruct models on nearly every open benchmark (Tables 2–3).
#
# The report releases no code. **This chapter** runs the stages with `trl` from SmolLM2-135M-Instruct
# {cite:p}`allal2024smollm2`: SFT on natural-instructions tasks {cite:p}`mishra2022naturalinstructions`
# (LoRA {cite:p}`hu2022lora`, packed), reward models on the HHH preference pairs {cite:p}`askell2021hhh`,
# DPO {cite:p}`rafailov2023dpo` runs with different seeds merged by Model Stock, GRPO
# {cite:p}`shao2024deepseekmath` on a task with a verifiable reward; then it measures every stage on data
# none of them trained on, and only after checking that the stage moved the model at all. Every trained
# model is cached by its configuration, data and code: a re-run only evaluates.

# %% tags=["parameters"]
profile = "smoke"  # "tiny": a random tiny model, seconds;
                   # "smoke": SmolLM2-135M-Instruct on a CPU, minutes;
                   # "paper": any HF model on GPUs
seed = 0  # data splits, LoRA initialisation, sampling
device = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
data_dir = None  # the data and checkpoint cache;
                 # None: $REPROBOOK_CACHE or ~/.cache/reprobook

# %%
from reprobook import claims, llm, profiles
from reprobook.alignment import preference, reward, scoring
from reprobook.alignment import sft as sft_methods
from reprobook.chapters.baichuan_alignment import (data, experiment, measures,
                                                   report, rewards)
from reprobook.configs.baichuan_alignment import PAPER_PACKING, claim_specs
from reprobook.llm import merging
from reprobook.notebook import show_source, start

session = start("baichuan_alignment", profile=profile, seed=seed, device=device,
                data_dir=data_dir, title="Baichuan Alignment")
rec = session.record
cfg = profiles.config("baichuan_alignment", profile)
specs = claim_specs(cfg)
with rec.timer("load model"):
    lm = data.start_model(cfg, device=session.device, seed=seed)
configs = report.stage_configs(cfg, seed=seed)
rec.glue("ba_model", f"{lm.name} ({lm.parameters / 1e6:.0f}M parameters)")
print(f"profile {profile}: {lm.name}, {lm.parameters / 1e6:.1f}M parameters, "
      f"device {lm.device}, {session.threads} threads; "
      f"loaded in {lm.load_seconds:.1f} s")

# %% [markdown]
# The starting model is {eval}`ba_model`.
#
# ## The claims and the design, before any result
#
# Each claim is tested on held-out units, paired where two models answer the same items: a one-sided paired
# $t$-test at $\alpha$ = 0.025 with a 95 % interval, Holm-adjusted over the chapter's tests. Pairs that share
# an HHH request are averaged into one unit, the request. The smallest effects of interest are practical
# thresholds: the report gives no number on any of these scales. A claim about a trained stage is *not
# comparable* when the stage did not move the model: under {eval}`ba_max_identical` of its greedy answers to
# {eval}`ba_guard_prompts` held-out requests identical to its parent's, or a mean per-token KL to its
# parent of at least {eval}`ba_min_kl` nats, counts as moved.

# %%
for name in ("max_identical", "guard_prompts", "min_kl"):
    rec.glue(f"ba_{name}", getattr(cfg, name),
             fmt=".0%" if name == "max_identical" else None)
claims.design_frame(specs)

# %% [markdown]
# ## The data
#
# Two offline sources stand in for the report's internal data. **Natural instructions**: the chapter
# fine-tunes on examples of nine generation tasks (writing questions and answers about event durations,
# orderings and frequencies; combining and questioning science facts) and scores the reference answers of
# four *other* tasks, held out. **HHH** pairs (a request, a better and a worse answer; helpful, honest,
# harmless, other) are split by request, so that no request has pairs on two sides: a test split for
# evaluation only, split A (DPO's pairs) and split B (the reward models, whose judge never saw a policy's
# training data).

# %%
d = rec.glue_result(data.prepare_data(lm, cfg, seed=seed), "ba_data")
counts = d.facts
{"SFT examples (train tasks)": len(d.sft), "held-out-task examples": len(d.heldout_ni),
 "HHH pairs: test / A / B": f"{counts.n_test} / {counts.n_a} / {counts.n_b}",
 "held-out requests": counts.n_test_prompts,
 "NI scored pairs (reward models)": counts.n_ni_pairs}

# %% [markdown]
# Of the {eval}`ba_data_n_hhh` HHH pairs, {eval}`ba_data_n_hhh_kept` fit the length limit;
# {eval}`ba_data_n_test` of them, on {eval}`ba_data_n_test_prompts` requests, form the test split.
#
# ## Supervised fine-tuning
#
# ### The loss covers the assistant's tokens only
#
# SFT minimises the negative log-likelihood of the answer $y$ given the prompt $x$, token by token, and
# *not* of the prompt:
#
# $$
# \mathcal{L}_{\text{SFT}} = -\frac{1}{|y|} \sum_{t=1}^{|y|} \log \pi_\theta(y_t \mid x, y_{<t}) .
# $$ (eq-ba-sft)
#
# Each example is a conversational prompt–completion row; trl's `SFTTrainer` tokenises prompt and
# completion and its collator sets the label of every prompt token to $-100$ (ignored by the loss). One
# tokenised example as the collator hands it to the model (its last tokens):

# %%
mask = sft_methods.loss_mask_table(
    lm, llm.sft_rows([d.sft[0]["prompt"]], [d.sft[0]["answer"]])[0])
rec.glue("ba_mask_trained", int(mask["in the loss"].sum()))
rec.glue("ba_mask_total", len(mask))
mask.tail(16).T

# %% [markdown]
# {eval}`ba_mask_trained` of the example's {eval}`ba_mask_total` tokens carry a loss.
#
# ### Packing against padding
#
# A batch of sequences of different lengths is padded to a common length, and the padding costs compute.
# *Token utilisation* is the share of computed token slots that hold real tokens. Packing fills bins of
# the maximum length with whole sequences, best fit decreasing; on a CPU trl feeds the bins padding-free,
# with position ids restarting at each sequence, so that sequences never attend to each other. Given the
# sequence lengths, utilisation is arithmetic: a fact of the data, recorded beside the report's numbers
# (the status page's checks), not a claim.

# %%
show_source(sft_methods.utilisation)

# %%
with rec.timer("sft"):
    sft = rec.glue_result(sft_methods.sft_stage(
        lm, data.sft_data(d), config=configs["sft"],
        table_lengths=d.length_sample,
        n_tasks=len({e["task"] for e in d.sft})), "ba_sft")
packing = sft.facts
rec.check("packing fills the bins that padding wastes",
          packing.util_packed_long > packing.util_pad_max_long,
          f"at {packing.long_length} tokens: {packing.util_pad_max_long:.0%} padded "
          f"to the maximum, {packing.util_packed_long:.0%} packed",
          paper=f"{PAPER_PACKING[0]:.0%} → {PAPER_PACKING[1]:.0%}")
display(sft.utilisation.style.format("{:.1%}")
        .set_caption("token utilisation by maximum length"))
sft.runs.round(2)

# %% [markdown]
# On these {eval}`ba_sft_n_examples` examples, at the training length ({eval}`ba_sft_max_length` tokens)
# padding every sequence to the maximum length uses {eval}`ba_sft_util_pad_max` of the slots, padding to
# the longest sequence in each batch {eval}`ba_sft_util_pad_longest`, and packing {eval}`ba_sft_util_packed`.
# With the long contexts the report trains at, a fixed shape wastes almost everything and packing fills
# its bins: over {eval}`ba_sft_n_table` examples of the training tasks, at {eval}`ba_sft_long_length`
# tokens padding uses {eval}`ba_sft_util_pad_max_long` of the slots and packing
# {eval}`ba_sft_util_packed_long`. The packed SFT run's loss went from {eval}`ba_sft_loss_first` to
# {eval}`ba_sft_loss_last` in {eval}`ba_sft_steps` steps.
#
# ### Did SFT move the model, and does it generalise?
#
# Every trained stage is first compared with its parent on the held-out requests: greedy answers and the
# mean per-token KL divergence on the parent's answers, computed on the completion's positions only:

# %%
show_source(scoring.moved)

# %%
with rec.timer("sft evaluation"):
    guard_start = measures.parent(lm, d.test_prompts[:cfg.guard_prompts], cfg)
    guard_sft = measures.parent(sft.model, d.test_prompts[:cfg.guard_prompts], cfg)
    sft_ev = rec.glue_result(experiment.sft_eval(lm, guard_sft, d, guard_start, cfg),
                             "ba_sfte")

# %% [markdown]
# Against the start, {eval}`ba_sfte_identical` of SFT's greedy answers are identical, at a KL of
# {eval}`ba_sfte_kl` nats per token. On {eval}`ba_data_n_heldout` examples of
# {eval}`ba_data_n_heldout_tasks` held-out tasks, the reference answers cost {eval}`ba_sfte_mean_start`
# nats per token under the start and {eval}`ba_sfte_mean_sft` after SFT.
#
# ## Reward models
#
# A reward model $r_\phi(x, y)$ scores an answer. The report's loss is Bradley–Terry on a pair (chosen $y_c$,
# rejected $y_r$) plus, where absolute scores $s$ exist, a pointwise squared error:
#
# $$
# \mathcal{L}_{\text{RM}} = -\log \sigma\big(r_\phi(x, y_c) - r_\phi(x, y_r)\big)
#  + \alpha \cdot \tfrac{1}{2}\big[(r_\phi(x, y_c) - s_c)^2 + (r_\phi(x, y_r) - s_r)^2\big] .
# $$ (eq-ba-rm)
#
# HHH pairs have no absolute scores ($\alpha$ counts for them as 0). **What stands in for them**:
# natural-instructions pairs whose chosen answer is the reference and whose rejected answer is another
# example's reference from the same task, each scored by its ROUGE-L against the example's references.
# The reward model here is a linear head on the frozen SFT model's last-token features, $r = w^\top\phi + b$:
# the loss is then convex, so the fit runs to convergence (L-BFGS, a gradient norm under $10^{-4}$) and its
# result does not depend on the seeded start. The L2 weight is chosen by cross-validation on the training
# pairs; the same heads are fitted with and without the pointwise term; scores are in units of each head's
# standard deviation on its training answers.

# %%
show_source(reward.fit_reward_head)

# %%
with rec.timer("reward models"):
    rm = rec.glue_result(rewards.reward_models(sft.model, d, cfg, seed=seed),
                         "ba_rm")
rm.table

# %% [markdown]
# The heads learn from {eval}`ba_rm_n_train` pairs (HHH split B and the scored pairs), with $\lambda$ =
# {eval}`ba_rm_lam` and $\alpha$ = {eval}`ba_rm_alpha`; {eval}`ba_rm_fit`. On the
# {eval}`ba_rm_n_test` held-out pairs the head with the pointwise term ranks {eval}`ba_rm_acc_with` correctly,
# without it {eval}`ba_rm_acc_without`, and the length alone {eval}`ba_rm_acc_length`. The head with the
# pointwise term is the chapter's **judge** below: it never saw split A, DPO's data. It judges only if it
# ranks the held-out human pairs above chance (an exact binomial test against ½); its features are the SFT
# model's, so it is not independent of the policy's lineage (no judge model outside it is available offline).
#
# ## Preference alignment: DPO, merged by Model Stock
#
# **DPO** fits the policy $\pi_\theta$ to the pairs directly, the SFT model $\pi_{\text{ref}}$ as reference:
#
# $$
# \mathcal{L}_{\text{DPO}} = -\log \sigma\big(\beta\,\Delta\big), \quad
# \Delta = \log \frac{\pi_\theta(y_c \mid x)}{\pi_{\text{ref}}(y_c \mid x)} - \log \frac{\pi_\theta(y_r \mid x)}{\pi_{\text{ref}}(y_r \mid x)} ,
# $$ (eq-ba-dpo)
#
# with the log-probabilities summed over each answer's tokens; $\beta\Delta$ is the *implicit reward margin*
# DPO raises, measured here on one held-out pair per test request. DPO runs once per seed (full
# fine-tuning: the seed sets the data order), and the runs are merged. The linear merge averages their
# weights; Model Stock {cite:p}`jang2024modelstock` moves the average back toward the anchor $w_0$ (the SFT
# model) by how much the updates agree, tensor by tensor, with $\cos\theta$ the mean cosine between the
# updates $w_i - w_0$:
#
# $$
# w_H = t \cdot \frac{1}{k}\sum_{i=1}^k w_i + (1 - t) \cdot w_0 , \qquad t = \frac{k \cos\theta}{1 + (k - 1)\cos\theta}
#   \in [0, 1] .
# $$ (eq-ba-stock)

# %%
show_source(merging.model_stock_ratio)

# %%
with rec.timer("dpo and merges"):
    dpo = rec.glue_result(experiment.dpo_stage(sft.model, d, rm, guard_sft, cfg,
                                               config=configs["dpo"],
                                               seeds=cfg.dpo_seeds), "ba_dpo")
{k: f"{sum(v) / len(v):.3f}" for k, v in dpo.margins.items()}

# %% [markdown]
# {eval}`ba_dpo_runs` DPO runs of {eval}`ba_dpo_steps` steps each; against the SFT model the first run's
# greedy answers are identical in {eval}`ba_dpo_identical_dpo` of the requests, at a KL of
# {eval}`ba_dpo_kl_dpo` nats per token. Its mean implicit margin on the {eval}`ba_dpo_pairs` held-out
# pairs is {eval}`ba_dpo_margin_dpo` nats; the linear merge's {eval}`ba_dpo_margin_linear` and Model
# Stock's {eval}`ba_dpo_margin_stock`, with a mean $\cos\theta$ of {eval}`ba_dpo_cos` over the merged
# tensors and $t$ = {eval}`ba_dpo_t` on average (from {eval}`ba_dpo_t_min` to {eval}`ba_dpo_t_max`).
#
# ## GRPO: does the optimiser work?
#
# **GRPO** samples a group of $G$ completions per prompt, scores each and uses the reward normalised within
# the group as the advantage, so it trains no value model, the critic PPO needs:
#
# $$
# A_i = \frac{r_i - \operatorname{mean}(r_1, \dots, r_G)}{\operatorname{std}(r_1, \dots, r_G)} .
# $$ (eq-ba-grpo)
#
# trl's `GRPOTrainer` runs it with `loss_type="grpo"` set explicitly (trl 1.16's default is DAPO's loss).
# A preference reward from a small reward head gives a 135M model too faint a signal to learn from in
# tens of steps; the report's claim that GRPO *works* is tested on a task whose reward is graded and
# verifiable: "Write one sentence about X.", rewarded by how close the sentence is to a target length.
# It shows that the optimiser does what it should, on topics it never trained on — not that GRPO aligns
# a model to human preferences.

# %%
show_source(preference.length_reward)

# %%
with rec.timer("grpo"):
    grpo = rec.glue_result(
        experiment.grpo_stage(sft.model, cfg, config=configs["grpo"]), "ba_grpo")
grpo.answers

# %% [markdown]
# GRPO ran {eval}`ba_grpo_steps` steps with groups of {eval}`ba_grpo_group` completions (the report: 3),
# its training reward going from {eval}`ba_grpo_reward_first` to {eval}`ba_grpo_reward_last`. On
# {eval}`ba_grpo_n_test` held-out topics the greedy reward (target {eval}`ba_grpo_target` words) goes from
# {eval}`ba_grpo_mean_before` (SFT) to {eval}`ba_grpo_mean_after`; {eval}`ba_grpo_identical` of the
# greedy answers are unchanged.

# %%
rec.figure("ba_fig_training", report.training_figure(sft, dpo, grpo))
records = {"SFT": sft.record, **dpo.records, "GRPO": grpo.record}
rec.metric("training", {k: {"steps": r.history.steps,
                            "seconds": r.history.total_seconds,
                            "from_cache": r.loaded,
                            "losses": r.history.train_loss}
                        for k, r in records.items()})
preference.compute_table(records).round(2)

# %% [markdown]
# ```{figure}
# :name: fig-ba-training
#
# {eval}`ba_fig_training`
#
# Every training run of the chapter at each logged step: the SFT loss, each DPO run's loss and GRPO's mean
# reward on the length task. One run per seed: the curves show single paths, not a spread.
# ```
#
# ## The aligned model against the instruct model it started from
#
# The report's headline is that its aligned models beat the official instruct models. The analogue here:
# the final aligned model (Model Stock of the DPO runs) against SmolLM2-135M-Instruct, both answering every
# held-out request greedily, judged by the reward head that saw neither model's training data.

# %%
with rec.timer("headline"):
    head = rec.glue_result(experiment.headline(
        guard_start, dpo.models[experiment.MERGES[1]], experiment.MERGES[1],
        sft.model, rm, d, cfg), "ba_head")
head.samples.T

# %% [markdown]
# On {eval}`ba_head_n_prompts` held-out requests the judge scores the start's answers
# {eval}`ba_head_mean_start` and the aligned model's {eval}`ba_head_mean_final` (in the judge's standard
# deviations); {eval}`ba_head_identical` of the aligned model's greedy answers to the guard requests equal
# the start's.
#
# ## The claims
#
# The function that turns this run into the claims table below, as it runs: each declared claim tested on its
# units, with its guards and Holm's adjustment over the chapter's tested claims.

# %%
show_source(experiment.claim_tests)

# %%
tests = experiment.claim_tests(specs, sft_ev, rm, dpo, grpo, head,
                               scale=report.scale_note(cfg, lm))
rec.add_claims(tests)
claims.claims_table(tests)

# %% [markdown]
# A verdict with a reason *the method did not act* comes from a stage that left the model where it was: it
# can neither show nor refute the claim at this scale. The variation the tests cover is that of the
# held-out items; each model is trained once per seed.
#
# ## Paper vs this run
#
# The report's open-benchmark results (Tables 2 and 3) compare 70B-class models tuned with internal data
# and judged largely by GPT-4 (ArenaHard, AlpacaEval, MT-Bench):

# %%
report.paper_tables()

# %% [markdown]
# What a 135M model on a CPU **can** show: that each technique does what it is for when it acts, measured
# without grading a model by its own training signal — a convex reward head's held-out ranking and what the
# pointwise term adds, whether DPO moves held-out preference margins, whether merging by Model Stock beats
# averaging, whether GRPO's optimiser raises a verifiable reward, and whether the whole pipeline moves an
# judge that agrees with human labels. What it **cannot** show: the report's magnitudes, which come from curated data at
# scale, long training and 70B models.
#
# ## Deviations from the paper
#
# - **Models and data.** SmolLM2-135M-Instruct (already instruction-tuned) instead of Qwen2-72B and
#   Llama-3-70B base models; nine natural-instructions tasks and the {eval}`ba_data_n_hhh` HHH pairs instead of the report's
#   internal SFT and preference data; tens of examples and steps instead of full training. The paper
#   profile takes any Hugging Face model id and the report's settings where it gives them (3 GRPO samples
#   per prompt, full fine-tuning).
# - **LoRA** for SFT and GRPO (the report trains full weights); DPO is fully fine-tuned, so that Model
#   Stock merges whole-model updates. **CPU packing** is padding-free with restarted position ids instead of
#   FlashAttention-2's `cu_seqlens` (the same separation of sequences).
# - **Reward models** are linear heads on the frozen SFT model's features (the report trains the whole
#   model); absolute scores for the pointwise term are ROUGE-L scores of reference answers, not ratings;
#   $\alpha$ = {eval}`ba_rm_alpha` is our choice (the report gives none).
# - **GRPO** optimises a verifiable length reward, not a preference reward model, with groups of
#   {eval}`ba_grpo_group` completions and no KL term; **PPO** is not run (trl 1.16 has none), so GRPO's
#   relative cost is not measured.
# - **Merging** merges DPO runs of different seeds (Model Stock's premise: fine-tunes of one task); Task
#   Arithmetic is not run.
# - **Evaluation** replaces the report's benchmarks and human user-experience study with held-out
#   likelihoods, margins, a verifiable reward and a reward head on the SFT model's features (not an
#   independent judge model).

# %%
rec.save()
