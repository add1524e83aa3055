"""Property tests (hypothesis) that complement the ones next to the code: layouts through
JSON, random config overrides and files, distances as metrics, store round trips and
single-byte corruption.

Existing properties: packing round trips (tests/store/test_packing_properties.py), kernel
backends against a dense reference (tests/tl/test_tl_kernels.py), config dict round trips
(tests/test_config.py).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist, squareform

from landscape.config import SearchConfig, apply_overrides, from_dict, load_config, parse_override
from landscape.errors import ConfigError, StoreError
from landscape.store import _io, shards
from landscape.store.layout import Layout
from landscape.store.packing import pack_flat
from landscape.store.records import flatten
from landscape.store.run_store import RunStore

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
shapes = st.lists(st.integers(1, 70), min_size=1, max_size=4).map(tuple)
layouts = st.lists(st.tuples(names, shapes), min_size=1, max_size=5, unique_by=lambda t: t[0]).map(Layout)


# --------------------------------------------------------------------------------------------
# layouts


@SETTINGS
@given(layouts)
def test_layout_round_trips_through_json_text(layout):
    again = Layout.from_json(json.loads(layout.dumps()))
    assert again == layout and hash(again) == hash(layout)
    assert [s.offset for s in again] == [s.offset for s in layout]
    # every layer starts on a 64-bit word; a row is whole words
    assert all(s.offset % 64 == 0 for s in layout)
    assert layout.row_bits % 64 == 0 and layout.row_bytes == layout.row_words * 8
    assert layout.row_bits >= layout.n_weights > layout.row_bits - 64 * len(layout)
    assert layout.difference(again) == "no difference"


@SETTINGS
@given(layouts, st.data())
def test_layout_with_a_wrong_offset_is_refused(layout, data):
    raw = layout.to_json()
    k = data.draw(st.integers(0, len(raw) - 1))
    raw[k]["offset"] += data.draw(st.sampled_from([-64, -1, 1, 8, 64]))
    with pytest.raises(StoreError, match="layout.json: layer .* offset does not match"):
        Layout.from_json(raw, source="layout.json")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
layout_like = st.lists(
    st.fixed_dictionaries(
        {"name": json_values, "shape": json_values}, optional={"offset": json_values, "numel": json_values}
    ),
    max_size=3,
)


@SETTINGS
@given(json_values | layout_like)
def test_any_json_is_a_layout_or_a_store_error(value):
    """A damaged layout.json never escapes as a TypeError, ValueError or KeyError."""
    try:
        layout = Layout.from_json(value, source="layout.json")
    except StoreError as exc:
        assert str(exc).startswith("layout.json: ") and "\n" not in str(exc)
    else:
        assert Layout.from_json(layout.to_json()) == layout


# --------------------------------------------------------------------------------------------
# configs

LEAVES = sorted(flatten(SearchConfig().to_dict()))
values = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.lists(st.integers(-3, 300) | st.floats(-2, 2) | st.text(max_size=3), max_size=4)
    | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)
)


def _mentions(message: str, dotted: str) -> bool:
    leaf = dotted.split(".")[-1]
    return dotted in message or leaf in message


@SETTINGS
@given(st.dictionaries(st.sampled_from(LEAVES), values, min_size=1, max_size=3))
def test_random_overrides_give_a_valid_config_or_name_a_field(overrides):
    try:
        cfg = apply_overrides(SearchConfig(), overrides)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message
        assert any(_mentions(message, key) for key in overrides), (overrides, message)
        return
    # accepted: it survives its own round trip, and every number in it is finite
    again = from_dict(cfg.to_dict())
    assert again == cfg and again.run_id == cfg.run_id
    for key, value in flatten(cfg.to_dict()).items():
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, float):
                assert math.isfinite(v), key


override_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@SETTINGS
@given(st.lists(st.one_of(override_text, st.sampled_from(LEAVES).map(lambda k: k + "=") .flatmap(
    lambda k: override_text.map(lambda v: k + v))), min_size=1, max_size=3))  # fmt: skip
def test_any_set_text_is_parsed_or_refused_in_one_line(texts):
    try:
        cfg = load_config(None, texts)
    except ConfigError as exc:
        assert "\n" not in str(exc)
    else:
        assert from_dict(cfg.to_dict()) == cfg


@SETTINGS
@given(st.dictionaries(st.sampled_from(LEAVES), values, min_size=1, max_size=3))
def test_override_text_means_the_same_as_the_value(overrides):
    """``--set key=<yaml of value>`` parses back to the value the mapping gives."""
    import yaml

    texts = []
    for key, value in overrides.items():
        assume(not (isinstance(value, str) and value != value.strip()))
        texts.append(
            f"{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"
        )
    parsed = dict(parse_override(t) for t in texts)
    outcomes = []
    for source in (overrides, parsed):
        try:
            outcomes.append(apply_overrides(SearchConfig(), source))
        except ConfigError as exc:
            outcomes.append(type(exc))
    assert outcomes[0] == outcomes[1]


@SETTINGS
@given(st.binary(max_size=200))
def test_any_config_file_bytes_load_or_fail_in_one_line(tmp_path, content):
    path = tmp_path / "any.yaml"
    path.write_bytes(content)
    try:
        load_config(path)
    except ConfigError as exc:
        assert "\n" not in str(exc)


# --------------------------------------------------------------------------------------------
# distances


@st.composite
def mask_sets(draw):
    layout = draw(layouts)
    n = draw(st.integers(2, 7))
    p = draw(st.sampled_from([0.0, 0.05, 0.5, 0.95, 1.0]))
    dense = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random((n, layout.n_weights)) < p
    if draw(st.booleans()):
        dense[draw(st.integers(0, n - 1))] = False  # an empty mask
    return layout, dense


@settings(max_examples=25, deadline=None)
@given(mask_sets())
def test_distances_are_metrics_and_equal_scipy(case):
    from landscape import tl
    from landscape.maskset import MaskSet

    layout, dense = case
    ms = MaskSet.from_dense(dense, layout)
    tl.distances(ms, metric=("jaccard", "hamming"))
    for metric in ("jaccard", "hamming"):
        d = ms.obsp[f"dist_{metric}"]
        np.testing.assert_array_equal(d, squareform(pdist(dense, metric)))
        assert np.all((d >= 0) & (d <= 1))
        np.testing.assert_array_equal(d, d.T)
        np.testing.assert_array_equal(np.diag(d), 0)
        # triangle inequality (both are metrics on sets)
        assert np.all(d[:, None, :] <= d[:, :, None] + d[None, :, :] + 1e-12)
    # a subset's distances are the sub-matrix
    idx = np.arange(len(ms))[::2]
    sub = ms[idx]
    tl.distances(sub, metric="jaccard")
    np.testing.assert_array_equal(sub.obsp["dist_jaccard"], ms.obsp["dist_jaccard"][np.ix_(idx, idx)])


# --------------------------------------------------------------------------------------------
# the store


@pytest.fixture
def empty_run(tmp_path):
    layout = Layout([("fcs.0", (5, 13)), ("fcs.1", (3, 5)), ("fcs.2", (2, 3))])
    cfg = SearchConfig().replace(**{"model.hidden": [5, 3]})
    return RunStore.create(tmp_path / "runs", cfg, layout)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=5, unique=True), min_size=1, max_size=4),
       st.integers(0, 2**32 - 1))  # fmt: skip
def test_batches_of_masks_round_trip_each_pair_once(empty_run, batches, seed):
    """Overlapping batches: the first copy of each pair is kept, bit for bit, exactly once."""
    store = RunStore.open(empty_run.path)
    (store.path / "manifest.json").unlink(missing_ok=True)
    rng = np.random.default_rng(seed)
    first: dict[tuple[int, int], np.ndarray] = {}
    for batch in batches:
        rows = pack_flat(rng.random((len(batch), store.layout.n_weights)) < 0.4, store.layout)
        records = [{"weight_seed": 0, "search_seed": s, "test_acc": 0.5} for s in batch]
        added = store.write_masks(rows, records)
        fresh = [i for i, s in enumerate(batch) if (0, s) not in first]
        assert added == len(fresh)
        first.update({(0, batch[i]): rows[i] for i in fresh})
    got = store.read_rows()
    pairs = [tuple(p) for e in store.manifest()["shards"] for p in e["pairs"]]
    assert sorted(pairs) == sorted(first)
    for pair, row in zip(pairs, got):
        np.testing.assert_array_equal(row, first[pair])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_changed_byte_of_a_shard_is_caught(empty_run, data):
    store = RunStore.open(empty_run.path)
    if not store.has_manifest:
        rows = pack_flat(np.random.default_rng(0).random((3, store.layout.n_weights)) < 0.5, store.layout)
        store.write_masks(rows, [{"weight_seed": 0, "search_seed": s} for s in range(3)])
    entry = store.manifest()["shards"][0]
    suffix = data.draw(st.sampled_from([".bin", ".json"]))
    path = store.path / "shards" / f"{entry['name']}{suffix}"
    original = path.read_bytes()
    pos = data.draw(st.integers(0, len(original) - 1))
    flip = data.draw(st.integers(1, 255))
    try:
        path.write_bytes(original[:pos] + bytes([original[pos] ^ flip]) + original[pos + 1 :])
        shards._verified.clear()  # a new process: nothing verified yet
        with pytest.raises(StoreError, match=f"{path.name}: corrupt"):
            store.verify()
    finally:
        path.write_bytes(original)
    shards._verified.clear()
    store.verify()
    assert _io.sha256_file(path) == entry[f"sha256_{suffix[1:]}"]
