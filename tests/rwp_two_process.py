"""Run by tests/test_rwp_parallel.py under torchrun: DistributedRWP on two CPU processes (gloo).

Both ranks see the same batches; rank 0 also runs the sequential RWP on a copy of the model with the
same noise generator. Rank N writes <folder>/rank-N.pt: its weights and buffers after the steps, the
returned losses, and (rank 0) the sequential run's.
"""

import copy
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from reprobook.models import SmallCNN
from reprobook.sharpness import RWP, DistributedRWP, frozen_bn_stats

STEPS, ALPHA, GAMMA = 3, 0.3, 0.05
KWARGS = dict(lr=0.1, momentum=0.9, weight_decay=1e-3)

dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)  # the same initialisation on both ranks
model = SmallCNN(in_channels=1, num_classes=3, width=4).double()
reference = copy.deepcopy(model)
data = torch.Generator().manual_seed(1)
batches = [
    (torch.randn(16, 1, 12, 12, generator=data, dtype=torch.float64), torch.randint(0, 3, (16,), generator=data))
    for _ in range(STEPS)
]


def closure_for(net, opt, x, y):
    def closure():
        opt.zero_grad()
        with frozen_bn_stats(net, enabled=opt.in_perturbed_pass):
            loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        return loss

    return closure


parallel = DistributedRWP(model, gamma=GAMMA, alpha=ALPHA, generator=torch.Generator().manual_seed(5), **KWARGS)
losses = [float(parallel.step(closure_for(model, parallel, x, y))) for x, y in batches]
out = {
    "rank": rank,
    "losses": losses,
    "state": {k: v.clone() for k, v in model.state_dict().items()},
    "generator": parallel.generator.get_state(),
}
if rank == 0:
    sequential = RWP(
        reference.parameters(), gamma=GAMMA, alpha=ALPHA, generator=torch.Generator().manual_seed(5), **KWARGS
    )
    out["sequential_losses"] = [float(sequential.step(closure_for(reference, sequential, x, y))) for x, y in batches]
    out["sequential_state"] = {k: v.clone() for k, v in reference.state_dict().items()}
torch.save(out, Path(sys.argv[1]) / f"rank-{rank}.pt")
dist.destroy_process_group()
