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
# (pas)=
# # PAS: a plug-and-play prompt augmentation system
#
# **The paper.** {cite:t}`zheng2024pas` train a model that does not answer prompts: given a user's prompt,
# it writes a short *complementary prompt* (what the answer should cover, how to organise it, what to watch
# for) that is appended to the prompt and given, unchanged, to any answering model. Their claims, from the
# abstract and the repository:
#
# 1. **plug-and-play**: the complement improves the answers of existing models that took no part in
#    training it ("compatible with all existing LLMs");
# 2. **state of the art among automatic prompt engineering**: +6.09 points on average over the previous
#    best model, BPO {cite:p}`cheng2024bpo`;
# 3. **data efficiency**: that result with only about 9,000 training pairs;
# 4. **automatic data**: the pairs are generated and filtered without human labour, by a pipeline that
#    collects prompts, deduplicates them by embedding clustering, selects and classifies them, generates a
#    complement per prompt from few-shot category templates, critiques each and regenerates the wrong ones.
#
# **This chapter** runs that pipeline end to end with no API model, on offline prompts (natural
# instructions {cite:p}`mishra2022naturalinstructions`, HHH {cite:p}`askell2021hhh`, SQuAD
# {cite:p}`rajpurkar2016squad`), showing at each stage what goes in, what comes out and what is thrown away;
# trains a PAS model with `trl`; and tests it plug-and-play on two answering models it never saw, against
# no augmentation and against a fixed generic suffix, judged by a pairwise language-model judge with the
# positions swapped and by a held-out reward model.

# %% tags=["parameters"]
profile = "smoke"  # "tiny": random tiny models, seconds; "smoke": SmolLM2-135M and Gemma-3-270M on a CPU; "paper": HF models, GPUs
seed = 0  # prompt sampling, splits, LoRA initialisation, sampled regenerations
device = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
data_dir = None  # the data and checkpoint cache; None: $REPROBOOK_CACHE or ~/.cache/reprobook

# %%
from reprobook import profiles
from reprobook.alignment.pas import classify, critique, data, dedup, evaluate, experiment, generate, model, reward
from reprobook.notebook import show_source, start

session = start("pas", profile=profile, seed=seed, device=device, data_dir=data_dir, title="PAS")
rec = session.record
cfg = profiles.config("pas", profile)
models = evaluate.Models(cfg, seed=seed, device=session.device)
for name in ("min_words", "max_words", "shots", "generator", "max_complement_words", "regenerate_temperature",
             "regenerate_rounds", "pas_base"):
    rec.glue(f"pas_cfg_{name}", getattr(cfg, name))
rec.glue("pas_cfg_pairwise_against", ", ".join(cfg.pairwise_against))
print(f"profile {profile}: generator {cfg.generator}, PAS base {cfg.pas_base}, answering models "
      f"{', '.join(cfg.answerers)}; device {session.device}, {session.threads} threads")

# %% [markdown]
# ## 1. Collect
#
# The paper gathers prompts from open-source datasets. Here three offline sources give three kinds of
# request: natural-instructions tasks (a one-line instruction and its input: write a question about an
# event's duration, combine two facts, paraphrase), HHH requests (advice, help with a text, requests a
# careful assistant should decline) and SQuAD questions asked without their paragraph (open knowledge
# questions). Every prompt keeps the answers its source knows (the targets, HHH's two responses, SQuAD's
# answer spans): no model sees them; later stages use them to catch a complement that gives an answer away.
# Half of the HHH requests are kept apart for the reward model that judges the end result, so that no
# request is both PAS data and the judge's.

# %%
with rec.timer("collect"):
    collected = rec.glue_result(data.collect_prompts(cfg, seed=seed), "pas_collect")
collected.table

# %% [markdown]
# The pool holds {eval}`pas_collect_n_prompts` prompts ({eval}`pas_collect_sources`); HHH repeats a request
# once per pair of responses, so the pool has exact duplicates, and the natural-instructions tasks share
# their input sentences under different instructions. {eval}`pas_collect_n_multi_turn` multi-turn HHH
# dialogues were left out, and {eval}`pas_collect_n_rm_train` + {eval}`pas_collect_n_rm_check` HHH pairs
# went to the reward model (training and check).
#
# ## 2. Deduplicate
#
# Each prompt is embedded by all-MiniLM-L6-v2 {cite:p}`reimers2019sbert` (unit vectors, cosine distance
# $d(u, v) = 1 - u^\top v$) and the prompts are clustered agglomeratively with *complete* linkage: two
# clusters merge only while every pair across them is closer than the threshold $\tau$, so that inside a
# final cluster
#
# $$
# d(u, v) < \tau \quad \text{for all } u, v \text{ in the cluster},
# $$ (eq-pas-dedup)
#
# and no chain of small steps joins two different requests. The first prompt of each cluster, in
# collection order, is kept.

# %%
show_source(dedup.duplicate_clusters)

# %% [markdown]
# The threshold is checked on *planted* duplicates: near-copies of pool prompts (lower-cased without
# punctuation, a polite prefix, a word dropped) appended to the pool. A planted copy is caught when it
# lands in its original's cluster. The sweep shows, for each threshold, the share of planted copies caught
# and the share of the real pool removed.

# %%
with rec.timer("deduplicate"):
    planted = data.plant_duplicates(collected.prompts, cfg.planted_duplicates, seed=seed)
    deduped = rec.glue_result(dedup.deduplicate(collected.prompts, planted, cfg), "pas_dedup")
rec.check("dedup catches the planted duplicates", deduped.planted_recall >= 0.9,
          f"{deduped.planted_recall:.0%} of {deduped.n_planted} planted copies caught at τ = {deduped.distance}")
deduped.sweep.round(3)

# %% [markdown]
# ```{figure}
# :name: fig-pas-dedup
#
# {eval}`pas_dedup_figure`
#
# The deduplication threshold: share of the planted near-copies caught (clustered with their original)
# and share of the collected pool removed, against the cosine-distance threshold $\tau$.
# ```
#
# At $\tau$ = {eval}`pas_dedup_distance` the clustering catches {eval}`pas_dedup_planted_recall` of the
# {eval}`pas_dedup_n_planted` planted copies ({numref}`fig-pas-dedup`) and removes
# {eval}`pas_dedup_n_removed_pool` of the {eval}`pas_dedup_n_in` collected prompts:
# {eval}`pas_dedup_n_exact` exact repeats and {eval}`pas_dedup_n_near` near duplicates;
# {eval}`pas_dedup_n_kept` remain. What was thrown away, with the prompt kept in its place:

# %%
deduped.removed.sort_values("distance", ascending=False).head(12).round(3)

# %% [markdown]
# ## 3. Select and classify
#
# **Selection.** The paper selects prompts by quality without publishing its rule. Here the rule is
# explicit: between {eval}`pas_cfg_min_words` and {eval}`pas_cfg_max_words` words (a Chinese character
# counts as half a word), mostly text, and one request rather than a dialogue.

# %%
show_source(classify.quality_reason)

# %% [markdown]
# **Classification** into the seed data's 13 categories (open questions, knowledge questions,
# brainstorming, evaluation of a person, of an event, of an influence, "why" questions, opinions,
# summaries, writing, logic traps, yes-or-no dilemmas, rewriting) picks the few-shot examples of the next
# stage. The classifier is a multinomial logistic regression on sentence embeddings $e(x)$ of the 63 seed
# prompts, $p(c \mid x) = \operatorname{softmax}(W e(x) + b)_c$. **The seed data is Chinese and the pool is
# English**, so the embeddings must place both languages in one space: multilingual E5-small
# {cite:p}`wang2024me5` was trained for that, English-only MiniLM was not. Both are scored on held-out
# folds of the seed, within Chinese and across languages: trained on the Chinese prompts of the other
# folds, tested on the English renderings of the held-out ones (this book's English version of the seed,
# `reprobook.alignment.pas.seed_en`). Chance is the share of the largest category.

# %%
with rec.timer("select and classify"):
    classified = rec.glue_result(classify.classify_prompts(deduped.kept, cfg, seed=seed), "pas_cls")
rec.check("the category classifier beats chance across languages", classified.verdict.verdict == "reproduced",
          f"{classified.accuracy_transfer:.0%} against chance {classified.chance:.0%}: {classified.verdict}")
classified.accuracy.round(3)

# %% [markdown]
# Rule: {eval}`pas_cls_rule`, the threshold being chance ({eval}`pas_cls_chance`). On held-out Chinese
# folds the E5 classifier names {eval}`pas_cls_accuracy_zh` of the categories correctly, and trained on
# Chinese it names {eval}`pas_cls_accuracy_transfer` of the English renderings correctly; the same
# classifier on {eval}`pas_cls_contrast` embeddings gets {eval}`pas_cls_accuracy_contrast_transfer` across
# languages. The categories are close to one another (three kinds of "evaluate a person"), and five
# examples per category cannot make a precise classifier; it only has to pick relevant few-shot examples. The selection rules threw away {eval}`pas_cls_n_rejected` prompts and kept
# {eval}`pas_cls_n_selected`:

# %%
display(classified.rejected)
classified.per_category.T

# %% [markdown]
# The selected prompts are split, mixing the sources, into {eval}`pas_split_n_held_out` held-out prompts
# for the final evaluation and {eval}`pas_split_n_train` prompts sent to generation.

# %%
split = rec.glue_result(experiment.split_prompts(classified.prompts, classified.categories, cfg, seed=seed),
                        "pas_split")

# %% [markdown]
# ## 4. Generate and critique
#
# For a prompt of category $c$ the generating model sees the rules, then {eval}`pas_cfg_shots` seed
# pair(s) of category $c$ as earlier turns of a conversation, then the prompt; its reply is the
# complement. The paper generated with GPT-4 from its 17 per-ability templates (Chinese examples); the
# smoke profile's generator is {eval}`pas_cfg_generator` with the English rendering of the seed pairs, the
# paper profile any Hugging Face model with the seed data and the repository's own rules. One
# generation input:

# %%
generator = models.get(cfg.generator)
examples = generate.examples_by_category(cfg.examples_language)
rules = generate.rules_text(cfg.examples_language, cfg.max_complement_words)
print(generate.generation_input(generator, split.train[0].text, split.train_categories[0], examples,
                                shots=cfg.shots, rules=rules))

# %% [markdown]
# The repository's critique asks GPT-4 whether a complement deviates from the prompt's intention, adds too
# much, answers the prompt, makes excessive demands or changes language. Each criterion becomes a rule
# that can be read and tested: the complement must not give the answer away (none of the source's known
# answers in it, no reply-like opening), must not change the request (no question of its own, no
# redirection), must stay within {eval}`pas_cfg_max_complement_words` words, must be a real supplement
# (not empty, not a copy of the prompt, no template text) and in the prompt's language:

# %%
show_source(critique.critique_complement)

# %%
show_source(critique.gives_answer)

# %% [markdown]
# A complement that fails is generated again by sampling (temperature {eval}`pas_cfg_regenerate_temperature`),
# up to {eval}`pas_cfg_regenerate_rounds` time(s); a prompt whose complement never passes is dropped.

# %%
with rec.timer("generate and critique"):
    generated = rec.glue_result(generate.generate_pairs(generator, split.train, split.train_categories, cfg,
                                                        seed=seed), "pas_gen")
generated.failures

# %% [markdown]
# ```{figure}
# :name: fig-pas-critique
#
# {eval}`pas_gen_figure`
#
# Generated complements failing each criterion of the critique, in the first (greedy) round and after
# the sampled regeneration.
# ```
#
# Of {eval}`pas_gen_n_prompts` complements generated greedily, {eval}`pas_gen_n_failed_first` failed at
# least one criterion ({numref}`fig-pas-critique`); regeneration fixed {eval}`pas_gen_n_fixed` of them and
# {eval}`pas_gen_n_dropped` prompts were dropped, leaving {eval}`pas_gen_n_pairs` pairs
# ({eval}`pas_gen_share_kept`). The generator wrote {eval}`pas_gen_new_tokens` tokens at
# {eval}`pas_gen_tokens_per_second` tokens/s. Every attempt, with the criteria it failed:

# %%
generated.attempts.head(12)

# %% [markdown]
# A 135M-parameter generator writes few complements the paper's critic would accept: many pass the
# rules because the rules check form and leakage, not helpfulness. This is the weakest link of a run
# without a strong model, and the reason the paper's critic is GPT-4.
#
# ## 5. Train the PAS model
#
# The PAS model is {eval}`pas_cfg_pas_base` fine-tuned with trl's `SFTTrainer` (through
# `reprobook.llm.sft`) on the pairs: the prompt wrapped in an instruction ("supplement this prompt … do
# not answer it") is the user's turn, the complement the assistant's, and only the complement is scored,
#
# $$
# \mathcal{L}(\theta) = -\sum_{(x, y)} \sum_t \log p_\theta\big(y_t \mid \text{instruction}(x), y_{<t}\big) ,
# $$ (eq-pas-sft)
#
# so that what the model learns to write is a complement, never an answer. Before training, every pair is
# checked: no complement may contain an answer the source knows for its prompt (the training function
# refuses such pairs).

# %%
show_source(model.train_pas)

# %%
with rec.timer("train PAS"):
    training = rec.glue_result(experiment.train_stage(models.get(cfg.pas_base), generated.pairs, cfg, seed=seed),
                               "pas_train")
rec.check("no training pair contains an answer", training.n_with_answer == 0,
          f"{training.n_with_answer} of {training.n_pairs} complements contain a known answer")
training.losses.T.round(3)

# %% [markdown]
# ```{figure}
# :name: fig-pas-loss
#
# {eval}`pas_train_figure`
#
# Training loss of the PAS model (negative log-likelihood of the complement's tokens).
# ```
#
# {eval}`pas_train_n_with_answer` of the {eval}`pas_train_n_pairs` training complements contains a known
# answer. The model was {eval}`pas_train_loaded`: {eval}`pas_train_steps` steps, the loss from
# {eval}`pas_train_first_loss` to {eval}`pas_train_last_loss` ({numref}`fig-pas-loss`), at
# {eval}`pas_train_tokens_per_second` tokens/s.
#
# ## 6. Plug-and-play evaluation
#
# Each answering model answers every held-out prompt three times: the prompt alone, the prompt followed
# by the generic sentence “{eval}`pas_eval_generic_suffix`” (the same for every prompt: the baseline every
# prompt-engineering method must beat), and the prompt followed by PAS's complement:

# %%
show_source(model.augmented)

# %% [markdown]
# **Judges.** Both see the user's original prompt, never the complement. The *pairwise judge* of
# `reprobook.llm` asks a language model whether answer A or B is better, in both orders
# {cite:p}`zheng2023judging`: with $P(A)$ the probability of the letter A renormalised over {A, B},
#
# $$
# p_a = \tfrac{1}{2}\big[P(A \mid a \text{ first}) + P(B \mid b \text{ first})\big] ,
# $$ (eq-pas-judge)
#
# and $a$ wins when $p_a > \frac12$. A constant preference for one position adds to one term what it
# takes from the other, and cancels. (A stricter reading, $a$ wins only when both orders prefer it, is
# counted as well: the "orders disagree" column.) In the smoke profile the pairwise judge compares PAS with
# the plain prompt only ({eval}`pas_cfg_pairwise_against`); it is the costliest part of the run. The *reward model* is held out from everything PAS saw: a Bradley–Terry
# model {cite:p}`bradley1952rank` on frozen MiniLM embeddings, trained on the HHH requests kept apart in
# stage 1,
#
# $$
# r(x, y) = w^\top \big[e(y) \,;\, e(x) \odot e(y)\big], \qquad
# P(y_c \succ y_r \mid x) = \sigma\big(r(x, y_c) - r(x, y_r)\big) ,
# $$ (eq-pas-rm)
#
# fitted as a logistic regression without intercept on the feature differences:

# %%
show_source(reward.train_embedding_reward_model)

# %%
with rec.timer("evaluate"):
    rm = reward.train_embedding_reward_model(collected.rm_train, cfg.reward_embedder)
    answerers = {name: models.loader(name) for name in cfg.answerers}
    answerers |= evaluate.cached_aligned_models(cfg.aligned_answerers, profile=profile, seed=seed, device=session.device)
    pnp = rec.glue_result(evaluate.plug_and_play(training.model, answerers, models.get(cfg.judge), rm,
                                                 [p.text for p in split.held_out], cfg,
                                                 check_pairs=collected.rm_check[:cfg.judge_check_pairs], seed=seed),
                          "pas_eval")
pnp.judge_check.round(3)

# %% [markdown]
# **The judges, checked first.** On {eval}`pas_eval_n_check` held-out HHH pairs, whose better answer a
# human chose, the pairwise judge ({eval}`pas_eval_judge_name`) agrees with the human in
# {eval}`pas_eval_judge_agreement` of the pairs and the reward model in {eval}`pas_eval_rm_agreement`. A judge near ½ here cannot tell better answers from worse ones on these
# requests, and its verdicts below say little; the table gives both with their 95% intervals.
#
# **The rule, before the numbers.** For each answering model and judge, PAS's win rate over a condition
# is its wins among the decided comparisons (ties left out); the claim "PAS is better" reads
# *reproduced* when {eval}`pas_eval_rule`, *partly* when the rate is above ½ without significance, *not
# reproduced* when it is at or below ½. The variation covered is the sampling of the
# {eval}`pas_eval_n_eval` held-out prompts; the answering models, the PAS model and the judges are fixed
# (one seed, greedy decoding). Answers are capped at {eval}`pas_eval_answer_tokens` new tokens.

# %%
pnp.table.round(3)

# %% [markdown]
# ```{figure}
# :name: fig-pas-winrates
#
# {eval}`pas_eval_figure`
#
# Win rate of the PAS-augmented prompt over the plain prompt ("none") and over the generic suffix, per
# answering model and judge, with 90% Wilson intervals (the one-sided test's level).
# ```
#
# The answering models ({eval}`pas_eval_models`) generated at {eval}`pas_eval_tokens_per_second`
# tokens/s on average. Mean answer length in new tokens per condition (a judge that favours longer answers
# would favour the condition with more tokens), and where the evaluation's time went:

# %%
display(pnp.lengths.round(1))
pnp.seconds.round(1)

# %% [markdown]
# Held-out prompts with PAS's complement and the first answering model's answers (cut):

# %%
pnp.examples.head(6)

# %% [markdown]
# ### Data efficiency
#
# The paper's PAS needs about 9,000 pairs. The same pipeline's PAS models trained on nested subsets of
# this run's pairs (0: the untrained base model given the same instruction) write complements for the same
# held-out prompts, answered by the first answering model and judged by the reward model against the plain
# prompt's answers:

# %%
with rec.timer("data efficiency"):
    efficiency = rec.glue_result(evaluate.data_efficiency(models.get(cfg.pas_base), generated.pairs, pnp,
                                                          models.get(cfg.answerers[0]), rm, cfg, seed=seed), "pas_eff")
efficiency.table.round(3)

# %% [markdown]
# ```{figure}
# :name: fig-pas-efficiency
#
# {eval}`pas_eff_figure`
#
# Win rate over no augmentation (reward model, {eval}`pas_eff_answerer`) of PAS models trained on
# {eval}`pas_eff_sizes` pairs, with 90% Wilson intervals.
# ```
#
# With {eval}`pas_eff_smallest` training pairs the win rate is {eval}`pas_eff_smallest_rate`; with all of
# them {eval}`pas_eff_full_rate` ({numref}`fig-pas-efficiency`).
#
# ## The claims
#
# **The rules, before the numbers.** Every verdict is a one-sided exact binomial test of a rate above a
# threshold, Holm-adjusted over the chapter's {eval}`pas_claims_n_tests` tests: the win rates above ½ as
# stated in section 6 ({eval}`pas_claims_rule_rate`); a claim about every answering model holds only if it
# holds for each (the largest p-value); the data-generation claim asks that more than half of the prompts
# sent to generation end with a complement that passes the critique ({eval}`pas_claims_rule_generation`).
# The paper's +6.09 points over BPO cannot be measured here (no BPO model, no GPT-4 judge, no Arena-Hard
# or AlpacaEval offline); what is tested in its place is the comparison with a fixed generic suffix, the
# baseline BPO itself had to beat. Everything varies over the held-out prompts only.

# %%
scale = (f"{cfg.pas_base} PAS model (LoRA) on {generated.n_pairs} generated pairs; {pnp.n_eval} held-out prompts; "
         f"answering models {pnp.models}; judge {pnp.judge_name} and an embedding reward model ({profile} profile)")
verdicts = rec.glue_result(experiment.pas_claims(generated, pnp, efficiency, cfg, scale=scale), "pas_claims")
rec.add_claims(verdicts.rows)
rec.claims_frame()

# %% [markdown]
# ## Paper vs this run
#
# The paper's PAS is a 7B model trained on 9,000 pairs generated and critiqued by GPT-4, evaluated with
# strong answering models on benchmark suites judged by GPT-4. This run keeps every stage of the pipeline
# at a scale a CPU affords:

# %%
experiment.paper_vs_run(generated, training, pnp, efficiency, cfg)

# %% [markdown]
# A 135M-parameter PAS model trained on a few dozen pairs written by a 135M-parameter generator, tested on
# {eval}`pas_eval_n_eval` prompts with answers of {eval}`pas_eval_answer_tokens` tokens, tests whether the
# mechanism (a learned complement appended to the prompt) moves small models' answers, and in which
# direction; with intervals as wide as these, a *partly* or a *not reproduced* says as much about the
# sample size and the judges as about the method.
#
# ## Deviations from the paper
#
# - **Language of the seed data.** The seed pairs are Chinese and the smoke profile's models write English
#   best, so the smoke profile generates from an English rendering of the 63 seed pairs written for this
#   book (`reprobook.alignment.pas.seed_en`, same categories, prompts shortened where the original
#   is a long pasted text); the paper profile uses the seed data as is, with the repository's own rules.
#   The category classifier trains on both renderings in the smoke profile, on the Chinese seed alone in
#   the paper profile.
# - **No API model.** The paper generates and critiques with GPT-4. Here a small open model generates
#   ({eval}`pas_gen_generator` in this run) and the critique is explicit rules standing for the
#   repository's five criteria; the repository's critic *rewrites* a wrong complement, this pipeline
#   *regenerates* it by sampling and drops what never passes.
# - **Selection and deduplication.** The paper's quality selection and clustering settings are not
#   published: the rules and the threshold here are this book's, the threshold checked on planted
#   duplicates, never on the evaluation.
# - **PAS model.** {eval}`pas_train_base` with LoRA on its last layers and a learning rate set by the
#   training loss on the seed pairs, instead of a 7B model fully fine-tuned at 2e-5 (the paper profile);
#   the training instruction is the repository's in substance, shorter.
# - **Evaluation.** No BPO, no GPT-4 judge, no Arena-Hard or AlpacaEval: a fixed generic suffix is the
#   baseline, a small language model the pairwise judge and an embedding Bradley–Terry model the held-out
#   reward model; both judges are checked against human preferences first. The answering models are small,
#   their answers capped at {eval}`pas_eval_answer_tokens` tokens. The aligned models of the Baichuan
#   Alignment chapter can join the answering models (`aligned_answerers` in the configuration, loaded only
#   when their checkpoints are cached); the smoke profile leaves them out for its time budget.
# - **Data efficiency.** The paper compares training-set sizes in the thousands; this run's sizes are
#   {eval}`pas_eff_sizes` pairs.

# %% tags=["remove-cell"]
path = rec.save()
print(f"results written to {path}")
