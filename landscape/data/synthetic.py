"""A learnable random dataset of any input shape, for smoke tests and benchmarks."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from landscape.config import DataConfig
from landscape.data.augment import CropFlip
from landscape.data.dataset import Dataset
from landscape.data.splits import split_rng, stratified_split
from landscape.nn.init import generator

# root-mean-square amplitude of a class mean per feature, in units of the noise std: class
# means are nearly orthogonal, so two classes sit about 0.5 * sqrt(2 * n_features) noise stds
# apart (5.7 for 64 features, 39 for 3x32x32 images): separable, yet single features are not
SIGNAL = 0.5


def load_synthetic(cfg: DataConfig) -> Dataset:
    """Gaussian classes: ``x = mean[y] + noise`` with standard normal noise.

    ``data.n_train`` rows (of which ``data.val_fraction`` are carved off, stratified, as the
    validation split) and ``data.n_test`` test rows of shape ``data.input_shape`` in
    ``data.n_classes`` balanced classes, all drawn from the stream
    ``(data.split_seed, "synthetic")``. The nearest class mean classifies almost perfectly, so
    any working learner beats chance quickly. For image shapes (C, H, W) of at least 4x4 the
    class means are smooth and left-right symmetric, so crops and flips keep the label; with
    3 channels and ``data.augment`` the training loop crops and flips as for CIFAR-10.
    """
    shape = tuple(int(s) for s in cfg.input_shape)
    gen = generator(cfg.split_seed, "synthetic")
    means = _class_means(shape, cfg.n_classes, gen)
    x_pool, y_pool = _sample(means, cfg.n_train, gen)
    x_test, y_test = _sample(means, cfg.n_test, gen)
    train, val = stratified_split(y_pool.numpy(), (cfg.val_fraction,), split_rng(cfg.split_seed, "synthetic"))
    train_t, val_t = torch.from_numpy(train), torch.from_numpy(val)
    image = len(shape) == 3 and shape[0] == 3 and min(shape[1:]) >= 4
    return Dataset(
        name="synthetic",
        input_shape=shape,
        n_classes=cfg.n_classes,
        train=(x_pool[train_t], y_pool[train_t]),
        val=(x_pool[val_t], y_pool[val_t]),
        test=(x_test, y_test),
        augment=CropFlip(pad=4) if (image and cfg.augment) else None,
    )


def _class_means(shape: tuple[int, ...], n_classes: int, gen: torch.Generator) -> torch.Tensor:
    if len(shape) == 3 and min(shape[1:]) >= 4:
        c, h, w = shape
        # coarse 4x4 patterns upsampled: smooth, so a 4 px shift barely changes them
        coarse = torch.randn((n_classes, c, 4, 4), generator=gen)
        means = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
        means = (means + means.flip(-1)) / 2
    else:
        means = torch.randn((n_classes, *shape), generator=gen)
    flat = means.reshape(n_classes, -1)
    norm = SIGNAL * math.sqrt(flat.shape[1])
    flat = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12) * norm
    return flat.reshape(n_classes, *shape)


def _sample(means: torch.Tensor, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    n_classes = means.shape[0]
    # balanced labels in random order
    y = (torch.arange(n) % n_classes)[torch.randperm(n, generator=gen)]
    noise = torch.randn((n, *means.shape[1:]), generator=gen)
    # keep every feature near unit variance whatever the separation
    scale = 1.0 / math.sqrt(1.0 + SIGNAL**2)
    return ((means[y] + noise) * scale).float(), y.long()
