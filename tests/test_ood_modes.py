"""The K modes (reprobook.ood.modes), the loss between modes (reprobook.ood.landscape) and the chapter's verdicts,
on the tiny arrays of tests/test_ood_benchmark.py."""

import numpy as np
import pytest
import torch
from test_ood_benchmark import fake_registry  # noqa: F401  (a fixture: tiny offline arrays)

from reprobook import profiles
from reprobook.claims import Verdict
from reprobook.ood.ensemble import ensemble_gain, mode_spread, score_ensembles
from reprobook.ood.ensemble_claims import mode_ensemble_claims
from reprobook.ood.landscape import combine_states, mode_landscape, plane_basis, segment_alphas
from reprobook.ood.modes import (build_modes, describe_modes, mode_seeds, run_scale, scoring_index,
                                 uniform_cross_entropy)
from reprobook.chapters.mode_ensemble import PAPER_RANKFEAT, PAPER_RANKFEAT_SOURCE
from reprobook.profiles import ParameterError


def _cfg(**overrides):
    values = dict(n_train=60, n_test=20, n_ood=10, epochs=1, batch_size=16, n_modes=2, knn_k=3, n_boot=5,
                  model_kwargs={"in_channels": 1, "num_classes": 10, "width": 4}, landscape_points=3,
                  landscape_samples=8, bn_samples=16, plane_points=3, max_subsets=2)
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
    assert len(rows) == 10 and torch.equal(rows, rows.sort().values) and torch.equal(rows, scoring_index(100, 10, seed=1))
    assert torch.equal(scoring_index(5, None, 0), torch.arange(5)) and torch.equal(scoring_index(5, 9, 0), torch.arange(5))


def test_uniform_cross_entropy_is_log_c_for_a_flat_prediction_and_grows_with_confidence():
    flat = torch.zeros(2, 10)
    assert torch.allclose(uniform_cross_entropy(flat), torch.full((2,), float(np.log(10))))
    sharp = torch.tensor([[8.0] + [0.0] * 9])
    assert uniform_cross_entropy(sharp) > uniform_cross_entropy(flat[:1])


# -- the landscape ------------------------------------------------------------------------------------------------------
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


def test_plane_basis_is_orthonormal_and_puts_the_modes_at_their_coordinates():
    gen = torch.Generator().manual_seed(0)
    states = [{"w": torch.randn(3, 4, generator=gen), "b": torch.randn(4, generator=gen)} for _ in range(3)]
    u, v, coords = plane_basis(states)
    flat = lambda s: torch.cat([s["w"].flatten(), s["b"]]).double()
    assert float(flat(u).norm()) == pytest.approx(1) and float(flat(v).norm()) == pytest.approx(1)
    assert float(flat(u) @ flat(v)) == pytest.approx(0, abs=1e-6)  # float32 directions
    for (a, b), s in zip(coords, states):
        assert torch.allclose(flat(states[0]) + a * flat(u) + b * flat(v), flat(s), atol=1e-5)


def test_landscape_and_the_verdicts_on_tiny_modes(fake_registry):  # noqa: F811
    cfg = _cfg(n_modes=3, detectors=("MSP", "KNN", "RankFeat"))
    modes = build_modes(cfg, seed=0, device="cpu", progress=False, n_score=8)
    landscape = mode_landscape(modes, cfg)
    assert list(landscape.segment.columns) == ["alpha", "InD test", *modes.ood_sets]
    assert len(landscape.segment) == 3 + 2 * round(0.25 / 0.5) and len(landscape.plane) == 9
    assert (landscape.segment.drop(columns="alpha") > 0).all().all()
    training = describe_modes(modes)
    study = score_ensembles(modes, cfg)
    spread, gain = mode_spread(study, cfg), ensemble_gain(study)
    verdicts = mode_ensemble_claims(training, study, spread, gain, landscape, cfg, "tiny test", PAPER_RANKFEAT,
                                    PAPER_RANKFEAT_SOURCE)
    assert len(verdicts.rows) == 6 and all(isinstance(r["verdict"], Verdict) for r in verdicts.rows)
    adjusted = [v for v in verdicts.verdicts.values() if v.p is not None]
    assert all("Holm-adjusted" in v.rule for v in adjusted) and verdicts.n_tests == len(adjusted)
    assert set(verdicts.per_detector.index) == set(cfg.detectors)
