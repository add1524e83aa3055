"""How many masks to train at once: estimated from the model's size and free memory."""

from __future__ import annotations

import math

from landscape.config import SearchConfig

CPU_CAP = 32  # beyond this, two CPU cores gain nothing and the progress bar barely moves
CUDA_CAP = 512
FLOATS_PER_WEIGHT = 8  # weight copy, scores, grad, momentum, effective weight, mask, temporaries
ACTIVATION_FACTOR = 3  # forward activations kept for backward plus their gradients


def bytes_per_mask(cfg: SearchConfig, dataset) -> int:
    """Estimated memory one extra mask costs: parameters plus activations of one batch."""
    import torch

    from landscape.nn.memory import activations_per_example
    from landscape.search.trainer import build_model

    model = build_model(cfg, dataset, 1, "cpu")
    model.set_fixed_masks(
        {
            name: torch.ones((1, *layer.weight_shape), dtype=torch.bool)
            for name, layer in model.masked_layers()
        }
    )
    per_example = activations_per_example(model, dataset.input_shape)
    n_weights = model.layout().n_weights
    return int(4 * (FLOATS_PER_WEIGHT * n_weights + ACTIVATION_FACTOR * per_example * cfg.train.batch_size))


def resident_bytes(dataset) -> int:
    """Bytes of the splits the trainer keeps on the device for the whole search."""
    return sum(
        t.numel() * t.element_size() for split in (dataset.train, dataset.val, dataset.test) for t in split
    )


def auto_masks_in_flight(cfg: SearchConfig, dataset, device: str, n_todo: int) -> int:
    """Masks per batched model: as many as fit (with margin), capped per device kind.

    On CUDA the memory the data takes on the device is set aside first (on the CPU the data
    already sits in the RAM that the available figure excludes).
    """
    from landscape.nn.memory import available_bytes

    cuda = device.startswith("cuda")
    cap = CUDA_CAP if cuda else CPU_CAP
    free = available_bytes(device) - (resident_bytes(dataset) if cuda else 0)
    fit = max(1, math.floor(free / max(1, bytes_per_mask(cfg, dataset))))
    return max(1, min(n_todo, fit, cap))
