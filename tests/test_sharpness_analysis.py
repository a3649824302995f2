"""The sharpness chapters' analyses and verdicts (sharpness/analysis.py, rwp_chapter.py, marwp_chapter.py,
step_cost_chapter.py) on constructed runs: every rule against the outcome it must give."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from reprobook import profiles
from reprobook.benchmarks.step_cost import cost_verdict
from reprobook.checks import ParameterError
from reprobook.models import build_model
from reprobook.sharpness import analysis, marwp_chapter, rwp_chapter, step_cost_chapter
from reprobook.sharpness.experiment import LABELS, TrainedRun
from reprobook.training import History

SEEDS = [0, 1, 2, 3, 4]


def _cfg(chapter="rwp", **overrides):
    return profiles.config(chapter, "tiny", **overrides)


def _run(method, seed, acc, *, loss_curve=(2.0, 0.5, 0.05), loaded=False, model=None):
    history = History(train_loss=list(loss_curve), train_acc=[0.5, 0.9, 1.0][:len(loss_curve)],
                      epoch_seconds=[1.0 * (2 if method in ("sam", "rwp", "mrwp", "marwp") else 1)] * len(loss_curve))
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
    return analysis.Flatness(pd.DataFrame(), lam, sharpness, 256, 128, 0.1, 10, 1e-3, "all", 1e-6, 12)


def _regime(converged=True):
    return analysis.Regime(converged, "detail of the regime", "", 0.01, 1.0, 0.0, 0.1, 0.99, None)


def _timing():
    return analysis.StepTiming({"sgd": 1.0, "sam": 2.0, "rwp": 2.0}, {"sgd": 1.0, "sam": 2.0, "rwp": 2.0}, "test")


# -- the RWP chapter's verdicts --------------------------------------------------------------------------


def test_rwp_claims_reproduced_when_the_effects_are_clear():
    exp = _experiment({"sgd": [0.70, 0.71, 0.69, 0.70, 0.72], "sam": [0.73, 0.74, 0.72, 0.73, 0.75],
                       "rwp": [0.74, 0.745, 0.72, 0.735, 0.76]})
    flat = _flat({"sgd": [0.5, 0.6, 0.55, 0.52, 0.58], "sam": [0.3] * 5, "rwp": [0.2, 0.25, 0.22, 0.21, 0.24]})
    out = rwp_chapter.chapter_claims(_cfg(), exp, _regime(), flat, _timing(), "scale")
    v = out.verdicts
    assert v["better"].verdict == "reproduced" and v["flatter"].verdict == "reproduced"
    assert v["parity"].verdict == "reproduced" and v["parity"].kind == "non-inferiority"
    assert "Holm-adjusted over 3 tests" in v["better"].rule and out.n_tests == 3
    assert v["parallel"].verdict == v["imagenet"].verdict == "not comparable"
    assert [r["verdict"] for r in out.rows] == [v[k] for k in ("better", "parity", "flatter", "parallel", "imagenet")]
    assert all(r["source"] and r["scale"] == "scale" for r in out.rows)
    assert out.margin_points == pytest.approx(100 * _cfg().parity_margin)


def test_parity_with_sam_is_not_reproduced_when_rwp_loses_every_seed_by_more_than_the_margin():
    sam = [0.80, 0.81, 0.79, 0.80, 0.82]
    exp = _experiment({"sgd": [0.7] * 5, "sam": sam, "rwp": [s - 0.03 + 0.001 * i for i, s in enumerate(sam)]})
    out = rwp_chapter.chapter_claims(_cfg(), exp, _regime(), _flat({m: [0.3] * 5 for m in ("sgd", "sam", "rwp")}),
                                     _timing(), "s")
    assert out.verdicts["parity"].verdict == "not reproduced"
    assert out.verdicts["parity"].estimate < -_cfg().parity_margin


def test_identical_differences_do_not_give_p_zero():
    exp = _experiment({"sgd": [0.70, 0.71, 0.72, 0.73, 0.74], "sam": [0.7] * 5,
                       "rwp": [0.71, 0.72, 0.73, 0.74, 0.75]})  # RWP − SGD = 0.01 on every seed
    out = rwp_chapter.chapter_claims(_cfg(), exp, _regime(), _flat({m: [0.3] * 5 for m in ("sgd", "sam", "rwp")}),
                                     _timing(), "s")
    better = out.verdicts["better"]
    assert better.p_raw == pytest.approx(0.5 ** 5)  # the exact sign test, not a t-test on zero spread
    assert better.p > 0


def test_one_seed_is_not_comparable():
    exp = _experiment({"sgd": [0.7], "sam": [0.72], "rwp": [0.73]}, seeds=[0])
    out = rwp_chapter.chapter_claims(_cfg(), exp, _regime(), _flat({m: [0.3] for m in ("sgd", "sam", "rwp")}),
                                     _timing(), "s")
    for key in ("better", "parity", "flatter"):
        assert out.verdicts[key].verdict == "not comparable"
        assert "n = 1" in out.verdicts[key].reason


def test_a_run_that_did_not_converge_cannot_refute_the_converged_regime_claims():
    exp = _experiment({"sgd": [0.70, 0.71, 0.69, 0.70, 0.72], "sam": [0.70] * 5,
                       "rwp": [0.69, 0.70, 0.68, 0.69, 0.705]})  # RWP slightly worse than SGD
    flat = _flat({m: [0.3, 0.31, 0.29, 0.3, 0.32] for m in ("sgd", "sam", "rwp")})
    converged = rwp_chapter.chapter_claims(_cfg(), exp, _regime(True), flat, _timing(), "s")
    assert converged.verdicts["better"].verdict == "not reproduced"
    not_converged = rwp_chapter.chapter_claims(_cfg(), exp, _regime(False), flat, _timing(), "s")
    assert not_converged.verdicts["better"].verdict == "not comparable"
    assert not_converged.verdicts["better"].reason.startswith("not converged")


def test_holm_turns_a_marginal_reproduction_into_partly():
    rng = np.random.default_rng(0)
    sgd = list(0.7 + rng.normal(0, 0.01, 5))
    gaps = [0.012, -0.002, 0.015, 0.001, 0.01]  # significant alone at 5 %, not after adjusting over 3 tests
    exp = _experiment({"sgd": sgd, "sam": [a + 0.05 for a in sgd], "rwp": [a + g for a, g in zip(sgd, gaps)]})
    flat = _flat({m: [0.3, 0.31, 0.29, 0.3, 0.32] for m in ("sgd", "sam", "rwp")})
    out = rwp_chapter.chapter_claims(_cfg(), exp, _regime(), flat, _timing(), "s")
    better = out.verdicts["better"]
    assert better.p_raw < 0.05 <= better.p
    assert better.verdict == "partly"


# -- the m-ARWP chapter's verdicts: the same rules -----------------------------------------------------------


def _marwp_experiment(acc_shift: dict):
    base = [0.70, 0.71, 0.69, 0.70, 0.72]
    exp = _experiment({m: [a + acc_shift.get(m, 0.0) + 0.002 * i * (m == "marwp") for i, a in enumerate(base)]
                       for m in ("sgd", "sam", "prwp", "mrwp", "arwp", "marwp", marwp_chapter.ABLATION)})
    for s in SEEDS:
        exp.fit_loss["prwp", s], exp.fit_loss["mrwp", s] = 0.08 + 0.001 * s, 0.02 + 0.002 * s
    return exp


def test_marwp_uses_the_rwp_chapters_parity_rule_and_margin():
    exp = _marwp_experiment({"sam": 0.02, "marwp": 0.025, "mrwp": 0.01, "arwp": 0.005})
    flat = _flat({m: [0.3 + 0.01 * i for i in range(5)] for m in ("sgd", "marwp")},
                 {m: [10.0] * 5 for m in ("sgd", "sam", "marwp")})
    out = marwp_chapter.chapter_claims(_cfg("marwp"), exp, _regime(), flat, "s")
    rwp_out = rwp_chapter.chapter_claims(_cfg(), _experiment({"sgd": [0.7] * 5, "sam": [0.7] * 5, "rwp": [0.7] * 5}),
                                         _regime(), _flat({m: [0.3] * 5 for m in ("sgd", "sam", "rwp")}), _timing(), "s")
    assert out.rule_parity == rwp_out.rule_parity  # the same rule and margin in both chapters
    assert out.verdicts["vs_sam"].kind == "non-inferiority"
    assert out.verdicts["converge"].verdict == "reproduced"  # a lower training loss with mixing on every seed
    assert out.verdicts["large_scale"].verdict == "not comparable"
    assert out.n_tests == 7 and all("Holm-adjusted over 7 tests" in out.verdicts[k].rule
                                    for k in ("mix", "adapt", "vs_sam", "flatter"))
    assert "adaptivity" in marwp_chapter.COMPARISONS["adapt"][2]


def test_marwp_convergence_claim_does_not_need_the_converged_regime():
    exp = _marwp_experiment({"marwp": 0.01})
    flat = _flat({m: [0.3 + 0.01 * i for i in range(5)] for m in ("sgd", "marwp")},
                 {m: [10.0] * 5 for m in ("sgd", "sam", "marwp")})
    out = marwp_chapter.chapter_claims(_cfg("marwp"), exp, _regime(False), flat, "s")
    assert out.verdicts["converge"].verdict == "reproduced"
    assert out.verdicts["over_sgd"].verdict == "not comparable" or out.verdicts["over_sgd"].reason


def test_the_ablation_compares_the_two_readings():
    exp = _marwp_experiment({marwp_chapter.ABLATION: 0.01})
    out = marwp_chapter.ablation(_cfg("marwp"), exp)
    assert out.gap == pytest.approx(0.01)
    assert out.favour == "5 of 5 seeds"
    assert len(out.table) == 2
    variant = marwp_chapter.ablation_variant(_cfg("marwp"))
    (cfg, method, _), = variant.values()
    assert method == "arwp" and cfg.scaling != _cfg("marwp").scaling


# -- the step-cost chapter's verdicts ---------------------------------------------------------------------------


@pytest.mark.parametrize("ratios, claimed, expected", [
    ([1.95, 2.0, 2.05, 2.1], 2.0, "reproduced"),
    ([1.0, 1.4, 1.7, 2.0, 2.1], 2.0, "partly"),  # the median inside 1.5–2.5, the lower quartile below
    ([1.2, 1.3, 1.35, 1.4], 2.0, "not reproduced"),
    ([1.02, 1.05, 1.08, 1.1], 1.0, "reproduced"),
])
def test_cost_verdict_reads_the_per_round_ratios(ratios, claimed, expected):
    v = cost_verdict(ratios, claimed)
    assert v.verdict == expected
    assert v.estimate == pytest.approx(np.median(ratios)) and v.n == len(ratios)
    assert "interquartile" in v.rule


def test_cost_verdict_checks_its_input():
    with pytest.raises(ParameterError, match="'ratios'"):
        cost_verdict([], 2.0)
    with pytest.raises(ParameterError, match="'claimed'"):
        cost_verdict([1.0], 0.0)


def _fake_cost(busy=False):
    import pandas as pd

    from reprobook.benchmarks import BenchResult

    methods = ["sgd", "sam", "rwp", "rwp-batched", "sgd-double-batch", "mrwp", "arwp", "marwp"]
    factor = {"sgd": 1.0, "sam": 2.0, "rwp": 2.0, "rwp-batched": 2.1, "sgd-double-batch": 1.9, "mrwp": 2.0,
              "arwp": 1.05, "marwp": 2.05}
    rounds = {m: [10.0 * factor[m] * (1 + 0.01 * k) for k in range(6)] for m in methods}
    table = pd.DataFrame({"method": methods, "ratio_to_sgd": [factor[m] for m in methods]})
    result = BenchResult("step-cost", table, {"rounds_ms": rounds, "model": "small_cnn", "batch_size": 32,
                                               "torch_threads": 1, "rounds_run": 6}, {})
    fields = {f.name: 1 for f in dataclasses.fields(step_cost_chapter.StepCost)}
    fields.update(result=result, busy=busy, machine="cpu", ratio_sam=2.0, ratio_rwp=2.0, ratio_rwp_batched=2.1,
                  ratio_arwp=1.05, ratio_marwp=2.05)
    return step_cost_chapter.StepCost(**fields)


def test_step_cost_claims_two_device_savings_are_not_comparable():
    out = step_cost_chapter.chapter_claims(_fake_cost(), "smoke")
    v = out.verdicts
    assert v["sam"].verdict == "reproduced" and v["arwp"].verdict == "reproduced"
    assert v["rwp_parallel"].verdict == "not comparable" and v["marwp_cheaper"].verdict == "not comparable"
    assert "two devices" in v["marwp_cheaper"].reason
    assert out.marwp_vs_sam == pytest.approx(1.025)


def test_step_cost_claims_on_a_busy_machine_are_not_tested():
    out = step_cost_chapter.chapter_claims(_fake_cost(busy=True), "smoke")
    assert {v.verdict for v in out.verdicts.values()} == {"not comparable"}
    assert out.verdicts["sam"].reason == "the machine was busier than its cores"


def _recorded(commit, arwp_ms, sgd_ms=100.0):
    import pandas as pd

    from reprobook.benchmarks import BenchResult

    table = pd.DataFrame({"method": ["sgd", "arwp"], "median_ms": [sgd_ms, arwp_ms],
                          "ratio_to_sgd": [1.0, arwp_ms / sgd_ms], "ratio_low": [1.0, 0.9 * arwp_ms / sgd_ms],
                          "ratio_high": [1.0, 1.1 * arwp_ms / sgd_ms]})
    return BenchResult("step-cost", table, {"model": "resnet18_cifar", "batch_size": 256, "rounds_run": 5},
                       {"git_commit": commit, "device": "cpu (2 cores, x86_64)"})


def test_arwp_goal_note_judges_each_recorded_measurement_of_the_batched_step():
    note = step_cost_chapter._arwp_goal_note
    assert note([]).startswith("No measurement")
    # a measurement of the per-parameter step (before the batched one) is not the goal's evidence
    assert note([_recorded(step_cost_chapter.BEFORE_BATCHED_STEP[0] + "abcd", 195.0)]).startswith("No measurement")
    met, missed = note([_recorded("e59be6e", 99.0)]), note([_recorded("e59be6e", 112.0)])
    assert "ARWP 0.99 SGD steps" in met and "-1 ms on an SGD step of 100 ms" in met and "goal is met" in met
    assert "ARWP 1.12 SGD steps" in missed and "goal is not met" in missed
    assert note([_recorded("a", 99.0), _recorded("b", 130.0)]).count("goal is") == 2


def test_scale_note_names_the_model_and_its_profile():
    settings = {"model": "small_cnn", "parameters": 24058, "parameter_tensors": 11, "input_shape": [32, 1, 28, 28],
                "batch_size": 32}
    smoke = step_cost_chapter._scale_note(settings, "smoke")
    assert "small_cnn with 24,058 weights in 11 tensors on inputs of 1 × 28 × 28" in smoke and "worst case" in smoke
    paper = step_cost_chapter._scale_note(dict(settings, model="resnet18_cifar", batch_size=256), "paper")
    assert paper.startswith("This run is at the paper profile's scale (resnet18_cifar") and "batch 256" in paper
    assert "resnet18_cifar at batch" in smoke


def test_ratio_figure_puts_at_most_two_panels_in_a_row():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    def frame(methods):
        return pd.DataFrame({"method": methods, "optimizer": methods, "ratio_to_sgd": [1.0] * len(methods),
                             "ratio_low": [1.0] * len(methods), "ratio_high": [1.0] * len(methods)})

    fig = step_cost_chapter.ratio_figure([(frame(["sgd", "sam", "rwp"]), "a"), (frame(["sgd", "arwp"]), "b"),
                                          (frame(["sgd", "arwp"]), "c")])
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
    assert out.passed and out.gap < 1e-10 and out.tensors > 10


# -- the shared analyses --------------------------------------------------------------------------------------


def test_training_regime_needs_every_run_to_fit_its_training_set():
    cfg = _cfg()
    exp = _experiment({"sgd": [0.7] * 5, "sam": [0.7] * 5, "rwp": [0.7] * 5})
    assert analysis.training_regime(exp, cfg).converged
    exp.fit_loss["rwp", 3] = 0.5  # one run left far from zero training loss
    regime = analysis.training_regime(exp, cfg)
    assert not regime.converged and "0.500" in regime.detail and "not every run" in regime.regime
    exp.fit_loss["rwp", 3], exp.fit_acc["sam", 1] = 0.01, 0.9
    assert not analysis.training_regime(exp, cfg).converged
    assert regime.still_falling == pytest.approx((0.5 - 0.05) / 0.5)  # the last fifth of 3 epochs: one epoch


def test_step_timing_times_every_method_now_in_shuffled_rounds():
    cfg = _cfg()
    data = TensorDataset(torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,)))
    timing = analysis.step_timing(cfg, data, torch.device("cpu"), ("sgd", "rwp"), rounds=3)
    assert "timed in this run" in timing.source and timing.ratio["sgd"] == 1.0
    # what a step costs is measured (the chapter, `reprobook bench`), never asserted: only the record's shape
    assert set(timing.ratio) == set(timing.seconds) == {"sgd", "rwp"}
    assert timing.ratio["rwp"] > 0 and min(timing.seconds.values()) > 0
    with pytest.raises(ParameterError, match="'methods'"):
        analysis.step_timing(cfg, data, torch.device("cpu"), ("rwp",))


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
    assert len(flat.table) == 4 and flat.probe_n == 12 and flat.hessian_n == 7
    assert [len(y) for _, y in analysis.first_samples(batches, 7)] == [5, 2]
    assert flat.lanczos_converged == "all 2" and flat.lanczos_max_residual < 10 * cfg.lanczos_tol
    assert 2 <= flat.lanczos_max_matvecs <= 2 * cfg.lanczos_max_matvecs  # about the budget (ARPACK restarts in blocks)
    # the same model under two seeds: λ_max agrees (a property of the model), the sharpness draws differ
    assert flat.lambda_max["sgd"][0] == pytest.approx(flat.lambda_max["sgd"][1], rel=1e-3)


def test_data_overview_and_scale_text():
    train = TensorDataset(torch.rand(30, 1, 28, 28), torch.arange(30) % 3)
    test = TensorDataset(torch.rand(9, 1, 28, 28), torch.arange(9) % 3)
    out = analysis.data_overview("fashion-mnist", train, test, n_images=4)
    assert (out.n_train, out.n_test, out.min_class, out.max_class) == (30, 9, 10, 10)
    assert hasattr(out.fig_samples, "savefig")
    cfg = _cfg()
    text = analysis.scale_text(cfg, 30, 9, 2, torch.device("cpu"))
    assert "tiny profile" in text and "30 train / 9 test" in text and "2 seeds" in text
