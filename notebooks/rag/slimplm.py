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
# (slimplm)=
# # SlimPLM: a small proxy model decides when and what to retrieve
#
# **The paper.** A language model with a search engine must decide *when* to search (what does the model
# already know?) and *what* to search for. The usual answers ask the large model itself: a preliminary
# answer, a self-assessment, rounds of reasoning, each one more call of the most expensive model.
# {cite:t}`tan2024slimplm` let a *slim proxy model* answer first. A judge reads the proxy's *heuristic
# answer* and predicts whether the large model knows the answer; if not, the claims of the heuristic answer
# say what to search for, and only the claims the judge deems unknown are searched. The proxy is
# Llama2-7B-Chat, the large models Llama2-70B-Chat and Qwen-72B-Chat, on 400 questions of each of five
# datasets (ASQA, NQ, TriviaQA, MuSiQue, ELI5) with BM25 over Wikipedia. Their claims, from the abstract:
#
# 1. "We only conduct retrieval for the missing knowledge in questions that the LLM does not know";
# 2. the experiments show "a notable improvement in the end-to-end performance of LLMs in
#    question-answering tasks, achieving or surpassing current state-of-the-art models with lower LLM
#    inference costs", against methods that decide "through the results of preliminary answers or
#    reasoning done by the LLM itself", which "incurs excessively high computational costs".
#
# **This chapter** runs the whole pipeline on open SQuAD {cite:p}`rajpurkar2016squad`: every paragraph of
# SQuAD v1.1 dev is the knowledge source, searched with the BM25 retriever of `reprobook.rag`, and the
# questions come from the same set, kept by a stated rule when they make sense without their paragraph
# and have a short factoid answer. The proxy is SmolLM2-135M-Instruct {cite:p}`allal2024smollm2`, the
# "large" model Gemma-3-270M {cite:p}`gemmateam2025gemma3` (the paper profile takes any Hugging Face ids).
# SlimPLM is compared with three baselines on the same questions: never retrieving, always retrieving, and
# the large model judging its own need (the paper's Self-Eval baseline). Retrieval and the answer metrics
# are those of {ref}`rag-theory` and the {ref}`DomainRAG chapter <domainrag>`.

# %% tags=["parameters"]
profile = "smoke"  # "tiny": tiny random models, seconds;
                   # "smoke": SmolLM2 + Gemma-3-270M on a sample, CPU minutes;
                   # "paper": GPU
seed = 0  # the split of the articles and the draw of the questions
device = "auto"  # "auto", "cpu", "cuda", "cuda:N" or "mps"
data_dir = None  # the data and model cache;
                 # None: $REPROBOOK_CACHE or ~/.cache/reprobook
proxy = None  # the proxy model: a registry model, a local folder or a Hugging Face id;
              # None: the profile's
large = None  # the large model (the same forms); None: the profile's

# %%
from reprobook import claims, profiles
from reprobook.chapters.slimplm import experiment, report
from reprobook.configs.slimplm import claim_specs
from reprobook.notebook import show_source, start
from reprobook.rag import slimplm, squad

session = start("slimplm", profile=profile, seed=seed, device=device, data_dir=data_dir,
                title="SlimPLM: a slim proxy model decides when and what to retrieve")
rec = session.record
overrides = {name: value for name, value in (("proxy", proxy), ("large", large))
             if value}
cfg = slimplm.check_settings(profiles.config("slimplm", profile, **overrides))
print(f"profile {profile}: proxy {cfg.proxy}, large {cfg.large}"
      f"{' (tiny, random weights)' if cfg.tiny_models else ''}; "
      f"{cfg.train_questions} training and {cfg.eval_questions} evaluation questions; "
      f"device {session.device}, {session.threads} threads")

# %% [markdown]
# ## The knowledge source and the questions
#
# SQuAD pairs each crowd-sourced question with the Wikipedia paragraph that answers it. *Open* SQuAD drops
# the pairing: all paragraphs of the dev set form one corpus, and a system must find the answering passage
# before reading it. Each paragraph is cut into passages of whole sentences (the paper retrieves Wikipedia
# passages of about 100 words; the smoke profile cuts shorter ones to keep the large model's prompts short).
# A question's *gold passages* are those that contain an annotated answer; its gold answers are the
# annotators' distinct spans.
#
# The judge of SlimPLM is trained, so the questions are split: the *articles* are shuffled (seeded) and
# split in two halves, the judge learns from questions of one half and every method is evaluated on
# questions of the other. No evaluation question, and no question about the same article, is ever used to
# train the judge.
#
# Many SQuAD questions lean on their paragraph ("What did he study?"), which no model can answer from
# memory, so a question is kept only when it passes a cheap rule, stated before any result: it names its
# subject (a capitalised word or a number after the first word), has no pronoun or phrase that points into a
# paragraph, and has a gold answer of at most three words. The rule looks at the question alone, never at
# a model's answer:

# %%
show_source(squad.self_contained)

# %%
keep = squad.self_contained if cfg.question_rule == "self_contained" else None
with rec.timer("data"):
    data = squad.squad_open(passage_words=cfg.passage_words)
    split = squad.split_by_article(
        data.questions, n_train=cfg.train_questions, n_eval=cfg.eval_questions,
        eval_fraction=cfg.eval_articles_fraction, seed=seed, keep=keep)
    retriever = experiment.build_retriever(data, cfg)
overview = rec.glue_result(report.describe_data(data, split, keep=keep),
                           "slim_data")
rec.glue("slim_passage_words", cfg.passage_words or "a whole paragraph")
rec.glue("slim_top_k", cfg.top_k)
rec.glue("slim_docs_per_query", cfg.docs_per_query)
rec.check("training and evaluation articles are disjoint",
          not set(split.train_articles) & set(split.eval_articles),
          f"{len(split.train_articles)} training and {len(split.eval_articles)} "
          "evaluation articles")
overview.table

# %% [markdown]
# The corpus holds {eval}`slim_data_passages` passages (at most {eval}`slim_passage_words` words, mean
# {eval}`slim_data_mean_passage_words`) cut from the {eval}`slim_data_paragraphs` paragraphs of
# {eval}`slim_data_articles` articles. The judge learns from {eval}`slim_data_train` questions of
# {eval}`slim_data_train_articles` articles; the methods answer {eval}`slim_data_eval` questions of the
# other {eval}`slim_data_eval_articles`. The retriever is the library's BM25 ({ref}`rag-theory`) with
# English words and stop words, over the title and text of each passage; its index is cached.
#
# ## The method
#
# For a question $x$, a proxy model PM, a judge $J$ that returns P(Known) and a threshold $\tau$:
#
# $$
# \hat a = \mathrm{PM}(x), \qquad \text{Known}(x) = \big[\, J(x, \hat a) \ge \tau \,\big], \qquad
# c_1, \dots, c_m = \mathrm{claims}(\hat a), \qquad \text{NeedSearch}(c_j) = \big[\, J(x, c_j) < \tau \,\big],
# $$ (eq-slimplm-judge)
#
# $$
# Q(x) = \begin{cases} \varnothing & \text{Known}(x) \\
# \{x\} \cup \{ c_j : \text{NeedSearch}(c_j) \} & \text{otherwise} \end{cases}, \qquad
# P(x) = \operatorname{merge}_k \big( R_k(q) : q \in Q(x) \big), \qquad y = \mathrm{LLM}\big(x, P(x)\big),
# $$ (eq-slimplm-retrieve)
#
# where $R_k(q)$ are the top $k$ passages for query $q$ and the large model answers closed-book when $P(x)$
# is empty. One call of the large model per question, whatever the decision: the proxy carries the cost of
# deciding.
#
# **Step 1: the heuristic answer.** The proxy answers the question alone, with the system prompt the
# official scripts give small proxies to make them explain:

# %%
show_source(slimplm.heuristic_answers)

# %% [markdown]
# **Step 2: the retrieval-necessity judge.** The paper fine-tunes Llama2-7B to read the question and the
# heuristic answer and write `<Known(True)>` or `<Known(False)>`. This chapter's judge is a logistic
# regression on what the proxy itself reveals about a span $s$ of its answer (the whole answer, or one
# claim):
#
# $$
# J(x, s) = \sigma\big( w^\top z(x, s) + b \big), \qquad z = \frac{f(x, s) - \mu}{\sigma_f}, \qquad
# f_1(x, s) = \frac{1}{|s|} \sum_{t \in s} \log p_{\mathrm{PM}}(t \mid x, \text{the text before } t) ,
# $$ (eq-slimplm-features)
#
# the proxy's mean token log-probability of the span (its confidence), with four cues of the text: its
# length, whether it hedges or refuses, how much of it restates the question, how many specific words
# (numbers, names not in the question) it commits to. One extra forward pass of the proxy scores every
# token of the heuristic answer; a claim's log-probability is the mean over its own tokens:

# %%
show_source(slimplm.span_features)

# %% [markdown]
# The **labels** say how well the *large* model knows the answer. A small large model answers few
# questions right, so a 0/1 label (its closed-book answer right or not) leaves a judge almost nothing to
# learn from. One teacher-forced pass gives a continuous label instead, the large model's closed-book
# mean log-probability per token of the gold answer $G(x)$ (the best of its distinct answers),
#
# $$
# t(x) = \max_{a \in G(x)} \frac{1}{|a|} \sum_{j} \log p_{\mathrm{LLM}}(a_j \mid x, a_{<j}), \qquad
# \text{Known}^\ast(x) = \big[\, t(x) \ge \log \tfrac{1}{2} \,\big],
# $$ (eq-slimplm-label)
#
# a question being *known* when the gold answer's tokens get at least one half each on (geometric) average,
# about where greedy decoding starts to produce them. It is computed on the training questions only (the
# features come from the proxy's answers to the same questions):

# %%
show_source(slimplm.closed_book_logprob)

# %% [markdown]
# The judge regresses $t$ on the standardised features (ridge) and turns the prediction $\hat t$ into a
# probability with the residuals' spread $\sigma$: $J = \Phi\big((\hat t - \log \tfrac{1}{2}) / \sigma\big)$,
# the chance that the label clears the threshold.

# %%
show_source(slimplm.fit_judge_regression)

# %% [markdown]
# **Step 3: claims and NeedSearch.** The paper's query-rewriting model (Llama2-7B fine-tuned on GPT-4
# annotations) rewrites the heuristic answer into claims, each with a search query and a NeedSearch flag,
# and the judge filters the claims. Here the claims are the heuristic answer's sentences, each its own
# query, and NeedSearch is the judge's verdict on the claim alone:

# %%
show_source(slimplm.split_claims)

# %%
show_source(slimplm.judge_claims)

# %% [markdown]
# **Step 4: what to search.** A Known question searches nothing. An Unknown question searches the question
# itself, as the official pipeline does, and every claim that needs a search:

# %%
show_source(slimplm.plan_queries)

# %% [markdown]
# The official search (`search_utils/rerank_passage.py` and the BM25 server) retrieves *documents* for each
# query, pools the documents of a question's queries, reranks the passages inside each document against
# the *question* and interleaves the documents: the best passage of every document, then the second best,
# and so on, the first $k$ = {eval}`slim_top_k` kept. Here a document is a SQuAD paragraph (each query
# retrieves {eval}`slim_docs_per_query`) and its passages are its sentence groups:

# %%
show_source(slimplm.DocumentSearch.search)

# %%
show_source(slimplm.interleave_documents)

# %% [markdown]
# **Step 5: the answer.** The large model reads the official instruction, the references and the question.
# The smoke profile's large model, Gemma-3-270M, is a base model without a chat template: it gets the
# layout as raw text and its answer is its first line. The prompt of the first evaluation question, with its
# gold passage as the reference:

# %%
print(report.example_prompt(data, split.eval[0], cfg))

# %% [markdown]
# **The self-judgement baseline.** The large model judges its own need, with the official few-shot prompt
# of the Self-Eval baseline ("Do you need additional information to answer this question?"); the
# probability of "Yes", renormalised over "Yes" and "No", is read from its next-token distribution, one
# extra call per question, and the question is retrieved for (one query, the question) when it is at least
# 0.5:

# %%
show_source(slimplm.self_judgement)

# %% [markdown]
# **Metrics**, as in the official evaluation of short answers: **EM**, whether some gold answer is
# contained in the answer after SQuAD's normalisation (lower case, no punctuation or articles); **recall**,
# the share of the distinct gold answers contained in it; and **ROUGE-L** {cite:p}`lin2004rouge`, the
# F-score of the longest common subsequence with the best gold answer. All three come from the library's
# metrics (`reprobook.rag.metrics`):

# %%
show_source(slimplm.answer_scores)

# %%
report.metric_examples().round(2)

# %% [markdown]
# ## The models
#
# The proxy must be much smaller than the large model. The paper's ratio is 7B to 70B; this machine's CPU
# allows two small models:

# %%
with rec.timer("load models"):
    proxy_lm, large_lm = experiment.load_models(cfg, device=session.device, seed=seed)
rec.glue("slim_proxy", report.model_label(proxy_lm))
rec.glue("slim_large", report.model_label(large_lm))
print(f"proxy {report.model_label(proxy_lm)}; "
      f"large {report.model_label(large_lm)}")

# %% [markdown]
# The proxy is {eval}`slim_proxy`, the large model {eval}`slim_large`: a factor of two in size, not ten.
#
# ## Training the judge
#
# The proxy answers every training question and scores its answer; the large model scores the gold
# answers of the same questions closed-book, which gives the labels; the regression is fit. The trained
# judge and its training set are cached, keyed by both models, the training questions, the settings and
# the code.

# %%
with rec.timer("judge"):
    judged = rec.glue_result(slimplm.train_judge(proxy_lm, large_lm, split.train, cfg,
                                                 evaluation=split.eval, seed=seed),
                             "slim_judge")
judged.weights.round(2)

# %% [markdown]
# The large model knows {eval}`slim_judge_n_known` of the {eval}`slim_judge_n_train` training questions
# by the label's rule ({eval}`slim_judge_known_rate`). The judge: {eval}`slim_judge_note`. The table lists
# its standardised weights (positive: the feature makes the gold answer more probable for the large model).
#
# ## The claims as tests, declared before the numbers
#
# The paper's claim has a selective half ("we only conduct retrieval for the missing knowledge") and an
# end-to-end half (as good as the alternatives, better than the large model alone, at a lower cost). Each
# becomes a test over the evaluation questions; every method answers the same questions and greedy
# decoding makes each answer deterministic, so questions are the units:
#
# - *the judge knows what the large model knows*: P(Known) orders the evaluation questions as the
#   large model's closed-book log-probability of the gold answer per token orders them, the label the
#   judge is trained to predict: Harrell's C (the AUROC's generalisation to a continuous label) above ½,
#   a paired bootstrap of the questions. **The endpoint's second form**: it was the AUROC for closed-book
#   *correctness*, until a run in which the large model answered 2 of 100 questions right left that AUROC
#   two positives to rank (*not comparable* at a floor); the continuous label has no floor. It was changed
#   before its value on the evaluation questions had been computed; the AUROC stays as a description;
# - *SlimPLM retrieves where retrieval helps*: its EM against a random choice of as many questions to
#   retrieve for, with the same generated answers, the right null for "retrieve only what the model does
#   not know" (bootstrap); a judge that retrieves for every question or for none has not selected, and
#   then leaves the three comparisons below untested too (SlimPLM is then always- or never-retrieve: the
#   method did not act; its parity with either rival would say nothing of its judge, and its gain over
#   never retrieving would be retrieval's, not SlimPLM's);
# - *as good as always retrieving* and *as good as self-judgement*: non-inferiority of paired EM within a
#   margin (Newcombe's interval); *better than never retrieving*: McNemar's test; each *not comparable* at a
#   floor (both methods right on at most {eval}`slim_floor_k` questions).
#
# The costs the method fixes (one call of the large model per question for SlimPLM, two for
# self-judgement; retrieval only for the questions judged Unknown) are facts, recorded as checks, not claims.
# One-sided tests at α = 0.025, Holm's adjustment over the chapter's {eval}`slim_n_claims` claims. The
# number of evaluation questions follows the rule that the chapter spends its time budget on its claims'
# units: the smoke profile's was raised to what gives 80 % power at the smallest effect of interest for the
# judge's claim, by the spread an earlier run measured, before the run that used it (the sizes and that run's
# numbers are written beside the profile in `src/reprobook/configs/slimplm.py`).

# %%
specs = claim_specs(cfg)
rec.glue("slim_floor_k", cfg.floor_k)
rec.glue("slim_n_claims", len(specs))
claims.design_frame(specs)

# %% [markdown]
# ## Running the methods
#
# Every method answers every evaluation question with the same large model and greedy decoding:
#
# - **never**: closed book, one call of the large model;
# - **always**: the top {eval}`slim_top_k` passages for the question, one retrieval, one call;
# - **self-judgement**: one call to judge, then *always* or *never*: two calls;
# - **SlimPLM**: the proxy's heuristic answer and one scoring pass (proxy calls), the judge, then *never*
#   (Known) or the passages the official search finds for the question and its NeedSearch claims (one
#   retrieval per query); one call of the large model.
#
# For the threshold sweep below, every question is also answered as SlimPLM would answer it if Unknown;
# each method's costs count only what it uses. The seconds of a question are its share of each stage's
# measured time (a batch's time divided equally among its prompts or queries).
#
# Every method answers the same questions, its costs counted, in one loop:

# %%
show_source(experiment.run_slimplm)

# %%
with rec.timer("methods"):
    run = rec.glue_result(experiment.run_slimplm(proxy_lm, large_lm, retriever,
                                                 split.eval, judged.judge, cfg,
                                                 seed=seed), "slim_run")
for name, passed, detail in experiment.consistency_checks(run, retriever):
    rec.check(name, passed, detail)
for name, passed, detail, paper in report.cost_facts(run):
    rec.check(name, passed, detail, paper=paper)
report.sample_traces(run, n=4)

# %% [markdown]
# The first questions through SlimPLM: the heuristic answer, the judge's P(Known), the decision, and each
# claim with its NeedSearch flag. Over the {eval}`slim_run_n_questions` evaluation questions, the judge
# calls {eval}`slim_run_known_share` Known at the threshold {eval}`slim_run_threshold`; the large model in
# fact answers {eval}`slim_run_closed_correct` of them correctly closed-book. A heuristic answer has
# {eval}`slim_run_mean_claims` claims on average, {eval}`slim_run_searched_claims` of which need a search,
# and an Unknown question sends {eval}`slim_run_queries_unknown` queries. Self-judgement retrieves for
# {eval}`slim_run_self_retrieve_share` of the questions. What the methods answered:

# %%
report.answers_table(run, n=4)

# %% [markdown]
# ## Results

# %%
comparison = rec.glue_result(
    report.compare_methods(run, n_boot=cfg.n_boot, seed=seed), "slim")
rec.metric("methods", comparison.numbers.to_dict(orient="records"))
comparison.table

# %% [markdown]
# Means over the {eval}`slim_run_n_questions` evaluation questions with 95% bootstrap intervals over
# questions (no interval: the value is the same for every question). EM is {eval}`slim_em_never` closed
# book, {eval}`slim_em_always` when always retrieving, {eval}`slim_em_self` with self-judgement and
# {eval}`slim_em_slimplm` with SlimPLM (recall {eval}`slim_recall_slimplm`, ROUGE-L
# {eval}`slim_rougel_slimplm`). SlimPLM sends {eval}`slim_retrievals_slimplm` queries per question (always
# retrieving: one; self-judgement: {eval}`slim_retrievals_self`) and calls the proxy
# {eval}`slim_proxy_calls_slimplm` times. A gold passage reaches the large model's prompt for
# {eval}`slim_gold_always` of the questions when always retrieving and {eval}`slim_gold_slimplm` with
# SlimPLM. Seconds per question on this run's machine: {eval}`slim_seconds_never` (never),
# {eval}`slim_seconds_always` (always), {eval}`slim_seconds_self` (self-judgement),
# {eval}`slim_seconds_slimplm` (SlimPLM, the proxy's share included); on a shared CPU they are indicative
# only.
#
# ### What each method costs
#
# The paper counts cost in calls of the large model and in retrievals; the seconds of this machine add the
# proxy's share:

# %%
report.cost_table(run).round(2)

# %% [markdown]
# ### Does the heuristic answer tell what the large model knows?
#
# The judge is only as useful as its P(Known) is informative. On the evaluation questions the truth is
# known: whether the large model's closed-book answer was right.

# %%
quality = rec.glue_result(report.judge_quality(run), "slim_jq")

# %% [markdown]
# The large model gives the gold answer a mean closed-book log-probability of {eval}`slim_jq_label_mean`
# nats per token on the evaluation questions, and P(Known) orders the questions as that knowledge does
# with concordance C = {eval}`slim_jq_concordance` (0.5 is chance; its interval is in the claims table).
# It answers {eval}`slim_jq_n_known` of the {eval}`slim_jq_n` questions right closed-book; the AUROC of
# P(Known) against that correctness is {eval}`slim_jq_auroc`, and at the threshold the judge is right on {eval}`slim_jq_accuracy` of
# the questions, against {eval}`slim_jq_majority` for always predicting the more frequent outcome; SlimPLM
# retrieves for {eval}`slim_jq_retrieve_share` of them. A judge can save retrievals only on questions the
# large model knows; when it knows almost none, the right decision is nearly always to retrieve, and SlimPLM
# becomes retrieval with extra queries from the heuristic answer.
#
# ### The trade-off

# %%
curve = rec.glue_result(report.tradeoff(run, comparison), "slim_tradeoff")

# %% [markdown]
# ```{figure}
# :name: fig-slimplm-tradeoff
#
# {eval}`slim_tradeoff_figure`
#
# EM against retrievals per question. Curves: SlimPLM as its question-level threshold on P(Known) moves
# from 0 (everything Known: no retrieval) to above 1 (everything Unknown), with the claims searched fixed at
# the operating threshold; self-judgement as its threshold on P(Yes) moves. Markers: every method at its
# operating point.
# ```
#
# Moving SlimPLM's threshold reaches {eval}`slim_tradeoff_slim_thresholds` distinct operating points (a
# constant judge reaches two: all Known or all Unknown). Its best EM over the thresholds is
# {eval}`slim_tradeoff_best_em_slimplm` at {eval}`slim_tradeoff_best_em_retrievals` retrievals per
# question. A curve that rises steeply from the left, reaching the *always* marker's height with fewer
# retrievals, is what the paper's claim predicts.
#
# ## The claims
#
# The function that turns this run into the claims table below, as it runs: each declared claim tested on its
# units, with its guards and Holm's adjustment over the chapter's tested claims.

# %%
show_source(experiment.slimplm_tests)

# %%
scale = report.scale_text(cfg, run, judged, proxy_lm, large_lm, len(data.corpus),
                              profile)
rec.glue("slim_scale", scale)
tests = experiment.slimplm_tests(specs, run, cfg, scale=scale, seed=seed)
rec.add_claims(tests)
claims.claims_table(tests)

# %% [markdown]
# Each row: the estimate with its 95 % interval over the evaluation questions, the Holm-adjusted $p$, the
# power this run had at the smallest effect of interest and its minimum detectable effect (80 % power, at
# the Holm level, with the spread observed), and the verdict with its reason.
#
# ## Paper vs this run

# %%
paper_cfg = profiles.config("slimplm", "paper")
rec.glue("slim_paper_settings",
         f"proxy {paper_cfg.proxy}, large {paper_cfg.large}, "
         f"{paper_cfg.eval_questions} evaluation questions, top {paper_cfg.top_k} "
         f"passages of {paper_cfg.passage_words} words")
report.paper_vs_run(tests)

# %% [markdown]
# The paper states its results in words and tables for 7B and 70B models; its numbers are not quoted here
# (its tables could not be read for this book), so each row sets the abstract's claim beside this run's
# numbers and verdict. Scale of this run: {eval}`slim_scale`. A 135M proxy and a 270M large model know far
# less than the paper's, and SQuAD's questions were written about one paragraph each: the smoke verdicts
# test whether the mechanism and the direction of the claims show up at this scale, not the paper's numbers.
#
# ## Deviations from the paper
#
# - **Models.** SmolLM2-135M-Instruct as the proxy and Gemma-3-270M, a base model, as the large model,
#   instead of Llama2-7B-Chat and Llama2-70B-Chat or Qwen-72B-Chat (paper profile:
#   {eval}`slim_paper_settings`). The base model reads raw-text prompts (the official instruction's first
#   sentence, the references, the question, an `Answer:` cue) and its answer is its first line; the chat
#   layout with `[[[ ]]]` delimiters is kept for chat models. A first smoke run with that layout showed the
#   base model copying the brackets into its answers.
# - **Data.** SQuAD v1.1 dev, open-domain, instead of ASQA, NQ, TriviaQA, MuSiQue and ELI5 (none is
#   available offline here); the corpus is SQuAD's own paragraphs, cut into sentence passages, instead of
#   the KILT Wikipedia dump. No multi-hop set is run: FanOutQA's questions install offline, but the
#   Wikipedia pages they need do not. The questions are those the stated rule keeps (self-contained,
#   short factoid answers).
# - **The judge.** A ridge regression on five features of the heuristic answer measured with the proxy,
#   predicting the large model's closed-book log-probability of the gold answer per token (Known: at least
#   log ½), instead of a fine-tuned Llama2-7B; labels on questions of other articles than the evaluation
#   questions. The official judge data labels a question Known when the heuristic answer of the 7B chat
#   model recalls more than half of the gold answers.
# - **Query rewriting.** The heuristic answer's sentences are its claims, each its own query, instead of
#   a fine-tuned rewriting model (trained on GPT-4 annotations) that writes claims, sub-questions and
#   queries.
# - **Search.** The official merge (documents per query pooled, each document's passages reranked
#   against the question, documents interleaved) over SQuAD paragraphs as documents,
#   {eval}`slim_docs_per_query` per query instead of 10 Wikipedia pages; the rerank scores passages with
#   BM25 against the question instead of e5-base embeddings; the interleave runs to the longest document
#   (the official `zip` stops at the shortest, which with Wikipedia pages of 20 reranked paragraphs rarely
#   matters and with paragraphs of one to three passages would drop most of them).
# - **Sizes.** {eval}`slim_data_eval` evaluation questions (the paper: 400 per dataset), top
#   {eval}`slim_top_k` passages of at most {eval}`slim_passage_words` words, short answers. The sweep fixes
#   the claims searched at the operating threshold.
# - **Claims as tests.** The paper's cost claim is a fact of the method here (one call of the large model
#   against two; retrieval only for Unknown questions), recorded as a check; its selectivity claim is tested
#   directly (the judge's concordance with the large model's closed-book knowledge, SlimPLM against a
#   random selection at the same retrieval rate).
# - **Baselines.** Only never, always and self-judgement (Self-Eval); the paper also compares CoT,
#   SKR-kNN, Self-Ask, FLARE and ITER-RETGEN.

# %% tags=["remove-cell"]
path = rec.save()
print(f"results written to {path}")
