"""Datasets held in memory: digits, MNIST, CIFAR-10 and a synthetic one.

Each loader is ``load_<name>(cfg: DataConfig) -> Dataset``; :func:`load_dataset` picks the
one named by ``cfg.name`` from the dataset registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from landscape.data.dataset import Dataset

if TYPE_CHECKING:
    from landscape.config import DataConfig

__all__ = ["Dataset", "load_dataset"]


def load_dataset(cfg: DataConfig) -> Dataset:
    """Load the dataset ``cfg.name`` (see ``landscape.registries.datasets``)."""
    from landscape import registries

    return registries.datasets.load(cfg.name)(cfg)
