"""Ensemble-first masked layers.

Every layer holds ``n_masks`` (M) masks over one frozen random weight tensor, so M searches
of one configuration run as a single model: linear layers use batched matmuls, conv layers
grouped convolutions. M = 1 is the ordinary one-mask network.

Activation layouts
------------------
- linear: ``(M, B, features)``
- conv:   ``(B, M * channels, H, W)`` (mask m owns channel block m; grouped convs keep the
  blocks apart and a BatchNorm over ``M * channels`` keeps separate statistics per mask)
- 1-D conv: ``(B, M * channels, length)``, the same blocks without the second spatial axis

A layer's binary mask comes from, in order of precedence: ``fixed_mask`` (a stored mask or a
weight-training baseline), ``dense`` (first/last layer kept dense: all ones), else the
method's rule applied to ``scores``. The rule also turns weight and mask into the effective
weight (``mask * weight`` for Edge-Popup, ``alpha * sign(weight) * mask`` for Biprop).
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from landscape.nn.conv_routes import ensemble_conv


class MaskRule(Protocol):
    """What a search method supplies to the layers (see ``landscape.search.methods``)."""

    def prepare(self, model: nn.Module) -> None:
        """Called once before each forward pass (global thresholds, for example)."""

    def mask(self, layer: MaskedLayer) -> torch.Tensor:
        """Float 0/1 mask ``(M, *shape)`` with a straight-through gradient to the scores."""

    def effective_weight(self, layer: MaskedLayer, mask: torch.Tensor) -> torch.Tensor:
        """Effective weight ``(M, *shape)`` from the layer's weight and a 0/1 mask."""


class MaskedLayer(nn.Module):
    """Frozen weights ``(1 or M, *shape)``, scores ``(M, *shape)`` and optional fixed masks.

    Buffers
    -------
    weight
        The random weights; shape ``(1, *shape)`` while all masks share them, ``(M, *shape)``
        once a method changes them per mask (IWR, IteRand) or trains them.
    frozen
        Optional int8 ``(1 or M, *shape)``: -1 = never kept (pruned source / outside an ER
        source), +1 = always kept (locked), 0 = searchable.
    fixed_mask
        Optional bool ``(M, *shape)``; when set it replaces the rule.
    """

    def __init__(self, weight_shape: tuple[int, ...], fan_in: int, n_masks: int, dense: bool = False):
        super().__init__()
        self.weight_shape = tuple(weight_shape)
        self.fan_in = int(fan_in)
        self.n_masks = int(n_masks)
        self.dense = bool(dense)
        self.register_buffer("weight", torch.zeros((1, *self.weight_shape)))
        self.scores = nn.Parameter(torch.zeros((self.n_masks, *self.weight_shape)))
        self.register_buffer("frozen", None)
        self.register_buffer("fixed_mask", None)
        self.rule: MaskRule | None = None

    @property
    def numel(self) -> int:
        return math.prod(self.weight_shape)

    def mask(self) -> torch.Tensor:
        """Float 0/1 mask ``(M, *shape)`` (differentiable w.r.t. scores when the rule is)."""
        if self.fixed_mask is not None:
            return self.fixed_mask.to(self.weight.dtype)
        if self.dense:
            return torch.ones((self.n_masks, *self.weight_shape), device=self.weight.device)
        if self.rule is None:
            raise RuntimeError("no mask rule set; call model.set_rule(method) first")
        return self.rule.mask(self)

    def binary_mask(self) -> torch.Tensor:
        """The current bool mask ``(M, *shape)``, without gradient."""
        with torch.no_grad():
            return self.mask() > 0.5

    def effective_weight(self) -> torch.Tensor:
        if self.fixed_mask is None and not self.dense and self.rule is not None:
            fused = getattr(self.rule, "masked_weight", None)
            weight = fused(self) if fused is not None else None
            if weight is not None:
                return weight
        mask = self.mask()
        if self.dense or self.rule is None:
            return mask * self.weight
        return self.rule.effective_weight(self, mask)

    # weights that change per mask ---------------------------------------------------------
    def expand_weight(self) -> None:
        """Give every mask its own copy of the weights (before a method changes them)."""
        if self.weight.shape[0] != self.n_masks:
            self.weight = self.weight.expand(self.n_masks, *self.weight_shape).clone()

    def make_weight_trainable(self) -> None:
        """Turn the frozen weight buffer into a per-mask trainable parameter."""
        self.expand_weight()
        weight = self.weight
        del self.weight
        self.weight = nn.Parameter(weight.clone())

    def extra_repr(self) -> str:
        return f"shape={self.weight_shape}, n_masks={self.n_masks}, dense={self.dense}"


class MaskedLinear(MaskedLayer):
    """``(M, B, in) -> (M, B, out)`` with one weight matrix per mask."""

    def __init__(self, in_features: int, out_features: int, n_masks: int = 1, dense: bool = False):
        super().__init__((out_features, in_features), fan_in=in_features, n_masks=n_masks, dense=dense)
        self.in_features, self.out_features = in_features, out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (W x^T)^T rather than x W^T: the weight's gradient then comes back contiguous, and
        # the per-weight backward passes over a transposed gradient cost ~3x more on the CPU
        return torch.bmm(self.effective_weight(), x.transpose(1, 2)).transpose(1, 2)


class MaskedConv2d(MaskedLayer):
    """``(B, M*C_in, H, W) -> (B, M*C_out, H', W')`` as one grouped convolution (or another
    exact formulation chosen with :mod:`landscape.nn.conv_routes`)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        n_masks: int = 1,
        dense: bool = False,
    ):
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        super().__init__(shape, fan_in=in_channels * kernel_size**2, n_masks=n_masks, dense=dense)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # grouped convolution by default; other exact formulations in conv_routes
        return ensemble_conv(x, self.effective_weight(), stride=self.stride, padding=self.padding)


class MaskedConv1d(MaskedLayer):
    """``(B, M*C_in, L) -> (B, M*C_out, L')``: one 1-D convolution per mask, as a batched matmul.

    The windows of every mask's input are unfolded into ``(M, C_in * k, B * L')`` columns and
    multiplied by the masks' ``(M, C_out, C_in * k)`` weights in one ``bmm``. Each mask then
    runs exactly the arithmetic of a one-mask layer (a grouped ``conv1d`` picks its algorithm
    by the number of groups, which changes the last bits of the loss), so batched and one-mask
    searches stay bit-identical; for these small kernels it is also faster on the CPU.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        n_masks: int = 1,
        dense: bool = False,
    ):
        shape = (out_channels, in_channels, kernel_size)
        super().__init__(shape, fan_in=in_channels * kernel_size, n_masks=n_masks, dense=dense)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m, c_in, c_out = self.n_masks, self.in_channels, self.out_channels
        k = self.weight_shape[-1]
        w = self.effective_weight().reshape(m, c_out, c_in * k)
        if self.padding:
            x = F.pad(x, (self.padding, self.padding))
        b = x.shape[0]
        windows = x.unfold(2, k, self.stride)  # (B, M*C_in, L', k)
        length = windows.shape[2]
        cols = windows.reshape(b, m, c_in, length, k).permute(1, 2, 4, 0, 3).reshape(m, c_in * k, b * length)
        out = torch.bmm(w, cols)  # (M, C_out, B*L')
        return out.reshape(m, c_out, b, length).permute(2, 0, 1, 3).reshape(b, m * c_out, length)


class EnsembleBatchNorm(nn.Module):
    """BatchNorm with separate statistics per mask, for either activation layout.

    Non-affine by default, as in the reference SLT code (no learned scale or shift).
    """

    def __init__(self, num_features: int, n_masks: int = 1, affine: bool = False, momentum: float = 0.1):
        super().__init__()
        self.num_features, self.n_masks = num_features, n_masks
        self.bn = nn.BatchNorm1d(num_features * n_masks, affine=affine, momentum=momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:  # (M, B, F) linear layout
            m, b, f = x.shape
            y = self.bn(x.permute(1, 0, 2).reshape(b, m * f))
            return y.reshape(b, m, f).permute(1, 0, 2)
        b, c, h, w = x.shape  # (B, M*C, H, W) conv layout
        return self.bn(x.reshape(b, c, h * w)).reshape(b, c, h, w)


def to_conv_layout(x: torch.Tensor) -> torch.Tensor:
    """``(M, B, C, H, W) -> (B, M*C, H, W)``."""
    m, b, c, h, w = x.shape
    return x.permute(1, 0, 2, 3, 4).reshape(b, m * c, h, w)


def to_conv1d_layout(x: torch.Tensor) -> torch.Tensor:
    """``(M, B, C, L) -> (B, M*C, L)``."""
    m, b, c, length = x.shape
    return x.permute(1, 0, 2, 3).reshape(b, m * c, length)


def conv_to_linear_layout(x: torch.Tensor, n_masks: int) -> torch.Tensor:
    """``(B, M*C, H, W)`` or ``(B, M*C, L)`` -> ``(M, B, C*H*W)`` (flatten per mask)."""
    b = x.shape[0]
    return x.reshape(b, n_masks, -1).transpose(0, 1)
