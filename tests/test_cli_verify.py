"""``landscape verify``: full checksums, and optionally the regenerated random networks."""

import json
import shutil

from landscape.cli import main


def _copy(tiny_runs, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(tiny_runs, root, ignore=shutil.ignore_patterns("_analysis"))
    return root


def test_clean_runs_verify(tiny_runs, tmp_path, capsys):
    root = _copy(tiny_runs, tmp_path)
    assert main(["verify", str(root), "--weights"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and all(line.startswith("ok") for line in out)
    assert all("regenerate exactly" in line for line in out)


def test_a_flipped_bit_is_found_and_named(tiny_runs, tmp_path, capsys):
    root = _copy(tiny_runs, tmp_path)
    run = sorted(p for p in root.iterdir() if p.is_dir())[0]
    shard = next((run / "shards").glob("*.bin"))
    data = bytearray(shard.read_bytes())
    data[0] ^= 1
    shard.write_bytes(bytes(data))
    assert main(["verify", str(root)]) == 2
    captured = capsys.readouterr()
    bad = [line for line in captured.out.splitlines() if line.startswith("CORRUPT")]
    assert len(bad) == 1 and run.name in bad[0] and shard.name in bad[0]
    assert captured.err.strip() == f"landscape verify: error: {root}: 1 of 3 runs failed verification"


def test_weights_that_no_longer_regenerate_are_found(tiny_runs, tmp_path, capsys):
    root = _copy(tiny_runs, tmp_path)
    run = sorted(p for p in root.iterdir() if p.is_dir())[0]
    (run / "weights.json").write_text(json.dumps({"0": "0" * 64}))
    assert main(["verify", str(root)]) == 0  # checksums of the stored files still hold
    capsys.readouterr()
    assert main(["verify", str(root), "--weights"]) == 2
    out = capsys.readouterr().out
    assert f"CORRUPT  {run.name}" in out and "weight seed 0" in out


def _list_first_shard_twice(run) -> tuple[str, str]:
    """Copy the run's first shard under a new name and list the copy too (a hand-made copy)."""
    manifest = json.loads((run / "manifest.json").read_text())
    entry = manifest["shards"][0]
    copy = dict(entry, name="shard-" + "f" * 32)
    for suffix in (".bin", ".json"):
        shutil.copy(run / "shards" / f"{entry['name']}{suffix}", run / "shards" / f"{copy['name']}{suffix}")
    manifest["shards"].append(copy)
    (run / "manifest.json").write_text(json.dumps(manifest))
    return entry["name"], copy["name"]


def test_a_mask_listed_twice_is_named_and_repair_drops_the_later_listing(tiny_runs, tmp_path, capsys):
    root = _copy(tiny_runs, tmp_path)
    run = sorted(p for p in root.iterdir() if p.is_dir())[0]
    first, copy = _list_first_shard_twice(run)
    assert main(["verify", str(root)]) == 2
    (bad,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("CORRUPT")]
    assert run.name in bad and "is listed twice" in bad and first in bad and copy in bad
    assert main(["verify", str(root), "--repair"]) == 0
    out = capsys.readouterr().out
    assert (
        f"REPAIRED {run.name}" in out and "0 masks quarantined" in out and "search the run again" not in out
    )
    assert main(["verify", str(root)]) == 0
