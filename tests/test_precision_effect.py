"""The reduced-precision benchmark pairs each mask with the fp32 mask of the same seeds."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import precision_effect
from landscape.store import RunStore
from tests.conftest import TINY
from tests.importers.conftest import stored_masks


def test_masks_are_compared_with_the_fp32_mask_of_the_same_seeds(tmp_path):
    extra = [*TINY, "train.epochs=1"]
    runs = {
        p: precision_effect.search(tmp_path, "edge_popup", p, 2, 2, "cpu", extra) for p in ("fp32", "bf16")
    }
    rows = {r["precision"]: r for r in precision_effect.compare(tmp_path, "edge_popup", runs)}
    assert rows["fp32"]["moved"] == 0 and rows["fp32"]["diff"] == 0
    assert rows["bf16"]["masks"] == 4 and rows["bf16"]["networks"] == 2

    # the same numbers from the stores by hand: pairs by (weight seed, search seed)
    def by_seeds(precision):
        path = tmp_path / runs[precision]["run_id"]
        return RunStore.open(path).records().set_index(["weight_seed", "search_seed"]), stored_masks(path)

    ref, ref_masks = by_seeds("fp32")
    low, low_masks = by_seeds("bf16")
    moved, diffs = [], {}
    for key in ref.index:
        a = np.concatenate([m.ravel() for m in ref_masks[key].values()])
        b = np.concatenate([m.ravel() for m in low_masks[key].values()])
        moved.append(1 - (a & b).sum() / (a | b).sum())
        diffs.setdefault(key[0], []).append(low.at[key, "test_acc"] - ref.at[key, "test_acc"])
    assert rows["bf16"]["moved"] == pytest.approx(np.mean(moved))
    assert rows["bf16"]["diff"] == pytest.approx(np.mean([d for v in diffs.values() for d in v]))
    net_means = np.array([np.mean(v) for v in diffs.values()])
    assert np.mean(rows["bf16"]["diff_ci"]) == pytest.approx(net_means.mean())  # centred on the network means
    assert precision_effect.markdown_row(rows["bf16"])[1] == "bf16"
