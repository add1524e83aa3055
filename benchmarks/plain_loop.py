"""The peer a researcher would otherwise use: a plain per-mask Edge-Popup training loop.

Written the way the reference code (hidden-networks ``SubnetConv``/``GetSubnet``) does it: an
``nn.Linear`` per layer with frozen weights and a score parameter, a sort-based top-k with a
straight-through gradient, a ``DataLoader`` over the training set, SGD with momentum, weight
decay on the scores and a cosine schedule, and an evaluation on validation and test after
every epoch. One mask per run, one run after the other.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class GetSubnet(torch.autograd.Function):
    @staticmethod
    def forward(ctx, scores, density):
        out = scores.clone()
        _, idx = scores.flatten().sort()
        j = int((1 - density) * scores.numel())
        flat = out.flatten()
        flat[idx[:j]] = 0
        flat[idx[j:]] = 1
        return out

    @staticmethod
    def backward(ctx, g):
        return g, None


class SubnetLinear(nn.Linear):
    def __init__(self, fan_in: int, fan_out: int, density: float) -> None:
        super().__init__(fan_in, fan_out, bias=False)
        self.density = density
        self.scores = nn.Parameter(torch.empty_like(self.weight))
        nn.init.kaiming_uniform_(self.scores, a=math.sqrt(5))
        std = math.sqrt(2 / fan_in)
        self.weight.data = self.weight.data.sign() * std
        self.weight.requires_grad = False

    def forward(self, x):
        mask = GetSubnet.apply(self.scores.abs(), self.density)
        return F.linear(x, self.weight * mask)


def train_one(dataset, hidden=(256, 256), density=0.5, epochs=3, batch_size=64, lr=0.1, seed=0) -> float:
    """Train one mask; returns its final test accuracy."""
    torch.manual_seed(seed)
    x, y = dataset.train
    widths = [x[0].numel(), *hidden, dataset.n_classes]
    layers = []
    for i in range(len(widths) - 1):
        layers.append(SubnetLinear(widths[i], widths[i + 1], density))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(nn.Flatten(), *layers)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)
    acc = 0.0
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad():
            for split in (dataset.val, dataset.test):
                acc = (model(split[0]).argmax(1) == split[1]).float().mean().item()
    return acc
