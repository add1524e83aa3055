"""Memory estimates for sizing batches of masks (search) and of path points (barriers)."""

from __future__ import annotations

import torch

from landscape.nn.base import EnsembleNet
from landscape.ram import available_ram


def available_bytes(device: str | torch.device) -> int:
    """Memory a batch may use: 60% of free GPU memory, a quarter of the available RAM."""
    if str(device).startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free * 0.6)
    ram = available_ram()
    return 2 * 1024**3 if ram is None else ram // 4


@torch.no_grad()
def activations_per_example(model: EnsembleNet, input_shape: tuple[int, ...]) -> float:
    """Activation values one example produces in one mask slice (all leaf module outputs).

    Runs one eval-mode forward of two examples; the model needs a mask source (a rule or
    fixed masks) and is left in the mode it was in.
    """
    sizes: list[int] = []

    def record(_module, _inputs, output) -> None:
        sizes.append(output.numel())

    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(record) for m in leaves]
    device = model.masked_layers()[0][1].weight.device
    was_training = model.training
    try:
        model.eval()
        model(torch.zeros((model.n_masks, 2, *input_shape), device=device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return sum(sizes) / (2 * model.n_masks)
