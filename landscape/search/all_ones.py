"""The reference a mask search must beat: the untrained random network with every weight kept
(near chance for a random network), measured as a searched mask is measured.

BatchNorm, if any, gets statistics estimated on the training split (one pass, an equal-weight
average over training-size batches) and evaluates in eval mode: batch statistics of the test
set would make the number depend on how the test set is batched. The search's masks and
running statistics are restored afterwards, so measuring it changes nothing in the search.
"""

from __future__ import annotations

import numpy as np
import torch

from landscape.search.evaluate import evaluate


def in_order_batches(n: int, batch_size: int) -> list[np.ndarray]:
    """Index batches of one pass over ``n`` examples in order, the last one shorter."""
    return [np.arange(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]


@torch.no_grad()
def all_ones_accuracy(model, train_x, test_x, test_y, batch_size: int) -> float:
    """Test accuracy of ``model`` (every slot the same network) with every weight kept."""
    saved = {name: layer.fixed_mask for name, layer in model.masked_layers()}
    was_training = model.training
    try:
        with model.batchnorm_kept():
            for _, layer in model.masked_layers():
                layer.fixed_mask = torch.ones(
                    (model.n_masks, *layer.weight_shape), dtype=torch.bool, device=layer.weight.device
                )
            if model.has_batchnorm:
                model.reestimate_batchnorm(train_x, in_order_batches(len(train_x), batch_size))
            _, acc = evaluate(model, test_x, test_y)
    finally:
        for name, layer in model.masked_layers():
            layer.fixed_mask = saved[name]
        model.train(was_training)
    return float(acc[0])
