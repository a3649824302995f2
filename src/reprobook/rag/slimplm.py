"""SlimPLM: a slim proxy model decides when, and what, a large model should retrieve.

Explained in `notebooks/rag/slimplm.ipynb`.

The pipeline of Tan et al. (2024), step by step:

1. the **proxy** model (small) answers the question alone: the *heuristic answer* â = PM(x)
   (:func:`heuristic_answers`);
2. a **retrieval-necessity judge** reads (x, â) and says whether the *large* model knows the answer
   (Known = True: answer without retrieval). The paper fine-tunes a 7B model as the judge; here it is a
   logistic regression on features of the heuristic answer measured with the proxy itself
   (:func:`span_features`, :func:`fit_judge`), trained on questions labelled by whether the large model
   answered them correctly closed-book (:func:`train_judge`, on questions of other articles than the
   evaluation questions);
3. **query rewriting** turns â into claims, each with NeedSearch (:func:`split_claims`; a claim needs a
   search when the judge, applied to the claim alone, says Unknown);
4. only an Unknown question is searched, with the question itself and its NeedSearch claims as queries
   (:func:`plan_queries`); as in the official pipeline, each query retrieves documents, the documents of
   all queries are pooled, each document's passages are reranked against the question and the documents'
   passages interleaved (:class:`DocumentSearch`, :func:`interleave_documents`);
5. the **large** model answers: closed-book when Known, with the retrieved passages otherwise.

The baseline in which the large model judges its own need (*self-judgement*, the paper's Self-Eval) asks
it, few-shot, whether it needs additional information, and reads P(Yes) from its next-token distribution
(:func:`self_judgement`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm

from .. import llm
from ..checks import ParameterError, check_choice, check_fraction, check_int, check_optional_int, check_positive
from ..configs.slimplm import SlimPLMConfig
from ..llm import completion_logprobs
from ..results import facts, glued
from ..rouge import rouge_l
from ..timing import timed
from ..training import train_or_load
from .corpus import Corpus, Passage
from .metrics import exact_match, normalize_answer
from .retrievers import BM25Retriever
from .squad import SquadQuestion, check_disjoint, sentence_spans

# -------------------------------------------------------------------------------------------- prompts
# The official prompts (plageon/SlimPlm, user_intent/chat_inference.py): the proxies' system prompt, which
# elicits a detailed heuristic answer, and the retrieval-augmented instruction given to the large model.
PROXY_SYSTEM = "You are a helpful assistant. Please answer the question professionally and provide explanations."
RAG_INSTRUCTION = (
    "Now, based on the following reference and your knowledge, please answer the question more "
    "succinctly and professionally. The reference is delimited by triple brackets [[[]]]. The "
    "question is delimited by triple parentheses ((())). You should include as many possible "
    "answers as you can."
)
# The Self-Eval baseline's few-shot prompt (official SKR/icl.py): instruction and demonstrations verbatim.
SELF_JUDGE_PROMPT = (
    "Based on your knowledge you should tell if you need additional information to answer the following questions.\n"
    "Question: [[What C is the alternative name for the Water Moccasin,the U.S.A.’s only venomous water snake?]] "
    "Do you need additional information to answer this question? No, I don't need additional information. \n"
    "Question: [[what age do you have to be to smoke in france?]] Do you need additional information to answer "
    "this question? Yes, I need additional information. \n"
    "Question: [[who was the slytherin seeker in harry potter 1?]] Do you need additional information to answer "
    "this question? No, I don't need additional information. \n"
    "Question: [[{question}]] Do you need additional information to answer this question?"
)
LOGPROB_FLOOR = -10.0  # the mean log-probability given to an empty answer (about that of a random token)


@dataclass(frozen=True)
class ReaderPrompt:
    """The large model's prompts, callable as ``prompt(question=..., passages=[...])`` for
    :func:`reprobook.llm.fit_context`; no passages gives the closed-book prompt.

    ``chat`` (a chat model, the paper's): the official user message, the references between ``[[[ ]]]``
    and the question between ``((( )))``. A base model (``chat=False``) continues raw text: it gets the
    instruction's first sentence, the references and the question on lines of their own and an ``Answer:``
    cue (a base model copies the bracket delimiters into its answer).
    """

    chat: bool = True

    def __call__(self, question: str, passages: Sequence[str] = ()) -> str:
        if not passages:  # closed book: the question alone, as the official direct-chat prompt
            return question if self.chat else f"Question: {question}\nAnswer:"
        if self.chat:
            return f"{RAG_INSTRUCTION}\nReference: [[[{chr(10).join(passages)}]]], \nquestion: ((({question})))"
        return f"{RAG_INSTRUCTION.split('. ')[0]}.\nReference:\n{chr(10).join(passages)}\nQuestion: {question}\nAnswer:"


def _full(x: Any) -> Any:
    """Half-precision logits in float32 before a softmax (float32 and float64 stay as they are)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _raw_text(lm: Any, text: str) -> str:
    """A chat-templated text to be tokenised as raw text: without the BOS the tokenizer adds itself."""
    bos = lm.tokenizer.bos_token
    ids = lm.tokenizer("x")["input_ids"]
    adds_bos = bos is not None and ids and ids[0] == lm.tokenizer.bos_token_id
    return text[len(bos) :] if adds_bos and text.startswith(bos) else text


def check_settings(cfg: SlimPLMConfig) -> Any:
    """A ParameterError naming the first setting of a SlimPLM configuration outside its allowed values."""
    for name in (
        "top_k",
        "proxy_max_new_tokens",
        "answer_max_new_tokens",
        "batch_size",
        "max_claims",
        "min_claim_words",
        "n_boot",
    ):
        check_int(name, getattr(cfg, name), low=1)
    check_optional_int("max_prompt_tokens", cfg.max_prompt_tokens, low=1)
    for name in ("judge_threshold", "self_judge_threshold"):
        check_fraction(name, getattr(cfg, name), open_low=False)
    check_positive("margin", cfg.margin)
    check_positive("judge_c", cfg.judge_c)
    check_choice("judge_label", cfg.judge_label, ("logprob", "em"))
    check_int("docs_per_query", cfg.docs_per_query, low=1)
    return cfg


# -------------------------------------------------------------------------------------------- step 1
def heuristic_answers(
    proxy: Any, questions: Sequence[str], *, max_new_tokens: int, batch_size: int = 8, seed: int = 0
) -> Any:
    """Step 1: the proxy's heuristic answer â = PM(x) to each question (greedy, chat template, the official
    system prompt). Returns the :class:`reprobook.llm.Generation`."""
    return llm.generate(
        proxy, list(questions), system=PROXY_SYSTEM, max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed
    )


# -------------------------------------------------------------------------------------------- step 3
def split_claims(answer: str, *, max_claims: int = 3, min_words: int = 3) -> list[str]:
    """Step 3: the claims of a heuristic answer: its sentences with at least ``min_words`` words, the first
    ``max_claims`` of them (a short answer without a full sentence is one claim).

    >>> split_claims("Paris. It is the capital of France. It has 2 million people.", max_claims=2)
    ['It is the capital of France.', 'It has 2 million people.']
    """
    check_int("max_claims", max_claims, low=1)
    check_int("min_words", min_words, low=1)
    sentences = [answer[a:b].strip() for a, b in sentence_spans(answer)]
    claims = [s for s in sentences if len(s.split()) >= min_words][:max_claims]
    if not claims and answer.strip():
        claims = [answer.strip()]
    return claims


# -------------------------------------------------------------------------------------------- step 2
FEATURES = ("mean log-probability", "log(1 + tokens)", "hedges", "share of words from the question", "specific words")
_HEDGE = re.compile(
    r"\b(i don't know|i do not know|not sure|unsure|i'm sorry|i am sorry|i cannot|i can't|"
    r"unable to|no information|not aware|unclear|unknown|apologi[sz]e)\b",
    re.I,
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")


def span_features(question: str, span: str, mean_logprob: float, n_tokens: int) -> np.ndarray:
    """The judge's view of one span of a heuristic answer (the whole answer, or one claim):

    * the proxy's mean token log-probability of the span (its confidence; an empty span: ``LOGPROB_FLOOR``);
    * log(1 + its length in tokens);
    * 1 if it hedges or refuses ("I don't know", "I'm sorry", ...);
    * the share of its words that already occur in the question (restating instead of answering);
    * the share of its words that are specific: numbers, or capitalised words not in the question.
    """
    q_words = {w.lower() for w in _WORD.findall(question)}
    words = _WORD.findall(span)
    n = max(len(words), 1)
    specific = sum(1 for w in words if w[0].isdigit() or (w[0].isupper() and w.lower() not in q_words))
    return np.array(
        [
            mean_logprob if words else LOGPROB_FLOOR,
            np.log1p(n_tokens),
            float(bool(_HEDGE.search(span))),
            sum(w.lower() in q_words for w in words) / n,
            specific / n,
        ],
        dtype=np.float64,
    )


def span_logprobs(
    lm: Any,
    prompts: Sequence[str],
    completions: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int]]],
    *,
    batch_size: int = 8,
) -> list[list[tuple[float, int]]]:
    """For each (prompt, completion), the mean log-probability and the number of the completion's tokens
    whose text (leading spaces aside) starts inside each character span ``(a, b)`` of the completion: one
    forward pass per completion.

    ``prompts`` are raw text (a chat template already applied); log p(token t | prompt, tokens before t)
    is read from the logits at position t − 1. A span without tokens gets (``LOGPROB_FLOOR``, 0).
    """
    tok = lm.tokenizer
    if not getattr(tok, "is_fast", False):
        raise ParameterError("lm", getattr(lm, "name", lm), "a model with a fast tokenizer (character offsets)")
    rows = []
    for p, c in zip(prompts, completions):
        enc = tok(c, add_special_tokens=False, return_offsets_mapping=True)
        # where each token's text starts, leading spaces skipped (" She" belongs to the sentence "She ...")
        starts: list[int] | np.ndarray = [a + len(c[a:e]) - len(c[a:e].lstrip()) for a, e in enc["offset_mapping"]]
        rows.append((tok(_raw_text(lm, p))["input_ids"], enc["input_ids"], starts))
    out: list[list[tuple[float, int]]] = [[] for _ in rows]
    order = sorted(range(len(rows)), key=lambda i: -(len(rows[i][0]) + len(rows[i][1])))
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            batch = order[b : b + batch_size]
            width = max(len(rows[i][0]) + len(rows[i][1]) for i in batch)
            x = torch.full((len(batch), width), tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(x)
            for r, i in enumerate(batch):  # right padding: no pad token precedes a scored token
                ids = rows[i][0] + rows[i][1]
                x[r, : len(ids)], mask[r, : len(ids)] = torch.tensor(ids), 1
            logits = lm.model(input_ids=x.to(lm.device), attention_mask=mask.to(lm.device)).logits
            for r, i in enumerate(batch):
                n_p, n_c = len(rows[i][0]), len(rows[i][1])
                # log p(t_j | prompt, t_<j) for every completion token j
                lp = _full(logits[r, n_p - 1 : n_p + n_c - 1]).log_softmax(-1)
                token_lp = lp.gather(-1, x[r, n_p : n_p + n_c, None].to(lp.device))[:, 0].cpu().numpy()
                starts = np.asarray(rows[i][2])
                for a, e in spans[i]:
                    inside = (starts >= a) & (starts < e)
                    out[i].append(
                        (float(token_lp[inside].mean()), int(inside.sum())) if inside.any() else (LOGPROB_FLOOR, 0)
                    )
    return out


@dataclass
class ProxyReading:
    """Steps 1 and 3 with the judge's features: the heuristic answers, their claims, the features of each
    answer and of each claim, and what they cost."""

    questions: list[str]
    answers: list[str]
    claims: list[list[str]]
    question_features: np.ndarray  # (questions, features)
    claim_features: list[np.ndarray]  # per question: (claims, features)
    generate_seconds: float
    score_seconds: float
    proxy_calls: list[int]  # per question: one generation and one scoring pass


def read_with_proxy(
    proxy: Any,
    questions: Sequence[str],
    *,
    max_new_tokens: int,
    max_claims: int,
    min_claim_words: int,
    batch_size: int = 8,
    seed: int = 0,
) -> ProxyReading:
    """The proxy writes each heuristic answer, the answer is cut into claims, and one more pass of the proxy
    scores the answer's tokens (given the question): the mean log-probability of the whole answer and of
    each claim are the judge's confidence features."""
    questions = list(questions)
    gen = heuristic_answers(proxy, questions, max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed)
    answers = [t.strip() for t in gen.texts]
    claims = [split_claims(a, max_claims=max_claims, min_words=min_claim_words) for a in answers]
    spans = [[(0, len(a))] + [(a.find(c), a.find(c) + len(c)) for c in cs] for a, cs in zip(answers, claims)]
    with timed() as clock:
        scored = span_logprobs(
            proxy,
            [llm.chat_prompt(proxy, q, system=PROXY_SYSTEM) for q in questions],
            answers,
            spans,
            batch_size=batch_size,
        )
    seconds = clock.seconds
    q_feats, c_feats = [], []
    for q, a, cs, sc in zip(questions, answers, claims, scored):
        q_feats.append(span_features(q, a, *sc[0]))
        c_feats.append(np.array([span_features(q, c, *x) for c, x in zip(cs, sc[1:])]).reshape(len(cs), len(FEATURES)))
    return ProxyReading(
        questions,
        answers,
        claims,
        np.array(q_feats).reshape(len(questions), len(FEATURES)),
        c_feats,
        gen.seconds,
        seconds,
        [2] * len(questions),
    )


@dataclass
class Judge:
    """The retrieval-necessity judge on standardised features z = (f − μ) / s:

    * ``logistic``: P(Known) = σ(w · z + b), fit on 0/1 labels;
    * ``regression``: a linear prediction ŷ = w · z + b of the large model's closed-book log-probability of
      the gold answer, and P(Known) = Φ((ŷ − ``threshold``) / ``sigma``): the chance that the label exceeds
      the Known threshold if the residuals are normal with the training residuals' spread;
    * ``constant``: the training labels had one class; P(Known) = the smoothed rate.
    """

    kind: str  # "logistic", "regression" or "constant"
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    prior: float  # (known + 1) / (n + 2) on the training labels
    threshold: float = 0.0  # regression: the label value from which a question is Known
    sigma: float = 1.0  # regression: the residual standard deviation

    def p_known(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64).reshape(-1, len(self.mean))
        if self.kind == "constant":
            return np.full(len(x), self.prior)
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        if self.kind == "regression":
            return norm.cdf((z - self.threshold) / self.sigma)  # Φ((ŷ − threshold) / σ)
        return 1.0 / (1.0 + np.exp(-z))  # σ(z)

    def state(self) -> dict[str, Any]:
        kinds = ("constant", "logistic", "regression")
        return {
            "kind": torch.tensor(float(kinds.index(self.kind))),
            "mean": torch.tensor(self.mean),
            "scale": torch.tensor(self.scale),
            "coef": torch.tensor(self.coef),
            "intercept": torch.tensor(self.intercept),
            "prior": torch.tensor(self.prior),
            "threshold": torch.tensor(self.threshold),
            "sigma": torch.tensor(self.sigma),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Judge:
        kind = ("constant", "logistic", "regression")[int(float(state["kind"]))]
        return cls(
            kind,
            state["mean"].numpy(),
            state["scale"].numpy(),
            state["coef"].numpy(),
            float(state["intercept"]),
            float(state["prior"]),
            float(state["threshold"]),
            float(state["sigma"]),
        )


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    return mean, np.where(scale > 0, scale, 1.0)


def fit_judge(features: np.ndarray, labels: Sequence[int] | np.ndarray, *, c: float = 1.0) -> Judge:
    """Fit the judge on 0/1 labels: scikit-learn's L2-regularised logistic regression (inverse strength
    ``c``), classes weighted inversely to their frequency (Known answers are rare for a small model); one
    class only: a constant judge."""
    from sklearn.linear_model import LogisticRegression

    check_positive("c", c)
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=int)
    if x.ndim != 2 or len(x) != len(y) or len(y) == 0:
        raise ParameterError("labels", f"{len(y)} labels for features of shape {x.shape}", "one label per feature row")
    prior = (y.sum() + 1) / (len(y) + 2)
    mean, scale = _standardise(x)
    if len(set(y.tolist())) < 2:
        return Judge("constant", mean, scale, np.zeros(x.shape[1]), 0.0, float(prior))
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=1000).fit((x - mean) / scale, y)
    return Judge("logistic", mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]), float(prior))


def fit_judge_regression(features: np.ndarray, targets: Sequence[float], *, threshold: float, c: float = 1.0) -> Judge:
    """Fit the judge on a continuous label (the large model's closed-book log-probability of the gold
    answer): ridge regression (penalty 1/``c``) on standardised features; σ is the residuals' standard
    deviation (degrees of freedom: n − features − 1, at least 1). Known means label ≥ ``threshold``."""
    from sklearn.linear_model import Ridge

    check_positive("c", c)
    x = np.asarray(features, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(t) or len(t) < 2 or not np.all(np.isfinite(t)):
        raise ParameterError(
            "targets",
            f"{len(t)} targets for features of shape {x.shape}",
            "one finite target per feature row, at least two rows",
        )
    mean, scale = _standardise(x)
    model = Ridge(alpha=1.0 / c).fit((x - mean) / scale, t)
    resid = t - model.predict((x - mean) / scale)
    sigma = float(np.sqrt(np.sum(resid**2) / max(len(t) - x.shape[1] - 1, 1)))
    known = (t >= threshold).astype(int)
    return Judge(
        "regression",
        mean,
        scale,
        model.coef_.astype(np.float64),
        float(model.intercept_),
        float((known.sum() + 1) / (len(t) + 2)),
        float(threshold),
        max(sigma, 1e-6),
    )


# -------------------------------------------------------------------------------------------- labels
def answer_scores(prediction: str, answers: Sequence[str]) -> dict[str, float]:
    """EM, recall and ROUGE-L of one answer, with the library's metrics and SQuAD's normalisation (lower
    case, no punctuation or articles), as the official SlimPLM evaluation:

    * EM: 1 when some gold answer is contained in the prediction (:func:`~reprobook.rag.metrics.exact_match`);
    * recall: the share of the distinct gold answers contained in it (the golds as the parts of one
      alternative);
    * ROUGE-L: the F-score of the longest common subsequence with the best gold answer.
    """
    golds = list(answers)
    return {
        "em": exact_match(prediction, golds, normalize=normalize_answer),
        "recall": exact_match(prediction, [golds], normalize=normalize_answer),
        "rougeL": rouge_l(normalize_answer(prediction), [normalize_answer(g) for g in golds]),
    }


def generate_answers(
    lm: Any,
    questions: Sequence[str],
    passages: Sequence[Sequence[str]],
    *,
    chat: bool,
    max_new_tokens: int,
    max_prompt_tokens: int | None,
    batch_size: int = 8,
    seed: int = 0,
) -> tuple[list[str], list[str], list[float]]:
    """Step 5: the large model's answer to each question given its passages (none: closed book).

    Each prompt goes through the context guard :func:`reprobook.llm.fit_context` (passages shortened, never
    the question); identical prompts are generated once (greedy decoding). A base model's answer is its
    first non-empty line. Returns (answers, prompts, seconds per question: its prompt's share of the time).
    """
    template = ReaderPrompt(chat)
    prompts = [
        llm.fit_context(
            lm, q, list(p), template=template, max_prompt_tokens=max_prompt_tokens, reserve=max_new_tokens, chat=chat
        )
        if p
        else template(q)
        for q, p in zip(questions, passages)
    ]
    unique = list(dict.fromkeys(prompts))
    if not unique:
        return [], [], []
    out = llm.generate(lm, unique, max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed, chat=chat)
    # a base model goes on after its answer (a new "Question:"): its first non-empty line is the answer
    by_prompt = {
        p: t.strip() if chat else next((line.strip() for line in t.splitlines() if line.strip()), "")
        for p, t in zip(unique, out.texts)
    }
    share = out.seconds / len(unique)
    return [by_prompt[p] for p in prompts], prompts, [share] * len(prompts)


@dataclass
class JudgeTraining:
    """The trained judge and its training set: question ids, labels, features; glued summary numbers."""

    judge: Judge
    qids: tuple[str, ...]
    labels: np.ndarray
    features: np.ndarray
    loaded: bool
    # n_train, n_known, known_rate, train_accuracy (at P(Known) ≥ 0.5 on its own training questions), kind,
    # articles, note (what the judge learned, in words)
    facts: pd.Series = glued()
    weights: Any = None  # DataFrame: the standardised coefficient of each feature


def closed_book_logprob(
    large: Any, questions: Sequence[SquadQuestion], *, chat: bool, batch_size: int = 16
) -> np.ndarray:
    """The large model's closed-book knowledge of each question, one teacher-forced pass: the mean
    log-probability per token of the best-scored distinct gold answer (the first three) after the
    closed-book prompt (a base model's ``Answer:`` cue is followed by a space, as in its own
    continuations). Short prompts are scored in batches: a pass costs a fixed read of the weights."""
    template = ReaderPrompt(chat)
    lead = "" if chat else " "
    pairs = [(i, template(q.question), lead + a) for i, q in enumerate(questions) for a in q.answers[:3]]
    scores = completion_logprobs(
        large, [p for _, p, _ in pairs], [a for _, _, a in pairs], chat=chat, average=True, batch_size=batch_size
    )
    best = np.full(len(questions), -np.inf)
    for (i, _, _), value in zip(pairs, scores):
        best[i] = max(best[i], value)
    return best


def judge_training_set(
    proxy: Any, large: Any, train: Sequence[SquadQuestion], cfg: SlimPLMConfig, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, Any]:
    """(features, labels, what the labels came from) of the training questions; only ``train`` is read.

    ``cfg.judge_label``:

    * ``"logprob"``: the large model's closed-book log-probability of the gold answer per token
      (:func:`closed_book_logprob`, one pass, no generation); Known (y = 1) when it is at least
      ``cfg.known_logprob``; the third value is the log-probabilities;
    * ``"em"``: Known when the large model's generated closed-book answer contains a gold answer; the third
      value is the answers.

    The features come from the proxy's heuristic answer to the same question.
    """
    texts = [q.question for q in train]
    reading = read_with_proxy(
        proxy,
        texts,
        max_new_tokens=cfg.proxy_max_new_tokens,
        max_claims=cfg.max_claims,
        min_claim_words=cfg.min_claim_words,
        batch_size=cfg.batch_size,
        seed=seed,
    )
    if cfg.judge_label == "logprob":
        targets = closed_book_logprob(large, train, chat=cfg.large_chat)
        return reading.question_features, (targets >= cfg.known_logprob).astype(int), targets
    closed, _, _ = generate_answers(
        large,
        texts,
        [[] for _ in texts],
        chat=cfg.large_chat,
        max_new_tokens=cfg.answer_max_new_tokens,
        max_prompt_tokens=None,
        batch_size=cfg.batch_size,
        seed=seed,
    )
    labels = np.array([int(answer_scores(a, q.answers)["em"] == 1.0) for a, q in zip(closed, train)])
    return reading.question_features, labels, closed


def train_judge(
    proxy: Any,
    large: Any,
    train: Sequence[SquadQuestion],
    cfg: SlimPLMConfig,
    *,
    evaluation: Sequence[SquadQuestion] = (),
    seed: int = 0,
    cache: bool = True,
) -> JudgeTraining:
    """The judge trained on ``train`` (cached by the models, the questions, the settings and this module's
    code): a regression on the continuous label (``cfg.judge_label == "logprob"``) or a logistic regression
    on 0/1 labels (``"em"``). ``evaluation``: the evaluation questions, which must share no question and no
    article with ``train`` (a ParameterError otherwise)."""
    check_settings(cfg)
    if not train:
        raise ParameterError("train", train, "at least one training question")
    check_disjoint(train, evaluation)
    key = {
        "proxy": proxy.fingerprint,
        "large": large.fingerprint,
        "qids": [q.qid for q in train],
        "proxy_max_new_tokens": cfg.proxy_max_new_tokens,
        "answer_max_new_tokens": cfg.answer_max_new_tokens,
        "max_claims": cfg.max_claims,
        "min_claim_words": cfg.min_claim_words,
        "large_chat": cfg.large_chat,
        "judge_c": cfg.judge_c,
        "judge_label": cfg.judge_label,
        "known_logprob": cfg.known_logprob,
        "seed": seed,
    }

    def train_fn() -> dict[str, Any]:
        x, y, source = judge_training_set(proxy, large, train, cfg, seed=seed)
        if cfg.judge_label == "logprob":
            judge = fit_judge_regression(x, source, threshold=cfg.known_logprob, c=cfg.judge_c)
            targets = torch.tensor(np.asarray(source, dtype=np.float64))
        else:
            judge, targets = fit_judge(x, y, c=cfg.judge_c), torch.tensor(y.astype(np.float64))
        return {**judge.state(), "features": torch.tensor(x), "labels": torch.tensor(y), "targets": targets}

    if cache:
        state, info = train_or_load(key, train_fn, name="slimplm-judge", code=(__name__, "reprobook.rag.squad"))
        loaded = info["loaded"]
    else:
        state, loaded = train_fn(), False
    judge = Judge.from_state(state)
    x, y = state["features"].numpy(), state["labels"].numpy().astype(int)
    targets = state["targets"].numpy()
    accuracy = float(np.mean((judge.p_known(x) >= 0.5) == (y == 1)))
    weights = pd.DataFrame({"feature": FEATURES, "weight (standardised)": judge.coef}).set_index("feature")
    if judge.kind == "constant":
        note = (
            f"all {len(y)} training questions have the same label ({'Known' if y[0] else 'Unknown'}), so the "
            f"judge is the constant P(Known) = {judge.prior:.2f} (the smoothed rate): every question is "
            f"{'Known' if judge.prior >= 0.5 else 'Unknown'} at a threshold of 0.5"
        )
    elif judge.kind == "regression":
        fitted = ((x - judge.mean) / judge.scale) @ judge.coef
        # a correlation needs variation on both sides (a tiny run can fit a constant)
        fit = (
            f"correlation {float(np.corrcoef(fitted, targets)[0, 1]):.2f} with it"
            if len(y) > 2 and np.ptp(fitted) > 0 and np.ptp(targets) > 0
            else "no correlation with it (its fit or the targets do not vary)"
        )
        note = (
            f"a ridge regression of the large model's closed-book log-probability per token (mean "
            f"{targets.mean():.2f}) on {len(FEATURES)} features, {fit} on its own "
            f"{len(y)} training questions ({int(y.sum())} of them Known: at least {judge.threshold:.2f}); "
            f"residual spread σ = {judge.sigma:.2f}"
        )
    else:
        note = (
            f"a logistic regression on {len(FEATURES)} features, {int(y.sum())} Known and {int(len(y) - y.sum())} "
            f"Unknown training questions; it classifies {accuracy:.0%} of its own training questions correctly"
        )
    return JudgeTraining(
        judge,
        tuple(q.qid for q in train),
        y,
        x,
        loaded,
        facts(
            {"known_rate": ".0%", "train_accuracy": ".0%"},
            n_train=len(y),
            n_known=int(y.sum()),
            known_rate=float(y.mean()),
            train_accuracy=accuracy,
            kind=judge.kind,
            articles=len({q.title for q in train}),
            note=note,
        ),
        weights,
    )


# -------------------------------------------------------------------------------------------- step 4
@dataclass(frozen=True)
class AnswerClaim:
    """A claim of a heuristic answer, the judge's P(Known) for it, and whether it needs a search."""

    text: str
    p_known: float
    need_search: bool


def judge_claims(judge: Judge, claims: Sequence[str], features: np.ndarray, threshold: float) -> list[AnswerClaim]:
    """NeedSearch for each claim: the judge, applied to the claim's own features, says Unknown
    (P(Known) < ``threshold``)."""
    check_fraction("threshold", threshold, open_low=False)
    p = judge.p_known(features) if len(claims) else np.zeros(0)
    return [AnswerClaim(c, float(pk), bool(pk < threshold)) for c, pk in zip(claims, p)]


def plan_queries(
    question: str, claims: Sequence[AnswerClaim], *, known: bool, include_question: bool = True
) -> list[str]:
    """Step 4, what to search: nothing for a Known question; otherwise the question itself (the official
    pipeline always adds it) and every claim that needs a search, never a claim with NeedSearch = False."""
    if known:
        return []
    queries = [question] if include_question else []
    return queries + [c.text for c in claims if c.need_search]


def interleave_documents(documents: Sequence[Sequence[str]], k: int) -> list[str]:
    """The official merge's last step: the best passage of every document (in the documents' order), then
    the second best of every document, ..., the first ``k`` distinct passages.

    >>> interleave_documents([["a1", "a2", "a3"], ["b1"], ["c1", "c2"]], 5)
    ['a1', 'b1', 'c1', 'a2', 'c2']
    """
    check_int("k", k, low=1)
    out: list[str] = []
    for rank in range(max((len(d) for d in documents), default=0)):
        for d in documents:
            if rank < len(d) and d[rank] not in out:
                out.append(d[rank])
                if len(out) == k:
                    return out
    return out


class DocumentSearch:
    """The official search of SlimPLM (``search_utils/rerank_passage.py``) on a corpus of passages cut from
    documents (here: SQuAD paragraphs cut into sentence passages):

    1. every query retrieves the ``docs_per_query`` best *documents* (BM25 over whole documents; the
       official pipeline: Lucene BM25 over KILT Wikipedia pages, 10 per query);
    2. the documents of all of a question's queries are pooled, duplicates dropped, in query order;
    3. each document's passages are reranked against the *question* (official: e5-base similarity; here
       BM25 over the passages, the retriever this chapter has);
    4. the documents' rankings are interleaved (:func:`interleave_documents`), the first ``k`` kept.
    """

    def __init__(self, passages: BM25Retriever, *, docs_per_query: int = 10, cache: bool = True):
        if passages.corpus is None or not hasattr(passages, "scores"):
            raise ParameterError("passages", passages, "an indexed BM25Retriever over the passages")
        self.passages = passages
        self.docs_per_query = check_int("docs_per_query", docs_per_query, low=1)
        members: dict[str, list[int]] = {}
        for i, p in enumerate(passages.corpus):
            members.setdefault(p.doc_id or p.id, []).append(i)
        self.members = members
        docs = [
            Passage(doc, " ".join(passages.corpus[i].text for i in idx), title=passages.corpus[idx[0]].title)
            for doc, idx in members.items()
        ]
        self.documents = BM25Retriever(
            language=getattr(passages, "language", "en"), k1=passages.k1, b=passages.b, cache=cache
        ).index(Corpus(docs))
        self.queries = 0

    def search(self, questions: Sequence[str], queries: Sequence[Sequence[str]], k: int) -> list[list[str]]:
        """For each question, its queries' documents pooled, reranked against the question, interleaved."""
        flat = [q for qs in queries for q in qs]
        doc_hits = self.documents.search_ids(flat, self.docs_per_query) if flat else []
        self.queries += len(flat)
        out: list[list[str]]
        out, j = [], 0
        assert self.passages.corpus is not None  # __init__ checked that the passages are indexed
        ids = self.passages.corpus.ids
        for question, qs in zip(questions, queries):
            pooled = list(dict.fromkeys(d for hits in doc_hits[j : j + len(qs)] for d in hits))
            j += len(qs)
            if not pooled:
                out.append([])
                continue
            scores = self.passages.scores(question)
            ranked = [[ids[i] for i in sorted(self.members[d], key=lambda i: (-scores[i], i))] for d in pooled]
            out.append(interleave_documents(ranked, k))
        return out


def retrieve(
    search: DocumentSearch, questions: Sequence[str], queries: Sequence[Sequence[str]], *, k: int
) -> tuple[list[list[str]], float]:
    """Every question's queries searched (:class:`DocumentSearch`); a question without queries retrieves
    nothing. Returns (passage ids per question, seconds)."""
    with timed() as t:
        out = search.search(questions, queries, k)
    return out, t.seconds


# -------------------------------------------------------------------------------------------- self-judgement
def next_token_probabilities(
    lm: Any, texts: Sequence[str], choices: Sequence[str], *, chat: bool = False, batch_size: int = 8
) -> np.ndarray:
    """P(first token of each choice | text), renormalised over the choices: one forward pass per text
    (left padding, positions from the attention mask, logits of the last position only)."""
    tok = lm.tokenizer
    ids = [tok(c, add_special_tokens=False)["input_ids"][0] for c in choices]
    if len(set(ids)) != len(ids):
        raise ParameterError("choices", choices, "choices whose first tokens differ")
    inputs = [llm.chat_prompt(lm, t) if chat else t for t in texts]
    encoded = [tok(t, add_special_tokens=not chat)["input_ids"] for t in inputs]
    out = np.zeros((len(encoded), len(ids)))
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            batch = order[b : b + batch_size]
            width = max(len(encoded[i]) for i in batch)
            x = torch.full((len(batch), width), tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(x)
            for r, i in enumerate(batch):
                x[r, width - len(encoded[i]) :], mask[r, width - len(encoded[i]) :] = torch.tensor(encoded[i]), 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = lm.model(
                input_ids=x.to(lm.device),
                attention_mask=mask.to(lm.device),
                position_ids=positions.to(lm.device),
                logits_to_keep=1,
            ).logits[:, -1]
            probs = _full(logits[:, ids]).softmax(-1).cpu().numpy()
            for r, i in enumerate(batch):
                out[i] = probs[r]
    return out


def self_judgement(
    large: Any, questions: Sequence[str], *, chat: bool, batch_size: int = 8
) -> tuple[np.ndarray, float]:
    """The large model judges its own need (the paper's Self-Eval baseline): P(needs retrieval) = P(" Yes")
    renormalised over " Yes" / " No" after the few-shot prompt. Returns (probabilities, seconds)."""
    with timed() as t:
        texts = [SELF_JUDGE_PROMPT.format(question=q) for q in questions]
        choices = ("Yes", "No") if chat else (" Yes", " No")
        if texts:
            p = next_token_probabilities(large, texts, choices, chat=chat, batch_size=batch_size)[:, 0]
        else:
            p = np.zeros(0)
    return p, t.seconds


@dataclass
class PipelineTrace:
    """One evaluation question through SlimPLM at the operating threshold."""

    question: SquadQuestion
    heuristic: str
    p_known: float
    known: bool
    claims: list[AnswerClaim] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)  # what SlimPLM searches when the question is Unknown
