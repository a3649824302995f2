"""The batched (``torch._foreach_*``) steps of RWP and of the ARWP family against reference copies of the
per-parameter steps they replaced, in float64: same generator, same batches, same updates.

The reference classes below keep the step methods as they were before the rewrite (one loop over the
parameter tensors, a dozen small operations each), verbatim but for the ``Reference`` names and the
draw: z is drawn once per parameter group for all its entries (:func:`one_draw_noises`), as the
package draws it since its flat buffers. They live here, not in the package, so that the package has one
implementation and the tests a fixed yardstick.
"""

import contextlib

import pytest
import torch
from torch import nn

from helpers import closure_for
from reprobook.benchmarks.step_cost import count_operator_calls
from reprobook.models import SmallCNN
from reprobook.sharpness import ARWP, RWP, CosineIncreasingSigma
from reprobook.sharpness.arwp import adaptive_noise_divisor
from reprobook.sharpness.base import Closure


def one_draw_noises(params, gamma, generator):
    """ε for each parameter: z ~ N(0, I) drawn once for all the entries, split in parameter order, and
    scaled filter-wise as ``filter_wise_noise`` scales it (σ_j = γ ‖W_j‖₂; a vector's whole norm)."""
    z = torch.randn(sum(p.numel() for p in params), generator=generator, dtype=params[0].dtype)
    noises = {}
    for p, part in zip(params, z.split([p.numel() for p in params])):
        w = p.detach()
        sigma = gamma * (w.flatten(1).norm(dim=1).view(-1, *([1] * (w.dim() - 1))) if w.dim() > 1 else w.norm())
        noises[p] = sigma * part.view(w.shape)
    return noises


class ReferenceRWP(RWP):
    """RWP with the per-parameter step it had before the batched rewrite."""

    def step(self, closure: Closure | None = None) -> torch.Tensor:  # type: ignore[override]
        closure = self._check_closure(closure, "ReferenceRWP")
        # g₀ = ∇L(w), the clean pass
        loss = closure()
        clean: dict[torch.Tensor, torch.Tensor] = {}
        saved: dict[torch.Tensor, torch.Tensor] = {}
        with torch.no_grad():
            for group in self.param_groups:
                with_grad = [p for p in group["params"] if p.grad is not None]
                noises = one_draw_noises(with_grad, group["gamma"], self.generator) if with_grad else {}
                for p in with_grad:
                    clean[p] = p.grad.clone()
                    saved[p] = p.detach().clone()
                    # w ← w + ε,  ε_j ~ N(0, (γ‖W_j‖₂)² I)
                    p.add_(noises[p])
        # g₁ = ∇L(w + ε), the perturbed pass (the closure overwrites p.grad)
        with self._perturbed():
            closure()
        with torch.no_grad():
            for group, p in self._params_with_grad_or_saved(saved):
                # w ← w  (the saved copy: bit-exact)
                p.copy_(saved[p])
                g1 = p.grad if p.grad is not None else torch.zeros_like(p)
                alpha = group["alpha"]
                # g = (1 − α) g₀ + α g₁
                p.grad = (1 - alpha) * clean[p] + alpha * g1
        # w ← base_step(w, g)
        self.base_optimizer.step()
        return loss

    def _params_with_grad_or_saved(self, saved: dict[torch.Tensor, torch.Tensor]):
        for group in self.param_groups:
            for p in group["params"]:
                if p in saved:
                    yield group, p


class ReferenceARWP(ARWP):
    """m-RWP / ARWP / m-ARWP with the per-parameter step they had before the batched rewrite."""

    def step(self, closure: Closure | None = None) -> torch.Tensor:  # type: ignore[override]
        closure = self._check_closure(closure, "ReferenceARWP")
        mixed = self._needs_clean_pass()
        clean: dict[torch.Tensor, torch.Tensor] = {}
        loss = None
        if mixed:
            # g₀ = ∇L(w), the clean pass (BatchNorm running statistics update here)
            loss = closure()
            targets = list(self._params_with_grad())
            for _, p in targets:
                clean[p] = p.grad.detach().clone()
        else:
            targets = [(group, p) for group, p in self._all_params() if p.requires_grad]
        saved: dict[torch.Tensor, torch.Tensor] = {}
        noises = {}
        for group in self.param_groups:  # one draw per group, for its parameters in order
            mine = [p for g, p in targets if g is group]
            if mine:
                noises.update(one_draw_noises(mine, group["sigma"], self.generator))
        with torch.no_grad():
            for group, p in targets:
                saved[p] = p.detach().clone()
                # ε_j ~ N(0, (σ‖W_j‖₂)² I)
                noise = noises[p]
                accumulator = self.state[p].get("accumulator")
                if accumulator is not None and group["eta"] > 0:
                    # ε_j ← ε_j / √(1 + η F_j)   (scaling="var": / (1 + η F_j)^{1/4})
                    noise = noise / adaptive_noise_divisor(accumulator, group["eta"], group["scaling"])
                # w ← w + ε
                p.add_(noise)
        # g₁ = ∇L(w + ε), the perturbed pass; with λ = 1 it is the only pass and BatchNorm statistics update
        with self._perturbed() if mixed else contextlib.nullcontext():
            perturbed_loss = closure()
        with torch.no_grad():
            for group, p in targets:
                # w ← w  (the saved copy: bit-exact)
                p.copy_(saved[p])
                g1 = p.grad if p.grad is not None else torch.zeros_like(p)
                # A ← β A + g₁²
                accumulator = self.state[p].get("accumulator")
                if accumulator is None:
                    accumulator = self.state[p]["accumulator"] = torch.zeros_like(p)
                accumulator.mul_(group["beta"]).addcmul_(g1, g1)
                if mixed:
                    alpha = group["alpha"]
                    # g = (1 − λ) g₀ + λ g₁
                    p.grad = (1 - alpha) * clean[p] + alpha * g1
                else:
                    # g = g₁
                    p.grad = g1
        # w ← base_step(w, g)
        self.base_optimizer.step()
        return loss if mixed else perturbed_loss


# -- the comparisons ----------------------------------------------------------------------------------


class WithIdleLayer(nn.Module):
    """A float64 SmallCNN with BatchNorm, plus a layer the forward pass never uses (its gradient stays None)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = SmallCNN(in_channels=1, num_classes=3, width=4)
        self.idle = nn.Linear(2, 2)
        self.double()

    def forward(self, x):
        return self.net(x)


def _batches(n=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(16, 1, 10, 10, generator=g, dtype=torch.float64), torch.randint(0, 3, (16,), generator=g))
        for _ in range(n)
    ]


def _groups(model, two_groups, **first):
    """All parameters in one group, or the convolutions apart from the rest (with their own σ or γ)."""
    if not two_groups:
        return model.parameters()
    convs = [p for n, p in model.named_parameters() if p.dim() == 4]
    rest = [p for n, p in model.named_parameters() if p.dim() != 4]
    return [{"params": convs, **first}, {"params": rest}]


def _run(make, steps_with_schedule=False):
    model = WithIdleLayer()
    opt = make(model)
    schedule = CosineIncreasingSigma(opt, 0.01, 0.05, total_steps=5) if steps_with_schedule else None
    losses = []
    for x, y in _batches():
        losses.append(opt.step(closure_for(model, opt, x, y)))
        if schedule is not None:
            schedule.step()
    return model, opt, torch.stack(losses)


def _assert_same_run(new, reference):
    (model_a, opt_a, loss_a), (model_b, opt_b, loss_b) = new, reference
    torch.testing.assert_close(loss_a, loss_b, rtol=1e-13, atol=1e-15)
    for (name, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-15, msg=name)
    state_a, state_b = opt_a.state_dict(), opt_b.state_dict()
    for key, buffer in state_a["base"]["state"].items():  # momentum buffers
        torch.testing.assert_close(
            buffer["momentum_buffer"], state_b["base"]["state"][key]["momentum_buffer"], rtol=1e-13, atol=1e-15
        )
    for a, b in zip(state_a.get("accumulators", []), state_b.get("accumulators", [])):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-15)
    assert torch.equal(opt_a.generator.get_state(), opt_b.generator.get_state())  # the same draws were made
    assert not torch.equal(model_a.state_dict()["net.head.weight"], WithIdleLayer().state_dict()["net.head.weight"])


@pytest.mark.parametrize("two_groups", [False, True])
def test_rwp_step_matches_the_per_parameter_reference(two_groups):
    def make(cls):
        return lambda model: cls(
            _groups(model, two_groups, gamma=0.1),
            gamma=0.05,
            alpha=0.4,
            lr=0.1,
            momentum=0.9,
            weight_decay=1e-3,
            generator=torch.Generator().manual_seed(3),
        )

    _assert_same_run(_run(make(RWP)), _run(make(ReferenceRWP)))


@pytest.mark.parametrize(
    "alpha,eta,scaling,two_groups",
    [
        (1.0, 0.5, "std", False),  # ARWP
        (1.0, 2.0, "var", True),
        (0.5, 0.1, "std", False),  # m-ARWP
        (0.3, 1.0, "var", True),
        (0.5, 0.0, "std", False),  # m-RWP
        (1.0, 0.0, "std", False),  # the perturbed-only RWP
    ],
)
def test_arwp_family_step_matches_the_per_parameter_reference(alpha, eta, scaling, two_groups):
    def make(cls):
        return lambda model: cls(
            _groups(model, two_groups, sigma=0.03),
            sigma=0.02,
            alpha=alpha,
            eta=eta,
            beta=0.9,
            scaling=scaling,
            lr=0.1,
            momentum=0.9,
            weight_decay=1e-3,
            generator=torch.Generator().manual_seed(4),
        )

    schedule = alpha == 1.0 and not two_groups
    _assert_same_run(_run(make(ARWP), schedule), _run(make(ReferenceARWP), schedule))


def test_the_adaptive_damping_was_not_a_no_op():
    model, opt, _ = _run(
        lambda m: ARWP(
            m.parameters(), sigma=0.02, alpha=1.0, eta=2.0, lr=0.1, generator=torch.Generator().manual_seed(4)
        )
    )
    conv = model.net.body[0][0].weight
    divisor = adaptive_noise_divisor(opt.state[conv]["accumulator"], 2.0, "std")
    assert divisor.min() > 1.05  # the accumulated gradients really damp the next draw


def test_batched_steps_issue_far_fewer_operator_calls():
    """The point of the rewrite: the extra calls of a step over SGD's no longer grow a dozen per parameter."""
    x, y = _batches(1)[0]
    calls = {}
    for name, make in {
        "sgd": lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
        "arwp": lambda m: ARWP(m.parameters(), alpha=1.0, eta=0.1, lr=0.1, generator=torch.Generator().manual_seed(0)),
        "reference": lambda m: ReferenceARWP(
            m.parameters(), alpha=1.0, eta=0.1, lr=0.1, generator=torch.Generator().manual_seed(0)
        ),
    }.items():
        model = WithIdleLayer()
        opt = make(model)
        step = lambda: opt.step(closure_for(model, opt, x, y))  # noqa: E731
        step()  # the accumulators exist from the second step on
        calls[name] = count_operator_calls(step)
    n_params = len(list(WithIdleLayer().parameters()))
    extra, reference_extra = calls["arwp"] - calls["sgd"], calls["reference"] - calls["sgd"]
    assert reference_extra > 10 * n_params
    assert extra < reference_extra / 2
