"""Store hygiene: ``verify`` records its result, ``ls`` shows it, ``verify --repair`` quarantines
damaged masks so that searching again re-searches exactly those, bit-identically."""

from __future__ import annotations

import json

import numpy as np
import pytest

from landscape.cli import main
from landscape.store import RunStore, list_runs
from tests.reliability.conftest import SEARCH, by_pair, cli_error, only_run

# bit-identical records need one torch thread (see conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _flip(path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if at is None else at] ^= 0x10
    path.write_bytes(bytes(data))


def _ls(capsys, root) -> str:
    capsys.readouterr()
    assert main(["ls", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines  # header + the one run
    return lines[1]


def test_flipped_byte_verify_repair_and_search_again_restore_the_run_bit_for_bit(tmp_path, capsys):
    root = tmp_path / "runs"
    search = [*SEARCH, "--runs", str(root), "--search-seeds", "0-3", "--masks-in-flight", "2"]
    assert main(search) == 0
    store = only_run(root)
    original = by_pair(store)
    assert _ls(capsys, root).split()[1:4] == ["complete", "4/4", "never"]

    entry = store.manifest()["shards"][0]  # two masks live in this shard
    lost = sorted(tuple(p) for p in entry["pairs"])
    shard = store.path / "shards" / f"{entry['name']}.bin"
    _flip(shard)
    assert _ls(capsys, root).split()[1] == "complete"  # ls does not hash: only verify sees it

    err = cli_error(capsys, "verify", root)
    assert err == f"landscape verify: error: {root}: 1 of 1 runs failed verification"
    line = _ls(capsys, root)
    assert line.split()[1] == "corrupt" and "FAILED" in line and shard.name in line
    record = json.loads((store.path / "verified.json").read_text())
    assert record["ok"] is False and shard.name in record["fault"] and record["landscape"]

    capsys.readouterr()
    assert main(["verify", str(root), "--repair"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"REPAIRED {store.run_id}") and "2 masks quarantined" in out
    store = RunStore.open(store.path)
    assert store.status() == "partial" and store.pending() == lost
    assert _ls(capsys, root).split()[1:3] == ["partial", "2/4"]
    (folder,) = (store.path / "quarantine").iterdir()
    reason = json.loads((folder / "reason.json").read_text())
    assert reason["shard"] == entry["name"] and sorted(map(tuple, reason["pairs"])) == lost
    assert shard.name in reason["reason"]
    assert sorted(p.name for p in (folder / "shards").iterdir()) == [
        f"{entry['name']}.bin",
        f"{entry['name']}.json",
    ]

    capsys.readouterr()
    assert main(search) == 0
    assert "2 masks searched, 2 already done" in capsys.readouterr().out  # only the quarantined ones
    line = _ls(capsys, root)
    assert line.split()[1:3] == ["complete", "4/4"] and "(+2 masks since)" in line
    assert main(["verify", str(root)]) == 0
    pairs, rows, records = by_pair(RunStore.open(store.path))
    assert pairs == original[0]
    np.testing.assert_array_equal(rows, original[1])
    assert records == original[2]
    line = _ls(capsys, root)
    assert line.split()[1] == "complete" and "since" not in line and "FAILED" not in line


def _search_with_batchnorm_files(root, n_masks: int) -> tuple[list[str], RunStore]:
    """A finished search whose masks each store a BatchNorm file; the command, to run again."""
    bn = ["--set", "model.batchnorm=nonaffine"]
    search = [
        *SEARCH,
        *bn,
        "--runs",
        str(root),
        "--search-seeds",
        f"0-{n_masks - 1}",
        "--masks-in-flight",
        str(n_masks),
    ]
    assert main(search) == 0
    return search, only_run(root)


def test_a_damaged_per_mask_file_quarantines_that_mask_only(tmp_path, capsys):
    root = tmp_path / "runs"
    search, store = _search_with_batchnorm_files(root, 3)
    assert len(store.manifest()["shards"]) == 1 and store.has_batchnorm(0, 1)
    assert all(set(r["files"]) == {"batchnorm"} for r in store._records())
    original = by_pair(store)
    damaged = store.path / "batchnorm" / "w0-s1.npz"
    _flip(damaged)

    capsys.readouterr()
    assert main(["verify", str(root)]) == 2
    assert f"CORRUPT  {store.run_id}" in capsys.readouterr().out
    assert main(["verify", str(root), "--repair"]) == 0
    assert "1 masks quarantined" in capsys.readouterr().out
    store = RunStore.open(store.path)
    assert store.pending() == [(0, 1)] and not damaged.exists()
    kept = by_pair(store)  # the shard's other masks, carried over unchanged to a new shard
    assert kept[0] == [(0, 0), (0, 2)]
    np.testing.assert_array_equal(kept[1], original[1][[0, 2]])
    (folder,) = (store.path / "quarantine").iterdir()
    assert (folder / "batchnorm" / "w0-s1.npz").is_file()

    assert main(search) == 0
    assert "1 masks searched, 2 already done" in capsys.readouterr().out
    assert main(["verify", str(root)]) == 0
    again = by_pair(RunStore.open(store.path))
    assert again[0] == original[0] and again[2] == original[2]
    np.testing.assert_array_equal(again[1], original[1])


def test_repair_leaves_an_intact_run_alone(tmp_path, finished_run, capsys):
    import shutil

    root = tmp_path / "runs"
    shutil.copytree(finished_run, root / finished_run.name)
    before = RunStore.open(root / finished_run.name).manifest()
    assert main(["verify", str(root), "--repair"]) == 0
    assert capsys.readouterr().out.startswith("ok ")
    store = RunStore.open(root / finished_run.name)
    assert store.manifest() == before and not (store.path / "quarantine").exists()
    assert store.last_verification().ok


def test_an_edited_config_fails_verify_and_repair_moves_nothing(tmp_path, finished_run, capsys):
    import shutil

    root = tmp_path / "runs"
    run = root / finished_run.name
    shutil.copytree(finished_run, run)
    path = run / "config.json"
    path.write_text(path.read_text().replace('"density": 0.5', '"density": 0.3', 1))
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    for flags in ([], ["--repair"]):  # no mask is damaged: nothing to quarantine
        err = cli_error(capsys, "verify", root, *flags)
        assert err == f"landscape verify: error: {root}: 1 of 1 runs failed verification"
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
    (info,) = list_runs(root)
    assert info.status == "unreadable" and f"{path}: its fields hash to run id" in info.error
    assert f"not to the {run.name} it was stored as" in info.error


def test_ls_reads_the_record_and_never_hashes_shards(tmp_path, finished_run, monkeypatch):
    import shutil

    from landscape.store import shards

    root = tmp_path / "runs"
    shutil.copytree(finished_run, root / finished_run.name)
    assert main(["verify", str(root)]) == 0

    def no_hashing(*args, **kwargs):
        pytest.fail("ls must not verify shard checksums")

    monkeypatch.setattr(shards, "verify_file", no_hashing)
    (info,) = list_runs(root)
    assert info.status == "complete" and info.verified[:2] == "20" and "since" not in info.verified


def test_ls_names_a_per_mask_file_or_predictions_gone_and_repair_searches_the_mask_again(tmp_path, capsys):
    root = tmp_path / "runs"
    search, store = _search_with_batchnorm_files(root, 2)
    assert "complete" in _ls(capsys, root)
    gone = store.path / "batchnorm" / "w0-s1.npz"
    gone.unlink()
    # listed in the mask's record, so the run is not complete without it (no checksum read)
    assert f"{gone}: missing (recorded for mask w0/s1)" in _ls(capsys, root)
    assert main(["verify", str(root), "--repair"]) == 0
    assert main(search) == 0
    assert "complete" in _ls(capsys, root) and gone.is_file()
    (prediction,) = [p for p in (store.path / "predictions").iterdir() if p.name.startswith("w0-s0-")]
    prediction.write_bytes(prediction.read_bytes()[:-1])  # cut short: its listed size says so
    line = _ls(capsys, root)
    assert "corrupt" in line and f"{prediction}: " in line and "listed with" in line
