"""The shared figures (reprobook.plots): what they draw, checked on the returned matplotlib objects."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from reprobook.checks import ParameterError  # noqa: E402
from reprobook.plots import image_grid, loss_profiles, training_curves  # noqa: E402


def test_training_curves_draw_the_mean_and_a_band_per_label():
    loss = {"SGD": [[1.0, 0.5, 0.2], [1.2, 0.7, 0.4]], "RWP": [[1.0, 0.6, 0.3], [1.0, 0.6, 0.3]]}
    fig = training_curves({"training loss": loss, "training accuracy": {"SGD": [[0.5, 0.8, 0.9]] * 2}}, dashed=["RWP"])
    axes = fig.axes
    assert len(axes) == 2 and axes[0].get_ylabel() == "training loss"
    sgd, rwp = axes[0].lines[:2]
    assert np.allclose(sgd.get_ydata(), [1.1, 0.6, 0.3])  # the mean over seeds
    assert list(sgd.get_xdata()) == [1, 2, 3] and rwp.get_linestyle() == "--" and sgd.get_linestyle() == "-"
    band = axes[0].collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(0.2) and band.max() == pytest.approx(1.2)  # lowest to highest seed
    assert sgd.get_color() == axes[1].lines[0].get_color()  # one colour per label in every panel
    with pytest.raises(ParameterError, match="'curves'"):
        training_curves({})


def test_loss_profiles_draw_one_line_per_label():
    fig = loss_profiles([-1, 0, 1], {"SGD": [2.0, 0.1, 2.5], "SAM": [1.0, 0.1, 1.2]}, title="t")
    assert [line.get_label() for line in fig.axes[0].lines] == ["SGD", "SAM"]
    assert list(fig.axes[0].lines[1].get_ydata()) == [1.0, 0.1, 1.2]
    with pytest.raises(ParameterError, match="'losses\\['SGD'\\]'"):
        loss_profiles([0, 1], {"SGD": [1.0]})


def test_image_grid_lays_out_and_rescales():
    images = [np.full((4, 4), v, dtype=float) for v in (0.0, 5.0, -3.0)] + [np.arange(16).reshape(1, 4, 4)]
    fig = image_grid(images, ["a", "b", "c", "d"], ncols=2)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 4 and len(shown) == 4 and shown[0].get_title() == "a"
    data = shown[3].images[0].get_array()
    assert data.min() == pytest.approx(0.0) and data.max() == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(ParameterError, match="'titles'"):
        image_grid(images, ["a"])


def test_training_curves_name_the_labels_of_every_panel_once():
    fig = training_curves(
        {
            "a": {"SGD": [[1.0, 0.5]], "RWP": [[1.0, 0.6]]},
            "b": {"SGD": [[0.5, 0.8]]},
            "c": {"reward model A": [[0.1, 0.2]]},
        }
    )
    legends = [ax.get_legend() for ax in fig.axes]
    assert legends[0] is not None and legends[1] is None  # panel b adds no label
    assert [t.get_text() for t in legends[2].get_texts()] == ["reward model A"]
