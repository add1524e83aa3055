"""The device check (``benchmarks/gpu_check.py``) runs end to end: its CPU dry run, in the
default suite so the script never rots, and its time boxes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from benchmarks import gpu_parts

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["tests", "tuning", "conv4", "resnet18", "distances", "e2e"]


# The device machine's image has no umap-learn, pynndescent, submitit or mnist1d: the dry run
# runs with those imports refused, so a top-level import of one fails here, not on the device.
ABSENT_ON_DEVICE = ["umap", "pynndescent", "submitit", "mnist1d"]
REFUSE_IMPORTS = """
import importlib.abc, sys

class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {refused!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (absent on the device)", name=name)
        return None

sys.meta_path.insert(0, _Refuse())
"""


def _check(
    out: Path, *args: str, device: str = "cpu", refuse=(), timeout: float = 900
) -> subprocess.CompletedProcess:
    image = out.parent / f"{out.name}-image"
    image.mkdir(exist_ok=True)
    (image / "sitecustomize.py").write_text(REFUSE_IMPORTS.format(refused={*ABSENT_ON_DEVICE, *refuse}))
    env = {**os.environ, "PYTHONPATH": f"{image}{os.pathsep}{ROOT}", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "benchmarks/gpu_check.py", "--out", str(out), "--device", device, "--tiny", *args]
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
    assert report["meta"]["absent"] == ABSENT_ON_DEVICE and report["meta"]["import_errors"] == {}
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
        assert table["plain_loop_precision"] == "fp32"
    assert [r["precision"] for r in parts["conv4"]["data"]["precision_rows"]] == ["tf32", "bf16"]
    distances = parts["distances"]["data"]
    cases = distances["cases"]
    assert [c["n"] for c in cases] == [64, 96] and all(c["identical"] for c in cases)
    assert distances["warmup_seconds"] > 0  # the GPU route is warmed before the first timing
    assert {(c["gpu_route"], c["gpu_route_ran"]) for c in cases} == {("float32 on cpu", "float32")}
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


# A planted test file stands in for the GPU tests, so a failure can be shown on a CPU. Its
# marker is spelt in two pieces: gpu_test_files scans for the text, and this file holds none.
GPU_MARK = "pytestmark = pytest.mark." + "gpu"


def _planted(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "planted" / "test_planted.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"import pytest\n\n{GPU_MARK}\n" + textwrap.dedent(body))
    return path


PASS_AND_FAIL = """
def test_passes():
    pass

def test_fails():
    assert False, "planted failure"
"""


def test_a_failing_gpu_test_fails_the_check(tmp_path):
    planted = _planted(tmp_path, PASS_AND_FAIL)
    proc = _check(tmp_path / "out", "--parts", "tests", "--tests", str(planted), timeout=300)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    part = json.loads((tmp_path / "out" / "gpu_check.json").read_text())["parts"]["tests"]
    assert part["status"] == "failed: pytest exit 1; 1 failed, 0 errors"
    assert part["data"]["counts"] == {"passed": 1, "failed": 1, "error": 0, "skipped": 0}
    md = (tmp_path / "out" / "gpu_check.md").read_text()
    assert "| tests | failed: pytest exit 1; 1 failed, 0 errors |" in md and "planted failure" in md


def _part(tmp_path: Path, name: str, device: str = "cpu", seconds: float = 120) -> gpu_parts.Part:
    out, work = tmp_path / "out", tmp_path / "work"
    out.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    return gpu_parts.Part(name, device, True, time.time() + seconds, work / f"part-{name}.json", out, work)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_a_hung_gpu_test_run_fails_and_leaves_no_process_behind(tmp_path, monkeypatch):
    pid_file = tmp_path / "child.pid"
    planted = _planted(tmp_path, f"""
        import subprocess, sys, time

        def test_hangs_with_a_child():
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
            open({str(pid_file)!r}, "w").write(str(child.pid))
            time.sleep(120)
    """)  # fmt: skip
    monkeypatch.setattr(gpu_parts, "gpu_test_files", lambda: [str(planted)])
    part = _part(tmp_path, "tests", seconds=1)  # pytest gets the 5 s floor
    try:
        gpu_parts.part_tests(part)
        child = int(pid_file.read_text())
        deadline = time.time() + 5
        while _running(child) and time.time() < deadline:
            time.sleep(0.1)
        assert part.data.get("failures") == ["pytest timed out", "no junit report"], part.data
        assert not _running(child), "the test's child outlived the timed-out pytest"
    finally:
        if pid_file.exists() and _running(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_a_skipped_test_on_cuda_fails_the_tests_part(tmp_path, monkeypatch):
    planted = _planted(tmp_path, """
        def test_passes():
            pass

        def test_skips():
            pytest.skip("needs CUDA")
    """)  # fmt: skip
    monkeypatch.setattr(gpu_parts, "gpu_test_files", lambda: [str(planted)])
    part = _part(tmp_path, "tests", device="cuda")  # only the verdict differs: nothing runs on CUDA
    gpu_parts.part_tests(part)
    assert part.data["counts"]["skipped"] == 1 and part.data.get("failures") == ["1 skipped on CUDA"]


def test_a_failing_end_to_end_command_fails_its_part(tmp_path):
    part = _part(tmp_path, "e2e", device="no-such-device")
    gpu_parts.part_e2e(part)
    assert [s["step"] for s in part.data["steps"]] == ["search"]
    assert part.data.get("failures") == ["search exit 1"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_asked_and_not_available_stops_at_the_start(tmp_path):
    proc = _check(tmp_path, "--parts", "tests", device="cuda", timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"gpu_check: --device cuda: CUDA is not available (torch "
                                                f"{torch.__version__}, built for CUDA {torch.version.cuda})"]  # fmt: skip
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["parts"] == {} and "CUDA is not available" in report["meta"]["error"]
    assert (
        "> **The check did not run**: --device cuda: CUDA is not available"
        in (tmp_path / "gpu_check.md").read_text()
    )


def test_a_torch_that_does_not_import_stops_at_the_start(tmp_path):
    proc = _check(tmp_path, "--parts", "tests", refuse=["torch"], timeout=120)
    assert proc.returncode == 1 and "gpu_check: torch cannot be imported" in proc.stderr
    assert (
        "**The check did not run**: torch cannot be imported (ModuleNotFoundError"
        in (tmp_path / "gpu_check.md").read_text()
    )


def test_the_check_imports_what_the_parts_use(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # gpu_check puts benchmarks/ on the path
    from benchmarks import gpu_check

    monkeypatch.setitem(sys.modules, "numba", None)  # what a broken install looks like to import
    versions, _, errors = gpu_check._packages()
    assert versions["numba"] is None and errors["numba"].startswith("ModuleNotFoundError")
    assert versions["numpy"] == __import__("numpy").__version__ and "numpy" not in errors


def test_a_distances_row_names_the_route_that_ran(monkeypatch):
    from landscape.tl import _gemm, _kernels

    def refuse(a, b):
        raise RuntimeError("planted int8 refusal")

    monkeypatch.setattr(torch, "_int_mm", refuse)
    _gemm.reset_routes()
    with pytest.warns(RuntimeWarning, match="planted int8 refusal"):
        _kernels.intersection_counts(gpu_parts.packed_random(24, 640, 0), backend="int8")
    row = gpu_parts.route_taken("int8", "cuda")
    assert row["gpu_route_ran"] == "float32"
    assert row["gpu_route"] == "float32 on cuda (asked int8; int8 failed: RuntimeError: planted int8 refusal)"


@pytest.mark.parametrize("precision, tf32", [("fp32", False), ("tf32", True)])
def test_the_plain_loop_trains_under_the_engines_kernel_flags(monkeypatch, precision, tf32):
    """cuDNN allows TF32 by default; the engine's fp32 does not, and the peer it is timed
    against must not either (the flags are process-wide, so they can be read on a CPU)."""
    from types import SimpleNamespace

    from benchmarks import plain_loop

    seen = []
    cross_entropy = torch.nn.functional.cross_entropy

    def watched(*args, **kwargs):
        seen.append((torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32))
        return cross_entropy(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", watched)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)  # torch's default
    gen = torch.Generator().manual_seed(0)
    split = (torch.randn(32, 6, generator=gen), torch.randint(0, 3, (32,), generator=gen))
    dataset = SimpleNamespace(train=split, val=split, test=split, n_classes=3, input_shape=(6,))
    asked = {} if precision == "fp32" else {"precision": precision}  # fp32: the default
    plain_loop.train_one(dataset, hidden=(8,), epochs=1, batch_size=16, **asked)
    assert seen == [(tf32, tf32)] * 2
    assert torch.backends.cudnn.allow_tf32  # restored


def test_a_size_that_fails_is_an_error_row_and_larger_sizes_still_run(monkeypatch):
    """Past ~2**31 elements some kernels hit 32-bit index limits: an error of one M, not of
    the whole throughput part."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # search_throughput puts benchmarks/ on the path
    from benchmarks import search_throughput as st
    from benchmarks.gpu_report import render

    measured = st.measured_run

    def limited(cfg, dataset, seeds, device):
        if len(seeds) == 2:
            raise RuntimeError("max_pool2d: input too large for 32-bit indexing (planted)\nmore")
        return measured(cfg, dataset, seeds, device)

    monkeypatch.setattr(st, "measured_run", limited)
    table = st.device_table("conv4", "cpu", [1, 2, 3], tiny=True, largest_cap=1, loop_masks=0, plain_masks=0,
                            log=lambda *a: None)  # fmt: skip
    assert [r["M"] for r in table["rows"]] == [1, 2, 3]
    assert table["rows"][1] == {"M": 2, "error": "RuntimeError: max_pool2d: input too large for 32-bit "
                                "indexing (planted)"}  # fmt: skip
    assert table["rows"][2]["masks_per_hour"] > 0
    md = render({"meta": {"device": "cpu"}, "parts": {"conv4": {"status": "ok", "data": {"table": table}}}})
    assert "| 2 | error: RuntimeError: max_pool2d: input too large for 32-bit indexing (planted) |" in md
