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
from landscape.errors import ConfigError
from landscape.nn.base import EnsembleNet
from landscape.nn.layers import (
    EnsembleBatchNorm,
    MaskedConv2d,
    MaskedLinear,
    conv_to_linear_layout,
    to_conv_layout,
)


def scaled(width: int, mult: float) -> int:
    """``int(width * mult)`` as in the reference wide models, at least 1."""
    return max(1, int(width * mult))


def fc_stack(x: torch.Tensor, fcs: nn.ModuleList, bns: nn.ModuleList) -> torch.Tensor:
    """Fully connected layers on ``(M, B, F)``: BatchNorm (if any) and ReLU after all but the last."""
    last = len(fcs) - 1
    for i, fc in enumerate(fcs):
        x = fc(x)
        if i < last:
            if len(bns):
                x = bns[i](x)
            x = F.relu(x)
    return x


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
        return fc_stack(x.reshape(x.shape[0], x.shape[1], -1), self.fcs, self.bns)


# --------------------------------------------------------------------------------------------
# shared helpers


def _use_batchnorm(cfg: ModelConfig, default: bool) -> bool:
    """``"auto"`` means the architecture's own convention (BN in ResNets, none in Conv-x)."""
    if cfg.batchnorm == "auto":
        return default
    return cfg.batchnorm == "nonaffine"


def _bn(channels: int, n_masks: int, enabled: bool) -> nn.Module:
    return EnsembleBatchNorm(channels, n_masks) if enabled else nn.Identity()


def _image_shape(model: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ConfigError(
            f"data.input_shape: model {model} needs images shaped (channels, height, width), "
            f"got {tuple(input_shape)}"
        )
    c, h, w = (int(s) for s in input_shape)
    return c, h, w


# --------------------------------------------------------------------------------------------
# Conv-2/4/6/8 (Frankle & Carbin; the Edge-Popup reference code's ``models/frankle.py``)

# Channel plan per depth: ints are 3x3 convs, "M" a 2x2 max-pool (one after each pair).
CONV_PLANS: dict[int, tuple[int | str, ...]] = {
    2: (64, 64, "M"),
    4: (64, 64, "M", 128, 128, "M"),
    6: (64, 64, "M", 128, 128, "M", 256, 256, "M"),
    8: (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M"),
}
CONV_FC_WIDTHS = (256, 256)


class ConvNet(EnsembleNet):
    """Conv-2/4/6/8: pairs of 3x3 convs (padding 1, no bias, ReLU) each followed by a 2x2
    max-pool, then a fully connected stack ``flat -> 256 -> 256 -> n_classes``.

    As in the reference code there is no BatchNorm (``model.batchnorm: nonaffine`` adds a
    non-affine BN after every conv and hidden FC layer). The reference builds the FC layers as
    1x1 convs on the flattened tensor; here they are :class:`MaskedLinear` layers with the
    same weights and masks. The flattened size follows from ``input_shape``, so the same
    model runs on CIFAR (3, 32, 32), MNIST (1, 28, 28) or digits (1, 8, 8).

    Layers are named ``convs.<i>`` and ``fcs.<i>``.
    """

    def __init__(
        self,
        cfg: ModelConfig,
        input_shape: tuple[int, ...],
        n_classes: int,
        n_masks: int = 1,
        *,
        depth: int = 4,
    ):
        super().__init__(n_masks)
        if depth not in CONV_PLANS:
            raise ConfigError(f"model.name: no Conv-{depth}; choose from {sorted(CONV_PLANS)}")
        channels, h, w = _image_shape(f"conv{depth}", input_shape)
        n_pools = CONV_PLANS[depth].count("M")
        if h >> n_pools < 1 or w >> n_pools < 1:
            raise ConfigError(
                f"data.input_shape: conv{depth} pools {n_pools} times and needs images of at "
                f"least {2**n_pools}x{2**n_pools} pixels, got {tuple(input_shape)}"
            )
        use_bn = _use_batchnorm(cfg, default=False)
        self.depth = depth
        self.convs = nn.ModuleList()
        self.conv_bns = nn.ModuleList()
        self._pool_after: set[int] = set()
        for item in CONV_PLANS[depth]:
            if item == "M":
                self._pool_after.add(len(self.convs) - 1)
                h, w = h // 2, w // 2
                continue
            out = scaled(int(item), cfg.width_mult)
            dense = not self.convs and cfg.first_layer_dense
            self.convs.append(MaskedConv2d(channels, out, 3, padding=1, n_masks=n_masks, dense=dense))
            if use_bn:
                self.conv_bns.append(EnsembleBatchNorm(out, n_masks))
            channels = out
        widths = [channels * h * w, *(scaled(f, cfg.width_mult) for f in CONV_FC_WIDTHS), n_classes]
        self.fcs = nn.ModuleList()
        self.fc_bns = nn.ModuleList()
        for i in range(len(widths) - 1):
            last = i == len(widths) - 2
            self.fcs.append(
                MaskedLinear(widths[i], widths[i + 1], n_masks, dense=last and cfg.last_layer_dense)
            )
            if use_bn and not last:
                self.fc_bns.append(EnsembleBatchNorm(widths[i + 1], n_masks))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = to_conv_layout(x)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if len(self.conv_bns):
                x = self.conv_bns[i](x)
            x = F.relu(x)
            if i in self._pool_after:
                x = F.max_pool2d(x, 2)
        return fc_stack(conv_to_linear_layout(x, self.n_masks), self.fcs, self.fc_bns)


def conv2(cfg: ModelConfig, input_shape: tuple[int, ...], n_classes: int, n_masks: int = 1) -> ConvNet:
    """Conv-2: 4,300,992 maskable weights on CIFAR-10 at width 1."""
    return ConvNet(cfg, input_shape, n_classes, n_masks, depth=2)


def conv4(cfg: ModelConfig, input_shape: tuple[int, ...], n_classes: int, n_masks: int = 1) -> ConvNet:
    """Conv-4: 2,425,024 maskable weights on CIFAR-10 at width 1."""
    return ConvNet(cfg, input_shape, n_classes, n_masks, depth=4)


def conv6(cfg: ModelConfig, input_shape: tuple[int, ...], n_classes: int, n_masks: int = 1) -> ConvNet:
    """Conv-6: 2,261,184 maskable weights on CIFAR-10 at width 1."""
    return ConvNet(cfg, input_shape, n_classes, n_masks, depth=6)


def conv8(cfg: ModelConfig, input_shape: tuple[int, ...], n_classes: int, n_masks: int = 1) -> ConvNet:
    """Conv-8: 5,275,840 maskable weights on CIFAR-10 at width 1."""
    return ConvNet(cfg, input_shape, n_classes, n_masks, depth=8)


# --------------------------------------------------------------------------------------------
# CIFAR ResNets


class BasicBlock(nn.Module):
    """Two 3x3 convs with BN and ReLU plus a shortcut, in the conv layout ``(B, M*C, H, W)``.

    The shortcut is the identity when the shape is kept, else a maskable 1x1 conv (stride
    ``stride``) followed by BN.
    """

    def __init__(self, in_planes: int, planes: int, stride: int, n_masks: int, use_bn: bool):
        super().__init__()
        self.conv1 = MaskedConv2d(in_planes, planes, 3, stride=stride, padding=1, n_masks=n_masks)
        self.bn1 = _bn(planes, n_masks, use_bn)
        self.conv2 = MaskedConv2d(planes, planes, 3, stride=1, padding=1, n_masks=n_masks)
        self.bn2 = _bn(planes, n_masks, use_bn)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                MaskedConv2d(in_planes, planes, 1, stride=stride, n_masks=n_masks),
                _bn(planes, n_masks, use_bn),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(EnsembleNet):
    """A CIFAR ResNet of BasicBlocks: 3x3 stem (stride 1, no max-pool), stages of blocks
    whose first block downsamples by 2 (except in the first stage), global average pooling
    and a maskable linear classifier. Every conv, shortcut and the classifier is maskable;
    there are no biases. BN is non-affine with per-mask running statistics
    (``model.batchnorm``: "auto"/"nonaffine" = BN, "none" = no normalisation).

    Layers are named ``conv1``, ``layer<s>.<b>.conv1|conv2|shortcut.0`` and ``fc``.

    Parameters
    ----------
    stem_width
        Channels of the stem conv (already scaled by the caller where it should be).
    stage_widths
        Channels of each stage, already scaled.
    blocks
        BasicBlocks per stage.
    """

    def __init__(
        self,
        cfg: ModelConfig,
        input_shape: tuple[int, ...],
        n_classes: int,
        n_masks: int = 1,
        *,
        stem_width: int,
        stage_widths: tuple[int, ...],
        blocks: tuple[int, ...],
        name: str = "resnet",
    ):
        super().__init__(n_masks)
        channels, _, _ = _image_shape(name, input_shape)
        use_bn = _use_batchnorm(cfg, default=True)
        self.conv1 = MaskedConv2d(
            channels, stem_width, 3, padding=1, n_masks=n_masks, dense=cfg.first_layer_dense
        )
        self.bn1 = _bn(stem_width, n_masks, use_bn)
        in_planes = stem_width
        for s, (planes, n_blocks) in enumerate(zip(stage_widths, blocks, strict=True)):
            stage = []
            for b in range(n_blocks):
                stride = 2 if (s > 0 and b == 0) else 1
                stage.append(BasicBlock(in_planes, planes, stride, n_masks, use_bn))
                in_planes = planes
            self.add_module(f"layer{s + 1}", nn.Sequential(*stage))
        self.n_stages = len(stage_widths)
        self.fc = MaskedLinear(in_planes, n_classes, n_masks, dense=cfg.last_layer_dense)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(to_conv_layout(x))))
        for s in range(self.n_stages):
            x = getattr(self, f"layer{s + 1}")(x)
        # global average pooling equals the reference's 4x4 average pool on 32 px inputs
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(conv_to_linear_layout(x, self.n_masks))


def resnet18(cfg: ModelConfig, input_shape: tuple[int, ...], n_classes: int, n_masks: int = 1) -> CifarResNet:
    """CIFAR ResNet-18 (kuangliu / hidden-networks ``cResNet18``): 11,164,352 maskable weights
    on CIFAR-10 at width 1.

    Stem 64 channels, stages (64, 128, 256, 512) x 2 blocks with strides 1/2/2/2 and 1x1-conv
    shortcuts where the shape changes. ``width_mult`` scales the stages only: the stem keeps
    64 channels, as in IteRand's width sweeps.
    """
    widths = tuple(scaled(c, cfg.width_mult) for c in (64, 128, 256, 512))
    return CifarResNet(
        cfg,
        input_shape,
        n_classes,
        n_masks,
        stem_width=64,
        stage_widths=widths,
        blocks=(2, 2, 2, 2),
        name="resnet18",
    )


def resnet20(cfg: ModelConfig, input_shape: tuple[int, ...], n_classes: int, n_masks: int = 1) -> CifarResNet:
    """CIFAR ResNet-20 (He et al. 2016): 270,896 maskable weights on CIFAR-10 at width 1.

    Stem 16 channels, stages (16, 32, 64) x 3 blocks with strides 1/2/2. Shortcuts that change
    the shape are option B (1x1 conv + BN) rather than the paper's parameter-free option A, so
    every layer of the network is maskable. ``width_mult`` scales the stem and the stages.
    """
    widths = tuple(scaled(c, cfg.width_mult) for c in (16, 32, 64))
    return CifarResNet(
        cfg,
        input_shape,
        n_classes,
        n_masks,
        stem_width=scaled(16, cfg.width_mult),
        stage_widths=widths,
        blocks=(3, 3, 3),
        name="resnet20",
    )
