"""What the step-cost chapter shows of a measurement: its figure, and the notes that read ARWP's ratio to SGD
against the goal and set this run beside those recorded on other machines."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import profiles
from ...timing import goal_reading, ratio_interval

ARWP_GOAL = 1.1  # the engineering goal for the batched ARWP step: at most 1.1× an SGD step
GOAL_LEVEL = 0.95  # the goal is read on the 95 % interval of the median per-round ratio, never on the median alone
# commits of the measurements in book/measurements/ taken before the ARWP family's step was batched
# (torch._foreach_*): their ARWP rows time the per-parameter step
BEFORE_BATCHED_STEP = ("1257a70",)


def before_batched(result) -> bool:
    commit = str(result.machine.get("git_commit") or "")
    return any(commit.startswith(c) for c in BEFORE_BATCHED_STEP)


def _ratio_axes(ax, frame, title: str, slots: int | None = None) -> None:
    """Horizontal bars of the ratio to SGD with the quartiles of the per-round ratios; with ``slots`` (at least
    the number of methods) the bars keep the thickness of a panel of that many, from the top."""
    frame = frame.iloc[::-1]
    y = np.arange(len(frame))
    if slots is not None:
        ax.set_ylim(len(frame) - max(slots, len(frame)) - 0.5, len(frame) - 0.5)
    errors = np.vstack([frame.ratio_to_sgd - frame.ratio_low, frame.ratio_high - frame.ratio_to_sgd]).clip(min=0)
    colours = ["C2" if m == "rwp-batched" else "C7" if m == "sgd-double-batch" else "C0" for m in frame.method]
    ax.barh(y, frame.ratio_to_sgd, xerr=errors, color=colours, capsize=3)
    ax.set_yticks(y, frame.optimizer)
    for x in (1, 2):
        ax.axvline(x, color="k", lw=0.8, ls="--" if x == 2 else "-")
    ax.set_xlabel("time per step / SGD's")
    ax.set_title(title, fontsize=10)


def ratio_figure(panels: list[tuple[Any, str]]):
    """One panel of bars per measurement (this run's first, then those recorded on other machines)."""
    import matplotlib.pyplot as plt

    columns = min(len(panels), 2)
    rows = -(-len(panels) // columns)
    # a row of panels is as tall as its longest list of methods, and every bar in it as thick
    slots = [max(len(frame) for frame, _ in panels[i * columns : (i + 1) * columns]) for i in range(rows)]
    heights = [max(1.6, 0.38 * n + 0.9) for n in slots]
    fig, axes = plt.subplots(
        rows, columns, figsize=(6.4 * columns, sum(heights)), squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    for i, (ax, (frame, title)) in enumerate(zip(axes.flat, panels)):
        _ratio_axes(ax, frame, title, slots=slots[i // columns])
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def batched_note(ratio: dict[str, float]) -> str:
    batched, doubled, sequential = ratio["rwp-batched"], ratio["sgd-double-batch"], ratio["rwp"]
    if batched < sequential:
        note = (
            f"here the batched pass is the cheaper way to get both gradients on one device "
            f"({batched / sequential:.0%} of the sequential step's time)."
        )
    else:
        note = (
            f"here the batched pass is slower than computing the two gradients one after the other "
            f"({batched / sequential:.0%} of the sequential step's time): vmap runs every convolution with two "
            "weight sets as one grouped convolution, which this device likely runs less efficiently than two "
            "ordinary ones."
        )
    if doubled > 1.6:
        return note + (
            f" Even a perfect batching could not go much below one pass over twice the data, which costs "
            f"{doubled:.2f} SGD steps here: one step of this model already keeps the device busy, so on one "
            "device a parallel RWP step saves little; the saving the paper claims needs a second device."
        )
    return note + (
        f" One pass over twice the data costs only {doubled:.2f} SGD steps here, so a batched kernel better "
        "suited to the pair could still gain on this device."
    )


def arwp_over_sgd(table) -> tuple[float, float, float]:
    """From one step-cost table: ARWP's ratio to SGD, SGD's median ms per step, and ARWP's extra ms over it."""
    t = table.set_index("method")
    sgd_ms = float(t.loc["sgd", "median_ms"])
    return float(t.loc["arwp", "ratio_to_sgd"]), sgd_ms, float(t.loc["arwp", "median_ms"]) - sgd_ms


def calls_note(others: list) -> str:
    gpu = [r for r in others if r.machine.get("device_type") == "cuda" and "arwp" in set(r.table.method)]
    if not gpu:
        return "No GPU measurement is recorded in this copy of the book to show how much they weigh there."
    r = gpu[0]
    t = r.table.set_index("method")
    ratio, sgd_ms, extra_ms = arwp_over_sgd(r.table)
    extra_calls = int(t.loc["arwp", "operator_calls"] - t.loc["sgd", "operator_calls"]) if "operator_calls" in t else 0
    commit = r.machine.get("git_commit") or "an unknown commit"
    when = ", before the ARWP step was batched" if before_batched(r) else ""
    return (
        f"The recorded {r.device} measurement ({r.settings.get('model')}, batch {r.settings.get('batch_size')}, "
        f"at {commit}{when}) shows what they weighed there: an SGD step took "
        f"{sgd_ms:.1f} ms and ARWP {ratio:.2f} SGD steps, "
        f"{extra_ms:.1f} ms more"
        + (
            f" for {extra_calls} more operator calls, about {1000 * extra_ms / extra_calls:.0f} µs per call."
            if extra_calls
            else "."
        )
    )


def arwp_reading(result) -> tuple[dict[str, float], str]:
    """ARWP's ratio to SGD in one measurement: the median per-round ratio with its interval, and the goal's
    reading on that interval (:func:`reprobook.timing.goal_reading`)."""
    interval = ratio_interval(result.settings["rounds_ms"], "arwp", "sgd", GOAL_LEVEL)
    return interval, goal_reading(interval, ARWP_GOAL)


def arwp_goal_note(others: list) -> str:
    """ARWP's ratio to SGD in each recorded measurement of the batched step, with its interval over the rounds,
    against :data:`ARWP_GOAL`."""
    rows = [r for r in others if "arwp" in set(r.table.method) and not before_batched(r)]
    if not rows:
        return "No measurement of the batched ARWP step on another machine or at another scale is recorded."
    parts = []
    for r in rows:
        _, sgd_ms, extra_ms = arwp_over_sgd(r.table)
        interval, reading = arwp_reading(r)
        parts.append(
            f"{r.device}, {r.settings.get('model')}, batch {r.settings.get('batch_size')} (commit "
            f"{r.machine.get('git_commit') or 'unknown'}): ARWP {interval['median']:.2f} SGD steps "
            f"[{interval['low']:.2f}, {interval['high']:.2f}] over {interval['n']} rounds "
            f"({interval['coverage']:.0%} interval), {extra_ms:+.0f} ms on an SGD step of {sgd_ms:.0f} ms: "
            f"the goal is {reading} there"
        )
    return "Recorded: " + "; ".join(parts) + "."


def scale_note(settings: dict[str, Any], profile: str) -> str:
    """What the model of this run means for ARWP's ratio (its overhead grows with the weights, the arithmetic
    with the weights times their uses)."""
    weights = settings.get("parameters")
    size = (
        f"{settings['model']} with {weights:,} weights in {settings.get('parameter_tensors')} tensors"
        if weights
        else settings["model"]
    )
    if profile == "paper":
        return f"This run is at the paper profile's scale ({size}, batch {settings['batch_size']})."

    paper = profiles.config("step_cost", "paper")
    return (
        f"The {profile} profile's model, {size} on inputs of {' × '.join(map(str, settings['input_shape'][1:]))}, "
        "does little arithmetic per weight, which makes it close to the worst case for the ratio; a measurement "
        f"at the paper profile's scale, if one is recorded below, weighs the same step against the arithmetic of "
        f"{paper.model} at batch {paper.batch_size}."
    )
