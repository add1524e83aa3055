"""What a finished search hands to the run store: per mask its record (accuracies at the
end and at the best validation epoch, counts, the record markers of how it was searched),
and the masks, weights, BatchNorm states and predictions of the model."""

from __future__ import annotations

from typing import Any

from landscape.search.predict import split_predictions
from landscape.search.state import History, SearchResult
from landscape.store.records import ALL_ONES_BATCHNORM, BEST_EPOCH_COUNTS, BEST_EPOCH_COUNTS_NOW

CONVENTIONS = "conventions"  # in a history's extra: the record markers of the search it holds


def search_result(trainer, hist: History, epochs: int) -> SearchResult:
    """The masks, per-mask records, weights, BatchNorm states and predictions of the
    :class:`~landscape.search.trainer.Trainer` ``trainer`` after ``epochs`` epochs."""
    masks = trainer.model.current_masks()
    n_kept = sum(m.reshape(trainer.m, -1).sum(1) for m in masks.values())
    records = []
    for i, seed in enumerate(trainer.search_seeds):
        c = hist.curves[i]
        has_val = len(trainer.val_y) > 0
        records.append(
            {
                "weight_seed": trainer.weight_seed,
                "search_seed": seed,
                "test_acc": c["test_acc"][-1],
                "val_acc": c["val_acc"][-1] if has_val else None,
                "test_loss": c["test_loss"][-1],
                "best_val_acc": float(hist.best_val[i]) if has_val else None,
                "test_acc_at_best_val": float(hist.test_at_best[i]) if has_val else None,
                # epochs trained behind the best network, as a snapshot's `epoch` counts them
                "best_epoch": int(hist.best_epoch[i]) + 1,
                BEST_EPOCH_COUNTS: BEST_EPOCH_COUNTS_NOW,
                "final_train_loss": c["train_loss"][-1],
                "final_train_acc": c["train_acc"][-1],
                "wall_time_s": hist.wall_time / trainer.m,
                "epochs": epochs,
                "n_kept": int(n_kept[i]),
                "batched_with": trainer.m,
                "all_ones_test_acc": hist.extra.get("all_ones_test_acc"),
                # how the search went, where earlier versions did otherwise (store.records);
                # a search resumed from an older checkpoint says nothing it did not do
                **hist.extra.get(CONVENTIONS, {}),
                **({"all_ones_batchnorm": ALL_ONES_BATCHNORM} if trainer.model.has_batchnorm else {}),
                "curves": c,
            }
        )
    for rec, extra in zip(records, _method_records(trainer)):
        rec.update(extra)
    weights = None
    if trainer.method.changes_weights:
        weights = [
            {
                name: layer.weight[min(i, layer.weight.shape[0] - 1)].detach().cpu().numpy()
                for name, layer in trainer.model.masked_layers()
            }
            for i in range(trainer.m)
        ]
    batchnorm = None
    if trainer.model.has_batchnorm:
        batchnorm = [trainer.model.batchnorm_state(i) for i in range(trainer.m)]
    predictions = split_predictions(
        trainer.model, {"val": (trainer.val_x, trainer.val_y), "test": (trainer.test_x, trainer.test_y)}
    )
    return SearchResult(masks, records, weights, batchnorm, trainer.weight_checksum, predictions)


def _method_records(trainer) -> list[dict[str, Any]]:
    extra = getattr(trainer.method, "records", None)
    return extra(trainer.model) if callable(extra) else [{} for _ in range(trainer.m)]
