"""Models: MLP, Conv-2/4/6/8 and CIFAR ResNets, all ensemble-first (see ``layers``).

Every model takes ``(cfg: ModelConfig, input_shape, n_classes, n_masks)``. No biases; the
width multiplier scales every hidden width (never the input or the number of classes).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from landscape.config import ModelConfig
from landscape.nn.base import EnsembleNet
from landscape.nn.layers import EnsembleBatchNorm, MaskedLinear


def scaled(width: int, mult: float) -> int:
    """``int(width * mult)`` as in the reference wide models, at least 1."""
    return max(1, int(width * mult))


class MLP(EnsembleNet):
    """Fully connected ``in -> hidden... -> n_classes`` with ReLU, optional non-affine BN."""

    def __init__(self, cfg: ModelConfig, input_shape: tuple[int, ...], n_classes: int, n_masks: int = 1):
        super().__init__(n_masks)
        widths = [math.prod(input_shape), *(scaled(h, cfg.width_mult) for h in cfg.hidden), n_classes]
        use_bn = cfg.batchnorm == "nonaffine"
        n_layers = len(widths) - 1
        self.fcs = nn.ModuleList()
        self.bns = nn.ModuleList()
        for i in range(n_layers):
            dense = (i == 0 and cfg.first_layer_dense) or (i == n_layers - 1 and cfg.last_layer_dense)
            self.fcs.append(MaskedLinear(widths[i], widths[i + 1], n_masks, dense=dense))
            if use_bn and i < n_layers - 1:
                self.bns.append(EnsembleBatchNorm(widths[i + 1], n_masks))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], x.shape[1], -1)
        last = len(self.fcs) - 1
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            if i < last:
                if len(self.bns):
                    x = self.bns[i](x)
                x = F.relu(x)
        return x
