"""The reference a mask search must beat: the untrained random network with every weight kept
(near chance for a random network), measured as a searched mask is measured.

BatchNorm, if any, gets statistics estimated on the training split (one pass, an equal-weight
average over training-size batches) and evaluates in eval mode: batch statistics of the test
set would make the number depend on how the test set is batched. The search's masks and
running statistics are restored afterwards, so measuring it changes nothing in the search.
"""

from __future__ import annotations

import torch

from landscape.search.evaluate import evaluate


@torch.no_grad()
def all_ones_accuracy(model, train_x, test_x, test_y, batch_size: int) -> float:
    """Test accuracy of ``model`` (every slot the same network) with every weight kept."""
    saved = {name: layer.fixed_mask for name, layer in model.masked_layers()}
    was_training = model.training
    norms = model.batchnorms()
    stats = [(bn.bn.momentum, bn.bn.running_mean.clone(), bn.bn.running_var.clone(),
              bn.bn.num_batches_tracked.clone()) for bn in norms]  # fmt: skip
    try:
        for _, layer in model.masked_layers():
            layer.fixed_mask = torch.ones(
                (model.n_masks, *layer.weight_shape), dtype=torch.bool, device=layer.weight.device
            )
        if norms:
            _estimate_batchnorm(model, norms, train_x, batch_size)
        _, acc = evaluate(model, test_x, test_y)
    finally:
        for name, layer in model.masked_layers():
            layer.fixed_mask = saved[name]
        for bn, (momentum, mean, var, count) in zip(norms, stats):
            bn.bn.momentum = momentum
            bn.bn.running_mean.copy_(mean)
            bn.bn.running_var.copy_(var)
            bn.bn.num_batches_tracked.copy_(count)
        model.train(was_training)
    return float(acc[0])


def _estimate_batchnorm(model, norms, train_x, batch_size: int) -> None:
    for bn in norms:
        bn.bn.momentum = None  # cumulative: an equal-weight average over the batches
        bn.bn.reset_running_stats()
    model.train()
    for start in range(0, len(train_x), batch_size):
        xb = train_x[start : start + batch_size]
        model(xb.unsqueeze(0).expand(model.n_masks, *xb.shape))
    model.eval()
