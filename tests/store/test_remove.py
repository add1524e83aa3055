"""``landscape rm``: runs go whole or not at all, by name or by config fields, never under a
running search unless forced; a removal killed mid-delete leaves no partial run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from landscape.cli import main
from landscape.reading import read_runs
from landscape.store import RunStore, list_runs
from landscape.store.claims import claim, make_owner

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def root(tmp_path, cfg, layout, random_rows, make_records) -> Path:
    """Three runs with stored masks: densities 0.5 and 0.3 (3 epochs) and 0.5 with 4 epochs."""
    root = tmp_path / "runs"
    for i, changes in enumerate(({}, {"method.density": 0.3}, {"train.epochs": 4})):
        store = RunStore.create(root, cfg.replace(**changes), layout)
        pairs = [(0, s) for s in range(3)]
        store.add_plan(pairs)
        store.write_masks(random_rows(3, seed=i)[0], make_records(pairs))
    return root


def _ids(root: Path) -> dict[tuple[float, int], str]:
    return {(i.config.method.density, i.config.train.epochs): i.run_id for i in list_runs(root)}


def _one_line_error(capsys, *argv) -> str:
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("landscape rm: error: ")
    return err.strip()


def test_rm_by_id_by_path_and_by_where(root, capsys):
    ids = _ids(root)
    assert main(["rm", "--runs", str(root), ids[(0.3, 3)]]) == 0
    assert capsys.readouterr().out.startswith(f"removed  {ids[(0.3, 3)]}")
    assert set(_ids(root).values()) == {ids[(0.5, 3)], ids[(0.5, 4)]}
    assert (
        main(["rm", "--runs", str(root), "--where", "`train.epochs` == 4 and density == 0.5", "--dry-run"])
        == 0
    )
    assert capsys.readouterr().out.startswith(f"would remove {ids[(0.5, 4)]}")
    assert len(list_runs(root)) == 2
    assert main(["rm", "--runs", str(root), "--where", "`train.epochs` == 4"]) == 0
    assert set(_ids(root).values()) == {ids[(0.5, 3)]}
    assert main(["rm", str(root / ids[(0.5, 3)])]) == 0  # a run directory, wherever it lives
    assert capsys.readouterr().out.rstrip().endswith(f"at {root / ids[(0.5, 3)]}")
    assert not [p for p in root.iterdir()]  # nothing left behind, not even trash


def test_a_bare_run_id_names_the_run_of_runs_not_a_folder_where_rm_is_called(
    root, tmp_path, monkeypatch, capsys
):
    import shutil

    run_id = _ids(root)[(0.3, 3)]
    here = tmp_path / "elsewhere"
    here.mkdir()
    shutil.copytree(root / run_id, here / run_id)  # a copy of the run, in the current folder
    monkeypatch.chdir(here)
    assert main(["rm", "--runs", str(root), run_id, "--dry-run"]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"at {root / run_id}")
    assert main(["rm", "--runs", str(root), run_id]) == 0
    assert run_id not in _ids(root).values() and (here / run_id).is_dir()
    # the copy here is not taken for a run of --runs, and the error says how to name it
    assert "give ./" in _one_line_error(capsys, "rm", "--runs", root, run_id)
    assert main(["rm", f"./{run_id}"]) == 0 and not (here / run_id).exists()


def test_rm_refuses_bad_requests_in_one_line(root, capsys):
    ids = _ids(root)
    assert "no such run" in _one_line_error(capsys, "rm", "--runs", root, "abc123")
    assert "selects no runs" in _one_line_error(capsys, "rm", "--runs", root, "--where", "density > 2")
    assert "where=" in _one_line_error(capsys, "rm", "--runs", root, "--where", "density >")
    assert "not both" in _one_line_error(
        capsys, "rm", "--runs", root, ids[(0.3, 3)], "--where", "density > 0"
    )
    assert "name the runs" in _one_line_error(capsys, "rm", "--runs", root)
    assert len(list_runs(root)) == 3


def test_rm_refuses_a_run_a_search_is_filling_unless_forced(root, capsys):
    ids = _ids(root)
    busy = root / ids[(0.5, 3)]
    (busy / "claims").mkdir()
    assert claim(busy / "claims" / "w0-s3", make_owner("search"), stale_after_s=60)
    err = _one_line_error(capsys, "rm", "--runs", root, "--where", "density == 0.5")
    assert f"run {busy.name}: a search is running in it (1 live claims" in err and "--force" in err
    assert len(list_runs(root)) == 3  # refused before removing anything, the idle 0.5 run included
    assert main(["rm", "--runs", str(root), "--where", "density == 0.5", "--force"]) == 0
    assert set(_ids(root).values()) == {ids[(0.3, 3)]}


KILLED_RM = """
import os, shutil, signal, sys

real_rmtree, real_unlink = shutil.rmtree, os.unlink
seen = {"armed": False, "n": 0}

def unlink(*args, **kwargs):
    if seen["armed"]:
        seen["n"] += 1
        if seen["n"] == 3:  # a few files deleted, most still there
            os.kill(os.getpid(), signal.SIGKILL)
    return real_unlink(*args, **kwargs)

def rmtree(*args, **kwargs):
    seen["armed"] = True
    return real_rmtree(*args, **kwargs)

os.unlink, shutil.rmtree = unlink, rmtree
from landscape.cli import main
main(["rm", "--runs", sys.argv[1], sys.argv[2]])
"""


def test_rm_killed_mid_delete_leaves_no_partial_run(root, capsys):
    ids = _ids(root)
    victim = ids[(0.3, 3)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", KILLED_RM, str(root), victim], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (trash,) = [p for p in root.iterdir() if p.name.startswith(".trash-")]
    assert victim in trash.name and any(trash.rglob("*.bin"))  # killed with files still to delete
    assert not (root / victim).exists()
    assert set(_ids(root).values()) == {ids[(0.5, 3)], ids[(0.5, 4)]}  # never taken for a run
    assert set(read_runs(root).obs["run_id"]) == {ids[(0.5, 3)], ids[(0.5, 4)]}
    assert main(["rm", "--runs", str(root), ids[(0.5, 4)]]) == 0  # the next rm sweeps the trash
    out = capsys.readouterr().out
    assert out.startswith(f"swept    {trash}") and f"removed  {ids[(0.5, 4)]}" in out
    assert sorted(p.name for p in root.iterdir()) == [ids[(0.5, 3)]]
