"""The sharpness chapters' analyses and claim tests (chapters/flat_minima/analysis.py and the
experiment.py of chapters/rwp, chapters/marwp, chapters/step_cost) on constructed runs: each declared claim gives every
verdict it can give on data made for it (reproduced, contradicted, inconclusive, not comparable), and an unconverged run
is not comparable whatever the outcome."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from reprobook import claims, profiles
from reprobook.chapters.flat_minima import analysis, cost, power
from reprobook.chapters.flat_minima import report as shown
from reprobook.chapters.flat_minima.runs import LABELS, TrainedRun
from reprobook.chapters.marwp import experiment as marwp_chapter
from reprobook.chapters.rwp import experiment as rwp_chapter
from reprobook.chapters.step_cost import experiment as step_cost_chapter
from reprobook.chapters.step_cost import report as step_cost_report
from reprobook.checks import ParameterError
from reprobook.configs import marwp as marwp_paper
from reprobook.configs import rwp as rwp_paper
from reprobook.models import build_model
from reprobook.results import facts
from reprobook.timing import goal_reading, median_interval, ratio_interval
from reprobook.training import History

SEEDS = [0, 1, 2, 3, 4]


def _cfg(chapter="rwp", **overrides):
    return profiles.config(chapter, "tiny", **overrides)


def _run(method, seed, acc, *, loss_curve=(2.0, 0.5, 0.05), loaded=False, model=None):
    history = History(
        train_loss=list(loss_curve),
        train_acc=[0.5, 0.9, 1.0][: len(loss_curve)],
        seconds=[1.0 * (2 if method in ("sam", "rwp", "mrwp", "marwp") else 1)] * len(loss_curve),
    )
    return TrainedRun(method, seed, model if model is not None else nn.Linear(2, 2), history, 0.5, acc, loaded)


def _experiment(accuracies: dict, *, fit_loss=0.01, fit_acc=1.0, loaded=False, seeds=SEEDS):
    runs = {(m, s): _run(m, s, a, loaded=loaded) for m, values in accuracies.items() for s, a in zip(seeds, values)}
    exp = analysis.Experiment(runs, list(seeds), {m: LABELS.get(m, m) for m in accuracies})
    for key in runs:
        exp.fit_loss[key], exp.fit_acc[key] = fit_loss, fit_acc
    return exp


def _flat(sharpness: dict, lam: dict | None = None):
    import pandas as pd

    lam = lam or {m: [10.0] * len(v) for m, v in sharpness.items()}
    return analysis.Flatness(
        pd.DataFrame(),
        lam,
        sharpness,
        facts(
            None,
            probe_n=256,
            hessian_n=128,
            radius=0.1,
            directions=10,
            lanczos_tol=1e-3,
            lanczos_converged="all",
            lanczos_max_residual=1e-6,
            lanczos_max_matvecs=12,
        ),
    )


def _regime(converged=True):
    return analysis.Regime(
        converged,
        "detail of the regime",
        facts(
            analysis.REGIME_FORMATS,
            regime="",
            worst_fit_loss=0.01,
            worst_fit_acc=1.0,
            still_falling=0.0,
            fit_loss_rule=0.1,
            fit_acc_rule=0.99,
        ),
        None,
    )


# -- the RWP chapter's verdicts --------------------------------------------------------------------------

NOISE = [0.0, 0.004, -0.003, 0.002, -0.001]  # seed-to-seed spread of a paired difference


def _rwp(gap_sgd, gap_sam, sharp_ratio=1.0, *, converged=True, seeds=SEEDS):
    """The RWP chapter's claims on runs where RWP − SGD = ``gap_sgd`` and RWP − SAM = ``gap_sam`` on average (with
    a little seed-to-seed spread), and SGD's sharpness is ``sharp_ratio`` × RWP's."""
    n = len(seeds)
    sgd = [0.70 + 0.01 * i for i in range(n)]
    rwp = [a + gap_sgd + NOISE[i % 5] for i, a in enumerate(sgd)]
    sam = [r - gap_sam - NOISE[(i + 2) % 5] for i, r in enumerate(rwp)]
    exp = _experiment({"sgd": sgd, "sam": sam, "rwp": rwp}, seeds=seeds)
    sharp_rwp = [0.2 + 0.01 * i for i in range(n)]
    flat = _flat(
        {
            "sgd": [s * sharp_ratio * (1 + NOISE[i % 5]) for i, s in enumerate(sharp_rwp)],
            "sam": [0.3] * n,
            "rwp": sharp_rwp,
        }
    )
    tests = rwp_chapter.chapter_claims(_cfg(n_seeds=n), exp, _regime(converged), flat, "scale")
    return {t.key: t for t in tests}


def test_rwp_claims_are_the_declared_ones_in_order():
    tests = _rwp(0.02, 0.0, 1.5)
    specs = rwp_paper.claim_specs(_cfg())
    assert list(tests) == [s.key for s in specs if s.key in rwp_paper.TESTED] + ["parallel", "imagenet"]
    assert all(t.spec.unit == "seeds" and t.scale == "scale" for t in tests.values() if t.spec.test != "none")
    assert tests["better"].spec.sesoi == pytest.approx(rwp_paper.PAPER_GAIN / 2)
    assert tests["parity"].spec.test == "non_inferiority" and tests["parity"].spec.sesoi == tests["better"].spec.sesoi


def test_rwp_claims_reproduced_when_the_effects_are_clear():
    v = {k: t.verdict for k, t in _rwp(0.03, 0.0, 1.6).items()}
    assert v["better"].verdict == v["parity"].verdict == v["flatter"].verdict == "reproduced"
    assert v["better"].family == 3 and "Holm" in v["better"].rule
    assert v["flatter"].estimate == pytest.approx(np.log(1.6), abs=0.01)  # a log ratio of the sharpness
    assert v["parallel"].verdict == v["imagenet"].verdict == "not comparable"
    assert "two devices" in v["parallel"].reason and "ImageNet" in v["imagenet"].reason


def test_rwp_claims_contradicted_when_the_interval_excludes_the_sesoi():
    v = {k: t.verdict for k, t in _rwp(-0.02, -0.03, 0.7).items()}  # RWP worse than SGD, far worse than SAM, sharper
    assert v["better"].verdict == v["parity"].verdict == v["flatter"].verdict == "contradicted"


def test_rwp_claims_inconclusive_when_the_interval_holds_both():
    gap = [0.01, -0.012, 0.008, -0.006, 0.003]  # a noisy difference around zero: neither shown nor ruled out
    sgd = [0.70, 0.71, 0.72, 0.73, 0.74]
    exp = _experiment({"sgd": sgd, "sam": [a + g for a, g in zip(sgd, gap)], "rwp": [a + g for a, g in zip(sgd, gap)]})
    flat = _flat({m: [0.3, 0.31, 0.29, 0.3, 0.32] for m in ("sgd", "sam", "rwp")})
    better = next(t for t in rwp_chapter.chapter_claims(_cfg(), exp, _regime(), flat, "s") if t.key == "better")
    assert better.verdict.verdict == "inconclusive"
    assert better.verdict.power is not None and better.verdict.mde is not None


@pytest.mark.parametrize("gap_sgd, gap_sam, ratio", [(0.03, 0.0, 1.6), (-0.02, -0.03, 0.7)])
def test_an_unconverged_run_is_not_comparable_whatever_the_outcome(gap_sgd, gap_sam, ratio):
    tests = _rwp(gap_sgd, gap_sam, ratio, converged=False)
    for key in rwp_paper.TESTED:
        v = tests[key].verdict
        assert v.verdict == "not comparable" and v.reason.startswith("not converged")
        assert v.estimate is not None  # the numbers stay for the record
        assert v.family == 1  # left out of the Holm family


def test_one_seed_is_not_comparable():
    tests = _rwp(0.03, 0.0, 1.6, seeds=[0])
    for key in rwp_paper.TESTED:
        assert tests[key].verdict.verdict == "not comparable" and "n = 1" in tests[key].verdict.reason


def test_a_sharpness_that_is_not_positive_makes_flatness_not_comparable():
    exp = _experiment({"sgd": [0.7] * 5, "sam": [0.7] * 5, "rwp": [0.71] * 5})
    flat = _flat({"sgd": [0.3, 0.31, -0.01, 0.3, 0.32], "sam": [0.3] * 5, "rwp": [0.2] * 5})
    flatter = next(t for t in rwp_chapter.chapter_claims(_cfg(), exp, _regime(), flat, "s") if t.key == "flatter")
    assert flatter.verdict.verdict == "not comparable" and "non-finite" in flatter.verdict.reason


def test_rwp_claims_go_into_the_record_once():
    from reprobook.results import RunRecord

    rec = RunRecord("rwp", profile="smoke", device="cpu", seed=0)
    rows = rec.add_claims(_rwp(0.03, 0.0, 1.6).values())
    assert [r["key"] for r in rows] == ["better", "parity", "flatter", "parallel", "imagenet"]
    frame = rec.claims_frame()
    assert list(frame["verdict"])[:3] == ["reproduced"] * 3 and "power at SESOI" in frame.columns


# -- the m-ARWP chapter's verdicts: the same contract ----------------------------------------------------------


def _marwp_experiment(acc_shift: dict, loss=(0.08, 0.02)):
    base = [0.70, 0.71, 0.69, 0.70, 0.72]
    methods = ("sgd", "sam", "prwp", "mrwp", "arwp", "marwp", marwp_chapter.ABLATION)
    # every method its own small seed-to-seed wobble, so that no paired difference is constant
    exp = _experiment(
        {
            m: list(np.add(base, acc_shift.get(m, 0.0)) + np.random.default_rng(j).normal(0, 0.003, 5))
            for j, m in enumerate(methods)
        }
    )
    for s in SEEDS:
        exp.fit_loss["prwp", s], exp.fit_loss["mrwp", s] = loss[0] * (1 + 0.05 * s), loss[1] * (1 + 0.1 * s)
        # a few training images still misclassified: the final training loss can still tell the arms apart
        exp.fit_acc["prwp", s], exp.fit_acc["mrwp", s] = 0.995, 0.998
    return exp


def _marwp_flat(ratio=1.5):
    return _flat(
        {
            "sgd": [ratio * (0.3 + 0.01 * i) * (1 + NOISE[i]) for i in range(5)],
            "marwp": [0.3 + 0.01 * i for i in range(5)],
        },
        {m: [10.0] * 5 for m in ("sgd", "sam", "marwp")},
    )


def test_marwp_claims_share_the_rwp_chapters_sizes_and_form_one_family():
    exp = _marwp_experiment({"sam": 0.02, "marwp": 0.05, "mrwp": 0.03, "arwp": 0.01})
    tests = {t.key: t for t in marwp_chapter.chapter_claims(_cfg("marwp"), exp, _regime(), _marwp_flat(), "s")}
    assert list(tests) == list(marwp_paper.TESTED) + ["large_scale"]
    assert tests["vs_sam"].spec.test == "non_inferiority"
    assert tests["vs_sam"].spec.sesoi == tests["mix"].spec.sesoi == rwp_paper.ACCURACY_SESOI
    v = {k: t.verdict for k, t in tests.items()}
    assert all(v[k].family == 7 for k in marwp_paper.TESTED)
    assert v["mix"].verdict == v["converge"].verdict == v["over_sgd"].verdict == v["flatter"].verdict == "reproduced"
    assert v["vs_sam"].verdict == "reproduced"  # m-ARWP 3 points above SAM: non-inferior
    assert v["large_scale"].verdict == "not comparable"


def test_marwp_convergence_at_the_training_accuracy_ceiling_is_not_comparable():
    # every run of both arms classifies its whole training set: the final training loss cannot show a speed
    exp = _marwp_experiment({"marwp": 0.05})
    for s in SEEDS:
        exp.fit_acc["prwp", s] = exp.fit_acc["mrwp", s] = 1.0
    tests = {t.key: t for t in marwp_chapter.chapter_claims(_cfg("marwp"), exp, _regime(), _marwp_flat(), "s")}
    converge = tests["converge"].verdict
    assert converge.verdict == "not comparable" and converge.reason.startswith("ceiling")
    assert tests["mix"].verdict.family == len(marwp_paper.TESTED) - 1  # it leaves the Holm family
    exp.fit_acc["mrwp", SEEDS[0]] = 0.999  # one run short of the ceiling: the claim is tested again
    tests = {t.key: t for t in marwp_chapter.chapter_claims(_cfg("marwp"), exp, _regime(), _marwp_flat(), "s")}
    assert tests["converge"].verdict.verdict == "reproduced"


def test_marwp_convergence_claim_does_not_need_the_converged_regime():
    exp = _marwp_experiment({"marwp": 0.05})
    tests = {t.key: t for t in marwp_chapter.chapter_claims(_cfg("marwp"), exp, _regime(False), _marwp_flat(), "s")}
    assert tests["converge"].verdict.verdict == "reproduced" and tests["converge"].verdict.family == 1
    for key in set(marwp_paper.TESTED) - {"converge"}:
        assert tests[key].verdict.verdict == "not comparable" and tests[key].verdict.reason.startswith("not converged")


def test_marwp_convergence_contradicted_when_mixing_leaves_a_higher_loss():
    exp = _marwp_experiment({}, loss=(0.02, 0.08))  # m-RWP's training loss four times the perturbed-only RWP's
    tests = {t.key: t for t in marwp_chapter.chapter_claims(_cfg("marwp"), exp, _regime(), _marwp_flat(), "s")}
    assert tests["converge"].verdict.verdict == "contradicted"


def test_the_ablation_describes_the_two_readings_with_an_interval():
    exp = _marwp_experiment({marwp_chapter.ABLATION: 0.01})
    out = marwp_chapter.ablation(_cfg("marwp"), exp)
    gaps = np.subtract(exp.values(marwp_chapter.ABLATION, "test_acc"), exp.values("arwp", "test_acc"))
    mean, low, high = claims.mean_ci(gaps)
    assert f"{mean:+.2%} in test accuracy (over the first 5 seeds, 95 % interval {low:+.2%} to {high:+.2%}" in out.text
    assert f"better on {int((gaps > 0).sum())} of 5 seeds" in out.text
    assert len(out.table) == 2
    variant = marwp_chapter.ablation_variant(_cfg("marwp"))
    ((cfg, method, _),) = variant.values()
    assert method == "arwp" and cfg.scaling != _cfg("marwp").scaling


def test_an_ablation_on_the_first_seeds_only_is_paired_on_those_seeds():
    exp = _marwp_experiment({marwp_chapter.ABLATION: 0.01})
    for s in SEEDS[3:]:  # the variant trained on the first three seeds only
        del exp.runs[marwp_chapter.ABLATION, s]
    assert exp.seeds_of(marwp_chapter.ABLATION) == SEEDS[:3] and exp.seeds_of("arwp") == SEEDS
    out = marwp_chapter.ablation(_cfg("marwp"), exp)
    gaps = np.subtract(exp.values(marwp_chapter.ABLATION, "test_acc"), exp.values("arwp", "test_acc", SEEDS[:3]))
    assert f"{gaps.mean():+.2%}" in out.text and "over the first 3 seeds" in out.text and "of 3 seeds" in out.text
    regime = analysis.training_regime(exp, _cfg("marwp"), dashed=(marwp_chapter.ABLATION,))
    assert regime.converged  # every run it has, and only those


def test_a_profile_without_the_ablation_says_so():
    exp = _marwp_experiment({})
    for s in SEEDS:
        del exp.runs[marwp_chapter.ABLATION, s]
    out = marwp_chapter.ablation(_cfg("marwp"), exp)
    assert out.table is None and "not run" in out.text
    assert marwp_chapter.ablation_variants(_cfg("marwp", ablation_seeds=0)) == {}
    assert list(marwp_chapter.ablation_variants(_cfg("marwp"))) == [marwp_chapter.ABLATION]


def test_flatness_summary_names_the_models_lambda_was_computed_for():
    exp = _marwp_experiment({})
    flat = _marwp_flat()  # λ_max for SGD, SAM and m-ARWP
    flat.sharpness.update({m: [0.3] * 5 for m in ("sam", "prwp", "mrwp", "arwp")})
    assert marwp_chapter.flatness_summary(exp, flat).facts.lambda_text.startswith("10.0 for SGD, 10.0 for SAM")
    del flat.lambda_max["sam"]
    assert "SAM's is the RWP chapter's" in marwp_chapter.flatness_summary(exp, flat).facts.lambda_text


# -- the power of the claims ----------------------------------------------------------------------------------------


def test_seed_plan_is_the_paired_t_tests_sample_size_at_the_holm_level():
    specs = rwp_paper.claim_specs(_cfg())
    sd = {"better": 0.01, "parity": 0.008, "flatter": 0.2}
    plan = power.seed_plan(specs, sd, n_run=12)
    level = claims.ALPHA / 3
    better = plan.loc[specs[0].claim]
    assert better["at the paper's effect"] == claims.n_for_power_t(rwp_paper.PAPER_GAIN, 0.01, alpha=level)
    assert better["seeds for 80 % power at the SESOI"] == claims.n_for_power_t(
        rwp_paper.ACCURACY_SESOI, 0.01, alpha=level
    )
    # non-inferiority: the power is at a true difference of the paper's effect (0: on par) plus the margin
    parity = plan.loc[specs[1].claim]
    assert parity["seeds for 80 % power at the SESOI"] == claims.n_for_power_t(
        rwp_paper.ACCURACY_SESOI, 0.008, alpha=level
    )
    assert plan.loc[specs[2].claim]["at the paper's effect"] == "–"  # no paper number for flatness
    assert len(plan) == 3


def test_power_report_counts_only_the_tested_claims():
    exp = _experiment(
        {"sgd": [0.70, 0.71, 0.72, 0.73, 0.74], "sam": [0.72] * 5, "rwp": [0.71, 0.715, 0.735, 0.74, 0.752]}
    )
    flat = _flat({m: [0.3, 0.31, 0.29, 0.3, 0.32] for m in ("sgd", "sam", "rwp")})
    tests = rwp_chapter.chapter_claims(_cfg(), exp, _regime(), flat, "s")
    report = shown.power_report(tests, rwp_chapter.claim_values(exp, flat))
    f = report.facts
    assert f.family == 3 and f.n_run == 5 and f.level == pytest.approx(claims.ALPHA / 3)
    assert len(report.table) == 3 and report.facts.below != "none"
    unconverged = rwp_chapter.chapter_claims(_cfg(), exp, _regime(False), flat, "s")
    assert shown.power_report(unconverged, rwp_chapter.claim_values(exp, flat)).facts.family == 0


def test_smoke_seeds_follow_the_pilot_power_calculation():
    """The smoke profile's seeds are the pilot's plan: the most any tested claim needs for 80 % power at the paper's
    effect (its SESOI where the paper gives none), capped by what the chapter's share of the budget holds."""
    for chapter, paper in (("rwp", rwp_paper), ("marwp", marwp_paper)):
        cfg = profiles.config(chapter, "smoke")
        specs = paper.claim_specs(cfg)
        assert set(paper.PILOT["sd"]) == set(paper.TESTED)
        assert cfg.n_seeds == power.planned_seeds(specs, paper.PILOT)
        assert paper.PILOT["fixed_s"] + cfg.n_seeds * paper.PILOT["per_unit_s"] <= paper.PILOT["share_s"]
        assert paper.PILOT["share_s"] <= cfg.budget_seconds
        # every model is tested on the whole test split, and the chapters say so (a tiny run tests on a sample)
        assert cfg.n_test is None and paper.test_split_note(cfg.n_test).startswith("the whole test split")
        tiny = profiles.config(chapter, "tiny")
        assert tiny.n_test is not None and "sample" in paper.test_split_note(tiny.n_test)
    shares = rwp_paper.PILOT["share_s"] + marwp_paper.PILOT["share_s"]
    assert shares <= 560 - 20  # Part I's three chapters within 560 s cold (the step-cost chapter takes about 20 s)
    # λ_max (reported, never tested) on the first seeds only: its cost does not grow with the claims' seeds
    assert profiles.config("rwp", "smoke").lambda_seeds == profiles.config("marwp", "smoke").lambda_seeds == 5


def test_planned_seeds_and_budget_note():
    specs = rwp_paper.claim_specs(_cfg())
    pilot = dict(
        sd={"better": 0.01, "parity": 0.001, "flatter": 0.01},
        fixed_s=10.0,
        per_unit_s=10.0,
        share_s=1000.0,
        share_of="of the smoke budget",
    )
    plan = power.seed_plan(specs, pilot["sd"])
    assert power.planned_seeds(specs, pilot) == plan["at the paper's effect"].iloc[0]  # the first claim needs most
    assert power.planned_seeds(specs, dict(pilot, share_s=60.0)) == 5  # (60 − 10) / 10 seeds fit the share
    assert "every tested claim has 80 % power" in shown.budget_note(specs, pilot, 100)
    short = shown.budget_note(specs, pilot, 5)
    assert "rWP generalises" not in short and "RWP generalises better than SGD (" in short and "about" in short
    assert "At a cold cost of 10 s of fixed work and 10 s per seed, 5 seeds take about 60 s" in short
    sourced = shown.budget_note(specs, dict(pilot, per_unit_s=8.6, cost_source="measured on a quiet day"), 5)
    assert "8.6 s per seed (measured on a quiet day), 5 seeds take about 53 s" in sourced


# -- the step-cost chapter ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3, 5, 6, 12, 40])
def test_median_interval_covers_at_the_stated_level(n):
    from scipy import stats

    values = np.random.default_rng(n).lognormal(size=n)
    out = median_interval(values)
    ordered = np.sort(values)
    assert out["median"] == pytest.approx(np.median(values)) and out["n"] == n
    assert out["low"] <= out["median"] <= out["high"]
    k = int(np.searchsorted(ordered, out["low"])) + 1  # the order statistic of the lower end
    assert out["high"] == ordered[n - k]
    assert out["coverage"] == pytest.approx(1 - 2 * stats.binom.cdf(k - 1, n, 0.5))
    if n >= 6:
        assert out["coverage"] >= 0.95 and 1 - 2 * stats.binom.cdf(k, n, 0.5) < 0.95  # the narrowest at 95 %
    else:
        assert (out["low"], out["high"]) == (ordered[0], ordered[-1]) and out["coverage"] < 0.95


def test_median_interval_simulated_coverage():
    rng = np.random.default_rng(0)
    hits = [(lambda o: o["low"] <= 1.0 <= o["high"])(median_interval(rng.lognormal(size=12))) for _ in range(2000)]
    assert np.mean(hits) >= 0.94  # the population median of a standard lognormal is 1; nominal 96.1 % at n = 12


@pytest.mark.parametrize(
    "low, high, expected", [(1.02, 1.09, "met"), (1.11, 1.2, "not met"), (1.05, 1.15, "not settled"), (1.0, 1.1, "met")]
)
def test_goal_is_read_on_the_interval_never_on_the_median(low, high, expected):
    assert goal_reading({"median": 1.08, "low": low, "high": high}, 1.1) == expected


def test_ratio_interval_is_paired_by_round():
    rounds = {"sgd": [10.0, 20.0, 10.0, 12.0, 11.0, 9.0], "arwp": [11.0, 22.0, 11.0, 13.2, 12.1, 9.9]}
    out = ratio_interval(rounds, "arwp")
    assert (
        out["median"] == pytest.approx(1.1) and out["low"] == pytest.approx(1.1) and out["high"] == pytest.approx(1.1)
    )
    with pytest.raises(ParameterError, match="'method'"):
        ratio_interval(rounds, "sam")
    with pytest.raises(ParameterError, match="'values'"):
        median_interval([])


def _fake_cost(busy=False):
    import pandas as pd

    from reprobook.benchmarks import BenchResult

    methods = ["sgd", "sam", "rwp", "rwp-batched", "sgd-double-batch", "mrwp", "arwp", "marwp"]
    factor = {
        "sgd": 1.0,
        "sam": 2.0,
        "rwp": 2.0,
        "rwp-batched": 2.1,
        "sgd-double-batch": 1.9,
        "mrwp": 2.0,
        "arwp": 1.05,
        "marwp": 2.05,
    }
    rounds = {m: [10.0 * factor[m] * (1 + 0.01 * k) for k in range(6)] for m in methods}
    table = pd.DataFrame({"method": methods, "ratio_to_sgd": [factor[m] for m in methods]})
    result = BenchResult(
        "step-cost",
        table,
        {"rounds_ms": rounds, "model": "small_cnn", "batch_size": 32, "torch_threads": 1, "rounds_run": 6},
        {},
    )
    fields = {f.name: 1 for f in dataclasses.fields(step_cost_chapter.StepCost)}
    fields.update(
        result=result,
        busy=busy,
        facts=facts(
            step_cost_chapter.FACT_FORMATS,
            machine="cpu",
            ratio_sam=2.0,
            ratio_rwp=2.0,
            ratio_rwp_batched=2.1,
            ratio_arwp=1.05,
            ratio_marwp=2.05,
        ),
    )
    return step_cost_chapter.StepCost(**fields)


def test_step_cost_claims_two_device_savings_are_not_comparable():
    tests = step_cost_chapter.chapter_claims(_cfg("step_cost"), _fake_cost(), "smoke")
    assert [t.key for t in tests] == ["rwp_parallel", "marwp_cheaper"]
    assert all(t.verdict.verdict == "not comparable" and "two devices" in t.verdict.reason for t in tests)
    assert "m-ARWP 2.05×" in tests[1].this_run and "smoke profile" in tests[0].scale


def test_passes_per_step_are_counted():
    out = step_cost_chapter.passes_per_step(_cfg("step_cost"), seed=0)
    assert out.counts == {"sgd": 1, "sam": 2, "rwp": 2, "mrwp": 2, "arwp": 1, "marwp": 2}
    assert (out.facts.sam, out.facts.arwp) == (2, 1) and len(out.table) == 6


def _recorded(commit, arwp_ms, sgd_ms=100.0, spread=0.01, rounds=12):
    import pandas as pd

    from reprobook.benchmarks import BenchResult

    table = pd.DataFrame(
        {
            "method": ["sgd", "arwp"],
            "median_ms": [sgd_ms, arwp_ms],
            "ratio_to_sgd": [1.0, arwp_ms / sgd_ms],
            "ratio_low": [1.0, 0.9 * arwp_ms / sgd_ms],
            "ratio_high": [1.0, 1.1 * arwp_ms / sgd_ms],
        }
    )
    jitter = np.linspace(-spread, spread, rounds)
    rounds_ms = {"sgd": [sgd_ms] * rounds, "arwp": list(arwp_ms * (1 + jitter))}
    return BenchResult(
        "step-cost",
        table,
        {"model": "resnet18_cifar", "batch_size": 256, "rounds_run": rounds, "rounds_ms": rounds_ms},
        {"git_commit": commit, "device": "cpu (2 cores, x86_64)"},
    )


def test_arwp_goal_note_reads_each_recorded_measurement_on_its_interval():
    note = step_cost_report.arwp_goal_note
    assert note([]).startswith("No measurement")
    # a measurement of the per-parameter step (before the batched one) is not the goal's evidence
    assert note([_recorded(step_cost_report.BEFORE_BATCHED_STEP[0] + "abcd", 195.0)]).startswith("No measurement")
    met, missed = note([_recorded("e59be6e", 99.0)]), note([_recorded("e59be6e", 112.0)])
    assert "ARWP 0.99 SGD steps" in met and "-1 ms on an SGD step of 100 ms" in met and "goal is met" in met
    assert "ARWP 1.12 SGD steps" in missed and "goal is not met" in missed and "over 12 rounds" in missed
    # a median below the goal with an interval across it settles nothing
    straddle = note([_recorded("e59be6e", 108.0, spread=0.05)])
    assert "ARWP 1.08 SGD steps" in straddle and "goal is not settled" in straddle
    assert note([_recorded("a", 99.0), _recorded("b", 130.0)]).count("goal is") == 2


def test_recorded_step_costs_show_a_dash_where_a_machine_did_not_time_a_method():
    assert step_cost_chapter.recorded_table([]) is None
    both = _recorded("a", 103.0)
    sgd_only = _recorded("b", 103.0)
    sgd_only.table = sgd_only.table[sgd_only.table.method == "sgd"]
    table = step_cost_chapter.recorded_table([both, sgd_only])
    assert table["commit"].tolist() == ["a", "b"]
    assert table["sgd"].tolist() == [1.0, 1.0] and table["arwp"].tolist() == [1.03, "—"]


def test_scale_note_names_the_model_and_its_profile():
    settings = {
        "model": "small_cnn",
        "parameters": 24058,
        "parameter_tensors": 11,
        "input_shape": [32, 1, 28, 28],
        "batch_size": 32,
    }
    smoke = step_cost_report.scale_note(settings, "smoke")
    assert "small_cnn with 24,058 weights in 11 tensors on inputs of 1 × 28 × 28" in smoke and "worst case" in smoke
    paper = step_cost_report.scale_note(dict(settings, model="resnet18_cifar", batch_size=256), "paper")
    assert paper.startswith("This run is at the paper profile's scale (resnet18_cifar") and "batch 256" in paper
    assert "resnet18_cifar at batch" in smoke


def test_ratio_figure_puts_at_most_two_panels_in_a_row():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    def frame(methods):
        return pd.DataFrame(
            {
                "method": methods,
                "optimizer": methods,
                "ratio_to_sgd": [1.0] * len(methods),
                "ratio_low": [1.0] * len(methods),
                "ratio_high": [1.0] * len(methods),
            }
        )

    fig = step_cost_report.ratio_figure(
        [(frame(["sgd", "sam", "rwp"]), "a"), (frame(["sgd", "arwp"]), "b"), (frame(["sgd", "arwp"]), "c")]
    )
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(fig.axes) == 4 and [ax.get_title() for ax in shown] == ["a", "b", "c"]
    assert fig.get_figwidth() == pytest.approx(12.8)
    plt.close(fig)


def test_machine_names_the_cpu_model():
    from reprobook import benchmarks

    info = benchmarks.machine("cpu")
    assert info["cpu_count"] >= 1 and "cpu_model" in info
    assert info["cpu_model"] is None or (isinstance(info["cpu_model"], str) and info["cpu_model"])


def test_same_update_check_passes_for_the_batched_step():
    out = step_cost_chapter.same_update_check(_cfg("step_cost"), seed=0, steps=2)
    assert out.passed and out.facts.gap < 1e-10 and out.facts.tensors > 10


# -- the shared analyses --------------------------------------------------------------------------------------


def test_training_regime_needs_every_run_to_fit_its_training_set():
    cfg = _cfg()
    exp = _experiment({"sgd": [0.7] * 5, "sam": [0.7] * 5, "rwp": [0.7] * 5})
    assert analysis.training_regime(exp, cfg).converged
    exp.fit_loss["rwp", 3] = 0.5  # one run left far from zero training loss
    regime = analysis.training_regime(exp, cfg)
    assert not regime.converged and "0.500" in regime.detail and "not every run" in regime.facts.regime
    exp.fit_loss["rwp", 3], exp.fit_acc["sam", 1] = 0.01, 0.9
    assert not analysis.training_regime(exp, cfg).converged
    assert regime.facts.still_falling == pytest.approx((0.5 - 0.05) / 0.5)  # the last fifth of 3 epochs: one epoch


def test_step_timing_times_every_method_now_in_shuffled_rounds():
    cfg = _cfg()
    data = TensorDataset(torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,)))
    timing = cost.step_timing(cfg, data, torch.device("cpu"), ("sgd", "rwp"), rounds=3)
    assert "timed in this run" in timing.source and timing.ratio["sgd"] == 1.0
    # what a step costs is measured (the chapter, `reprobook bench`), never asserted: only the record's shape
    assert set(timing.ratio) == set(timing.seconds) == {"sgd", "rwp"}
    assert timing.ratio["rwp"] > 0 and min(timing.seconds.values()) > 0
    with pytest.raises(ParameterError, match="'methods'"):
        cost.step_timing(cfg, data, torch.device("cpu"), ("rwp",))


def test_flatness_measures_every_model_and_lambda_only_where_asked():
    cfg = _cfg(lanczos_max_matvecs=80)
    torch.manual_seed(0)
    model = build_model(cfg.model, **cfg.model_kwargs)
    runs = {(m, s): _run(m, s, 0.7, model=model) for m in ("sgd", "rwp") for s in (0, 1)}
    exp = analysis.Experiment(runs, [0, 1], {"sgd": "SGD", "rwp": "RWP"})
    data = TensorDataset(torch.rand(20, 1, 28, 28), torch.randint(0, 10, (20,)))
    batches = analysis.probe_batches(data, 12, torch.device("cpu"), batch_size=5)
    assert [len(y) for _, y in batches] == [5, 5, 2]
    flat = analysis.flatness(exp, dataclasses.replace(cfg, hessian_samples=7), batches, lambda_keys=("sgd",))
    assert set(flat.lambda_max) == {"sgd"} and set(flat.sharpness) == {"sgd", "rwp"}
    assert len(flat.table) == 4 and flat.facts.probe_n == 12 and flat.facts.hessian_n == 7
    assert [len(y) for _, y in analysis.first_samples(batches, 7)] == [5, 2]
    assert flat.facts.lanczos_converged == "all 2" and flat.facts.lanczos_max_residual < 10 * cfg.lanczos_tol
    # about the budget (ARPACK restarts in blocks)
    assert 2 <= flat.facts.lanczos_max_matvecs <= 2 * cfg.lanczos_max_matvecs
    # the same model under two seeds: λ_max agrees (a property of the model), the sharpness draws differ
    assert flat.lambda_max["sgd"][0] == pytest.approx(flat.lambda_max["sgd"][1], rel=1e-3)
    assert flat.facts.lambda_n_seeds == 2
    # λ_max on the first seed only (lambda_seeds): the sharpness still of every model, the same λ_max of seed 0
    first = analysis.flatness(exp, dataclasses.replace(cfg, hessian_samples=7, lambda_seeds=1), batches)
    assert {k: len(v) for k, v in first.lambda_max.items()} == {"sgd": 1, "rwp": 1}
    assert first.lambda_max["sgd"][0] == pytest.approx(flat.lambda_max["sgd"][0])
    assert first.sharpness == flat.sharpness and first.facts.lambda_n_seeds == 1
    assert first.table.query("seed == 1").lambda_max.isna().all() and first.facts.lanczos_converged == "all 2"
    with pytest.raises(ParameterError, match="'lambda_seeds'"):
        dataclasses.replace(cfg, lambda_seeds=0)


def test_data_overview_and_scale_text():
    train = TensorDataset(torch.rand(30, 1, 28, 28), torch.arange(30) % 3)
    test = TensorDataset(torch.rand(9, 1, 28, 28), torch.arange(9) % 3)
    out = shown.data_overview("fashion-mnist", train, test, n_images=4)
    assert (out.facts.n_train, out.facts.n_test, out.facts.min_class, out.facts.max_class) == (30, 9, 10, 10)
    assert hasattr(out.fig_samples, "savefig")
    cfg = _cfg()
    text = shown.scale_text(cfg, 30, 9, 2, torch.device("cpu"))
    assert "tiny profile" in text and "30 train / 9 test" in text and "2 seeds" in text
