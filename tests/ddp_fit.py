"""Run by tests/test_distributed.py under torchrun: one fit() with RWP; rank N writes <folder>/rank-N.json."""

import json
import os
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from reprobook.models import SmallCNN
from reprobook.sharpness import RWP
from reprobook.training import fit, seed_everything

seed_everything(0)
g = torch.Generator().manual_seed(0)
y = torch.randint(0, 2, (128,), generator=g)
x = torch.randn(128, 1, 8, 8, generator=g) * 0.5 + (y.float() * 2 - 1).view(-1, 1, 1, 1)
model = SmallCNN(in_channels=1, num_classes=2, width=4)
optimizer = RWP(model.parameters(), gamma=0.01, lr=0.05, momentum=0.9, generator=torch.Generator().manual_seed(0))
loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
history = fit(model, optimizer, loader, epochs=2, device="cpu", progress=False)
weights = torch.cat([p.detach().flatten() for p in model.parameters()])
rank = int(os.environ["RANK"])
(Path(sys.argv[1]) / f"rank-{rank}.json").write_text(
    json.dumps({"rank": rank, "loss": history.train_loss, "acc": history.train_acc, "weights": weights.tolist()})
)
