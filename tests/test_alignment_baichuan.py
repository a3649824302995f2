"""The Baichuan Alignment chapter's helpers: prompt-grouped splits, token utilisation, ROUGE-L, scored pairs."""

from __future__ import annotations

import pytest

from reprobook.alignment.evaluation import rouge_l_f
from reprobook.alignment.reward import length_baseline, ni_scored_pairs, split_by_prompt
from reprobook.alignment.sft import utilisation


def test_split_by_prompt_keeps_every_prompt_on_one_side():
    rows = [{"prompt": f"p{i // 3}", "chosen": "c", "rejected": "r", "category": ("x", "y")[i % 2]}
            for i in range(60)]
    parts = split_by_prompt(rows, {"test": 0.4, "A": 0.3, "B": 0.3}, seed=0)
    assert sum(len(v) for v in parts.values()) == len(rows)
    seen = {}
    for name, part in parts.items():
        for r in part:
            assert seen.setdefault((r["prompt"], r["category"]), name) == name
    assert split_by_prompt(rows, {"test": 0.4, "A": 0.3, "B": 0.3}, seed=0) == parts  # seeded


def test_utilisation_against_hand_counts():
    # lengths 10, 30 | 20, 20 with max length 40: padded to longest 80 / (2·30 + 2·20) = 0.8;
    # to max length 80 / 160; packed best-fit-decreasing: bins {30, 10}, {20, 20} -> 80 / 80
    u = utilisation([10, 30, 20, 20], batch_size=2, max_length=40)
    assert u["pad to longest in batch"] == pytest.approx(0.8)
    assert u["pad to max length"] == pytest.approx(0.5)
    assert u["packed (bfd)"] == pytest.approx(1.0) and u["packed rows"] == 2


def test_rouge_l_against_a_hand_lcs():
    # words: "the cat sat on the mat" vs "the cat is on the mat": LCS "the cat on the mat" = 5 of 6 each
    assert rouge_l_f("The cat sat on the mat.", "the cat is on the mat") == pytest.approx(5 / 6, abs=1e-6)
    assert rouge_l_f("", "anything") == 0.0 and rouge_l_f("Same words", "same words!") == pytest.approx(1.0)


def test_scored_pairs_and_length_baseline():
    examples = [{"task": "t", "prompt": f"q{i}", "answer": f"answer number {i}", "targets": [f"answer number {i}"]}
                for i in range(4)]
    pairs = ni_scored_pairs(examples, 3, seed=0, alpha=0.5)
    assert len(pairs) == 3
    for p in pairs:
        assert p["chosen_score"] == 1.0 and p["score_weight"] == 0.5
        assert p["rejected"] != p["chosen"] and p["rejected_score"] == pytest.approx(2 / 3, abs=1e-6)
    assert length_baseline([{"chosen": "long answer", "rejected": "no"}, {"chosen": "x", "rejected": "yy"}]) == [1, 0]


def test_training_and_stage_figures_draw_what_the_runs_logged():
    import matplotlib

    matplotlib.use("Agg")
    from types import SimpleNamespace as NS

    from reprobook.alignment.evaluation import STAGE_METRICS, StageTable, stage_figure, training_figure

    run = lambda losses, logs=(): NS(losses=list(losses), logs=list(logs))  # noqa: E731
    sft = NS(records={"packed": run([2.0, 1.5, 1.2]), "padded": run([2.1, 1.9])})
    rm = NS(records={"A": run([0.7, 0.6]), "B": run([0.69, 0.5])})
    pref = NS(records={"DPO": run([0.69, 0.6]), "GRPO": run([], [{"reward": 0.1}, {"loss": 0.0}, {"reward": 0.3}])})
    fig = training_figure(sft, rm, pref)
    assert [ax.get_ylabel() for ax in fig.axes] == ["SFT loss", "reward-model loss", "DPO loss",
                                                    "GRPO mean reward (reward model A)"]
    assert list(fig.axes[3].lines[0].get_ydata()) == [0.1, 0.3]  # the logged rewards only
    assert list(fig.axes[0].lines[0].get_ydata()) == [2.0, 1.5, 1.2]
    pref.records["GRPO"] = run([], [])  # a run restored from the cache without its logs: its panel is left out
    assert len(training_figure(sft, rm, pref).axes) == 3

    intervals = {m: {"start": (0.5, 0.4, 0.6), "SFT": (0.6, 0.5, 0.7)} for m in STAGE_METRICS}
    fig = stage_figure(StageTable(table=None, intervals=intervals))
    assert [ax.get_title() for ax in fig.axes] == list(STAGE_METRICS)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["start", "SFT"]
