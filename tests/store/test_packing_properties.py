"""Property tests: packing round trips over random layouts; padding stays zero."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from landscape.store.layout import Layout
from landscape.store.packing import (
    as_words,
    layer_counts,
    pack_flat,
    pack_layers,
    unpack_flat,
    unpack_layers,
)
from landscape.store.shards import check_rows

shapes = st.lists(st.integers(1, 9), min_size=1, max_size=4).map(tuple)


@st.composite
def layouts_and_masks(draw):
    layer_shapes = draw(st.lists(shapes, min_size=1, max_size=4))
    layout = Layout((f"layer{i}", s) for i, s in enumerate(layer_shapes))
    n = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    p = draw(st.floats(0, 1))
    dense = np.random.default_rng(seed).random((n, layout.n_weights)) < p
    return layout, dense


@settings(max_examples=60, deadline=None)
@given(layouts_and_masks())
def test_pack_unpack_round_trip(case):
    layout, dense = case
    rows = pack_flat(dense, layout)
    assert rows.shape == (len(dense), layout.row_bytes) and layout.row_bytes % 8 == 0
    np.testing.assert_array_equal(unpack_flat(rows, layout), dense)
    layers = unpack_layers(rows, layout)
    np.testing.assert_array_equal(pack_layers(layers, layout), rows)
    counts = layer_counts(rows, layout)
    np.testing.assert_array_equal(counts.sum(axis=1), dense.sum(axis=1))
    np.testing.assert_array_equal(check_rows(rows, layout), dense.sum(axis=1))
    # whole-row popcounts equal kept counts: the padding is zero
    assert np.bitwise_count(as_words(rows)).sum() == dense.sum()
