"""Arithmetic of the training steps (``train.precision``), and strict float32 for the rest.

- ``fp32``: IEEE float32 matmuls and convolutions. PyTorch lets cuDNN convolutions use TF32
  by default on Ampere and later GPUs; here that is switched off, so ``fp32`` means float32
  on every device;
- ``tf32``: float32 tensors, TF32 tensor-core matmuls and convolutions on CUDA (10-bit
  mantissa products, float32 sums); on the CPU the same as ``fp32``;
- ``bf16``: bfloat16 autocast of the forward pass (matmuls and convolutions in bfloat16,
  reductions and the loss in float32); scores, weights, gradients and the optimiser stay
  float32, so no loss scaling is needed.

The flags are process-wide torch settings; every context here restores what it found.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch

PRECISIONS = ("fp32", "tf32", "bf16")


@contextmanager
def float32_kernels(tf32: bool) -> Iterator[None]:
    """CUDA float32 matmuls and cuDNN convolutions in TF32 (``True``) or IEEE float32."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def strict_float32() -> AbstractContextManager:
    """IEEE float32 kernels (evaluation, barriers): numbers comparable across devices."""
    return float32_kernels(False)


def training_kernels(precision: str) -> AbstractContextManager:
    """The float32 kernel flags of a training step loop at ``precision``."""
    _check(precision)
    return float32_kernels(precision == "tf32")


def forward_autocast(precision: str, device: torch.device | str) -> AbstractContextManager:
    """Autocast around a training forward pass and its loss (``bf16`` only)."""
    _check(precision)
    if precision != "bf16":
        return nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def _check(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(
            f"train.precision: unknown value {precision!r} (choose from {', '.join(PRECISIONS)})"
        )
