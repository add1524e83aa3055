"""What a search carries between epochs and hands to the store: the per-mask history, the
result, and loading a saved model state back (checkpoints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

CURVE_KEYS = ("lr", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")


@dataclass
class SearchResult:
    """What one trained ensemble hands to the store."""

    masks: dict[str, np.ndarray]  # layer -> bool (M, *shape)
    records: list[dict[str, Any]]  # one per mask, curves included
    weights: list[dict[str, np.ndarray]] | None = None  # per mask, when the method changed them
    batchnorm: list[dict[str, np.ndarray]] | None = None  # per mask running statistics, if any BN
    weight_checksum: str = ""


@dataclass
class History:
    curves: list[dict[str, list[float]]]
    best_val: np.ndarray
    best_epoch: np.ndarray
    test_at_best: np.ndarray
    wall_time: float = 0.0
    steps: int = 0
    epochs_done: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls, m: int) -> History:
        return cls(
            curves=[{k: [] for k in CURVE_KEYS} for _ in range(m)],
            best_val=np.full(m, -np.inf),
            best_epoch=np.full(m, -1),
            test_at_best=np.full(m, np.nan),
        )


def load_model_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a state dict, also into buffers that are None in a fresh model (fixed masks...)."""
    for key, value in state.items():
        *path, name = key.split(".")
        module = model.get_submodule(".".join(path)) if path else model
        current = getattr(module, name, None)
        device = next(model.parameters()).device
        if isinstance(current, torch.nn.Parameter):
            if current.shape != value.shape:
                module._parameters[name] = torch.nn.Parameter(value.to(device).clone())
            else:
                with torch.no_grad():
                    current.copy_(value)
        else:
            module._buffers[name] = value.to(device).clone()
