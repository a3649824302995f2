"""The Baichuan Alignment experiment: its data, the stage-by-stage evaluation, merging, and the claims.

Explained in `notebooks/alignment/baichuan_alignment.ipynb`.

No stage is graded with its own training signal: preference accuracy is measured on *held-out* HHH
prompts (log-probabilities, length-normalised), ROUGE-L on *held-out* natural-instructions tasks, and
the reward of generated answers by reward model B, trained on an HHH split disjoint from split A, whose
reward model GRPO optimised.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from ..results import glued


# --------------------------------------------------------------------------------------------- metrics
def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def rouge_l_f(candidate: str, reference: str) -> float:
    """ROUGE-L F-measure of two texts on lower-cased alphanumeric words (rouge-chinese's ``rouge-l``,
    the LCS-based definition of Lin, 2004); 0 when either side has no words."""
    from rouge_chinese import Rouge

    a, b = _words(candidate), _words(reference)
    if not a or not b:
        return 0.0
    return float(Rouge(metrics=["rouge-l"]).get_scores(a, b)[0]["rouge-l"]["f"])


# --------------------------------------------------------------------------------------------- data
@dataclass
class AlignmentData:
    """Every split the chapter uses, built once from the registry with the run's seed."""

    sft: list[dict[str, Any]]  # NI train-task examples for SFT
    ni_pairs: dict[str, list[dict[str, Any]]]  # "A"/"B": NI pairs with absolute scores
    hhh: dict[str, list[dict[str, Any]]]  # "test"/"A"/"B": HHH pairs split by prompt
    rouge_eval: list[dict[str, Any]]  # NI held-out-task examples
    grpo_prompts: list[str]
    hhh_gen_prompts: list[str]
    length_sample: list[int]  # token lengths of more train-task examples (the utilisation table)
    n_hhh: int = glued("d", default=0)
    n_hhh_kept: int = glued("d", default=0)
    n_test: int = glued("d", default=0)
    n_rouge: int = glued("d", default=0)
    n_heldout_tasks: int = glued("d", default=0)
    n_train_tasks: int = glued("d", default=0)


def prepare_data(lm: Any, cfg: Any, *, seed: int) -> AlignmentData:
    """The chapter's data: NI examples for SFT and for scored pairs (train tasks), HHH split by prompt
    into test / A / B (pairs that fit the reward model's length only), NI held-out-task examples."""
    from .. import data
    from ..data.catalog.llm import NI_HELDOUT_TASKS, NI_TRAIN_TASKS
    from .reward import fits, ni_scored_pairs, split_by_prompt
    from .sft import ni_examples

    train_tasks = data.load("natural-instructions", tasks=NI_TRAIN_TASKS)
    heldout_tasks = data.load("natural-instructions", tasks=NI_HELDOUT_TASKS)
    from ..llm import sft_rows
    from .sft import sequence_lengths

    pool = ni_examples(train_tasks, 2 * cfg.n_sft + 2 * cfg.n_ni_rm_pairs + 2 * len(NI_TRAIN_TASKS), seed=seed)
    lengths = sequence_lengths(lm, sft_rows([e["prompt"] for e in pool], [e["answer"] for e in pool]))
    fitting = [e for e, n in zip(pool, lengths) if n <= cfg.sft_max_length]  # no answer truncated away
    sample = ni_examples(train_tasks, cfg.n_length_sample, seed=seed + 2)
    length_sample = sequence_lengths(lm, sft_rows([e["prompt"] for e in sample], [e["answer"] for e in sample]))
    sft, rest = fitting[:cfg.n_sft], fitting[cfg.n_sft:]
    pairs = ni_scored_pairs(rest, 2 * cfg.n_ni_rm_pairs, seed=seed, alpha=cfg.mse_alpha)
    hhh_all = data.load("hhh-alignment")
    hhh_kept = fits(lm, hhh_all, cfg.rm_max_length)
    side = (1 - cfg.hhh_test_fraction) / 2
    hhh = split_by_prompt(hhh_kept, {"test": cfg.hhh_test_fraction, "A": side, "B": side}, seed=seed)
    if cfg.max_test_pairs is not None:
        hhh["test"] = random.Random(seed).sample(hhh["test"], min(cfg.max_test_pairs, len(hhh["test"])))
    rng = random.Random(seed)
    prompts_a = sorted({p["prompt"] for p in hhh["A"]})
    rng.shuffle(prompts_a)
    n_grpo = max(1, cfg.grpo_steps * cfg.grpo_batch // cfg.grpo_generations)
    test_prompts = sorted({p["prompt"] for p in hhh["test"]}, key=len)
    rouge_eval = ni_examples(heldout_tasks, cfg.n_rouge_per_task * len(NI_HELDOUT_TASKS), seed=seed + 1)
    return AlignmentData(sft, {"A": pairs[0::2], "B": pairs[1::2]}, hhh, rouge_eval,
                         (prompts_a * (1 + n_grpo // max(1, len(prompts_a))))[:n_grpo],
                         test_prompts[:cfg.n_hhh_gen_prompts], length_sample, n_hhh=len(hhh_all), n_hhh_kept=len(hhh_kept),
                         n_test=len(hhh["test"]), n_rouge=len(rouge_eval), n_heldout_tasks=len(NI_HELDOUT_TASKS),
                         n_train_tasks=len(NI_TRAIN_TASKS))


def sft_data(d: AlignmentData) -> list[dict[str, Any]]:
    """The SFT rows (conversational prompt–completion) of the chapter's instruction set."""
    from ..llm import sft_rows

    return sft_rows([e["prompt"] for e in d.sft], [e["answer"] for e in d.sft])


# --------------------------------------------------------------------------------------------- evaluation
@dataclass
class StageEval:
    """One model's held-out measurements, one entry per evaluation unit."""

    name: str
    hhh_correct: list[int]  # per held-out HHH pair: chosen more likely than rejected (mean log-prob per token)
    rouge: list[float]  # per held-out NI example: ROUGE-L F of the greedy answer
    reward: list[float]  # per answered prompt (NI held-out + HHH held-out): reward model B's score
    answers: list[str]
    tokens_per_second: float


def evaluate_model(name: str, lm: Any, d: AlignmentData, judge_b: Any, cfg: Any) -> StageEval:
    """Held-out preference accuracy, ROUGE-L and reward-model-B score of ``lm``'s greedy answers."""
    from .. import llm
    from .reward import rouge_l

    test = d.hhh["test"]
    prompts = [p["prompt"] for p in test]
    lp_c = llm.completion_logprobs(lm, prompts, [p["chosen"] for p in test], average=True, batch_size=cfg.eval_batch)
    lp_r = llm.completion_logprobs(lm, prompts, [p["rejected"] for p in test], average=True, batch_size=cfg.eval_batch)
    asked = [e["prompt"] for e in d.rouge_eval] + list(d.hhh_gen_prompts)
    gen = llm.generate(lm, asked, max_new_tokens=cfg.gen_max_new_tokens, batch_size=cfg.eval_batch)
    rouge = [rouge_l(t, e["targets"]) for t, e in zip(gen.texts, d.rouge_eval)]
    reward = judge_b.score(asked, gen.texts)
    return StageEval(name, [int(c > r) for c, r in zip(lp_c, lp_r)], rouge, reward, gen.texts, gen.tokens_per_second)


MERGES = ("merged (linear)", "merged (Model Stock)")


def merged_model(kind: str, sft_lm: Any, dpo_lm: Any, grpo_lm: Any) -> Any:
    """The DPO and GRPO models merged linearly or by Model Stock (anchor: the SFT model they both start from)."""
    from .. import llm
    from ..checks import check_choice
    from .merging import linear_merge, model_stock

    check_choice("kind", kind, MERGES)
    states = [dpo_lm.model.state_dict(), grpo_lm.model.state_dict()]
    merged = linear_merge(states) if kind == MERGES[0] else model_stock(states, anchor=sft_lm.model.state_dict())
    out = sft_lm.copy(name=kind)
    out.model.load_state_dict(merged)
    return llm.wrap(out.model, sft_lm.tokenizer, name=kind, fingerprint=f"{kind}:{dpo_lm.fingerprint}+{grpo_lm.fingerprint}",
                    device=sft_lm.device)


@dataclass
class StageTable:
    """The stage-by-stage table (start → SFT → DPO → GRPO → merged) with intervals over examples."""

    table: Any  # DataFrame
    evals: dict[str, StageEval] = field(repr=False, default_factory=dict)
    samples: Any = None  # DataFrame: a few prompts and every stage's answer
    intervals: dict = field(repr=False, default_factory=dict)  # metric -> stage -> (estimate, low, high)
    n_pairs: int = glued("d", default=0)
    n_answers: int = glued("d", default=0)
    acc_start: float = glued(".1%", default=0.0)
    acc_sft: float = glued(".1%", default=0.0)
    acc_dpo: float = glued(".1%", default=0.0)
    rouge_start: float = glued(".3f", default=0.0)
    rouge_sft: float = glued(".3f", default=0.0)
    reward_sft: float = glued(".2f", default=0.0)
    reward_grpo: float = glued(".2f", default=0.0)
    reward_linear: float = glued(".2f", default=0.0)
    reward_stock: float = glued(".2f", default=0.0)


STAGE_METRICS = ("HHH preference accuracy", "ROUGE-L (held-out tasks)", "reward model B")


def stage_table(models: dict[str, Any], d: AlignmentData, judge_b: Any, cfg: Any, *, seed: int) -> StageTable:
    """Evaluate every stage's model (see :func:`evaluate_model`) and tabulate with 95% intervals: Wilson
    for accuracies, percentile bootstrap over examples for ROUGE-L and reward."""
    import pandas as pd

    from ..claims import bootstrap_ci, proportion_ci

    # a callable builds its model when it is evaluated and lets it go after (merged models: less memory)
    from ..llm.trainers import release_memory

    evals = {}
    for name, lm in models.items():
        evals[name] = evaluate_model(name, lm() if callable(lm) else lm, d, judge_b, cfg)
        release_memory()  # a merged model built for this evaluation is gone
    rows, intervals = [], {metric: {} for metric in STAGE_METRICS}
    for name, e in evals.items():
        acc, alo, ahi = proportion_ci(sum(e.hhh_correct), len(e.hhh_correct))
        r, rlo, rhi = bootstrap_ci(e.rouge, n_boot=cfg.n_boot, seed=seed)
        w, wlo, whi = bootstrap_ci(e.reward, n_boot=cfg.n_boot, seed=seed)
        for metric, values in zip(STAGE_METRICS, ((acc, alo, ahi), (r, rlo, rhi), (w, wlo, whi))):
            intervals[metric][name] = tuple(float(x) for x in values)
        rows.append({"stage": name, "HHH preference accuracy": f"{acc:.1%} [{alo:.1%}, {ahi:.1%}]",
                     "ROUGE-L (held-out tasks)": f"{r:.3f} [{rlo:.3f}, {rhi:.3f}]",
                     "reward model B": f"{w:.2f} [{wlo:.2f}, {whi:.2f}]", "generation tokens/s": round(e.tokens_per_second, 1)})
    shown = list(range(min(cfg.n_samples_shown, len(d.rouge_eval))))
    samples = pd.DataFrame({"prompt": [_clip(d.rouge_eval[i]["prompt"].split("\n\n")[-1]) for i in shown],
                            "reference": [_clip(d.rouge_eval[i]["answer"]) for i in shown],
                            **{name: [_clip(e.answers[i]) for i in shown] for name, e in evals.items()}})
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    ev = evals
    return StageTable(pd.DataFrame(rows).set_index("stage"), evals, samples, intervals, n_pairs=len(d.hhh["test"]),
                      n_answers=len(ev["start"].reward), acc_start=mean(ev["start"].hhh_correct),
                      acc_sft=mean(ev["SFT"].hhh_correct), acc_dpo=mean(ev["DPO"].hhh_correct),
                      rouge_start=mean(ev["start"].rouge), rouge_sft=mean(ev["SFT"].rouge),
                      reward_sft=mean(ev["SFT"].reward), reward_grpo=mean(ev["GRPO"].reward),
                      reward_linear=mean(ev["merged (linear)"].reward),
                      reward_stock=mean(ev["merged (Model Stock)"].reward))


def _clip(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


# --------------------------------------------------------------------------------------------- claims
def verdicts(sft: Any, rm: Any, stages: StageTable) -> dict[str, Any]:
    """The chapter's tested claims, each by a rule of :mod:`reprobook.claims`, Holm-adjusted together."""
    from ..claims import holm, superiority

    e = stages.evals
    raw = {
        "packing": superiority([c["packed (bfd)"] for c in sft.chunks], [c["pad to longest in batch"] for c in sft.chunks],
                               unit="data chunks"),
        "reward model": superiority(rm.correct["reward model A"], rm.correct["length only"], unit="held-out pairs"),
        "sft": superiority(e["SFT"].rouge, e["start"].rouge, unit="held-out examples"),
        "dpo": superiority(e["DPO"].hhh_correct, e["SFT"].hhh_correct, unit="held-out pairs"),
        "grpo": superiority(e["GRPO"].reward, e["SFT"].reward, unit="answered prompts"),
        "merging": superiority(e["merged (Model Stock)"].reward, e["merged (linear)"].reward, unit="answered prompts"),
    }
    return holm(raw)


def claim_rows(v: dict[str, Any], sft: Any, rm: Any, pref: Any, stages: StageTable, scale: str) -> list[dict[str, Any]]:
    """Rows of the claims table (the verdicts of :func:`verdicts`, and the claims this scale cannot test)."""
    from ..chapters.baichuan_alignment import (PAPER_TABLES_SOURCE, PAPER_TABLE1_SOURCE, PAPER_TECHNIQUES_SOURCE)
    from ..claims import not_comparable

    return [
        dict(claim="Packing raises SFT token utilisation", paper="10% → 98%",
             this_run=f"{sft.util_pad_longest:.0%} (padded to longest) / {sft.util_pad_max:.0%} (padded to max) → "
                      f"{sft.util_packed:.0%} (packed)", verdict=v["packing"], source=PAPER_TECHNIQUES_SOURCE, scale=scale),
        dict(claim="A Bradley–Terry (+ pointwise MSE) reward model ranks held-out pairs better than length alone",
             paper="reward model used for RL (no accuracy given)",
             this_run=f"{rm.acc_a:.1%} vs {rm.acc_length:.1%} (length only)", verdict=v["reward model"],
             source=PAPER_TECHNIQUES_SOURCE, scale=scale),
        dict(claim="SFT improves instruction following (held-out tasks, ROUGE-L)", paper="Table 1: IF +20%",
             this_run=f"{stages.rouge_start:.3f} → {stages.rouge_sft:.3f}", verdict=v["sft"],
             source=PAPER_TABLE1_SOURCE, scale=scale),
        dict(claim="DPO raises held-out preference accuracy over SFT", paper="preference alignment improves every benchmark",
             this_run=f"{stages.acc_sft:.1%} → {stages.acc_dpo:.1%}", verdict=v["dpo"], source=PAPER_TABLES_SOURCE,
             scale=scale),
        dict(claim="GRPO raises the reward of an independent reward model over SFT",
             paper="GRPO chosen for RL", this_run=f"{stages.reward_sft:.2f} → {stages.reward_grpo:.2f} (reward model B)",
             verdict=v["grpo"], source=PAPER_TECHNIQUES_SOURCE, scale=scale),
        dict(claim="GRPO needs about half of PPO's compute", paper="about half",
             this_run=f"GRPO / estimated PPO per completion = {pref.grpo_over_ppo:.0%}",
             verdict=not_comparable("trl 1.16 has no PPO trainer: PPO's cost is an estimate (GRPO + a measured "
                                    "critic pass), not a measurement"), source=PAPER_TECHNIQUES_SOURCE, scale=scale),
        dict(claim="Model Stock merges better than a linear average", paper="Model Stock best of Linear, Task "
             "Arithmetic, Model Stock", this_run=f"{stages.reward_linear:.2f} (linear) vs {stages.reward_stock:.2f} "
             "(Model Stock), reward model B", verdict=v["merging"], source=PAPER_TECHNIQUES_SOURCE, scale=scale),
        dict(claim="Nova models beat the official instruct models on open benchmarks", paper="ArenaHard 48.1 → 75.1 "
             "(Qwen2-72B), 46.6 → 74.5 (Llama-3-70B)", this_run="not measured (see the side-by-side table)",
             verdict=not_comparable("70B models and benchmarks judged by GPT-4; a 135M model cannot be compared"),
             source=PAPER_TABLES_SOURCE, scale=scale),
    ]


def paper_tables():
    """The report's Tables 2 and 3 as one DataFrame (official instruct → Nova), with the gain."""
    import pandas as pd

    from ..chapters.baichuan_alignment import PAPER_TABLE2, PAPER_TABLE3

    rows = [{"base": base, "benchmark": k, "official instruct": a, "Nova": b, "gain": b - a}
            for base, table in (("Qwen2-72B", PAPER_TABLE2), ("Llama-3-70B", PAPER_TABLE3)) for k, (a, b) in table.items()]
    return pd.DataFrame(rows).set_index(["base", "benchmark"])


# --------------------------------------------------------------------------------------------- settings
def start_model(cfg: Any, *, device: Any, seed: int) -> Any:
    """The starting model: ``cfg.model`` loaded (registry name, folder, HF id) or, for ``"tiny"``, a
    random tiny model with ``cfg.tiny_base``'s tokenizer."""
    from .. import llm

    if cfg.model == "tiny":
        return llm.tiny_causal_lm(cfg.tiny_base, seed=seed, layers=2, hidden=32, device=device)
    return llm.load_causal_lm(cfg.model, device=device)


def stage_configs(cfg: Any, *, seed: int) -> dict[str, dict[str, Any]]:
    """The trainer settings of each stage (``reprobook.llm.TrainConfig`` fields) from the chapter config."""
    lora = dict(lora_r=cfg.lora_r, lora_alpha=2 * (cfg.lora_r or 1), seed=seed)
    return {
        "sft": dict(lora, steps=cfg.sft_steps, batch_size=cfg.sft_batch, max_length=cfg.sft_max_length,
                    learning_rate=cfg.sft_lr),
        "reward": dict(lora, steps=cfg.rm_steps, batch_size=cfg.rm_batch, max_length=cfg.rm_max_length,
                       learning_rate=cfg.rm_lr, mse_alpha=cfg.mse_alpha),
        "dpo": dict(lora, steps=cfg.dpo_steps, batch_size=cfg.dpo_batch, max_length=cfg.rm_max_length,
                    learning_rate=cfg.dpo_lr, beta=cfg.dpo_beta),
        "grpo": dict(lora, steps=cfg.grpo_steps, batch_size=cfg.grpo_batch, num_generations=cfg.grpo_generations,
                     max_completion_length=cfg.grpo_max_completion, learning_rate=cfg.grpo_lr, kl_beta=cfg.grpo_kl,
                     max_length=cfg.rm_max_length),
    }


def scale_note(cfg: Any, lm: Any) -> str:
    """The scale of this run in words (the claims table's last column)."""
    size = f"{lm.parameters / 1e6:.0f}M-parameter {lm.name}"
    lora = f"LoRA r = {cfg.lora_r}" if cfg.lora_r else "full fine-tuning"
    return (f"{size}, {lora}; SFT {cfg.sft_steps} steps, reward models {cfg.rm_steps}, DPO {cfg.dpo_steps}, "
            f"GRPO {cfg.grpo_steps} steps ({cfg.profile} profile)")


def aligned_models(profile: str = "smoke", *, seed: int = 0, device: Any = "cpu") -> dict[str, Any]:
    """The chapter's models by stage ("start", "SFT", "DPO", "GRPO"), as its run of ``profile`` and
    ``seed`` trained them: loaded from the checkpoint cache (trained first if missing), with the same
    data, settings and code. Other chapters use them as extra answering models."""
    from .. import llm, profiles
    from .reward import reward_rows
    from .sft import run_configs

    cfg = profiles.config("baichuan_alignment", profile)
    lm = start_model(cfg, device=device, seed=seed)
    d = prepare_data(lm, cfg, seed=seed)
    configs = stage_configs(cfg, seed=seed)
    sft = llm.sft(lm, sft_data(d), config=run_configs(configs["sft"], cfg.sft_padded_steps)["packed (bfd)"],
                  output_name="baichuan-sft-packed").model
    rm_a = llm.train_reward_model(sft, reward_rows(list(d.hhh["A"]) + list(d.ni_pairs["A"])), config=configs["reward"],
                                  output_name="baichuan-rm-a").model
    pairs = d.hhh["A"]
    rows = llm.preference_rows([p["prompt"] for p in pairs], [p["chosen"] for p in pairs], [p["rejected"] for p in pairs])
    dpo = llm.dpo(sft, rows, config=configs["dpo"], output_name="baichuan-dpo").model
    grpo = llm.grpo(sft, list(d.grpo_prompts), reward=llm.RewardJudge(rm_a, lm.tokenizer), config=configs["grpo"],
                    output_name="baichuan-grpo").model
    return {"start": lm, "SFT": sft, "DPO": dpo, "GRPO": grpo}


def training_summary(sft: Any, rm: Any, pref: Any) -> dict[str, dict[str, Any]]:
    """Every training run of the chapter: steps, wall and CPU seconds, tokens, tokens/s, losses, cache hit."""
    runs = {**{f"SFT {k}": r for k, r in sft.records.items()}, **{f"reward model {k}": r for k, r in rm.records.items()},
            **{k: r for k, r in pref.records.items() if k in ("DPO", "GRPO")}}
    return {k: {"steps": r.steps, "seconds": r.seconds, "cpu_seconds": r.cpu_seconds, "tokens": r.tokens,
                "tokens_per_second": r.tokens_per_second, "losses": r.losses, "from_cache": r.loaded}
            for k, r in runs.items()}


def training_figure(sft: Any, rm: Any, pref: Any):
    """The chapter's training runs, step by step: the SFT loss (packed and padded), the two reward models'
    loss, DPO's loss and GRPO's mean reward (as the trainers logged them; a run loaded from the cache
    shows its saved losses)."""
    from ..plots import training_curves

    grpo = pref.records.get("GRPO")
    curves = {"SFT loss": {f"SFT {k}": r.losses for k, r in sft.records.items()},
              "reward-model loss": {f"reward model {k}": r.losses for k, r in rm.records.items()},
              "DPO loss": {"DPO": pref.records["DPO"].losses if "DPO" in pref.records else []},
              "GRPO mean reward (reward model A)": {"GRPO": [r["reward"] for r in (grpo.logs if grpo else [])
                                                            if "reward" in r]}}
    curves = {q: {k: v for k, v in series.items() if len(v)} for q, series in curves.items()}
    curves = {q: series for q, series in curves.items() if series}
    if not curves:
        raise ValueError("no training run logged a loss: nothing to draw")
    return training_curves(curves, xlabel="logged step")


def stage_figure(stages: StageTable):
    """Each stage's held-out score with its 95% interval, one panel per measure (the stage table as a figure)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(STAGE_METRICS), figsize=(4.4 * len(STAGE_METRICS), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], STAGE_METRICS):
        names = list(stages.intervals[metric])
        est, low, high = (list(v) for v in zip(*(stages.intervals[metric][n] for n in names)))
        ys = range(len(names))
        ax.errorbar(est, ys, xerr=[[e - lo for e, lo in zip(est, low)], [hi - e for e, hi in zip(est, high)]],
                    fmt="o", color="C0", capsize=3)
        ax.set_yticks(list(ys), names)
        ax.invert_yaxis()
        ax.set(title=metric, xlabel="held-out score, 95% interval")
    fig.tight_layout()
    return fig
