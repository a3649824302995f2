"""RWP's parallel steps (one batched pass; two processes) against the sequential RWP on the same batches."""

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from helpers import closure_for, run_two_processes
from reprobook.checks import ParameterError
from reprobook.models import SmallCNN
from reprobook.sharpness import RWP, BatchedRWP, DistributedRWP

KWARGS = dict(lr=0.1, momentum=0.9, weight_decay=1e-3)
SCRIPT = Path(__file__).with_name("rwp_two_process.py")


def _model(seed=0, width=4, classes=3):
    torch.manual_seed(seed)
    return SmallCNN(in_channels=1, num_classes=classes, width=width).double()


def _batches(n, seed=1, size=12, batch=16):
    g = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(batch, 1, size, size, generator=g, dtype=torch.float64),
            torch.randint(0, 3, (batch,), generator=g),
        )
        for _ in range(n)
    ]


def _assert_states_close(a: dict, b: dict, rtol=1e-10, atol=1e-12):
    assert a.keys() == b.keys()
    for name in a:
        if a[name].dtype.is_floating_point:
            assert torch.allclose(a[name], b[name], rtol=rtol, atol=atol), name
        else:
            assert torch.equal(a[name], b[name]), name


# -- one device, one batched pass ---------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.5, 0.3])
def test_batched_step_makes_the_sequential_update(alpha):
    sequential_model = _model()
    batched_model = copy.deepcopy(sequential_model)
    sequential = RWP(
        sequential_model.parameters(), gamma=0.05, alpha=alpha, generator=torch.Generator().manual_seed(3), **KWARGS
    )
    batched = BatchedRWP(batched_model, gamma=0.05, alpha=alpha, generator=torch.Generator().manual_seed(3), **KWARGS)
    for x, y in _batches(3):
        loss_seq = sequential.step(closure_for(sequential_model, sequential, x, y))
        loss_bat = batched.step_batch(x, y)
        assert loss_bat.item() == pytest.approx(loss_seq.item(), rel=1e-12)
    _assert_states_close(batched_model.state_dict(), sequential_model.state_dict())
    assert torch.equal(batched.generator.get_state(), sequential.generator.get_state())  # same number of draws
    # the comparison is not vacuous: the steps moved the weights
    moved = sum(
        float((p.detach() - q.detach()).abs().sum()) for p, q in zip(batched_model.parameters(), _model().parameters())
    )
    assert moved > 1e-3


def test_batched_step_is_not_the_clean_step():
    """With γ > 0 the update differs from plain SGD's; with γ = 0 it is SGD's."""
    x, y = _batches(1)[0]
    results = {}
    for gamma in (0.0, 0.05):
        model = _model()
        BatchedRWP(model, gamma=gamma, generator=torch.Generator().manual_seed(0), **KWARGS).step_batch(x, y)
        results[gamma] = torch.cat([p.detach().flatten() for p in model.parameters()])
    sgd_model = _model()
    sgd = torch.optim.SGD(sgd_model.parameters(), **KWARGS)
    sgd.zero_grad()
    nn.functional.cross_entropy(sgd_model(x), y).backward()
    sgd.step()
    expected = torch.cat([p.detach().flatten() for p in sgd_model.parameters()])
    assert torch.allclose(results[0.0], expected, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(results[0.05], expected, rtol=1e-6, atol=1e-9)


def test_batched_step_updates_bn_statistics_from_the_clean_pass_only():
    model = _model()
    probe = copy.deepcopy(model)
    x, y = _batches(1)[0]
    BatchedRWP(model, gamma=0.5, generator=torch.Generator().manual_seed(0), **KWARGS).step_batch(x, y)
    probe.train()
    probe(x)  # one clean training-mode forward pass at w moves the statistics exactly this way
    for name, buffer in probe.named_buffers():
        got = dict(model.named_buffers())[name]
        assert torch.allclose(got, buffer, rtol=1e-12, atol=0), name
    assert int(dict(model.named_buffers())["body.0.1.num_batches_tracked"]) == 1


def test_batched_step_keeps_clean_logits_and_a_shared_learning_rate():
    model = _model()
    opt = BatchedRWP(model, gamma=0.01, **KWARGS)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, y = _batches(1)[0]
    opt.step_batch(x, y)
    assert opt.last_logits.shape == (16, 3)
    scheduler.step()
    assert opt.base_optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


def test_batched_step_state_dict_resumes_identically():
    batches = _batches(3)
    model_a = _model()
    opt_a = BatchedRWP(model_a, gamma=0.05, generator=torch.Generator().manual_seed(2), **KWARGS)
    opt_a.step_batch(*batches[0])
    model_b = copy.deepcopy(model_a)
    opt_b = BatchedRWP(model_b, gamma=0.05, generator=torch.Generator().manual_seed(99), **KWARGS)
    opt_b.load_state_dict(copy.deepcopy(opt_a.state_dict()))
    for x, y in batches[1:]:
        opt_a.step_batch(x, y)
        opt_b.step_batch(x, y)
    _assert_states_close(model_a.state_dict(), model_b.state_dict(), rtol=0, atol=0)


def test_batched_rwp_checks_its_arguments():
    model = _model()
    with pytest.raises(ParameterError, match="'model'.*torch.nn.Module"):
        BatchedRWP(list(model.parameters()))
    with pytest.raises(ValueError, match="'gamma'"):
        BatchedRWP(model, gamma=-1.0)
    with pytest.raises(ValueError, match="'alpha'.*<= 1"):
        BatchedRWP(model, alpha=1.5)
    with pytest.raises(ValueError, match="'loss_fn'"):
        BatchedRWP(model, loss_fn="cross-entropy")
    with pytest.raises(ValueError, match="step_batch"):
        BatchedRWP(model).step(lambda: torch.tensor(0.0))
    with pytest.raises(ValueError, match="'batch'.*pair"):
        BatchedRWP(model).step(batch=torch.zeros(3))
    with pytest.raises(ParameterError, match="'inputs, targets'.*two tensors"):
        BatchedRWP(model).step_batch([1.0], [0])
    cumulative = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2, momentum=None))
    with pytest.raises(ParameterError, match="momentum=None"):
        BatchedRWP(cumulative)
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ParameterError, match="a parameter that requires a gradient"):
        BatchedRWP(frozen)


# -- two processes ------------------------------------------------------------------------------------


def test_distributed_rwp_needs_a_group_of_two(tmp_path):
    import torch.distributed as dist

    model = _model()
    if not dist.is_initialized():
        with pytest.raises(RuntimeError, match="torchrun --nproc_per_node 2"):
            DistributedRWP(model)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        with pytest.raises(ParameterError, match="'group'.*1 process.*exactly 2"):
            DistributedRWP(model)
    finally:
        dist.destroy_process_group()


def test_two_processes_make_the_sequential_update(tmp_path):
    run_two_processes(SCRIPT, tmp_path)
    clean, perturbed = (torch.load(tmp_path / f"rank-{r}.pt", weights_only=False) for r in (0, 1))
    # both replicas hold the same weights and BatchNorm statistics, bit for bit
    _assert_states_close(clean["state"], perturbed["state"], rtol=0, atol=0)
    assert torch.equal(clean["generator"], perturbed["generator"])
    # and they are the sequential RWP's (same batches, same noise), up to rounding
    _assert_states_close(clean["state"], clean["sequential_state"])
    assert clean["losses"] == perturbed["losses"]  # both ranks return the clean loss
    assert clean["losses"] == pytest.approx(clean["sequential_losses"], rel=1e-12)
    initial = _model(width=4).state_dict()
    assert not torch.allclose(clean["state"]["head.weight"], initial["head.weight"])
