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
# The report releases no code. **This chapter** runs the three trainable stages with `trl`, starting from
# SmolLM2-135M-Instruct {cite:p}`allal2024smollm2`: SFT on natural-instructions tasks
# {cite:p}`mishra2022naturalinstructions` (packed and padded), two reward models on disjoint splits of the
# HHH preference pairs {cite:p}`askell2021hhh`, DPO {cite:p}`rafailov2023dpo` and GRPO
# {cite:p}`shao2024deepseekmath` from the SFT model, and the two merges; then it evaluates every stage on
# data none of them trained on. Every model is a LoRA adapter {cite:p}`hu2022lora` cached by its
# configuration, data and code: a re-run only evaluates.

# %% tags=["parameters"]
profile = "smoke"  # "tiny": a random tiny model, seconds; "smoke": SmolLM2-135M-Instruct on a CPU, minutes; "paper": any HF model on GPUs
seed = 0  # data splits, LoRA initialisation, sampling
device = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
data_dir = None  # the data and checkpoint cache; None: $REPROBOOK_CACHE or ~/.cache/reprobook

# %%
from reprobook import llm, profiles
from reprobook.alignment import evaluation, merging, preference, reward, sft as sft_methods
from reprobook.notebook import show_source, start

session = start("baichuan_alignment", profile=profile, seed=seed, device=device, data_dir=data_dir,
                title="Baichuan Alignment")
rec = session.record
cfg = profiles.config("baichuan_alignment", profile)
with rec.timer("load model"):
    lm = evaluation.start_model(cfg, device=session.device, seed=seed)
configs = evaluation.stage_configs(cfg, seed=seed)
rec.glue("ba_model", f"{lm.name} ({lm.parameters / 1e6:.0f}M parameters)")
print(f"profile {profile}: {lm.name}, {lm.parameters / 1e6:.1f}M parameters, device {lm.device}, "
      f"{session.threads} threads; loaded in {lm.load_seconds:.1f} s")

# %% [markdown]
# The starting model is {eval}`ba_model`.
#
# ## The data
#
# Two offline sources stand in for the report's internal data. **Natural instructions**: the chapter
# fine-tunes on examples of nine generation tasks (writing questions and answers about event durations,
# orderings and frequencies; combining and questioning science facts) and measures ROUGE-L on four
# *other* tasks, held out. **HHH** pairs (a request, a better and a worse answer; helpful, honest,
# harmless, other) are split by request, so that no request has pairs on two sides: a test split for
# evaluation only, split A (reward model A, GRPO's reward, and DPO's pairs) and split B (reward model B,
# the evaluator).

# %%
d = rec.glue_result(evaluation.prepare_data(lm, cfg, seed=seed), "ba_data")
{"SFT examples (train tasks)": len(d.sft), "held-out-task examples (ROUGE-L)": len(d.rouge_eval),
 "HHH pairs: test / A / B": f"{len(d.hhh['test'])} / {len(d.hhh['A'])} / {len(d.hhh['B'])}",
 "NI scored pairs per reward model": len(d.ni_pairs["A"]), "GRPO prompts": len(d.grpo_prompts)}

# %% [markdown]
# Of the {eval}`ba_data_n_hhh` HHH pairs, {eval}`ba_data_n_hhh_kept` fit the reward model's length
# limit; {eval}`ba_data_n_test` of them form the test split. ROUGE-L is measured on
# {eval}`ba_data_n_rouge` examples of {eval}`ba_data_n_heldout_tasks` held-out tasks; SFT uses
# {eval}`ba_data_n_train_tasks` others.
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
# completion and its collator sets the label of every prompt token to $-100$ (ignored by the loss):

# %%
show_source(llm.sft_rows)

# %% [markdown]
# One tokenised example as the collator hands it to the model (its last tokens): only the reply and its
# end-of-turn marker are in the loss.

# %%
mask = sft_methods.loss_mask_table(lm, llm.sft_rows([d.sft[0]["prompt"]], [d.sft[0]["answer"]])[0])
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
# with position ids restarting at each sequence, so that sequences never attend to each other:

# %%
show_source(sft_methods.utilisation)

# %% [markdown]
# The chapter fine-tunes packed (the model the later stages start from) and, to compare throughput,
# a few steps padded to the longest sequence of each batch (trl's default):

# %%
with rec.timer("sft"):
    sft = rec.glue_result(sft_methods.sft_stage(lm, evaluation.sft_data(d), config=configs["sft"],
                                                padded_steps=cfg.sft_padded_steps, table_lengths=d.length_sample,
                                                n_tasks=len({e["task"] for e in d.sft})), "ba_sft")
display(sft.utilisation.style.format("{:.1%}").set_caption("token utilisation by maximum length"))
sft.runs.round(2)

# %% [markdown]
# On these {eval}`ba_sft_n_examples` examples, at the training length ({eval}`ba_sft_max_length` tokens)
# padding every sequence to the maximum length uses {eval}`ba_sft_util_pad_max` of the slots, padding to
# the longest sequence in each batch {eval}`ba_sft_util_pad_longest`, and packing {eval}`ba_sft_util_packed`:
# bins about twice the mean length often hold one sequence with room left over. With the long contexts
# the report trains at, a fixed shape wastes almost everything and packing fills its bins: over
# {eval}`ba_sft_n_table` examples of the training tasks (the table, by maximum length), at
# {eval}`ba_sft_long_length` tokens padding uses {eval}`ba_sft_util_pad_max_long` of the slots and packing
# {eval}`ba_sft_util_packed_long`. The
# packed run processed {eval}`ba_sft_tps_packed` tokens/s against {eval}`ba_sft_tps_padded` padded (wall
# clock on this machine; a CPU gains less than a GPU, whose padded batches waste whole kernels). Its
# training loss went from {eval}`ba_sft_loss_first` to {eval}`ba_sft_loss_last` in {eval}`ba_sft_steps`
# steps.
#
# ## Reward models
#
# A reward model $r_\phi(x, y)$ is the language model's body with a scalar head. The report's loss is
# Bradley–Terry on a pair (chosen $y_c$, rejected $y_r$) plus, where absolute scores $s$ exist, a
# pointwise squared error:
#
# $$
# \mathcal{L}_{\text{RM}} = -\log \sigma\big(r_\phi(x, y_c) - r_\phi(x, y_r)\big)
#  + \alpha \cdot \tfrac{1}{2}\big[(r_\phi(x, y_c) - s_c)^2 + (r_\phi(x, y_r) - s_r)^2\big] .
# $$ (eq-ba-rm)
#
# HHH pairs have no absolute scores ($\alpha = 0$ for them). **What stands in for them**: natural-instructions
# pairs whose chosen answer is the reference and whose rejected answer is another example's reference
# from the same task, each scored by its ROUGE-L against the example's references (the reference itself
# scores 1). trl's `RewardTrainer` with the pointwise term added:

# %%
show_source(llm.trainers._reward_trainer_class)

# %% [markdown]
# Reward model A learns from the {eval}`ba_rm_n_train_a` pairs of HHH split A, reward model B from the
# {eval}`ba_rm_n_train_b` of the disjoint split B, each for {eval}`ba_rm_steps` steps with its own
# {eval}`ba_rm_n_ni_pairs` scored pairs ($\alpha$ = {eval}`ba_rm_alpha` on them); both start from the SFT model. A judge that only
# reads the length, preferring the longer answer, is the baseline: in HHH the better answer is often the
# longer one.

# %%
with rec.timer("reward models"):
    rm = rec.glue_result(reward.reward_stage(sft.model, d.hhh["A"], d.hhh["B"], d.ni_pairs["A"], d.ni_pairs["B"],
                                             d.hhh["test"], config=configs["reward"], alpha=cfg.mse_alpha), "ba_rm")
rm.table

# %% [markdown]
# On the {eval}`ba_rm_n_test` held-out pairs, reward model A ranks {eval}`ba_rm_acc_a` correctly and
# reward model B {eval}`ba_rm_acc_b`; the length alone gets {eval}`ba_rm_acc_length`.
#
# ## Preference alignment: DPO and GRPO
#
# **DPO** fits the policy $\pi_\theta$ to the pairs directly, the SFT model $\pi_{\text{ref}}$ as reference
# (with LoRA the reference is the policy with its adapter switched off):
#
# $$
# \mathcal{L}_{\text{DPO}} = -\log \sigma\Big(\beta \log \frac{\pi_\theta(y_c \mid x)}{\pi_{\text{ref}}(y_c \mid x)}
#  - \beta \log \frac{\pi_\theta(y_r \mid x)}{\pi_{\text{ref}}(y_r \mid x)}\Big) .
# $$ (eq-ba-dpo)
#
# **GRPO** samples a group of $G$ completions per prompt, scores each with the reward model (here reward
# model A) and uses the reward normalised within the group as the advantage, with a KL penalty toward
# the starting model:
#
# $$
# A_i = \frac{r_i - \operatorname{mean}(r_1, \dots, r_G)}{\operatorname{std}(r_1, \dots, r_G)} ,
# $$ (eq-ba-grpo)
#
# so it trains no value model, the critic PPO needs. trl 1.16 has no PPO trainer; the compute PPO would
# add is estimated from a measured forward and backward pass of a critic of the policy's size over one
# GRPO batch:

# %%
show_source(preference.critic_step_seconds)

# %%
with rec.timer("dpo and grpo"):
    pref = rec.glue_result(preference.preference_stage(sft.model, d.hhh["A"], d.grpo_prompts, rm.judges["A"],
                                                       dpo_config=configs["dpo"], grpo_config=configs["grpo"]), "ba_pref")
del rm.judges["A"]  # reward model A has done its work (GRPO's reward): free its memory
pref.compute.round(3)

# %% [markdown]
# DPO ran {eval}`ba_pref_dpo_steps` steps on {eval}`ba_pref_dpo_pairs` pairs; GRPO
# {eval}`ba_pref_grpo_steps` steps with groups of {eval}`ba_pref_group` completions (the report: 3), its
# mean reward going from {eval}`ba_pref_grpo_reward_first` to {eval}`ba_pref_grpo_reward_last`. Per trained
# sample DPO took {eval}`ba_pref_dpo_s_per_sample` s, GRPO {eval}`ba_pref_grpo_s_per_sample` s, and the
# PPO estimate {eval}`ba_pref_ppo_s_per_sample` s: GRPO at {eval}`ba_pref_grpo_over_ppo` of it.

# %%
rec.figure("ba_fig_training", evaluation.training_figure(sft, rm, pref))

# %% [markdown]
# ```{figure}
# :name: fig-ba-training
#
# {eval}`ba_fig_training`
#
# Every training run of the chapter at each logged step: the SFT loss of the packed and the padded run,
# the loss of the two reward models (Bradley–Terry plus the pointwise term), DPO's loss and GRPO's mean
# reward under reward model A. One run each: the curves show one seed's path, not a spread.
# ```
#
# ## Model merging
#
# DPO and GRPO start from the same SFT model $w_0$. The linear merge averages their weights; Model Stock
# {cite:p}`jang2024modelstock` moves the average back toward $w_0$ by how much the two updates disagree,
# tensor by tensor, with $\cos\theta$ the cosine between the updates $w_i - w_0$:
#
# $$
# w_H = t \cdot \frac{1}{k}\sum_{i=1}^k w_i + (1 - t) \cdot w_0 , \qquad t = \frac{k \cos\theta}{1 + (k - 1)\cos\theta} .
# $$ (eq-ba-stock)

# %%
show_source(merging.model_stock)

# %% [markdown]
# ## Evaluation, stage by stage
#
# No model is graded by its own training signal: preference accuracy on the *held-out* HHH pairs (the
# chosen answer has the higher mean log-probability per token), ROUGE-L of greedy answers on *held-out*
# tasks, and the mean score of reward model B, trained on a split disjoint from the one behind GRPO's
# reward, over the answers to the held-out-task prompts and to held-out HHH requests. Intervals: Wilson
# for the accuracy, percentile bootstrap over examples for the means.

# %%
stages_models = {"start": lm, "SFT": sft.model, "DPO": pref.dpo_model, "GRPO": pref.grpo_model,
                 **{k: (lambda k=k: evaluation.merged_model(k, sft.model, pref.dpo_model, pref.grpo_model))
                    for k in evaluation.MERGES}}
with rec.timer("evaluation"):
    stages = rec.glue_result(evaluation.stage_table(stages_models, d, rm.judges["B"], cfg, seed=seed), "ba_stage")
rec.figure("ba_fig_stages", evaluation.stage_figure(stages))
stages.table

# %% [markdown]
# The table covers {eval}`ba_stage_n_pairs` held-out pairs and {eval}`ba_stage_n_answers` answered prompts
# per stage. Preference accuracy goes {eval}`ba_stage_acc_start` (start), {eval}`ba_stage_acc_sft` (SFT),
# {eval}`ba_stage_acc_dpo` (DPO); ROUGE-L on held-out tasks {eval}`ba_stage_rouge_start` (start) and
# {eval}`ba_stage_rouge_sft` (SFT); reward model B scores the SFT model's answers {eval}`ba_stage_reward_sft`,
# GRPO's {eval}`ba_stage_reward_grpo`, and the merges {eval}`ba_stage_reward_linear` (linear) and
# {eval}`ba_stage_reward_stock` (Model Stock).
#
# ```{figure}
# :name: fig-ba-stages
#
# {eval}`ba_fig_stages`
#
# The stage table as a figure: each stage's held-out preference accuracy (Wilson interval), ROUGE-L on
# held-out tasks and reward model B's score (percentile bootstrap over the examples), with 95% intervals.
# ```
#
# Sample answers (greedy, truncated) to the first held-out-task prompts:

# %%
stages.samples.T

# %% [markdown]
# ## Claims and verdicts
#
# Each claim is tested on this run's units, paired where two stages answer the same items, by a
# one-sided paired t-test (the exact sign test when the differences have no spread) at $p < 0.05$, then
# Holm-adjusted over the six tests: packing against padding over disjoint chunks of the SFT data
# (utilisation); the reward model against the length baseline over held-out pairs (correct or not);
# SFT against the start on ROUGE-L over held-out examples; DPO against SFT over held-out pairs; GRPO
# against SFT and Model Stock against the linear merge on reward model B's score over answered prompts.
# The variation covered is that of the items, not of training seeds: one run trains each model once.

# %%
v = evaluation.verdicts(sft, rm, stages)
rec.metric("training", evaluation.training_summary(sft, rm, pref))
rec.glue("ba_rule", v["dpo"].rule)
rec.add_claims(evaluation.claim_rows(v, sft, rm, pref, stages, evaluation.scale_note(cfg, lm)))
rec.claims_frame()

# %% [markdown]
# The rule, as each verdict states it: {eval}`ba_rule`.
#
# ## Paper vs this run
#
# The report's open-benchmark results (Tables 2 and 3) compare 70B-class models tuned with internal data
# and judged largely by GPT-4 (ArenaHard, AlpacaEval, MT-Bench):

# %%
evaluation.paper_tables()

# %% [markdown]
# beside this run's stage table above. What a 135M model on a CPU **can** show: that each technique does
# what it is for, measured without grading a model by its own training signal — packing's utilisation,
# a reward model's held-out ranking against a trivial baseline, whether DPO moves held-out preferences,
# whether GRPO moves an independent reward model's score, how the two merges compare, and what each stage
# costs. What it **cannot** show: the report's magnitudes. Its gains come from curated data at scale,
# long training and 70B models; a few LoRA steps on tens of examples move a 135M model little, its held-out
# accuracies sit near chance, and an independent reward model of 135M parameters is a noisy judge. A
# verdict *not reproduced* here means the effect did not appear at this scale, not that the report is wrong.
#
# ## Deviations from the paper
#
# - **Models and data.** SmolLM2-135M-Instruct (already instruction-tuned) instead of Qwen2-72B and
#   Llama-3-70B base models; nine natural-instructions tasks and the 221 HHH pairs instead of the report's
#   internal SFT and preference data; tens of examples and steps instead of full training. The paper
#   profile takes any Hugging Face model id and the report's settings where it gives them (3 GRPO samples
#   per prompt, full fine-tuning); the trainers run data-parallel under `accelerate launch`.
# - **LoRA** in every stage (the report trains full weights); **CPU packing** is padding-free with
#   restarted position ids instead of FlashAttention-2's `cu_seqlens` (the same separation of sequences).
# - **Absolute scores** for the pointwise reward term are ROUGE-L scores of reference answers on
#   natural-instructions pairs, not human or model ratings; $\alpha$ = {eval}`ba_rm_alpha` is our choice
#   (the report gives none).
# - **GRPO** uses groups of {eval}`ba_pref_group` completions (the report: 3; trl needs the batch to be a
#   multiple of the group) and trl's KL toward the starting model, not the report's KL over the
#   reference model's top-500 logits. **PPO** is not run (trl 1.16 has none): its compute is an estimate.
# - **Merging** is tested on the DPO and GRPO models with their SFT parent as anchor; Task Arithmetic is
#   not run.
# - **Evaluation** replaces the report's benchmarks and human user-experience study with held-out HHH
#   preference accuracy, ROUGE-L on held-out tasks and a second reward model.

# %%
rec.save()
