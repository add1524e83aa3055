"""The peer a researcher would otherwise use: a plain per-mask Edge-Popup training loop.

Written the way the reference code (hidden-networks ``SubnetConv``/``GetSubnet``) does it: an
``nn.Linear`` / ``nn.Conv2d`` per layer with frozen signed-constant weights and a score
parameter, a sort-based top-k with a straight-through gradient, a ``DataLoader`` over the
training set (batches copied to the device each step), SGD with momentum, weight decay on
the scores and a cosine schedule, and an evaluation on validation and test after every
epoch. One mask per run, one run after the other. Models: the MLP, Conv-4 (Frankle & Carbin)
and the CIFAR ResNet-18 with non-affine BatchNorm. No augmentation (which only flatters
this peer when it is compared with a search that augments). Arithmetic as in the engine's
``Trainer`` at the same ``train.precision``: training steps under ``training_kernels``
(``fp32``: IEEE float32, cuDNN's default TF32 off), the forward pass under
``forward_autocast``, evaluation in strict float32; so a speed-up never comes from arithmetic.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from landscape.search.precision import forward_autocast, strict_float32, training_kernels


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


def _subnet_init(layer: nn.Module, fan_in: int, density: float) -> None:
    layer.density = density
    layer.scores = nn.Parameter(torch.empty_like(layer.weight))
    nn.init.kaiming_uniform_(layer.scores, a=math.sqrt(5))
    layer.weight.data = layer.weight.data.sign() * math.sqrt(2 / fan_in)
    layer.weight.requires_grad = False


class SubnetLinear(nn.Linear):
    def __init__(self, fan_in: int, fan_out: int, density: float) -> None:
        super().__init__(fan_in, fan_out, bias=False)
        _subnet_init(self, fan_in, density)

    def forward(self, x):
        mask = GetSubnet.apply(self.scores.abs(), self.density)
        return F.linear(x, self.weight * mask)


class SubnetConv(nn.Conv2d):
    def __init__(self, c_in: int, c_out: int, kernel: int, density: float, stride: int = 1, padding: int = 0):
        super().__init__(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        _subnet_init(self, c_in * kernel * kernel, density)

    def forward(self, x):
        mask = GetSubnet.apply(self.scores.abs(), self.density)
        return F.conv2d(x, self.weight * mask, stride=self.stride, padding=self.padding)


def mlp(widths: list[int], density: float) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    for i in range(len(widths) - 1):
        layers.append(SubnetLinear(widths[i], widths[i + 1], density))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def conv4(input_shape, n_classes: int, density: float, width: float = 1.0) -> nn.Module:
    c, h, w = input_shape
    a, b, f = max(1, int(64 * width)), max(1, int(128 * width)), max(1, int(256 * width))
    return nn.Sequential(
        SubnetConv(c, a, 3, density, padding=1), nn.ReLU(),
        SubnetConv(a, a, 3, density, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        SubnetConv(a, b, 3, density, padding=1), nn.ReLU(),
        SubnetConv(b, b, 3, density, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        SubnetLinear(b * (h // 4) * (w // 4), f, density), nn.ReLU(),
        SubnetLinear(f, f, density), nn.ReLU(),
        SubnetLinear(f, n_classes, density),
    )  # fmt: skip


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, density: float) -> None:
        super().__init__()
        self.conv1 = SubnetConv(c_in, c_out, 3, density, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(c_out, affine=False)
        self.conv2 = SubnetConv(c_out, c_out, 3, density, padding=1)
        self.bn2 = nn.BatchNorm2d(c_out, affine=False)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                SubnetConv(c_in, c_out, 1, density, stride=stride), nn.BatchNorm2d(c_out, affine=False)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """The CIFAR ResNet-18 of the reference code: stem 64, stages (64, 128, 256, 512) x 2."""

    def __init__(self, input_shape, n_classes: int, density: float, width: float = 1.0) -> None:
        super().__init__()
        widths = [max(1, int(c * width)) for c in (64, 128, 256, 512)]
        self.conv1 = SubnetConv(input_shape[0], 64, 3, density, padding=1)
        self.bn1 = nn.BatchNorm2d(64, affine=False)
        blocks, c_in = [], 64
        for s, c in enumerate(widths):
            for b in range(2):
                blocks.append(_Block(c_in, c, 2 if s > 0 and b == 0 else 1, density))
                c_in = c
        self.blocks = nn.Sequential(*blocks)
        self.fc = SubnetLinear(c_in, n_classes, density)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def build(model: str, dataset, hidden, density: float, width: float) -> nn.Module:
    if model == "mlp":
        return mlp([dataset.train[0][0].numel(), *hidden, dataset.n_classes], density)
    if model == "conv4":
        return conv4(dataset.input_shape, dataset.n_classes, density, width)
    if model == "resnet18":
        return ResNet18(dataset.input_shape, dataset.n_classes, density, width)
    raise ValueError(f"plain loop: no model {model!r}")


def train_one(
    dataset,
    hidden=(256, 256),
    density=0.5,
    epochs=3,
    batch_size=64,
    lr=0.1,
    seed=0,
    *,
    model: str = "mlp",
    width: float = 1.0,
    device: str = "cpu",
    precision: str = "fp32",
) -> float:
    """Train one mask at ``precision`` (as ``train.precision``); returns its final test accuracy."""
    torch.manual_seed(seed)
    x, y = dataset.train
    net = build(model, dataset, hidden, density, width).to(device)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    cuda = str(device).startswith("cuda")
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, pin_memory=cuda)
    acc = 0.0
    with strict_float32():
        for _ in range(epochs):
            net.train()
            with training_kernels(precision):
                for xb, yb in loader:
                    _step(
                        net,
                        opt,
                        xb.to(device, non_blocking=True),
                        yb.to(device, non_blocking=True),
                        precision,
                    )
            sched.step()
            acc = _evaluate(net, dataset, device)
    return acc


def _step(net: nn.Module, opt, xb, yb, precision: str) -> None:
    opt.zero_grad()
    with forward_autocast(precision, xb.device):
        loss = F.cross_entropy(net(xb).float(), yb)
    loss.backward()
    opt.step()


def _evaluate(net: nn.Module, dataset, device: str) -> float:
    """Accuracy on validation, then test (the last one is returned), as the engine evaluates."""
    net.eval()
    acc = 0.0
    with torch.no_grad():
        for split in (dataset.val, dataset.test):
            xs, ys = split[0].to(device), split[1].to(device)
            correct = sum(
                (net(xs[i : i + 1024]).argmax(1) == ys[i : i + 1024]).sum().item()
                for i in range(0, len(ys), 1024)
            )
            acc = correct / max(1, len(ys))
    return acc
