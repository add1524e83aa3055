"""RunStore: creation, plan, shards and manifest, reading back, checksums, checkpoints."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from landscape.errors import StoreError
from landscape.store import shards
from landscape.store.layout import Layout
from landscape.store.packing import unpack_flat
from landscape.store.run_store import RunStore


def test_create_writes_the_run_files(store, cfg, layout):
    assert store.path.name == cfg.run_id == store.run_id
    for name in ("config.json", "layout.json", "meta.json"):
        assert (store.path / name).is_file()
    assert store.config == cfg
    assert store.layout == layout
    assert store.meta["data_shape"] == {"input_shape": [13], "n_classes": 2}
    assert store.meta["versions"]["numpy"] == np.__version__
    assert store.status() == "empty" and store.n_masks == 0
    # no temp folders are left in the root
    assert sorted(p.name for p in store.path.parent.iterdir()) == [cfg.run_id]


def test_create_again_joins_the_same_run(store, cfg, layout):
    again = RunStore.create(store.path.parent, cfg, layout)
    assert again.path == store.path and again.meta["created_at"] == store.meta["created_at"]


def test_create_refuses_a_different_layout(store, cfg):
    other = Layout([("fcs.0", (5, 13)), ("fcs.1", (3, 5)), ("fcs.2", (2, 4))])
    with pytest.raises(StoreError, match=f"run {cfg.run_id}: stored layout differs.*fcs.2"):
        RunStore.create(store.path.parent, cfg, other)


def test_create_detects_a_tampered_config(store, cfg, layout):
    data = json.loads((store.path / "config.json").read_text())
    data["method"]["density"] = 0.3
    (store.path / "config.json").write_text(json.dumps(data))
    with pytest.raises(StoreError, match=r"config.json does not match.*method.density"):
        RunStore.create(store.path.parent, cfg, layout)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "missing"), (b"{not json", "not valid JSON"), (b"\xff\xfe\x00", "not UTF-8")],
)
def test_open_names_the_bad_config_file(store, content, message):
    path = store.path / "config.json"
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
    with pytest.raises(StoreError, match=f"{path}: {message}"):
        RunStore.open(store.path)


def test_open_refuses_huge_json_and_non_directories(store, tmp_path, monkeypatch):
    from landscape.store import _io

    monkeypatch.setattr(_io, "MAX_JSON_BYTES", 10)
    with pytest.raises(StoreError, match="over the .* limit"):
        RunStore.open(store.path)
    monkeypatch.undo()
    with pytest.raises(StoreError, match="not a run directory"):
        RunStore.open(store.path / "config.json")
    (store.path / "layout.json").write_text('{"a": 1}')
    with pytest.raises(StoreError, match="layout.json: malformed layout"):
        RunStore.open(store.path)


def test_plan_is_a_union(store):
    store.add_plan([(0, 1), (0, 2)])
    store.add_plan([(0, 2), (1, 1)])
    assert store.plan() == {(0, 1), (0, 2), (1, 1)}
    assert store.pending() == [(0, 1), (0, 2), (1, 1)]


def test_write_and_read_back_bit_exact(store, layout, random_rows, make_records):
    store.add_plan([(0, s) for s in range(7)])
    rows, dense = random_rows(7, layout)
    pairs = [(0, s) for s in range(7)]
    recs = make_records(pairs)
    assert store.write_masks(rows[:3], recs[:3]) == 3
    assert store.status() == "partial"
    assert store.write_masks(rows[3:], recs[3:]) == 4
    assert store.status() == "complete"
    assert len(list((store.path / "shards").glob("*.bin"))) == 2
    back = store.read_rows()
    np.testing.assert_array_equal(back, rows)
    np.testing.assert_array_equal(unpack_flat(back, layout), dense)
    assert store.finished() == set(pairs) and store.n_masks == 7
    table = store.records()
    assert list(table[["weight_seed", "search_seed"]].itertuples(index=False, name=None)) == pairs
    np.testing.assert_array_equal(table["n_kept"], dense.sum(axis=1))
    assert "curves" not in table.columns
    assert recs[0]["n_kept"] == dense[0].sum()  # set on the caller's records too


def test_curves_are_long_format(store, layout, random_rows, make_records):
    rows, _ = random_rows(2, layout)
    store.write_masks(rows, make_records([(0, 0), (0, 1)], epochs=4))
    curves = store.curves()
    assert len(curves) == 8
    assert list(curves.columns[:4]) == ["mask", "weight_seed", "search_seed", "epoch"]
    assert curves.loc[curves["mask"] == 1, "epoch"].tolist() == [1, 2, 3, 4]  # epochs trained
    np.testing.assert_allclose(curves["train_loss"][:4], [1, 1 / 2, 1 / 3, 1 / 4])


def test_finished_pairs_are_not_stored_twice(store, layout, random_rows, make_records):
    rows, _ = random_rows(4, layout)
    store.write_masks(rows[:2], make_records([(0, 0), (0, 1)]))
    added = store.write_masks(rows[1:4], make_records([(0, 1), (0, 2), (0, 3)]))
    assert added == 2
    assert store.n_masks == 4
    back = store.read_rows()
    np.testing.assert_array_equal(back, rows)  # row of (0, 1) is the first writer's
    assert store.write_masks(rows[:1], make_records([(0, 0)])) == 0
    assert len(list((store.path / "shards").glob("*.bin"))) == 2


def test_write_rejects_inconsistent_input(store, layout, random_rows, make_records):
    rows, dense = random_rows(2, layout)
    with pytest.raises(ValueError, match="n_kept"):
        store.write_masks(rows, [dict(r, n_kept=-1) for r in make_records([(0, 0), (0, 1)])])
    with pytest.raises(ValueError, match="repeat"):
        store.write_masks(rows, make_records([(0, 0), (0, 0)]))
    with pytest.raises(ValueError, match="lacks 'search_seed'"):
        store.write_masks(rows[:1], [{"weight_seed": 0}])
    bad = rows.copy()
    bad[0, layout["fcs.0"].byte_slice.stop - 1] |= 0x80  # a padding bit
    with pytest.raises(ValueError, match="padding"):
        store.write_masks(bad, make_records([(0, 0), (0, 1)]))
    assert store.n_masks == 0


def test_truncated_shard_is_reported_by_path(store, layout, random_rows, make_records):
    rows, _ = random_rows(3, layout)
    store.write_masks(rows, make_records([(0, 0), (0, 1), (0, 2)]))
    (shard,) = (store.path / "shards").glob("*.bin")
    shard.write_bytes(shard.read_bytes()[:-3])
    assert store.status().startswith(f"corrupt: {shard}: truncated")
    with pytest.raises(StoreError, match=f"{shard}: truncated"):
        store.read_rows()


def test_flipped_bit_is_caught_by_the_checksum(store, layout, random_rows, make_records):
    rows, _ = random_rows(3, layout)
    store.write_masks(rows, make_records([(0, 0), (0, 1), (0, 2)]))
    (shard,) = (store.path / "shards").glob("*.bin")
    data = bytearray(shard.read_bytes())
    data[0] ^= 1
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=(1, 1))  # a fresh cache key even on coarse-mtime filesystems
    with pytest.raises(StoreError, match=f"{shard}: corrupt"):
        store.read_rows()


def test_missing_shard_file_is_named(store, layout, random_rows, make_records):
    rows, _ = random_rows(1, layout)
    store.write_masks(rows, make_records([(0, 0)]))
    (records,) = (store.path / "shards").glob("*.json")
    records.unlink()
    assert "listed in the manifest but missing" in store.status()
    with pytest.raises(StoreError, match=f"{records}: listed in the manifest but missing"):
        store.records()


def _list_again(store, rows, records, pairs) -> str:
    """Store ``pairs`` in a shard of their own and list it after the others, bypassing the
    writer's check (as a shard copied in by hand is); returns the shard's name."""
    entry = shards.write_shard(store.path / "shards", rows, records)
    entry["pairs"] = [list(p) for p in pairs]
    manifest = store.manifest()
    manifest["shards"].append(entry)
    (store.path / "manifest.json").write_text(json.dumps(manifest))
    return entry["name"]


def test_a_mask_listed_by_two_shards_is_refused_naming_both(store, layout, random_rows, make_records):
    rows, _ = random_rows(3, layout)
    store.write_masks(rows[:2], make_records([(0, 0), (0, 1)]))
    (first,) = (e["name"] for e in store.manifest()["shards"])
    later = _list_again(store, rows[1:3], make_records([(0, 1), (0, 2)]), [(0, 1), (0, 2)])
    message = f"{store.path / 'manifest.json'}: mask w0/s1 is listed twice, in {first} and again in {later}"
    with pytest.raises(StoreError, match=message):
        store.read_rows()
    assert store.status().startswith(f"corrupt: {message}")
    assert [f.kind for f in store.faults()] == ["repeated"]


def test_repair_drops_the_later_listing_and_keeps_the_mask(store, layout, random_rows, make_records):
    rows, _ = random_rows(3, layout)
    store.write_masks(rows[:2], make_records([(0, 0), (0, 1)]))
    store.save_weights(0, 1, {s.name: np.ones(s.shape) for s in layout})
    later = _list_again(store, rows[1:3], make_records([(0, 1), (0, 2)]), [(0, 1), (0, 2)])
    (moved,) = store.repair()
    assert moved["pairs"] == [] and later in moved["folder"]  # no mask lost
    assert store.faults() == [] and store.n_masks == 3
    np.testing.assert_array_equal(store.read_rows(), rows)  # (0, 2) carried over to a new shard
    assert store.has_weights(0, 1)  # the first listing's files stay in place


def test_repair_of_one_shard_listed_twice_keeps_the_shard(store, layout, random_rows, make_records):
    rows, _ = random_rows(2, layout)
    store.write_masks(rows, make_records([(0, 0), (0, 1)]))
    manifest = store.manifest()
    manifest["shards"].append(dict(manifest["shards"][0]))  # the same entry, listed again
    (store.path / "manifest.json").write_text(json.dumps(manifest))
    assert [f.kind for f in store.faults()] == ["repeated", "repeated"]
    store.repair()
    assert store.faults() == [] and store.n_masks == 2
    np.testing.assert_array_equal(store.read_rows(), rows)


def test_repair_keeps_the_sound_copy_of_a_mask_whose_first_shard_is_damaged(
    store, layout, random_rows, make_records
):
    rows, _ = random_rows(2, layout)
    store.write_masks(rows[:1], make_records([(0, 0)]))
    (first,) = (e["name"] for e in store.manifest()["shards"])
    _list_again(store, rows[:1], make_records([(0, 0)]), [(0, 0)])
    shard = store.path / "shards" / f"{first}.bin"
    shard.write_bytes(b"\xff" * shard.stat().st_size)  # the first copy's bits are lost
    os.utime(shard, ns=(1, 1))
    assert {f.kind for f in store.faults()} == {"repeated", "shard"}
    moved = store.repair()
    assert all(m["pairs"] == [] for m in moved)  # no mask lost: the later copy holds it
    assert store.faults() == [] and store.n_masks == 1
    np.testing.assert_array_equal(store.read_rows(), rows[:1])


def test_repair_of_a_mask_listed_twice_in_one_shard_keeps_one_listing(
    store, layout, random_rows, make_records
):
    rows, _ = random_rows(2, layout)
    store.write_masks(rows[:1], make_records([(0, 0)]))
    _list_again(store, np.stack([rows[1], rows[1]]), make_records([(0, 1), (0, 1)]), [(0, 1), (0, 1)])
    assert [f.kind for f in store.faults()] == ["repeated"]
    store.repair()
    assert store.faults() == [] and store.n_masks == 2
    np.testing.assert_array_equal(store.read_rows(), rows)


def test_repair_of_a_damaged_shard_listed_twice_takes_one_pass(store, layout, random_rows, make_records):
    rows, _ = random_rows(1, layout)
    store.write_masks(rows, make_records([(0, 0)]))
    manifest = store.manifest()
    manifest["shards"].append(dict(manifest["shards"][0]))
    (store.path / "manifest.json").write_text(json.dumps(manifest))
    (name,) = {e["name"] for e in manifest["shards"]}
    shard = store.path / "shards" / f"{name}.bin"
    shard.write_bytes(b"\xff" * shard.stat().st_size)
    os.utime(shard, ns=(1, 1))
    store.repair()
    assert store.faults() == [] and store.n_masks == 0  # the mask is lost, the run reads again
    assert store.read_rows().shape[0] == 0


def test_checksum_is_verified_once_per_file_version(store, layout, monkeypatch, random_rows, make_records):
    rows, _ = random_rows(2, layout)
    store.write_masks(rows, make_records([(0, 0), (0, 1)]))
    calls = []
    real = shards._io.sha256_file
    monkeypatch.setattr(shards._io, "sha256_file", lambda p: calls.append(p) or real(p))
    shards._verified.clear()
    store.read_rows()
    store.read_rows()
    assert len(calls) == 1


def test_weight_checksums(store):
    assert store.weight_checksum(3) is None
    store.set_weight_checksum(3, "abc")
    store.set_weight_checksum(3, "abc")
    assert store.weight_checksum(3) == "abc"
    store.verify_weights(3, "abc")
    store.verify_weights(4, "anything")  # nothing stored: nothing to compare
    message = f"run {store.run_id}, weight seed 3: weights regenerated by this torch version differ"
    with pytest.raises(StoreError, match=message):
        store.verify_weights(3, "def")
    with pytest.raises(StoreError, match=message):
        store.set_weight_checksum(3, "def")


def test_saved_weights_round_trip_as_float32(store, layout):
    rng = np.random.default_rng(1)
    tensors = {s.name: rng.standard_normal(s.shape).astype(np.float32) for s in layout}
    store.save_weights(0, 5, tensors)
    back = store.load_weights(0, 5)
    for name, value in tensors.items():
        assert back[name].dtype == np.float32
        np.testing.assert_array_equal(back[name], value)
    with pytest.raises(StoreError, match="w0-s6.npz: missing"):
        store.load_weights(0, 6)
    store._mask_file("weights", 0, 5).write_bytes(b"garbage")
    with pytest.raises(StoreError, match="unreadable weights"):
        store.load_weights(0, 5)


def test_checkpoints_round_trip_and_corrupt_ones_restart(store):
    key = (0, (1, 2, 3))
    assert store.load_checkpoint(key) is None
    store.save_checkpoint(key, {"epoch": 4, "state": [1, 2]})
    assert store.load_checkpoint(key) == {"epoch": 4, "state": [1, 2]}
    path = store.checkpoint_path(0, [1, 2, 3])
    assert path.name == "w0-s1-2-3.pt"
    path.write_bytes(b"\x00broken")
    with pytest.warns(RuntimeWarning, match="unreadable checkpoint"):
        assert store.load_checkpoint(key) is None
    assert not path.exists()
    store.save_checkpoint(path, 1)
    store.drop_checkpoint(key)
    assert not path.exists()
    long = store.checkpoint_path(0, range(10))
    assert long.name.startswith("w0-s0-n10-") and long != store.checkpoint_path(0, range(1, 11))


def test_dropping_a_checkpoint_removes_what_a_killed_writer_left(store):
    key = (0, (1, 2))
    store.save_checkpoint(key, {"epoch": 1})
    path = store.checkpoint_path(0, [1, 2])
    orphan = path.with_name(f".{path.name}.tmp-0123abcd")  # a writer killed mid-save
    orphan.write_bytes(b"half")
    other = store.checkpoint_path(0, [3])
    store.save_checkpoint((0, (3,)), {"epoch": 2})
    store.drop_checkpoint(key)
    assert not path.exists() and not orphan.exists()
    assert store.load_checkpoint((0, (3,))) == {"epoch": 2} and other.exists()  # other batches untouched
