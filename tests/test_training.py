"""Seeding, devices, the accelerate training loop with every optimiser, and train-or-load."""

import json
import time

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from reprobook.models import SmallCNN
from reprobook.profiles import ParameterError
from reprobook.sharpness import RWP, SAM
from reprobook.training import (
    History,
    TensorBatches,
    batches,
    checkpoint_path,
    config_hash,
    evaluate,
    fit,
    fixed_threads,
    make_accelerator,
    resolve_device,
    seed_everything,
    set_threads,
    train_or_load,
)


def _separable(n=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 1, 8, 8, generator=g) * 0.5 + (y.float() * 2 - 1).view(-1, 1, 1, 1)
    return TensorDataset(x, y)


def _loader(seed=0):
    return DataLoader(_separable(seed=seed), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("method", ["sgd", "sam", "rwp"])
def test_fit_learns_an_easy_task_with_every_optimiser(method):
    seed_everything(0)
    model = SmallCNN(in_channels=1, num_classes=2, width=4)
    kwargs = dict(lr=0.05, momentum=0.9)
    opt = {
        "sgd": lambda: torch.optim.SGD(model.parameters(), **kwargs),
        "sam": lambda: SAM(model.parameters(), rho=0.05, **kwargs),
        "rwp": lambda: RWP(model.parameters(), gamma=0.01, generator=torch.Generator().manual_seed(0), **kwargs),
    }[method]()
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3)
    history = fit(
        model, opt, _loader(), epochs=3, scheduler=sched, device="cpu", eval_loader=_loader(1), progress=False
    )
    assert len(history.train_loss) == len(history.seconds) == len(history.eval_acc) == 3
    assert history.unit == "epoch" and history.eval_at == [1, 2, 3] and history.steps == 3 * len(_loader())
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.eval_acc[-1] > 0.9
    assert sched.get_last_lr()[0] == pytest.approx(0.0, abs=1e-9)  # the schedule reached its end
    assert history.total_seconds >= history.train_seconds == sum(history.seconds) > 0


class CountingSAM(SAM):
    """SAM that records, for every closure call, whether it was the perturbed pass."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passes = []

    def step(self, closure=None):
        def counted():
            self.passes.append(self.in_perturbed_pass)
            return closure()

        return super().step(counted if closure is not None else None)


@pytest.mark.parametrize("method", ["sam", "rwp"])
def test_fit_moves_bn_statistics_on_clean_passes_only(method):
    seed_everything(0)
    model = SmallCNN(in_channels=1, num_classes=2, width=4)
    opt = (
        CountingSAM(model.parameters(), rho=0.05, lr=0.05)
        if method == "sam"
        else RWP(model.parameters(), gamma=0.05, lr=0.05, generator=torch.Generator().manual_seed(0))
    )
    loader = _loader()
    fit(model, opt, loader, epochs=1, device="cpu", progress=False)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(int(bn.num_batches_tracked) == len(loader) for bn in bns)  # one update per step, not two
    assert all(not torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean)) for bn in bns)
    if method == "sam":  # accelerate's optimizer wrapper handed the closure through: two passes per step
        assert opt.passes == [False, True] * len(loader)


def test_fit_updates_bn_statistics_like_the_clean_forward_passes():
    """With lr = 0 the weights never move: the running statistics after SAM equal those of plain forward passes."""
    seed_everything(0)
    model = SmallCNN(in_channels=1, num_classes=2, width=4)
    twin = SmallCNN(in_channels=1, num_classes=2, width=4)
    twin.load_state_dict(model.state_dict())
    loader = DataLoader(_separable(64), batch_size=32)
    fit(model, SAM(model.parameters(), rho=0.5, lr=0.0), loader, epochs=1, device="cpu", progress=False)
    twin.train()
    with torch.no_grad():
        for x, _ in loader:
            twin(x)
    for (k, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        assert torch.equal(a, b), k


def test_accelerators_can_be_made_repeatedly():
    for _ in range(3):
        assert make_accelerator("cpu").device.type == "cpu"
    assert make_accelerator("auto").device.type == resolve_device("auto").type


def test_same_seed_same_weights():
    def train():
        seed_everything(3)
        model = SmallCNN(in_channels=1, num_classes=2, width=4)
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), _loader(), epochs=1, device="cpu", progress=False)
        return model.state_dict()

    a, b = train(), train()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_evaluate_counts_correctly():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 1, 1, 1])
    loss, acc = evaluate(model, DataLoader(TensorDataset(x, y), batch_size=3), "cpu")
    assert acc == 0.75
    assert loss == pytest.approx(nn.functional.cross_entropy(model(x), y).item())


def test_tensor_batches_are_the_data_loaders_batches():
    """A TensorDataset scored in slices gives the DataLoader's batches (a short last one included), so the
    same loss and accuracy; any other dataset still goes through a DataLoader."""
    g = torch.Generator().manual_seed(0)
    ds = TensorDataset(torch.randn(23, 1, 8, 8, generator=g), torch.randint(0, 3, (23,), generator=g))
    fast, slow = batches(ds, 5), DataLoader(ds, batch_size=5, shuffle=False)
    assert isinstance(fast, TensorBatches) and len(fast) == len(slow) == 5
    pairs = list(zip(fast, slow, strict=True))
    assert [len(a[1]) for a, _ in pairs] == [5, 5, 5, 5, 3]
    assert all(torch.equal(x, u) and torch.equal(y, v) for (x, y), (u, v) in pairs)
    assert list(fast) and len(list(fast)) == 5  # iterable again, as a loader
    model = SmallCNN(in_channels=1, num_classes=3, width=4)
    assert evaluate(model, fast) == evaluate(model, slow)
    assert isinstance(batches(torch.utils.data.Subset(ds, range(7)), 5), DataLoader)
    with pytest.raises(ParameterError, match="'batch_size'"):
        batches(ds, 0)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    for bad in ("tpu", "cuda:x", "", None, 0):
        with pytest.raises(ParameterError, match="'device'"):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device("cuda:0")


def test_set_threads():
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="'n'"):
        set_threads(0)


def test_seed_everything_checks_the_seed_and_returns_a_seeded_generator():
    g = seed_everything(5)
    assert torch.equal(torch.randn(3, generator=g), torch.randn(3, generator=torch.Generator().manual_seed(5)))
    with pytest.raises(ValueError, match="'seed'"):
        seed_everything(-1)


def test_fit_checks_epochs():
    model = SmallCNN(width=2)
    with pytest.raises(ValueError, match="'epochs'"):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), _loader(), epochs=0, device="cpu")


def test_train_or_load_trains_once_per_config(tmp_path):
    calls = []

    def train():
        calls.append(1)
        model = nn.Linear(2, 2)
        return model, History(train_loss=[1.0, 0.5], seconds=[0.1, 0.1])

    state, info = train_or_load({"lr": 0.1}, train, name="demo", cache=tmp_path)
    assert not info["loaded"] and len(calls) == 1
    again, info2 = train_or_load({"lr": 0.1}, train, name="demo", cache=tmp_path)
    assert info2["loaded"] and len(calls) == 1
    assert info2["history"].train_loss == [1.0, 0.5]
    assert all(torch.equal(state[k], again[k]) for k in state)
    assert info["path"] == checkpoint_path({"lr": 0.1}, "demo", tmp_path)
    beside = json.loads(info["path"].with_suffix(".json").read_text())
    assert beside["config"] == {"lr": 0.1} and beside["history"] == info2["history"].to_dict()
    assert set(beside["trained_at"]) == {"git_commit", "device", "finished_at"}
    train_or_load({"lr": 0.2}, train, name="demo", cache=tmp_path)
    assert len(calls) == 2
    assert not list((tmp_path / "checkpoints").glob(".*.tmp"))


def test_train_or_load_accepts_a_module_or_a_state_dict_and_uses_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path))
    model = nn.Linear(3, 1)
    state, info = train_or_load({"k": 1}, lambda: model, name="module")
    assert info["history"] is None and info["path"].parent == tmp_path / "checkpoints"
    assert torch.equal(state["weight"], model.weight)
    state2, info2 = train_or_load({"k": 1}, lambda: {k: v * 2 for k, v in model.state_dict().items()}, name="state")
    assert not info2["loaded"] and torch.equal(state2["weight"], model.weight * 2)
    with pytest.raises(TypeError, match="train_fn"):
        train_or_load({"k": 2}, lambda: 42, name="bad")
    with pytest.raises(ValueError, match="'name'"):
        train_or_load({"k": 1}, lambda: model, name="a/b")


def test_train_or_load_retrains_over_a_damaged_checkpoint(tmp_path):
    path = checkpoint_path({"x": 1}, "demo", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    _, info = train_or_load({"x": 1}, lambda: nn.Linear(1, 1), name="demo", cache=tmp_path)
    assert not info["loaded"]
    _, info = train_or_load({"x": 1}, lambda: nn.Linear(1, 1), name="demo", cache=tmp_path)
    assert info["loaded"]


def test_history_round_trips_through_a_dict():
    h = History(
        train_loss=[1.0], train_acc=[0.5], seconds=[0.2], total_seconds=0.3, eval_loss=[0.9], eval_at=[1], steps=4
    )
    assert History.from_dict(json.loads(json.dumps(h.to_dict()))) == h
    steps = History(
        unit="step",
        train_loss=[2.0, 1.5],
        series={"grad_norm": [3.0, 2.0]},
        tokens=64,
        samples=4,
        parameters={"total": 10},
        logs=[{"loss": 2.0, "step": 1.0}, {"loss": 1.5, "step": 2.0}],
        total_seconds=2.0,
        started_at="2026-12-06T08:00:00+00:00",
    )
    assert History.from_dict(json.loads(json.dumps(steps.to_dict()))) == steps
    assert steps.tokens_per_second == 32.0  # no per-step seconds: over the total
    assert History.from_dict({"train_loss": [1.0]}).total_seconds == 0.0  # older dicts load
    # as saved before the trainers shared this type
    old = History.from_dict({"train_loss": [1.0], "epoch_seconds": [0.2], "eval_epochs": [1], "eval_loss": [0.9]})
    assert old.seconds == [0.2] and old.eval_at == [1] and old.final_eval_loss == 0.9


def test_a_history_refuses_an_unknown_unit():
    with pytest.raises(ParameterError, match="unit"):
        History(unit="batch")


def test_config_hash_is_order_independent():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_train_or_load_counts_loaded_and_trained_models_for_the_run_record(tmp_path):
    from reprobook.results import RunRecord

    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    train_or_load({"c": 1}, lambda: nn.Linear(1, 1), name="count", cache=tmp_path)
    train_or_load({"c": 1}, lambda: nn.Linear(1, 1), name="count", cache=tmp_path)
    train_or_load({"c": 2}, lambda: nn.Linear(1, 1), name="count", cache=tmp_path)
    assert rec.to_dict()["checkpoints"] == {"loaded": 1, "trained": 2}
    later = RunRecord("demo", profile="smoke", device="cpu", seed=0)  # counts start with the record
    train_or_load({"c": 2}, lambda: nn.Linear(1, 1), name="count", cache=tmp_path)
    assert later.to_dict()["checkpoints"] == {"loaded": 1, "trained": 0}


def test_a_multi_process_launch_trains_its_own_checkpoints(tmp_path, monkeypatch):
    single = train_or_load({"w": 1}, lambda: nn.Linear(1, 1), name="launch", cache=tmp_path)[1]
    monkeypatch.setenv("WORLD_SIZE", "4")
    launched = train_or_load({"w": 1}, lambda: nn.Linear(1, 1), name="launch", cache=tmp_path)[1]
    assert not launched["loaded"] and launched["path"] != single["path"] and launched["config"]["world_size"] == 4
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert train_or_load({"w": 1}, lambda: nn.Linear(1, 1), name="launch", cache=tmp_path)[1]["loaded"]


def test_two_processes_that_need_one_checkpoint_train_it_once(tmp_path):
    """A notebook run beside another that needs the same checkpoint waits for it and loads it."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        infos = pool.starmap(_train_slowly, [(str(tmp_path), i) for i in range(2)])
    assert sorted(loaded for loaded, _ in infos) == [False, True]
    assert len({value for _, value in infos}) == 1  # the second got the first one's weights
    assert len(list((tmp_path / "checkpoints").glob("*.pt"))) == 1


def _train_slowly(cache: str, _worker: int) -> tuple[bool, float]:
    def train():
        time.sleep(1.0)
        layer = nn.Linear(1, 1)
        return layer

    state, info = train_or_load({"shared": 1}, train, name="shared", cache=cache)
    return info["loaded"], float(state["weight"].sum())


def test_fixed_threads_makes_the_model_independent_of_the_runs_threads(tmp_path, monkeypatch):
    """A CPU training loop gives another model on one thread and on two (a reduction's last bits, grown over the
    steps: the RWP chapter alone and inside the book read different accuracies); with the chapter's
    ``train_threads`` fixed the model is the same whichever count the run has, and the count restored after."""
    from reprobook import profiles
    from reprobook.chapters.flat_minima import runs

    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.rand(64, 1, 28, 28, generator=g), torch.arange(64) % 10)

    def weights(run_threads: int, train_threads: int | None, cache: str) -> torch.Tensor:
        monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / cache))
        cfg = profiles.config("rwp", "tiny", train_threads=train_threads)
        torch.set_num_threads(run_threads)
        run = runs.train_one(cfg, "sam", 0, data, data, torch.device("cpu"), progress=False)
        assert torch.get_num_threads() == run_threads  # restored
        return torch.cat([v.flatten().double() for v in run.model.state_dict().values() if v.is_floating_point()])

    before = torch.get_num_threads()
    try:
        free = [weights(n, None, f"free{n}") for n in (1, 2)]
        fixed = [weights(n, 1, f"fixed{n}") for n in (1, 2)]
    finally:
        torch.set_num_threads(before)
    assert not torch.equal(free[0], free[1])  # the premise: the run's threads change the model
    assert torch.equal(fixed[0], fixed[1]) and torch.equal(fixed[0], free[0])
    with pytest.raises(ParameterError, match="train_threads"):
        with fixed_threads(0):
            pass


def test_the_ood_trainers_train_on_the_chapters_fixed_threads(tmp_path, monkeypatch):
    """The OoD classifier and the DDPM train on ``cfg.train_threads`` threads whatever the run has (the loop sees
    that count)."""
    from reprobook import profiles
    from reprobook.ood import classifier, diffusion

    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path))
    seen: list[int] = []

    class Stop(Exception):
        pass

    def record(*args, **kwargs):
        seen.append(torch.get_num_threads())
        raise Stop

    monkeypatch.setattr(classifier, "fit", record)
    monkeypatch.setattr(diffusion, "ddpm_training_step", record)
    data = TensorDataset(torch.rand(8, 1, 28, 28), torch.arange(8) % 10)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        for threads in (1, None):
            ood = profiles.config("mode_ensemble", "tiny", train_threads=threads)
            with pytest.raises(Stop):
                classifier.train_classifier(ood, data, seed=0, device=torch.device("cpu"), progress=False)
            with pytest.raises(Stop):
                diffusion.train_ddpm(profiles.config("ddos", "tiny", train_threads=threads), data.tensors[0])
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 1, 2, 2]


def test_train_or_load_trains_on_the_threads_it_is_given_and_keys_them(tmp_path):
    """``threads``: ``train_fn`` runs on that count and the count joins the key (a model trained on the run's
    threads is never served for it); None: the run's threads, and the key is the config's own."""
    seen: list[int] = []

    def train():
        seen.append(torch.get_num_threads())
        return nn.Linear(2, 1)

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        _, free = train_or_load({"a": 1}, train, name="t", cache=tmp_path)
        _, fixed = train_or_load({"a": 1}, train, name="t", cache=tmp_path, threads=1)
        _, again = train_or_load({"a": 1}, train, name="t", cache=tmp_path, threads=1)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen == [2, 1] and not free["loaded"] and not fixed["loaded"] and again["loaded"]
    assert "train_threads" not in free["config"] and fixed["config"]["train_threads"] == 1
    assert free["path"] != fixed["path"]
    with pytest.raises(ParameterError, match="train_threads"):
        train_or_load({"a": 1}, train, name="t", cache=tmp_path, threads=0)
