"""Models for 1-D signals (MNIST-1D): the reference 1-D CNN, ensemble-first.

The MLP for signals is :class:`landscape.nn.models.MLP` (it flattens any input shape).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from landscape.config import ModelConfig
from landscape.errors import ConfigError
from landscape.nn.base import EnsembleNet
from landscape.nn.layers import (
    EnsembleBatchNorm,
    MaskedConv1d,
    MaskedLinear,
    conv_to_linear_layout,
    to_conv1d_layout,
)
from landscape.nn.models import scaled

# (kernel size, stride, padding) of the three convolutions of the MNIST-1D reference CNN
# (``ConvBase`` in the mnist1d repository's notebooks/models.py), 25 channels each
CNN1D_CONVS = ((5, 2, 1), (3, 2, 1), (3, 2, 1))
CNN1D_CHANNELS = 25


def _conv_out(length: int, kernel: int, stride: int, padding: int) -> int:
    return (length + 2 * padding - kernel) // stride + 1


class _Conv1dBatchNorm(nn.Module):
    """Per-mask BatchNorm on the 1-D conv layout ``(B, M*C, L)`` (viewed as ``(B, M*C, L, 1)``)."""

    def __init__(self, channels: int, n_masks: int) -> None:
        super().__init__()
        self.bn = EnsembleBatchNorm(channels, n_masks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x.unsqueeze(-1)).squeeze(-1)


class CNN1d(EnsembleNet):
    """The MNIST-1D reference CNN: three 1-D convolutions with ReLU and a linear head.

    Convolutions ``1 -> 25 -> 25 -> 25`` channels with kernel sizes 5, 3, 3, stride 2 and
    padding 1 each (a length-40 signal becomes 19, 10, then 5 positions), flattened into a
    linear classifier ``25 * 5 -> n_classes``: 5,125 maskable weights at width 1.
    ``width_mult`` scales the channels. Unlike the reference there are no biases (every
    weight is maskable, as in the other models); there is no BatchNorm unless
    ``model.batchnorm: nonaffine`` asks for one after each convolution.

    Layers are named ``convs.0..2`` and ``fc``.
    """

    def __init__(self, cfg: ModelConfig, input_shape: tuple[int, ...], n_classes: int, n_masks: int = 1):
        super().__init__(n_masks)
        if len(input_shape) != 2 or min(input_shape) < 1:
            raise ConfigError(
                f"data.input_shape: model cnn1d needs signals shaped (channels, length), got {tuple(input_shape)}"
            )
        channels, length = (int(s) for s in input_shape)
        use_bn = cfg.batchnorm == "nonaffine"
        width = scaled(CNN1D_CHANNELS, cfg.width_mult)
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        for i, (kernel, stride, padding) in enumerate(CNN1D_CONVS):
            dense = i == 0 and cfg.first_layer_dense
            self.convs.append(MaskedConv1d(channels, width, kernel, stride, padding, n_masks, dense=dense))
            if use_bn:
                self.bns.append(_Conv1dBatchNorm(width, n_masks))
            channels, length = width, _conv_out(length, kernel, stride, padding)
            if length < 1:
                raise ConfigError(
                    f"data.input_shape: signals of length {input_shape[-1]} are too short for cnn1d"
                )
        self.fc = MaskedLinear(channels * length, n_classes, n_masks, dense=cfg.last_layer_dense)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = to_conv1d_layout(x)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if len(self.bns):
                x = self.bns[i](x)
            x = F.relu(x)
        return self.fc(conv_to_linear_layout(x, self.n_masks))
