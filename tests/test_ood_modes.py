"""The K modes (reprobook.ood.modes), the loss around and between modes (reprobook.ood.mode_landscape) and the chapter's
claim tests end to end, on the tiny arrays of tests/test_ood_benchmark.py."""

import numpy as np
import pytest
import torch

from reprobook import claims, profiles
from reprobook.chapters.mode_ensemble import ensembles as ens
from reprobook.chapters.mode_ensemble import experiment as tests_of
from reprobook.chapters.mode_ensemble.report import describe_modes, run_scale
from reprobook.chapters.mode_ensemble.slices import mode_segment, mode_slices, slice_depths
from reprobook.configs.mode_ensemble import claim_specs
from reprobook.models import SmallCNN
from reprobook.ood.mode_landscape import combine_states, filter_normalized_direction, segment_alphas
from reprobook.ood.modes import build_modes, convergence, mode_seeds, msp_loss, scoring_index
from reprobook.profiles import ParameterError
from test_ood_benchmark import fake_registry  # noqa: F401  (a fixture: tiny offline arrays)


def _cfg(**overrides):
    values = dict(
        n_train=60,
        n_test=20,
        n_ood=10,
        epochs=1,
        batch_size=16,
        n_modes=2,
        knn_k=3,
        n_boot=5,
        model_kwargs={"in_channels": 1, "num_classes": 10, "width": 4},
        landscape_points=3,
        landscape_samples=8,
        bn_samples=16,
        slice_points=3,
        slice_samples=8,
        max_subsets=2,
        ensemble_sizes=(1, 2),
        null_draws=20,
    )
    values.update(overrides)
    return profiles.config("mode_ensemble", "smoke", **values)


@pytest.fixture
def modes(fake_registry):  # noqa: F811
    return build_modes(_cfg(), seed=3, device="cpu", progress=False, n_score=8)


def test_modes_are_seeded_trainings_scored_on_the_same_images(modes):
    assert modes.seeds == [3, 4] and len(modes) == 2
    first, second = (m.benchmark for m in modes.modes)
    assert torch.equal(first.train.labels, second.train.labels)  # same data: data seed 0 for both
    assert not torch.equal(first.train.features, second.train.features)  # different weights
    assert all(len(rows) == 8 for rows in modes.index.values()) and modes.splits[0] == "test"
    assert torch.equal(modes.images("test"), torch.stack([first.test_dataset[int(i)][0] for i in modes.index["test"]]))
    for split in modes.splits:
        out = modes.outputs(1, split)
        assert out.features.shape == (8, 16) and out.odin.shape == out.rankfeat.shape == (8, 10)
    assert modes.outputs(0, "train").features.shape[0] == 60


def test_a_second_build_loads_every_mode(modes, fake_registry):  # noqa: F811
    again = build_modes(_cfg(), seed=3, device="cpu", progress=False, n_score=8, input_detectors=False)
    assert all(m.benchmark.loaded for m in again.modes) and not again.modes[0].odin
    table = describe_modes(again).table
    assert table["loaded"].all() and list(table["seed"]) == [3, 4]
    assert "K = 2 modes (seeds 3, 4)" in run_scale(again, "smoke")


def test_mode_seeds_and_scoring_index():
    assert mode_seeds(5, 3) == [5, 6, 7]
    with pytest.raises(ParameterError, match="'n_modes'"):
        mode_seeds(0, 0)
    rows = scoring_index(100, 10, seed=1)
    assert (
        len(rows) == 10 and torch.equal(rows, rows.sort().values) and torch.equal(rows, scoring_index(100, 10, seed=1))
    )
    assert torch.equal(scoring_index(5, None, 0), torch.arange(5)) and torch.equal(
        scoring_index(5, 9, 0), torch.arange(5)
    )


def test_msp_loss_is_the_cross_entropy_to_the_predicted_class():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    expected = torch.nn.functional.cross_entropy(logits, logits.argmax(1), reduction="none").double()
    assert torch.allclose(msp_loss(logits), expected)
    assert float(msp_loss(torch.zeros(1, 10))) == pytest.approx(np.log(10))  # its largest value: log C


def _plateau_table(whole_before, whole_last, steps_before=None, steps_last=None):
    import pandas as pd

    n = len(whole_last)
    return pd.DataFrame(
        {
            "InD train loss": whole_last,
            "train loss, window before": whole_before,
            "window epochs": ["36→40"] * n,
            "step loss, last epoch": steps_last or [0.30, 0.32][:n],
            "step loss, epoch before": steps_before or [0.31, 0.31][:n],
        }
    )


def test_convergence_holds_when_the_modes_descend_less_than_the_seeds_spread():
    # final losses 0.30, 0.32, 0.34: spread (SD) 0.02 nats; every mode fell by 0.005 over the window
    table = _plateau_table([0.305, 0.325, 0.345], [0.30, 0.32, 0.34], [0.31] * 3, [0.30, 0.32, 0.33])
    converged, detail = convergence(table)
    assert converged and "36→40" in detail and "0.0200 nats" in detail and "0.0050 nats on average" in detail
    assert "upper bound 0.0050" in detail  # no scatter of the falls: the bound is the mean
    assert "third form, every fall below the spread, passes" in detail
    assert "+3.23%" in detail  # the step losses, the rule of 2026-12-04, are shown
    assert "relative drop at most 1.64%" in detail  # the rule of the next run, shown


def test_convergence_fails_when_the_modes_descend_more_than_the_seeds_spread():
    # falls 0.005 and 0.03 (mean 0.0175) against a spread of 0.0141 between the final losses
    converged, detail = convergence(_plateau_table([0.305, 0.35], [0.30, 0.32]))
    assert not converged and "mode 2" in detail and "0.0175 nats on average" in detail and "0.0300" in detail
    # modes further apart (SD 0.0707), falls 0.005 and 0.05: the mean fall (0.0275) is within the spread, but two
    # modes bound it only at 0.1696 (t with one degree of freedom): not shown. The third form passed them
    converged, detail = convergence(_plateau_table([0.305, 0.45], [0.30, 0.40]))
    assert not converged and "upper bound 0.1696" in detail
    assert "third form, every fall below the spread, passes" in detail
    # modes that are one network have no spread: any descent fails
    assert not convergence(_plateau_table([0.305, 0.305], [0.30, 0.30]))[0]


def _pass_rate(k: int, mean_fall: float, rng, reps: int = 150) -> tuple[float, float]:
    """How often the rule, and its third form (every fall below the spread), pass K modes whose final losses have
    the SD σ = 0.004 and whose falls are drawn with mean ``mean_fall``·σ and SD 0.3σ."""
    sigma, passed, third = 0.004, 0, 0
    for _ in range(reps):
        last = 0.05 + sigma * rng.standard_normal(k)
        fall = sigma * (mean_fall + 0.3 * rng.standard_normal(k))
        converged, detail = convergence(_plateau_table(list(last + fall), list(last), [0.1] * k, [0.1] * k))
        passed += converged
        third += "third form, every fall below the spread, passes" in detail
    return passed / reps, third / reps


def test_convergence_firms_up_with_more_modes_and_fails_a_descent_beyond_the_spread():
    """The rule's answer converges with K to its question, on both sides. Falls of about 0.45σ with an SD of 0.3σ
    are what the smoke pilots measured at 40, 60 and 80 epochs (means 0.37–0.53σ, SDs 0.22–0.35σ): the rule passes
    them more often the more modes there are, where the third form passed them less often (the largest of K falls
    grows with K). Falls of 1.5σ fail at every K."""
    rng = np.random.default_rng(0)
    near = [_pass_rate(k, 0.45, rng) for k in (5, 10, 20)]
    assert near[0][0] < near[2][0] and near[1][0] > 0.8 and near[2][0] > 0.95
    assert near[0][1] > near[2][1] and near[1][1] < 0.7  # the third form: a coin flip at ten modes
    far = [_pass_rate(k, 1.5, rng)[0] for k in (5, 10, 20)]
    assert max(far) < 0.05


def test_convergence_needs_two_measurements_and_two_modes():
    # a run of one epoch has one measurement: it cannot show a plateau
    assert not convergence(_plateau_table([float("nan")] * 2, [0.3, 0.3]))[0]
    converged, detail = convergence(_plateau_table([0.31], [0.30]))
    assert not converged and "one classifier" in detail
    # a diverged mode (an infinite loss) is not converged, whatever the others did
    converged, detail = convergence(_plateau_table([float("inf"), 0.31], [0.30, 0.30]))
    assert not converged and "diverged" in detail


def test_the_plateau_is_measured_after_the_last_tenth_of_the_epochs():
    from reprobook.ood.classifier import plateau_epochs

    assert plateau_epochs(40, 0.1) == [36, 40] and plateau_epochs(100, 0.1) == [90, 100]
    assert plateau_epochs(5, 0.1) == [4, 5] and plateau_epochs(1, 0.1) == [1]


def test_a_short_schedule_fails_the_convergence_rule():
    """The rule can fail: after three epochs of a cosine schedule, two seeds' classifiers are still lowering
    their whole training set's loss by far more than the seeds set them apart."""
    from types import SimpleNamespace

    from reprobook.ood.modes import classifier_convergence
    from reprobook.training import fit

    torch.manual_seed(0)
    x = torch.randn(256, 1, 8, 8)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    data = torch.utils.data.TensorDataset(x, y)
    histories = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        history = fit(
            model,
            optimizer,
            loader,
            epochs=3,
            device="cpu",
            progress=False,
            scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=3),
            eval_loader=torch.utils.data.DataLoader(data, batch_size=256),
            eval_epochs=[2, 3],
        )
        assert history.eval_at == [2, 3] and len(history.eval_loss) == 2 and len(history.train_loss) == 3
        histories.append(SimpleNamespace(history=history))
    converged, detail = classifier_convergence(histories)
    assert not converged and "2→3" in detail


# -- the landscape -----------------------------------------------------------------------------------------------------
def test_combined_states_are_the_weighted_sums_and_keep_integer_buffers():
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(7)}
    mid = combine_states([a, b], [0.5, 0.5])
    assert torch.equal(mid["w"], torch.tensor([2.0, 4.0])) and mid["n"] == 3
    assert torch.equal(combine_states([a, b], [1.0, 0.0])["w"], a["w"])
    with pytest.raises(ParameterError, match="'weights'"):
        combine_states([a, b], [1.0])


def test_segment_grid_contains_both_modes():
    alphas = segment_alphas(5, 0.25)
    assert np.allclose(alphas, [-0.25, 0, 0.25, 0.5, 0.75, 1, 1.25])
    assert np.allclose(segment_alphas(3, 0.0), [0, 0.5, 1])
    with pytest.raises(ParameterError, match="'landscape_margin'"):
        segment_alphas(3, -1)


def test_filter_normalised_directions_match_each_filter_and_leave_biases_and_batchnorm():
    model = SmallCNN(width=4)
    d = filter_normalized_direction(model, torch.Generator().manual_seed(0))
    for name, p in model.named_parameters():
        if p.dim() < 2:
            assert torch.equal(d[name], torch.zeros_like(p)), name
        else:
            assert torch.allclose(d[name].flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1), rtol=1e-5), name


def test_the_landscape_loss_is_the_cross_entropy_to_fixed_targets():
    from reprobook.ood.mode_landscape import fixed_target_loss

    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    targets = torch.tensor([0, 2])
    expected = torch.nn.functional.cross_entropy(logits, targets, reduction="none").double()
    assert torch.allclose(fixed_target_loss(logits, targets), expected)
    # at the mode the targets are its own decisions: the loss is −log max softmax
    assert torch.allclose(fixed_target_loss(logits, logits.argmax(1)), msp_loss(logits))


def test_slice_depth_is_zero_at_a_minimum_and_the_relative_dip_elsewhere():
    import pandas as pd

    rows = []
    for a in (-1.0, 0.0, 1.0):
        for b in (-1.0, 0.0, 1.0):
            rows.append({"mode": 1, "a": a, "b": b, "set": "InD test", "loss": 1.0 + a * a + b * b})
            rows.append({"mode": 1, "a": a, "b": b, "set": "far", "loss": 2.0 - 0.5 * (a == 1.0 and b == 1.0)})
    depths = slice_depths(pd.DataFrame(rows))
    assert depths.loc[1, "InD"] == 0.0 and depths.loc[1, "far"] == pytest.approx(0.25)
    assert depths.loc[1, "OoD"] == pytest.approx(0.25)


# -- the chapter end to end on tiny modes ------------------------------------------------------------------------------
def test_landscape_and_the_claim_tests_on_tiny_modes(fake_registry):  # noqa: F811
    cfg = _cfg(n_modes=4, detectors=("MSP", "KNN", "RankFeat"), primary_detectors=("MSP", "KNN"))
    modes = build_modes(cfg, seed=0, device="cpu", progress=False, n_score=8)
    natural = ("mnist-5k", "animal-silhouettes")
    slices = mode_slices(modes, cfg, natural)
    assert len(slices.table) == 4 * 9 * 3 and set(slices.depths.columns) >= {"InD", "OoD", *natural}
    segment = mode_segment(modes, cfg, natural)
    assert list(segment.segment.columns) == ["alpha", "InD test", *natural]
    training = describe_modes(modes)
    study = ens.score_ensembles(modes, cfg)
    spread, gain = ens.mode_spread(study, cfg), ens.ensemble_gain(study, cfg, natural)
    specs = claim_specs(cfg)
    per_mode, rounds = ens.fluctuation_inputs(spread, cfg.primary_detectors, natural)
    assert per_mode.shape == (4, 4) and rounds.shape == (4, cfg.n_boot)
    fluct = tests_of.fluctuation_claim(specs[2], per_mode, rounds, draws=cfg.null_draws, family=5)
    results = [
        tests_of.alike_test(
            specs[0], training.table["InD test accuracy"], training.table["InD test loss"], cfg.alike_loss_margin
        ),
        claims.evaluate(specs[1], slices.depths["OoD"], slices.depths["InD"]),
        fluct.test,
        claims.evaluate(specs[3], gain.units["members' mean"], gain.units["ensemble"]),
        tests_of.variance_test(specs[4], gain.singles, gain.pairs, 5, ens.variance_ratio),
    ]
    guarded = tests_of.guard_modes(
        results, training.converged, training.convergence_detail, training.facts.disagreement
    )
    final = claims.holm_tests(guarded)
    assert [t.key for t in final] == ["alike", "landscape", "fluctuates", "improves", "variance"]
    if not training.converged:  # one epoch: the run cannot test claims about converged modes
        assert all(t.verdict.verdict == "not comparable" and "not converged" in t.verdict.reason for t in final)
    assert "K = 4 modes (seeds 0, 1, 2, 3)" in run_scale(modes, "smoke")
