import numpy as np
import pandas as pd
import pytest

from landscape.maskset import MaskSet
from landscape.store.layout import Layout

ODD_LAYOUT = Layout([("conv", (3, 5, 7)), ("fc", (1,)), ("out", (65,)), ("big", (130,))])


def make_maskset(dense: np.ndarray, layout: Layout = ODD_LAYOUT, obs: pd.DataFrame | None = None) -> MaskSet:
    return MaskSet.from_dense(np.asarray(dense, dtype=bool), layout, obs)


@pytest.fixture
def odd_masks():
    """Random masks of various densities plus empty, full and duplicated masks."""
    rng = np.random.default_rng(3)
    n_weights = ODD_LAYOUT.n_weights
    dense = rng.random((9, n_weights)) < rng.uniform(0.05, 0.95, size=(9, 1))
    dense[5] = False
    dense[6] = False
    dense[7] = True
    dense[8] = dense[0]
    return dense
