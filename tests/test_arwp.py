"""m-RWP, ARWP and m-ARWP (sharpness/arwp.py) and their σ schedule, against hand computations."""

import io

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from helpers import closure_for
from reprobook import profiles
from reprobook.chapters.flat_minima import runs as experiment
from reprobook.sharpness import (
    ARWP,
    RWP,
    CosineIncreasingSigma,
    adaptive_noise_divisor,
    filter_wise_noise,
    frozen_bn_stats,
)
from reprobook.sharpness.buffers import FlatBuffers
from reprobook.training import fit

# -- a linear least-squares model whose gradients are known in closed form ------------------------------
# L(W, b) = ½ ‖W x + b − t‖²,  ∂L/∂W = r xᵀ,  ∂L/∂b = r,  r = W x + b − t

X = torch.tensor([1.0, -2.0, 0.5])
T = torch.tensor([0.3, -0.7])


def _linear():
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.2, -0.1, 0.4], [0.5, 0.3, -0.2]]))
        layer.bias.copy_(torch.tensor([0.1, -0.3]))
    return layer


def _hand_grads(weight, bias):
    r = weight @ X + bias - T
    return torch.outer(r, X), r


def _recording_closure(layer, opt, seen):
    """The standard closure; it also records the weights each pass ran at."""

    def closure():
        opt.zero_grad()
        seen.append((layer.weight.detach().clone(), layer.bias.detach().clone()))
        loss = 0.5 * ((layer(X) - T) ** 2).sum()
        loss.backward()
        return loss

    return closure


def _divisor_by_hand(acc, eta, scaling, vector=False):
    # F_j: row sums of A for a matrix; every entry its own row for a vector
    f = acc if vector else acc.sum(dim=1, keepdim=True).expand_as(acc)
    return torch.sqrt(1 + eta * f) if scaling == "std" else (1 + eta * f) ** 0.25


@pytest.mark.parametrize("scaling", ["std", "var"])
def test_accumulator_and_adaptive_noise_match_a_hand_computation(scaling):
    sigma, eta, beta = 0.3, 2.0, 0.9
    layer = _linear()
    w0, b0 = layer.weight.detach().clone(), layer.bias.detach().clone()
    opt = ARWP(
        layer.parameters(),
        sigma=sigma,
        alpha=1.0,
        eta=eta,
        beta=beta,
        scaling=scaling,
        generator=torch.Generator().manual_seed(3),
        lr=0.0,
    )  # lr 0: the weights stay at w0
    seen = []
    for _ in range(3):
        opt.step(_recording_closure(layer, opt, seen))
    assert len(seen) == 3  # λ = 1: one pass per step, at w + ε

    gen = torch.Generator().manual_seed(3)  # the same draws, in the same order (weight, then bias)
    acc_w, acc_b = torch.zeros_like(w0), torch.zeros_like(b0)
    for step, (w_seen, b_seen) in enumerate(seen):
        z_w = filter_wise_noise(w0, sigma, gen)
        z_b = filter_wise_noise(b0, sigma, gen)
        if step > 0:  # the first step has no history: A = 0, no scaling
            z_w = z_w / _divisor_by_hand(acc_w, eta, scaling)
            z_b = z_b / _divisor_by_hand(acc_b, eta, scaling, vector=True)
        torch.testing.assert_close(w_seen - w0, z_w, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(b_seen - b0, z_b, rtol=1e-5, atol=1e-7)
        g_w, g_b = _hand_grads(w_seen, b_seen)  # the perturbed gradient g₁
        # A ← β A + g₁²  (no (1 − β) factor)
        acc_w, acc_b = beta * acc_w + g_w**2, beta * acc_b + g_b**2
    torch.testing.assert_close(opt.state[layer.weight]["accumulator"], acc_w)
    torch.testing.assert_close(opt.state[layer.bias]["accumulator"], acc_b)
    assert (acc_w.sum(1) > 0.1).all()  # the scaling was not a no-op


def test_std_and_var_scalings_differ_as_documented():
    acc = torch.tensor([[1.0, 3.0], [0.0, 0.0]])
    std = adaptive_noise_divisor(acc, 2.0, "std")
    var = adaptive_noise_divisor(acc, 2.0, "var")
    assert torch.allclose(std, torch.tensor([[3.0, 3.0], [1.0, 1.0]]))  # √(1 + 2·4) = 3
    assert torch.allclose(var, torch.sqrt(std))
    assert torch.equal(adaptive_noise_divisor(acc, 0.0, "std"), torch.ones_like(acc))


@pytest.mark.parametrize("alpha,eta", [(0.5, 0.0), (0.3, 1.0), (1.0, 1.0)])
def test_update_mixes_clean_and_perturbed_gradients(alpha, eta):
    layer = _linear()
    w0, b0 = layer.weight.detach().clone(), layer.bias.detach().clone()
    opt = ARWP(
        layer.parameters(), sigma=0.2, alpha=alpha, eta=eta, generator=torch.Generator().manual_seed(0), lr=1.0
    )  # plain SGD step of size 1: w ← w − g
    seen = []
    loss = opt.step(_recording_closure(layer, opt, seen))
    g0_w, g0_b = _hand_grads(w0, b0)
    g1_w, g1_b = _hand_grads(*seen[-1])
    if alpha < 1:
        assert len(seen) == 2 and torch.equal(seen[0][0], w0)  # clean pass first, then perturbed
        assert loss.item() == pytest.approx(0.5 * float(((w0 @ X + b0 - T) ** 2).sum()))
    else:
        assert len(seen) == 1 and not torch.equal(seen[0][0], w0)  # the only pass is perturbed
    # g = (1 − λ) g₀ + λ g₁
    torch.testing.assert_close(layer.weight.detach(), w0 - ((1 - alpha) * g0_w + alpha * g1_w))
    torch.testing.assert_close(layer.bias.detach(), b0 - ((1 - alpha) * g0_b + alpha * g1_b))


def _bn_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def test_mrwp_without_adaptivity_is_exactly_rwp():
    x, y = torch.randn(8, 1, 6, 6, generator=torch.Generator().manual_seed(1)), torch.tensor([0, 1, 2] * 2 + [0, 1])
    kwargs = dict(lr=0.1, momentum=0.9, weight_decay=1e-3)
    a, b = _bn_net(), _bn_net()
    opt_a = ARWP(a.parameters(), sigma=0.05, alpha=0.5, eta=0.0, generator=torch.Generator().manual_seed(5), **kwargs)
    opt_b = RWP(b.parameters(), gamma=0.05, alpha=0.5, generator=torch.Generator().manual_seed(5), **kwargs)
    for _ in range(4):
        loss_a = opt_a.step(closure_for(a, opt_a, x, y))
        loss_b = opt_b.step(closure_for(b, opt_b, x, y))
        assert torch.equal(loss_a, loss_b)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a[0].weight, _bn_net()[0].weight)  # it did train


def _train_steps(make_optimizer, steps=5, dtype=torch.float64, zero_to_none=True):
    """A few steps of an optimiser on the BatchNorm net; the weights and the optimiser after them."""
    gen = torch.Generator().manual_seed(2)
    model = _bn_net().to(dtype)
    opt = make_optimizer(model.parameters())
    for _ in range(steps):
        x, y = torch.randn(8, 1, 6, 6, generator=gen, dtype=dtype), torch.randint(0, 3, (8,), generator=gen)

        def closure():
            opt.zero_grad(set_to_none=zero_to_none)
            with frozen_bn_stats(model, enabled=opt.in_perturbed_pass):
                loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss

        opt.step(closure)
    return model, opt


OPTIMISERS = {
    "rwp": lambda ps: RWP(ps, gamma=0.05, alpha=0.5, generator=torch.Generator().manual_seed(5), lr=0.1, momentum=0.9),
    "arwp-std": lambda ps: ARWP(ps, sigma=0.05, alpha=1.0, eta=5.0, generator=torch.Generator().manual_seed(5), lr=0.1),
    "marwp-var": lambda ps: ARWP(
        ps,
        sigma=0.05,
        alpha=0.5,
        eta=5.0,
        scaling="var",
        generator=torch.Generator().manual_seed(5),
        lr=0.1,
        momentum=0.9,
    ),
}


@pytest.mark.parametrize("method", OPTIMISERS)
def test_flat_buffers_equal_the_per_parameter_computation(method, monkeypatch):
    """The flat path (one buffer per quantity, segment sums) and the per-parameter path (one tensor per
    parameter, the functions the chapter shows) give the same training in float64, to rounding."""
    flat_model, flat_opt = _train_steps(OPTIMISERS[method])
    assert flat_opt._flat_groups[0] is not None  # the flat path ran
    monkeypatch.setattr(FlatBuffers, "of", classmethod(lambda cls, params: None))
    model, opt = _train_steps(OPTIMISERS[method])
    assert opt._flat_groups[0] is None
    for (name, a), b in zip(flat_model.state_dict().items(), model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13, msg=name)
    if method != "rwp":
        for p, q in zip(flat_model.parameters(), model.parameters()):
            torch.testing.assert_close(
                flat_opt.state[p]["accumulator"], opt.state[q]["accumulator"], rtol=1e-12, atol=1e-13
            )
    assert not torch.equal(flat_model[0].weight, _bn_net()[0].weight.double())  # it did train


@pytest.mark.parametrize("method", OPTIMISERS)
def test_zeroing_gradients_in_place_or_to_none_trains_alike(method):
    """g₀ is kept without a copy; a closure whose zero_grad zeroes in place must not wipe it."""
    a, _ = _train_steps(OPTIMISERS[method], zero_to_none=True)
    b, _ = _train_steps(OPTIMISERS[method], zero_to_none=False)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name


def test_new_storage_for_a_parameter_rebuilds_the_flat_buffers_and_keeps_the_state():
    """Weights given new storage between steps (``p.data = ...``, as a device move does) are followed: the
    flat buffers are rebuilt, the accumulators carried over, and training goes on as if nothing happened."""

    def run(replace_storage):
        model = _bn_net()
        opt = OPTIMISERS["marwp-var"](model.parameters())
        gen = torch.Generator().manual_seed(4)
        for step in range(4):
            if replace_storage and step == 2:
                first = opt._flat_groups[0]
                for p in model.parameters():
                    p.data = p.data.clone()
            x, y = torch.randn(8, 1, 6, 6, generator=gen), torch.randint(0, 3, (8,), generator=gen)
            opt.step(closure_for(model, opt, x, y))
        if replace_storage:
            assert opt._flat_groups[0] is not first
        return model, opt

    a, opt_a = run(False)
    b, opt_b = run(True)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(opt_a.state[p]["accumulator"], opt_b.state[q]["accumulator"])


def test_segment_sums_of_the_flat_buffers():
    """The two 0/1 matrices sum a flat vector by filter (a 1-D parameter is one filter) and by row of F (each
    entry of a 1-D parameter its own row), and share their column indices and values."""
    net = _bn_net()
    params = list(net.parameters())
    flat = FlatBuffers(params)
    values = torch.randn(sum(p.numel() for p in params), dtype=flat.saved.dtype)
    parts = [v.view_as(p) for v, p in zip(values.split([p.numel() for p in params]), params)]
    by_filter = torch.cat([v.flatten(1).sum(1) if v.dim() > 1 else v.sum().view(1) for v in parts])
    by_row = torch.cat([v.flatten(1).sum(1) if v.dim() > 1 else v.view(-1) for v in parts])
    torch.testing.assert_close(flat.filter_sum @ values, by_filter)
    torch.testing.assert_close(flat.row_sum @ values, by_row)
    assert flat.row_sum.col_indices().data_ptr() == flat.filter_sum.col_indices().data_ptr()
    assert flat.row_sum.values().data_ptr() == flat.filter_sum.values().data_ptr()


def test_parameters_of_mixed_dtypes_take_the_per_parameter_path():
    layer = nn.Linear(3, 2)
    layer.bias.data = layer.bias.data.double()
    opt = ARWP(layer.parameters(), sigma=0.1, alpha=0.5, eta=1.0, generator=torch.Generator().manual_seed(0), lr=0.1)
    w0 = layer.weight.detach().clone()
    for _ in range(2):

        def closure():
            opt.zero_grad()
            loss = (layer.weight @ X).sum() + layer.bias.sum()
            loss.backward()
            return loss

        opt.step(closure)
    assert opt._flat_groups[0] is None and not torch.equal(layer.weight, w0)
    assert opt.state[layer.bias]["accumulator"].dtype == torch.float64


def test_batchnorm_statistics_follow_the_official_code():
    x, y = torch.randn(8, 1, 6, 6, generator=torch.Generator().manual_seed(1)), torch.tensor([0, 1, 2] * 2 + [0, 1])
    for alpha in (0.5, 1.0):
        model = _bn_net()
        conv_out = []
        model[0].register_forward_hook(lambda m, i, o: conv_out.append(o.detach()))
        opt = ARWP(
            model.parameters(), sigma=0.1, alpha=alpha, eta=0.1, generator=torch.Generator().manual_seed(0), lr=0.1
        )
        flags = []
        closure = closure_for(model, opt, x, y)

        def recording():
            flags.append(opt.in_perturbed_pass)
            return closure()

        opt.step(recording)
        bn = model[1]
        # μ_run ← (1 − m)·0 + m·μ_batch of the pass that is allowed to update it
        counted = conv_out[0]  # λ < 1: the clean pass at w; λ = 1: the only pass, at w + ε
        expected = bn.momentum * counted.mean(dim=(0, 2, 3))
        torch.testing.assert_close(bn.running_mean, expected)
        assert int(bn.num_batches_tracked) == 1
        assert flags == ([False, True] if alpha < 1 else [False])


def test_fit_steps_the_sigma_schedule_and_arwp_updates_batchnorm():
    data = TensorDataset(torch.randn(32, 1, 6, 6, generator=torch.Generator().manual_seed(0)), torch.arange(32) % 3)
    loader = DataLoader(data, batch_size=8)
    model = _bn_net()
    opt = ARWP(model.parameters(), sigma=0.001, alpha=1.0, eta=0.1, generator=torch.Generator().manual_seed(0), lr=0.05)
    schedule = CosineIncreasingSigma(opt, 0.001, 0.011, total_steps=2 * len(loader))
    fit(model, opt, loader, epochs=2, device="cpu", progress=False, step_scheduler=schedule)
    assert schedule.last_step == 2 * len(loader)
    assert opt.param_groups[0]["sigma"] == pytest.approx(0.011)
    assert int(model[1].num_batches_tracked) == 2 * len(loader)
    assert model[1].running_mean.abs().sum() > 0


def _train(model, opt, schedule, batches):
    for x, y in batches:
        opt.step(closure_for(model, opt, x, y))
        schedule.step()


def test_state_dict_round_trip_resumes_bit_exactly():
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, 1, 6, 6, generator=gen), torch.randint(0, 3, (8,), generator=gen)) for _ in range(6)]
    kwargs = dict(sigma=0.01, alpha=0.5, eta=0.1, beta=0.99, lr=0.1, momentum=0.9, weight_decay=1e-3)

    def new():
        model = _bn_net()
        opt = ARWP(model.parameters(), generator=torch.Generator().manual_seed(11), **kwargs)
        return model, opt, CosineIncreasingSigma(opt, 0.005, 0.02, total_steps=6)

    full_model, full_opt, full_sched = new()
    _train(full_model, full_opt, full_sched, batches)

    model, opt, sched = new()
    _train(model, opt, sched, batches[:3])
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=False)
    resumed_model, resumed_opt, resumed_sched = new()
    resumed_opt.generator.manual_seed(999)  # a different stream: the loaded state must replace it
    resumed_model.load_state_dict(saved["model"])
    resumed_opt.load_state_dict(saved["opt"])
    resumed_sched.load_state_dict(saved["sched"])
    assert resumed_opt.param_groups[0]["sigma"] == opt.param_groups[0]["sigma"]
    _train(resumed_model, resumed_opt, resumed_sched, batches[3:])
    for (name, a), b in zip(full_model.state_dict().items(), resumed_model.state_dict().values()):
        assert torch.equal(a, b), name
    for p, q in zip(full_model.parameters(), resumed_model.parameters()):
        assert torch.equal(full_opt.state[p]["accumulator"], resumed_opt.state[q]["accumulator"])


def test_load_state_dict_rejects_another_model():
    opt = ARWP(_bn_net().parameters())
    other = ARWP(nn.Linear(2, 2).parameters())
    with pytest.raises(ValueError, match="accumulators"):
        opt.load_state_dict(other.state_dict())


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(sigma=-0.1), "sigma"),
        (dict(alpha=1.5), "alpha"),
        (dict(alpha=-0.1), "alpha"),
        (dict(eta=-1.0), "eta"),
        (dict(beta=1.2), "beta"),
        (dict(scaling="variance"), "scaling"),
        (dict(generator=3), "generator"),
        (dict(base_optimizer="sgd"), "base_optimizer"),
    ],
)
def test_bad_parameters_name_themselves(kwargs, name):
    with pytest.raises(ValueError, match=f"'{name}'.*allowed"):
        ARWP(nn.Linear(2, 2).parameters(), **kwargs)


def test_step_needs_a_closure():
    with pytest.raises(ValueError, match="closure"):
        ARWP(nn.Linear(2, 2).parameters()).step()


def test_sigma_schedule_start_middle_end():
    opt = ARWP(nn.Linear(2, 2).parameters(), sigma=0.5)
    schedule = CosineIncreasingSigma(opt, 0.001, 0.011, total_steps=10)
    values = [opt.param_groups[0]["sigma"]]
    for _ in range(12):
        schedule.step()
        values.append(opt.param_groups[0]["sigma"])
    assert values[0] == pytest.approx(0.001)  # σ(0) = σ_start, set at construction
    assert values[5] == pytest.approx(0.006)  # σ(T/2) = (σ_start + σ_end) / 2
    assert values[10] == pytest.approx(0.011) and values[12] == pytest.approx(0.011)  # σ(T) = σ_end, then held
    assert values[1] - values[0] < values[5] - values[4]  # cosine: slow start, fastest in the middle
    assert all(a <= b for a, b in zip(values, values[1:]))


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(total_steps=0), "total_steps"),
        (dict(sigma_start=-1.0), "sigma_start"),
        (dict(sigma_end=-1.0), "sigma_end"),
    ],
)
def test_sigma_schedule_bad_parameters(kwargs, name):
    opt = ARWP(nn.Linear(2, 2).parameters())
    args = {**dict(sigma_start=0.001, sigma_end=0.011, total_steps=10), **kwargs}
    with pytest.raises(ValueError, match=f"'{name}'"):
        CosineIncreasingSigma(opt, **args)
    with pytest.raises(ValueError, match="'optimizer'"):
        CosineIncreasingSigma(torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), 0.001, 0.011, 10)


# -- the chapter's methods ----------------------------------------------------------------------------


def test_make_optimizer_builds_every_method_with_the_profile_settings():
    cfg = profiles.config("marwp", "smoke")
    params = list(nn.Linear(2, 2).parameters())
    got = {m: experiment.make_optimizer(m, params, cfg) for m in experiment.METHODS}
    assert isinstance(got["rwp"], RWP) and got["rwp"].param_groups[0]["gamma"] == cfg.gamma
    group = lambda m: got[m].param_groups[0]  # noqa: E731
    assert (group("mrwp")["sigma"], group("mrwp")["alpha"], group("mrwp")["eta"]) == (cfg.sigma, cfg.lam, 0.0)
    assert (group("marwp")["alpha"], group("marwp")["eta"]) == (cfg.lam, cfg.eta)
    assert group("marwp")["scaling"] == group("arwp")["scaling"] == cfg.scaling
    assert (group("arwp")["alpha"], group("arwp")["eta"]) == (1.0, cfg.eta)
    assert (group("prwp")["alpha"], group("prwp")["eta"]) == (1.0, 0.0)
    for m in ("prwp", "arwp"):
        schedule = experiment.make_sigma_schedule(m, got[m], cfg, total_steps=4)
        assert group(m)["sigma"] == cfg.arwp_sigma_start
        assert schedule.value(4) == pytest.approx(cfg.arwp_sigma_end)
    assert experiment.make_sigma_schedule("marwp", got["marwp"], cfg, 4) is None


def test_make_optimizer_errors_name_the_parameter():
    params = list(nn.Linear(2, 2).parameters())
    with pytest.raises(ValueError, match="'method'.*marwp"):
        experiment.make_optimizer("adam", params, profiles.config("marwp"))
    with pytest.raises(ValueError, match="'cfg'.*MARWPConfig"):
        experiment.make_optimizer("marwp", params, profiles.config("rwp"))


def test_cache_keys_are_shared_with_the_rwp_chapter_and_separate_the_new_settings():
    for profile in ("tiny", "smoke", "paper"):  # SGD and SAM are the RWP chapter's checkpoints in every profile
        rwp_cfg, cfg = profiles.config("rwp", profile), profiles.config("marwp", profile)
        for m in ("sgd", "sam"):
            same = experiment.training_config(rwp_cfg, m, 0, "d") == experiment.training_config(cfg, m, 0, "d")
            assert same == (profile != "paper"), (profile, m)  # the paper profiles differ: CIFAR-10 vs CIFAR-100
    cfg = profiles.config("marwp", "smoke")
    var = profiles.config("marwp", "smoke", scaling="var")
    assert experiment.training_config(var, "marwp", 0, "d") != experiment.training_config(cfg, "marwp", 0, "d")
    assert experiment.training_config(var, "mrwp", 0, "d") == experiment.training_config(cfg, "mrwp", 0, "d")
    keys = {m: experiment.training_config(cfg, m, 0, "d") for m in experiment.METHODS}
    assert len({str(sorted(k.items())) for k in keys.values()}) == len(keys)


def test_the_rwp_chapter_produces_what_the_marwp_chapter_needs():
    assert "sharpness-sgd-sam" in profiles.CHAPTERS["rwp"].produces
    assert "sharpness-sgd-sam" in profiles.CHAPTERS["marwp"].needs
    assert profiles.run_order(["sharpness/marwp", "sharpness/rwp"]) == ["sharpness/rwp", "sharpness/marwp"]


def test_checkpoint_keys_carry_a_fingerprint_of_the_training_code(monkeypatch):
    import importlib

    for module in experiment.TRAINING_CODE:
        importlib.import_module(module)  # every name is a module
    # the analysis can change without retraining
    assert "reprobook.chapters.flat_minima.analysis" not in experiment.TRAINING_CODE
    seen = {}

    def fake_train_or_load(config, train_fn, *, name, code=(), **kwargs):
        seen.update(config=config, name=name, code=code)
        raise RuntimeError("stop")

    monkeypatch.setattr(experiment, "train_or_load", fake_train_or_load)
    cfg = profiles.config("marwp", "tiny")
    data = TensorDataset(torch.rand(8, 1, 28, 28), torch.arange(8) % 10)
    with pytest.raises(RuntimeError, match="stop"):
        experiment.train_one(cfg, "arwp", 0, data, data, torch.device("cpu"))
    assert seen["code"] == experiment.TRAINING_CODE and seen["name"] == f"{cfg.model}-arwp"


def test_paper_profile_pins_the_papers_marwp_hyperparameters():
    cfg = profiles.config("marwp", "paper")
    # official scripts (github nblt/mARWP): run_mrwp.sh and run_rwp.sh, CIFAR-100, ResNet-18
    assert (cfg.dataset, cfg.model, cfg.model_kwargs) == ("cifar100", "resnet18_cifar", {"num_classes": 100})
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.weight_decay, cfg.momentum) == (200, 256, 0.1, 1e-3, 0.9)
    assert (cfg.sigma, cfg.lam, cfg.eta, cfg.beta) == (0.015, 0.5, 0.1, 0.99)
    assert (cfg.arwp_sigma_start, cfg.arwp_sigma_end, cfg.scaling) == (0.001, 0.011, "std")
    assert cfg.rho == 0.05 and cfg.augment
    assert set(cfg.methods) == {"sgd", "sam", "prwp", "mrwp", "arwp", "marwp"}


def test_smoke_profile_is_the_regime_the_chapters_describe():
    cfg = profiles.config("rwp", "smoke")
    assert cfg.n_seeds >= 5 and cfg.epochs * cfg.n_train / cfg.batch_size >= 200  # many steps on a small subset
    assert cfg.n_train <= 1000 and cfg.budget_seconds == 280
    marwp = profiles.config("marwp", "smoke")
    # the same data, training and convergence rule in both chapters: SGD and SAM are shared checkpoints
    assert (cfg.epochs, cfg.n_train, cfg.batch_size, cfg.fit_loss, cfg.fit_accuracy) == (
        marwp.epochs,
        marwp.n_train,
        marwp.batch_size,
        marwp.fit_loss,
        marwp.fit_accuracy,
    )
