"""SAM, RWP, frozen BatchNorm statistics, and the flatness measures, against hand computations."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from reprobook.checks import ParameterError
from reprobook.sharpness import (
    RWP,
    SAM,
    filter_normalized_direction,
    filter_normalized_sharpness,
    filter_wise_noise,
    frozen_bn_stats,
    hessian_lambda_max,
    loss_along_direction,
)
from reprobook.sharpness.rwp import filter_wise_noises


def _closure(model, opt, x, y, loss_fn=nn.functional.cross_entropy, bn_aware=True):
    def closure():
        opt.zero_grad()
        with frozen_bn_stats(model, enabled=bn_aware and getattr(opt, "in_perturbed_pass", False)):
            loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    return closure


# -- RWP noise ---------------------------------------------------------------------------------------


def test_noise_is_filter_wise_with_the_right_scale():
    torch.manual_seed(0)
    weight = torch.randn(64, 3, 3, 3) * torch.linspace(0.1, 3.0, 64).view(-1, 1, 1, 1)  # very different filter norms
    gamma, gen = 0.01, torch.Generator().manual_seed(1)
    draws = torch.stack([filter_wise_noise(weight, gamma, generator=gen) for _ in range(2000)])
    empirical = draws.flatten(2).std(dim=(0, 2))
    expected = gamma * weight.flatten(1).norm(dim=1)
    assert torch.allclose(empirical, expected, rtol=0.03)
    assert expected.max() / expected.min() > 10  # the scales really differ between filters
    assert draws.mean().abs() < 0.01 * expected.mean()


def test_noise_of_a_vector_uses_its_whole_norm():
    bias = torch.tensor([3.0, 4.0])  # ‖b‖ = 5
    gen = torch.Generator().manual_seed(0)
    draws = torch.stack([filter_wise_noise(bias, 0.1, generator=gen) for _ in range(20000)])
    assert draws.std(dim=0) == pytest.approx(torch.tensor([0.5, 0.5]), rel=0.03)


def test_batched_noise_is_the_one_parameter_noise_of_one_draw():
    """filter_wise_noises draws z once for all the parameters (split in their order) and scales each piece as
    filter_wise_noise does; for a single parameter the two are the same draw."""
    torch.manual_seed(0)
    params = [
        torch.randn(5, 3, 2, 2, dtype=torch.float64),
        torch.randn(4, dtype=torch.float64),
        torch.randn(3, 7, dtype=torch.float64),
        torch.tensor(2.0, dtype=torch.float64),
    ]
    batched = filter_wise_noises(params, 0.05, torch.Generator().manual_seed(3))
    z = torch.randn(sum(p.numel() for p in params), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for p, e, zp in zip(params, batched, z.split([p.numel() for p in params])):
        # σ_j = γ ‖W_j‖₂ per output filter (the whole norm for a vector or a scalar)
        norms = p.flatten(1).norm(dim=1).view(-1, *([1] * (p.dim() - 1))) if p.dim() > 1 else p.norm()
        torch.testing.assert_close(e, 0.05 * norms * zp.view(p.shape), rtol=1e-13, atol=0)
    for p in params:
        torch.testing.assert_close(
            filter_wise_noises([p], 0.05, torch.Generator().manual_seed(3))[0],
            filter_wise_noise(p, 0.05, torch.Generator().manual_seed(3)),
            rtol=1e-13,
            atol=0,
        )
    mixed = filter_wise_noises([params[0].float(), params[1]], 0.05, torch.Generator().manual_seed(3))
    assert [e.dtype for e in mixed] == [torch.float32, torch.float64]  # drawn in float64, each in its own dtype
    with pytest.raises(ParameterError, match="'gamma'"):
        filter_wise_noises(params, -1.0)


def test_noise_checks_gamma():
    with pytest.raises(ValueError, match="'gamma'.*>= 0"):
        filter_wise_noise(torch.ones(3), -0.1)


def test_noise_zero_gamma_and_determinism():
    w = torch.randn(4, 5)
    assert torch.equal(filter_wise_noise(w, 0.0), torch.zeros_like(w))
    a = filter_wise_noise(w, 0.1, generator=torch.Generator().manual_seed(7))
    b = filter_wise_noise(w, 0.1, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


# -- SAM ---------------------------------------------------------------------------------------------


def test_sam_step_on_a_quadratic_matches_the_hand_computation():
    A = torch.tensor([[3.0, 0.5], [0.5, 1.0]])
    w0 = torch.tensor([1.0, -2.0])
    w = nn.Parameter(w0.clone())
    rho, lr = 0.1, 0.05
    opt = SAM([w], torch.optim.SGD, rho=rho, lr=lr)

    def closure():
        opt.zero_grad()
        loss = 0.5 * w @ A @ w  # L(w) = ½ wᵀAw, ∇L = Aw
        loss.backward()
        return loss

    opt.step(closure)
    g = A @ w0
    eps = rho * g / g.norm()
    expected = w0 - lr * (A @ (w0 + eps))
    assert torch.allclose(w.detach(), expected, atol=1e-6)


def test_adaptive_sam_step_matches_the_hand_computation():
    A = torch.tensor([[2.0, 0.3], [0.3, 1.5]])
    w0 = torch.tensor([0.5, -1.5])
    w = nn.Parameter(w0.clone())
    rho, lr = 0.2, 0.1
    opt = SAM([w], rho=rho, adaptive=True, lr=lr)

    def closure():
        opt.zero_grad()
        loss = 0.5 * w @ A @ w
        loss.backward()
        return loss

    opt.step(closure)
    g = A @ w0
    eps = rho * w0**2 * g / (w0.abs() * g).norm()  # ε̂ = ρ w² ⊙ g / ‖|w| ⊙ g‖
    assert torch.allclose(w.detach(), w0 - lr * (A @ (w0 + eps)), atol=1e-6)


def test_sam_returns_the_clean_loss_and_flags_the_perturbed_pass():
    model, x, y = _tiny_problem()
    opt = SAM(model.parameters(), rho=0.5, lr=0.1)
    flags, losses = [], []

    def closure():
        flags.append(opt.in_perturbed_pass)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        losses.append(loss.item())
        return loss

    returned = opt.step(closure)
    assert flags == [False, True] and not opt.in_perturbed_pass
    assert returned.item() == losses[0] and losses[1] != losses[0]


def test_two_pass_optimisers_restore_the_flag_when_the_closure_fails():
    w = nn.Parameter(torch.ones(2))
    for opt in (SAM([w], lr=0.1), RWP([w], gamma=0.1, lr=0.1)):
        calls = []

        def closure():
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("boom")
            opt.zero_grad()
            loss = (w**2).sum()
            loss.backward()
            return loss

        with pytest.raises(RuntimeError, match="boom"):
            opt.step(closure)
        assert not opt.in_perturbed_pass


def test_sam_needs_a_closure_and_a_positive_rho():
    w = nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="'rho'"):
        SAM([w], rho=0.0, lr=0.1)
    with pytest.raises(ParameterError, match="'closure'.*closure"):
        SAM([w], lr=0.1).step()
    with pytest.raises(ValueError, match="'adaptive'"):
        SAM([w], adaptive="yes", lr=0.1)
    with pytest.raises(ValueError, match="'base_optimizer'"):
        SAM([w], base_optimizer="sgd", lr=0.1)


# -- RWP ---------------------------------------------------------------------------------------------


def _tiny_problem(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    return model, x, y


def test_rwp_with_zero_noise_is_sgd():
    model, x, y = _tiny_problem()
    twin = copy.deepcopy(model)
    rwp = RWP(model.parameters(), torch.optim.SGD, gamma=0.0, alpha=0.5, lr=0.1, momentum=0.9)
    sgd = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        rwp.step(_closure(model, rwp, x, y))
        sgd.step(_closure(twin, sgd, x, y))
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_rwp_mixes_the_clean_and_perturbed_gradients():
    model, x, y = _tiny_problem()
    w0 = [p.detach().clone() for p in model.parameters()]
    gamma, alpha, lr = 0.05, 0.3, 0.1
    opt = RWP(
        model.parameters(), torch.optim.SGD, gamma=gamma, alpha=alpha, lr=lr, generator=torch.Generator().manual_seed(5)
    )
    opt.step(_closure(model, opt, x, y))

    # by hand: the same draw z ~ N(0, I) for all the entries, from the same generator, split in parameter order
    ref = copy.deepcopy(model)
    for p, w in zip(ref.parameters(), w0):
        p.data.copy_(w)
    z = torch.randn(sum(w.numel() for w in w0), generator=torch.Generator().manual_seed(5))
    noise = [
        gamma
        * (w.flatten(1).norm(dim=1).view(-1, *([1] * (w.dim() - 1))) if w.dim() > 1 else w.norm())
        * part.view(w.shape)
        for w, part in zip(w0, z.split([w.numel() for w in w0]))
    ]
    g0 = torch.autograd.grad(nn.functional.cross_entropy(ref(x), y), list(ref.parameters()))
    with torch.no_grad():
        for p, e in zip(ref.parameters(), noise):
            p.add_(e)
    g1 = torch.autograd.grad(nn.functional.cross_entropy(ref(x), y), list(ref.parameters()))
    for p, w, a, b in zip(model.parameters(), w0, g0, g1):
        expected = w - lr * ((1 - alpha) * a + alpha * b)
        assert torch.allclose(p.detach(), expected, atol=1e-6)


def test_rwp_checks_its_arguments():
    w = nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="'alpha'"):
        RWP([w], alpha=1.5, lr=0.1)
    with pytest.raises(ValueError, match="'gamma'"):
        RWP([w], gamma=-0.1, lr=0.1)
    with pytest.raises(ValueError, match="'generator'"):
        RWP([w], generator=0, lr=0.1)
    with pytest.raises(ValueError, match="closure"):
        RWP([w], lr=0.1).step()


def test_rwp_state_dict_carries_the_generator_state():
    w = nn.Parameter(torch.ones(3))
    gen = torch.Generator().manual_seed(11)
    opt = RWP([w], gamma=0.1, lr=0.1, generator=gen)
    state = opt.state_dict()
    expected = torch.randn(4, generator=gen)  # advances gen
    opt.load_state_dict(state)
    assert torch.equal(torch.randn(4, generator=gen), expected)
    assert state["base"]["param_groups"][0]["gamma"] == 0.1  # the hyper-parameters travel with the base state


@pytest.mark.parametrize("method", ["sam", "rwp"])
def test_state_dict_round_trip_resumes_identically(method):
    def make(model):
        if method == "sam":
            return SAM(model.parameters(), torch.optim.SGD, rho=0.05, lr=0.1, momentum=0.9)
        return RWP(
            model.parameters(),
            torch.optim.SGD,
            gamma=0.05,
            lr=0.1,
            momentum=0.9,
            generator=torch.Generator().manual_seed(3),
        )

    model, x, y = _tiny_problem()
    opt = make(model)
    for _ in range(3):
        opt.step(_closure(model, opt, x, y))
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    for _ in range(2):
        opt.step(_closure(model, opt, x, y))

    resumed, _, _ = _tiny_problem(seed=99)
    resumed.load_state_dict(saved_model)
    opt2 = make(resumed)
    opt2.load_state_dict(saved_opt)
    for _ in range(2):
        opt2.step(_closure(resumed, opt2, x, y))
    for a, b in zip(model.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_schedulers_drive_the_shared_learning_rate():
    model, x, y = _tiny_problem()
    opt = RWP(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
    opt.step(_closure(model, opt, x, y))
    sched.step()
    assert opt.base_optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


# -- BatchNorm ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["sam", "rwp"])
def test_bn_statistics_move_only_on_the_clean_pass(method):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    bn = model[1]
    x, y = torch.randn(32, 4) * 3 + 1, torch.randint(0, 3, (32,))
    opt = (
        SAM(model.parameters(), rho=0.5, lr=0.0)
        if method == "sam"
        else RWP(model.parameters(), gamma=0.5, lr=0.0, generator=torch.Generator().manual_seed(0))
    )
    # what one clean pass alone does to the buffers
    twin = copy.deepcopy(model)
    twin(x)
    opt.step(_closure(model, opt, x, y))
    assert torch.equal(bn.running_mean, twin[1].running_mean)
    assert torch.equal(bn.running_var, twin[1].running_var)
    assert int(bn.num_batches_tracked) == 1
    # without the freeze a forward pass in train mode moves them
    before = bn.running_mean.clone()
    with frozen_bn_stats(model):
        model(x + 1)
    assert torch.equal(bn.running_mean, before)
    model(x + 1)
    assert not torch.equal(bn.running_mean, before)


def test_frozen_bn_stats_are_bit_identical_even_when_the_pass_overflows():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 2),
        nn.BatchNorm1d(2, momentum=None),
    )  # cumulative average: momentum None
    model(torch.randn(8, 2, 6, 6))  # non-trivial buffers
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "tracked" in k}
    with frozen_bn_stats(model):
        out = model(torch.full((8, 2, 6, 6), float("inf")))
        assert not torch.isfinite(out).all()
    with frozen_bn_stats(model):
        model(torch.randn(8, 2, 6, 6)).sum().backward()  # the backward pass after the block works
    after = model.state_dict()
    for k, v in before.items():
        assert torch.equal(after[k], v), k  # bit-identical (momentum = 0 would give 0·NaN = NaN here)
    assert model[1].momentum == 0.1 and model[5].momentum is None
    with frozen_bn_stats(model, enabled=False):
        model(torch.randn(8, 2, 6, 6))
    assert not torch.equal(model[1].running_mean, before["1.running_mean"])


# -- flatness measures -------------------------------------------------------------------------------


def test_filter_normalized_direction_matches_filter_norms():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 5, 3), nn.BatchNorm2d(5), nn.Flatten(), nn.Linear(5 * 4 * 4, 2))
    direction = filter_normalized_direction(model, generator=torch.Generator().manual_seed(1))
    for p, d in zip(model.parameters(), direction):
        assert d.shape == p.shape
        if p.dim() > 1:
            assert torch.allclose(d.flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1), rtol=1e-5)
        else:
            assert torch.count_nonzero(d) == 0


def test_loss_along_direction_restores_the_model():
    model, x, y = _tiny_problem()
    model.train()
    before = copy.deepcopy(model.state_dict())
    direction = filter_normalized_direction(model, generator=torch.Generator().manual_seed(0))
    losses = loss_along_direction(model, direction, nn.CrossEntropyLoss(), (x, y), np.linspace(-1, 1, 5))
    assert losses.shape == (5,)
    assert losses[2] == pytest.approx(nn.functional.cross_entropy(model(x), y).item(), rel=1e-5)
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def _full_hessian(model, x, y):
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])

    def loss_of(vector):
        params, i = {}, 0
        for name, shape in zip(names, shapes):
            n = int(np.prod(shape))
            params[name] = vector[i : i + n].view(shape)
            i += n
        return nn.functional.cross_entropy(torch.func.functional_call(model, params, (x,)), y)

    return torch.autograd.functional.hessian(loss_of, flat)


def test_lanczos_matches_the_largest_eigenvalue_of_the_full_hessian():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()  # 26 parameters
    x, y = torch.randn(20, 3, dtype=torch.float64), torch.randint(0, 2, (20,))
    eigenvalues = torch.linalg.eigvalsh(_full_hessian(model, x, y))
    assert eigenvalues.min() < 0 < eigenvalues.max()  # not at a minimum: "largest" means algebraic, not magnitude
    found = hessian_lambda_max(
        model, nn.CrossEntropyLoss(), [(x[:10], y[:10]), (x[10:], y[10:])], tol=1e-8, max_matvecs=500, ncv=10, seed=0
    )
    assert found.converged and found.residual < 1e-6
    assert found.value == pytest.approx(eigenvalues.max().item(), rel=1e-6)
    assert 2 <= found.matvecs <= 500


def test_lanczos_reports_when_it_did_not_converge():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4))
    x, y = torch.randn(32, 6), torch.randint(0, 4, (32,))
    stopped = hessian_lambda_max(model, nn.CrossEntropyLoss(), (x, y), tol=1e-12, max_matvecs=4, ncv=3)
    assert not stopped.converged
    assert stopped.matvecs <= 8
    full = hessian_lambda_max(model, nn.CrossEntropyLoss(), (x, y), tol=1e-6, max_matvecs=400, ncv=12)
    assert full.converged and full.residual < stopped.residual or np.isnan(stopped.residual)


def test_lanczos_returns_an_eigenvector_and_restores_the_mode():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2)).double()
    x, y = torch.randn(12, 2, dtype=torch.float64), torch.randint(0, 2, (12,))
    model.train()
    found = hessian_lambda_max(
        model, nn.CrossEntropyLoss(), (x, y), tol=1e-10, max_matvecs=300, ncv=8, return_vector=True
    )
    v = found.vector
    assert [t.shape for t in v] == [p.shape for p in model.parameters()]
    params = list(model.parameters())
    grads = torch.autograd.grad(nn.functional.cross_entropy(model(x), y), params, create_graph=True)
    hv = torch.autograd.grad(sum((g * u).sum() for g, u in zip(grads, v)), params)
    flat_hv, flat_v = torch.cat([h.flatten() for h in hv]), torch.cat([u.flatten() for u in v])
    assert torch.allclose(flat_hv, found.value * flat_v, atol=1e-6 * abs(found.value))  # H v = λ v
    assert model.training


def _bn_scale_twin(c: float):
    """A conv–BN–ReLU–head network and a twin whose convolution is c times larger, with the BatchNorm running
    statistics scaled to match: in eval mode the two compute the same function."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)
    ).double()
    x = torch.randn(24, 1, 6, 6, dtype=torch.float64)
    net.train()
    for _ in range(3):
        net(x)  # non-trivial running statistics
    net.eval()
    twin = copy.deepcopy(net)
    with torch.no_grad():
        twin[0].weight.mul_(c)
        twin[1].running_mean.mul_(c)
        twin[1].running_var.mul_(c * c)
        twin[1].eps *= c * c  # BN divides by √(var + eps): scale eps too, so the function is exactly the same
    return net, twin, x, torch.randint(0, 3, (24,))


def test_filter_normalized_sharpness_is_scale_invariant_and_lambda_max_is_not():
    net, twin, x, y = _bn_scale_twin(3.0)
    torch.testing.assert_close(net(x), twin(x))  # the same function
    loss = nn.CrossEntropyLoss()
    sharp = [
        filter_normalized_sharpness(
            m, loss, (x, y), radius=0.2, n_directions=4, generator=torch.Generator().manual_seed(5)
        )
        for m in (net, twin)
    ]
    assert sharp[0].value == pytest.approx(sharp[1].value, rel=1e-9)
    assert abs(sharp[0].value) > 1e-4 and sharp[0].n_directions == 4 and sharp[0].std > 0  # not trivially equal
    lam = [hessian_lambda_max(m, loss, (x, y), tol=1e-8, max_matvecs=400, ncv=10) for m in (net, twin)]
    assert lam[0].converged and lam[1].converged
    assert lam[0].value != pytest.approx(lam[1].value, rel=0.05)  # λ_max changed, the function did not


def test_filter_normalized_sharpness_by_hand():
    model, x, y = _tiny_problem()
    loss = nn.CrossEntropyLoss()
    got = filter_normalized_sharpness(
        model, loss, (x, y), radius=0.3, n_directions=3, generator=torch.Generator().manual_seed(2)
    )
    gen = torch.Generator().manual_seed(2)
    base = loss(model(x), y).item()
    rises = []
    for _ in range(3):
        d = filter_normalized_direction(model, generator=gen)
        rises.append(float(loss_along_direction(model, d, loss, (x, y), [0.3])[0]) - base)
    assert got.value == pytest.approx(np.mean(rises), rel=1e-6)
    assert got.loss == pytest.approx(base, rel=1e-6)
    with pytest.raises(ParameterError, match="'radius'"):
        filter_normalized_sharpness(model, loss, (x, y), radius=0.0, n_directions=3)
    with pytest.raises(ParameterError, match="'n_directions'"):
        filter_normalized_sharpness(model, loss, (x, y), radius=0.1, n_directions=0)


def test_loss_along_direction_accepts_loader_batches_and_keeps_bn_buffers():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    model(x)
    before = copy.deepcopy(model.state_dict())
    direction = filter_normalized_direction(model, generator=torch.Generator().manual_seed(0))
    ts = [-0.5, 0.0, 0.5]
    one = loss_along_direction(model, direction, nn.CrossEntropyLoss(), [x, y], ts)  # a DataLoader batch is a list
    many = loss_along_direction(model, direction, nn.CrossEntropyLoss(), [(x[:16], y[:16]), (x[16:], y[16:])], ts)
    assert np.allclose(one, many, rtol=1e-5)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    with pytest.raises(ValueError, match="'direction'"):
        loss_along_direction(model, direction[:-1], nn.CrossEntropyLoss(), (x, y), ts)


def test_lanczos_checks_its_arguments():
    model, x, y = _tiny_problem()
    for kwargs, name in ((dict(max_matvecs=1), "max_matvecs"), (dict(tol=0.0), "tol"), (dict(ncv=2), "ncv")):
        with pytest.raises(ParameterError, match=f"'{name}'"):
            hessian_lambda_max(model, nn.CrossEntropyLoss(), (x, y), **kwargs)
    with pytest.raises(ParameterError, match="'data'"):
        hessian_lambda_max(model, nn.CrossEntropyLoss(), [])
