"""MaskSets with hand-made predictions (obsm slots as ``landscape.tl`` reads them), for tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.maskset import MaskSet
from landscape.store.layout import Layout

LAYOUT = Layout([("fc0", (6, 8)), ("fc1", (3, 6))])


def with_predictions(
    preds, labels, logprob=None, *, networks=None, method="edge_popup", val=None, masks=None
):
    """A MaskSet whose masks predicted ``preds`` ``(n, N)`` of ``labels`` ``(N,)``; log-probs
    default to a confident one-hot softmax of the predictions. ``method`` may name each
    mask's method (and run)."""
    preds = np.asarray(preds)
    n = preds.shape[0]
    n_classes = int(max(preds.max(), np.max(labels))) + 1 if logprob is None else logprob.shape[2]
    if logprob is None:
        logits = np.where(np.eye(n_classes, dtype=bool)[preds], 4.0, 0.0)
        logprob = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    rng = np.random.default_rng(0)
    if masks is None:
        masks = rng.random((n, LAYOUT.n_weights)) < 0.5
    networks = np.zeros(n, dtype=int) if networks is None else np.asarray(networks)
    methods = [method] * n if isinstance(method, str) else list(method)  # one run per method
    obs = pd.DataFrame(
        {
            "run_id": methods,
            "method": methods,
            "method.name": methods,
            "density": 0.5,
            "weight_seed": networks,
            "search_seed": np.arange(n),
        },
        index=[f"{m}/w{w}/s{s}" for m, w, s in zip(methods, networks, range(n))],
    )
    ms = MaskSet.from_dense(masks, LAYOUT, obs)
    ms.obsm["logprob_test"] = np.asarray(logprob, dtype=np.float16)
    ms.obsm["pred_test"] = preds
    ms.obsm["labels_test"] = np.repeat(np.asarray(labels)[None], n, axis=0)
    if val is not None:
        val_pred, val_labels = val
        ms.obsm["logprob_val"] = np.zeros((n, len(val_labels), n_classes), dtype=np.float16)
        ms.obsm["pred_val"] = np.asarray(val_pred)
        ms.obsm["labels_val"] = np.repeat(np.asarray(val_labels)[None], n, axis=0)
    return ms
