"""The in-memory dataset every loader returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    Split = tuple[torch.Tensor, torch.Tensor]
    Augment = Callable[[torch.Tensor, list[torch.Generator]], torch.Tensor]


@dataclass
class Dataset:
    """Train/val/test tensors of one dataset, held on the CPU.

    Attributes
    ----------
    name
        Registered dataset name.
    input_shape
        Shape of one example, e.g. ``(3, 32, 32)``.
    n_classes
        Number of classes; labels are ``0 .. n_classes - 1``.
    train, val, test
        ``(x, y)`` with ``x`` float32 ``(N, *input_shape)`` normalised and ``y`` int64 ``(N,)``.
        ``val`` has 0 rows when no validation split was asked for.
    augment
        ``augment(x, generators) -> x`` for ``x`` of shape ``(M, B, *input_shape)`` on any
        device and one CPU generator per mask, or None. A mask's draws depend only on its own
        generator and ``B``, so its augmentation is the same alone or in a batch of masks.
    """

    name: str
    input_shape: tuple[int, ...]
    n_classes: int
    train: Split
    val: Split
    test: Split
    augment: Augment | None = None

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(s) for s in self.input_shape)
        for split, (x, y) in self.splits().items():
            if tuple(x.shape[1:]) != self.input_shape or x.shape[0] != y.shape[0] or y.dim() != 1:
                raise ValueError(
                    f"dataset {self.name}: {split} split has x {tuple(x.shape)} and y "
                    f"{tuple(y.shape)}, expected (N, *{self.input_shape}) and (N,)"
                )

    def splits(self) -> dict[str, Split]:
        """``{"train": (x, y), "val": ..., "test": ...}``."""
        return {"train": self.train, "val": self.val, "test": self.test}

    @property
    def sizes(self) -> dict[str, int]:
        """Rows per split."""
        return {name: int(y.shape[0]) for name, (_, y) in self.splits().items()}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        aug = "" if self.augment is None else ", augmented"
        return (
            f"Dataset({self.name}, input_shape={self.input_shape}, n_classes={self.n_classes}, {sizes}{aug})"
        )
