"""Evaluation of all masks of an ensemble on one split (shared by the trainer and barriers)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from landscape.nn.base import EnsembleNet


@torch.no_grad()
def evaluate(
    model: EnsembleNet, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy and accuracy of every mask on ``(x, y)``.

    ``x`` is ``(N, *input_shape)``: every mask sees the same examples. Returns two float64
    CPU tensors of shape ``(M,)``. BatchNorm uses running statistics (eval mode).
    """
    m = model.n_masks
    if len(y) == 0:
        nan = torch.full((m,), float("nan"), dtype=torch.float64)
        return nan, nan.clone()
    was_training = model.training
    model.eval()
    # sums stay on the device: one transfer at the end, not a host sync per batch
    loss_sum = torch.zeros(m, dtype=torch.float64, device=x.device)
    correct = torch.zeros(m, dtype=torch.float64, device=x.device)
    for start in range(0, len(y), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logits = model(xb.unsqueeze(0).expand(m, *xb.shape))
        flat = logits.reshape(-1, logits.shape[-1]).float()
        target = yb.repeat(m)
        losses = F.cross_entropy(flat, target, reduction="none").reshape(m, -1)
        loss_sum += losses.sum(1).double()
        correct += (flat.argmax(1) == target).reshape(m, -1).sum(1).double()
    model.train(was_training)
    return (loss_sum / len(y)).cpu(), (correct / len(y)).cpu()
