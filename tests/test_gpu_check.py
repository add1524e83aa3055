"""The device check (``benchmarks/gpu_check.py``) runs end to end: its CPU dry run, in the
default suite so the script never rots, and its time boxes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["tests", "tuning", "conv4", "resnet18", "distances", "e2e"]


# The device machine's image has no umap-learn, pynndescent, submitit or mnist1d: the dry run
# runs with those imports refused, so a top-level import of one fails here, not on the device.
ABSENT_ON_DEVICE = ["umap", "pynndescent", "submitit", "mnist1d"]
REFUSE_IMPORTS = f"""
import importlib.abc, sys

class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {set(ABSENT_ON_DEVICE)!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (absent on the device)", name=name)
        return None

sys.meta_path.insert(0, _Refuse())
"""


def _check(out: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    image = out.parent / f"{out.name}-image"
    image.mkdir(exist_ok=True)
    (image / "sitecustomize.py").write_text(REFUSE_IMPORTS)
    env = {**os.environ, "PYTHONPATH": f"{image}{os.pathsep}{ROOT}", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "benchmarks/gpu_check.py", "--out", str(out), "--device", "cpu", "--tiny", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    proc = _check(out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, json.loads((out / "gpu_check.json").read_text())


def test_dry_run_writes_every_part_and_only_files_that_come_back(dry_run):
    out, report = dry_run
    assert list(report["parts"]) == PARTS
    assert {n: p["status"] for n, p in report["parts"].items()} == dict.fromkeys(PARTS, "ok")
    files = sorted(p.name for p in out.iterdir())
    assert files == ["gpu_check.json", "gpu_check.log", "gpu_check.md", "profile_conv4.txt", "pytest_gpu.xml"]
    md = (out / "gpu_check.md").read_text()
    assert "**CPU dry run**" in md and "None of these numbers is a GPU measurement" in md
    for heading in ("## 1. GPU tests", "## 2. Search engine", "### Search throughput: conv4",
                    "### Search throughput: resnet18", "### Targets", "## 3. Distances", "## 4. End to end"):  # fmt: skip
        assert heading in md


def test_dry_run_runs_without_the_packages_the_device_lacks(dry_run):
    out, report = dry_run
    assert report["meta"]["absent"] == ABSENT_ON_DEVICE
    assert all(report["meta"]["packages"][m] for m in ("numpy", "scipy", "numba", "pandas", "sklearn"))
    assert f"Absent: {', '.join(ABSENT_ON_DEVICE)}." in (out / "gpu_check.md").read_text()


def test_dry_run_collects_every_gpu_test(dry_run):
    from benchmarks.gpu_parts import gpu_test_files

    tests = dry_run[1]["parts"]["tests"]["data"]
    assert set(tests["files"]) == set(gpu_test_files())
    assert {"tests/search/test_batched.py", "tests/tl/test_barriers.py", "tests/reliability/test_resume_cuda.py",
            "tests/tl/test_tl_kernels.py", "tests/search/test_select_routes.py"} <= set(tests["files"])  # fmt: skip
    c = tests["counts"]
    assert c["failed"] == c["error"] == 0 and c["skipped"] == len(tests["cases"]) >= 20  # no CUDA here
    assert all(case["message"].startswith("needs CUDA") for case in tests["cases"])


def test_dry_run_measures_every_route_and_table(dry_run):
    parts = dry_run[1]["parts"]
    tuning = parts["tuning"]["data"]
    assert set(tuning["matmul_tflops"]) == {"fp32", "tf32", "bf16"}
    assert [h["syncs"] for h in tuning["host_syncs"]] == [0, 0]
    assert {r["route"] for r in tuning["topk"]} == {"numpy", "kthvalue", "topk", "sort"}
    assert all(r["same_masks"] for r in tuning["topk"])
    routes = {(r["route"], r["precision"]) for r in tuning["conv_routes"] if r.get("step_ms")}
    assert {("grouped", "fp32"), ("unfold", "fp32"), ("vmap", "fp32"), ("channels_last", "fp32"),
            ("grouped", "tf32"), ("grouped", "bf16")} == routes  # fmt: skip
    for model in ("conv4", "resnet18"):
        table = parts[model]["data"]["table"]
        assert [r["M"] for r in table["rows"]] == [1, 2]
        for row in table["rows"]:
            assert row["masks_per_hour"] > 0 and row["train_tflops"] > 0 and row["steps"] == 2
            assert row["vs_loop"] > 0 and row["vs_plain"] > 0
        assert table["loop_masks_per_hour"] > 0 and table["plain_loop_masks_per_hour"] > 0
    assert [r["precision"] for r in parts["conv4"]["data"]["precision_rows"]] == ["tf32", "bf16"]
    cases = parts["distances"]["data"]["cases"]
    assert [c["n"] for c in cases] == [64, 96] and all(c["identical"] for c in cases)
    e2e = parts["e2e"]["data"]
    assert [s["returncode"] for s in e2e["steps"]] == [0, 0]
    assert e2e["masks"] == 4 and e2e["barrier_rows"] == 4 and e2e["barrier_paths"] == ["linear", "swap"]


def test_a_part_past_its_time_box_is_killed_and_keeps_what_it_saved(tmp_path):
    proc = _check(tmp_path, "--parts", "_timebox", timeout=120)
    assert proc.returncode == 1
    part = json.loads((tmp_path / "gpu_check.json").read_text())["parts"]["_timebox"]
    assert part["status"] == "timed out after 8 s" and part["data"] == {"row": 1}
    assert "| _timebox | timed out after 8 s |" in (tmp_path / "gpu_check.md").read_text()


def test_unknown_parts_are_refused(tmp_path):
    proc = _check(tmp_path, "--parts", "tests,warp", timeout=60)
    assert proc.returncode == 2 and "unknown part(s) ['warp']" in proc.stderr
