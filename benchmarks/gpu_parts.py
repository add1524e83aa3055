"""The parts of the device check (``gpu_check.py``): each one a function writing its results.

Every part takes a :class:`Part` (its settings, deadline and result file) and stores what it
measured with ``part.save()`` as it goes, so a part stopped at its time box still leaves
every finished row behind. Parts:

- ``tests``: every ``@pytest.mark.gpu`` test (``pytest -m gpu``);
- ``tuning``: matmul ceilings, the convolution routes and precisions, the top-k routes,
  host synchronisations in the step loop, a torch.profiler table;
- ``conv4``, ``resnet18``: search throughput (``search_throughput.device_table``) and the
  precision rows;
- ``distances``: the GPU route against the CPU kernel on the same masks;
- ``e2e``: ``landscape search --device`` then ``landscape analyze --barriers`` end to end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Part:
    name: str
    device: str
    tiny: bool
    deadline: float  # time.time() by which the part should be done
    result_path: Path
    out: Path  # the report folder (files that come back: junit xml, profile table)
    work: Path  # scratch folder (runs roots)
    data: dict = field(default_factory=dict)
    tests: tuple[str, ...] = ()  # test paths of the tests part (default: every file with a GPU test)

    def save(self, **values) -> None:
        self.data.update(values)
        tmp = self.result_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str))
        os.replace(tmp, self.result_path)

    def left(self) -> float:
        return self.deadline - time.time()

    def fail(self, reason: str) -> None:
        """Mark the part failed (its rows are kept): the check then reports it and exits non-zero."""
        self.save(failures=[*self.data.get("failures", []), reason])

    @property
    def groups_path(self) -> Path:
        """Process groups this part started, one per line: the orchestrator kills them after the part."""
        return groups_file(self.work, self.name)


def groups_file(work: Path, name: str) -> Path:
    return work / f"part-{name}.groups"


def log(*args) -> None:
    print(*args, flush=True)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # nothing of it is left
        os.killpg(pgid, signal.SIGKILL)


def run_command(part: Part, cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    """``cmd`` in a session of its own, its whole process group killed when it times out and
    again once it is done: no grandchild (a forked search of a test) outlives it.
    ``returncode`` is ``"timed out"`` past ``timeout``."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    with part.groups_path.open("a") as fh:
        fh.write(f"{proc.pid}\n")
    try:
        out, err = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out, err = _drain(proc)
        code = "timed out"
    kill_group(proc.pid)
    return subprocess.CompletedProcess(cmd, code, out, err)


def _drain(proc: subprocess.Popen) -> tuple[str, str]:
    """What a killed process wrote; a grandchild that left the group may hold its pipes open."""
    try:
        return proc.communicate(timeout=10)
    except subprocess.TimeoutExpired as exc:
        proc.wait()
        return _text(exc.stdout), _text(exc.stderr)


# ---------------------------------------------------------------------------------------------
# 1. tests


def gpu_test_files() -> list[str]:
    """Test files holding ``@pytest.mark.gpu`` tests (a text scan: no collection of the rest)."""
    return sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py") if "mark.gpu" in p.read_text()
    )


def part_tests(part: Part) -> None:
    files = list(part.tests) or gpu_test_files()
    junit = part.out / "pytest_gpu.xml"
    junit.unlink(missing_ok=True)  # an earlier run's report must not pass for this one's
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra",
           f"--junitxml={junit}", *files]  # fmt: skip
    part.save(command=" ".join(["python3", *cmd[1:]]), files=files)
    proc = run_command(part, cmd, max(5.0, part.left()))
    log(proc.stdout[-4000:], proc.stderr[-2000:])
    cases = _read_junit(junit)
    counts = {
        k: sum(c["outcome"] == k for c in (cases or [])) for k in ("passed", "failed", "error", "skipped")
    }
    part.save(returncode=proc.returncode, counts=counts, cases=cases or [], tail=proc.stdout[-1500:])
    for reason in run_failures(proc.returncode, counts, cases is not None, part.device.startswith("cuda")):
        part.fail(reason)


def run_failures(returncode, counts: dict, junit_read: bool, cuda: bool) -> list[str]:
    """Why a GPU test run does not pass: pytest's exit, failed tests, no report, or (on CUDA,
    where every one of them must run) a skipped test."""
    reasons = []
    if returncode == "timed out":
        reasons.append("pytest timed out")
    elif returncode:
        reasons.append(f"pytest exit {returncode}")
    if not junit_read:
        reasons.append("no junit report")
    if counts["failed"] or counts["error"]:
        reasons.append(f"{counts['failed']} failed, {counts['error']} errors")
    if cuda and counts["skipped"]:
        reasons.append(f"{counts['skipped']} skipped on CUDA")
    return reasons


def _read_junit(path: Path) -> list[dict] | None:
    """The cases of a junit report, or None when there is none (or only a cut-off one)."""
    try:
        return parse_junit(path)
    except (OSError, ET.ParseError):
        return None


def parse_junit(path: Path) -> list[dict]:
    out = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                text = (node.get("message") or node.text or "").strip()
                message = text.splitlines()[0][:300] if text else ""
                break
        out.append({"test": f"{case.get('classname')}::{case.get('name')}", "outcome": outcome,
                    "seconds": float(case.get("time") or 0), "message": message})  # fmt: skip
    return out


# ---------------------------------------------------------------------------------------------
# 2. throughput (Conv-4, ResNet-18)

FULL_SIZES, TINY_SIZES = [1, 8, 32, 128], [1, 2]


def part_throughput(part: Part, model: str) -> None:
    import search_throughput as st

    sizes = TINY_SIZES if part.tiny else FULL_SIZES
    matmul = {"fp32": st.matmul_tflops("fp32", part.device, n=256 if part.tiny else 8192)}
    part.save(matmul_tflops=matmul)
    reserve = 0.35 if model == "conv4" else 0.0  # time kept for the precision rows
    deadline = part.deadline - reserve * part.left()
    table = st.device_table(model, part.device, sizes, tiny=part.tiny, deadline=deadline,
                            largest_cap=2 if part.tiny else 512, loop_masks=1 if part.tiny else 2,
                            matmul=matmul["fp32"], on_row=lambda t: part.save(table=t), log=log)  # fmt: skip
    part.save(table=table)
    if model != "conv4":
        return
    # precision rows: the same search at M = 32 (tiny: 2) in TF32 and bf16, against fp32
    m = 2 if part.tiny else 32
    rows = []
    for precision in ("tf32", "bf16"):
        if part.left() < 10:
            rows.append({"precision": precision, "skipped": "time box"})
            continue
        matmul[precision] = st.matmul_tflops(precision, part.device, n=256 if part.tiny else 8192)
        t = st.device_table(model, part.device, [m], tiny=part.tiny, deadline=part.deadline, largest_cap=1,
                            loop_masks=0, plain_masks=0, precision=precision, matmul=matmul[precision],
                            log=log)  # fmt: skip
        rows.extend({"precision": precision, **r} for r in t["rows"])
        part.save(matmul_tflops=matmul, precision_rows=rows)


# ---------------------------------------------------------------------------------------------
# 3. distances


def packed_random(n: int, n_weights: int, seed: int):
    """``n`` random masks of density 0.5 as packed uint64 rows (bits past ``n_weights`` zero)."""
    import numpy as np

    n_words = -(-n_weights // 64)
    words = np.random.default_rng(seed).integers(0, 2**64, size=(n, n_words), dtype=np.uint64, endpoint=False)
    tail = n_weights - 64 * (n_words - 1)
    if tail < 64:
        words[:, -1] &= np.uint64((1 << tail) - 1)
    return words


def part_distances(part: Part) -> None:
    import numpy as np

    from landscape.tl import _gemm, _kernels

    cases = [(64, 100_000), (96, 250_000)] if part.tiny else [(1024, 2_425_024), (4096, 11_164_352)]
    # int8 GEMM on CUDA (tensor cores); the dry run takes the exact float32 GEMM route on the CPU
    gpu_route = "int8" if part.device.startswith("cuda") else "float32"
    device = part.device if part.device.startswith("cuda") else None
    results = []
    _kernels.intersection_counts(packed_random(8, 640, 0), backend="numba")  # compile / load the kernel
    part.save(warmup_seconds=warm_gpu_route(gpu_route, device))
    cpu_rate = None  # seconds per (pair x word), from the first case
    for n, n_weights in cases:
        if part.left() < 5:
            results.append({"n": n, "n_weights": n_weights, "skipped": "time box"})
            continue
        words = packed_random(n, n_weights, seed=n)
        row = {"n": n, "n_weights": n_weights, "packed_mb": words.nbytes / 2**20}
        _gemm.reset_routes()
        t0 = time.perf_counter()
        gpu = _kernels.intersection_counts(words, backend=gpu_route, device=device)
        row.update(gpu_seconds=time.perf_counter() - t0, **route_taken(gpu_route, part.device))
        # the CPU kernel on as many masks as the time box allows (all of them when it can)
        rows = n
        if cpu_rate is not None:
            affordable = (part.left() * 0.4) / (cpu_rate * words.shape[1])
            rows = int(min(n, max(64, np.sqrt(2 * affordable))))
        t0 = time.perf_counter()
        cpu = _kernels.intersection_counts(words[:rows], backend="numba")
        cpu_seconds = time.perf_counter() - t0
        pairs, pairs_sub = n * (n + 1) / 2, rows * (rows + 1) / 2
        cpu_rate = cpu_seconds / (pairs_sub * words.shape[1])
        row.update(cpu_rows=rows, cpu_seconds_measured=cpu_seconds, cpu_seconds=cpu_seconds * pairs / pairs_sub,
                   cpu_extrapolated=rows < n, identical=bool(np.array_equal(gpu[:rows, :rows], cpu)),
                   speedup=cpu_seconds * pairs / pairs_sub / row["gpu_seconds"])  # fmt: skip
        results.append(row)
        note = f" (extrapolated from {rows} masks)" if rows < n else ""
        log(f"  distances N={n} x {n_weights:,}: GPU route {row['gpu_seconds']:.2f} s, "
            f"CPU {row['cpu_seconds']:.2f} s{note}, identical={row['identical']}")  # fmt: skip
        part.save(cases=results)
        del words, gpu, cpu
    part.save(cases=results)


def warm_gpu_route(route: str, device: str | None) -> float:
    """Seconds of a first small product on the GPU route: CUDA context creation and kernel
    loading, kept out of the first timed case."""
    from landscape.tl import _kernels

    t0 = time.perf_counter()
    _kernels.intersection_counts(packed_random(24, 640, 0), backend=route, device=device)
    if device:
        import torch

        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def route_taken(asked: str, device: str) -> dict:
    """The GEMM route that really ran since ``_gemm.reset_routes()``: int8 falls back to float32
    on an error of the private kernel, and the report must say so."""
    from landscape.tl import _gemm

    ran = _gemm.routes_run()
    taken = "+".join(r for r in ("int8", "float32") if ran.get(r)) or "none"
    label = f"{taken} on {device}"
    if taken != asked:
        label += (
            f" (asked {asked}"
            + (f"; int8 failed: {'; '.join(ran['int8_errors'])}" if ran["int8_errors"] else "")
            + ")"
        )
    return {
        "gpu_route": label,
        "gpu_route_asked": asked,
        "gpu_route_ran": taken,
        "int8_errors": ran["int8_errors"],
    }


# ---------------------------------------------------------------------------------------------
# 4. end to end through the command line


def part_e2e(part: Part) -> None:
    runs = part.work / "e2e-runs"
    config = ROOT / "configs" / "cifar10_conv4_edge_popup.yaml"
    sets = {"data.name": "synthetic", "data.input_shape": "[3,32,32]", "data.n_train": 2048, "data.n_test": 512,
            "train.epochs": 3}  # fmt: skip
    seeds = "0-7"
    if part.tiny:
        sets.update({"data.input_shape": "[3,8,8]", "model.width_mult": 0.125, "data.n_train": 80,
                     "data.n_test": 40, "train.epochs": 1, "train.batch_size": 32})  # fmt: skip
        seeds = "0-3"
    search = [sys.executable, "-m", "landscape.cli", "search", str(config), "--runs", str(runs), "--device",
              part.device, "--search-seeds", seeds, "--quiet", *(a for k, v in sets.items() for a in ("--set", f"{k}={v}"))]  # fmt: skip
    analyze = [sys.executable, "-m", "landscape.cli", "analyze", str(runs), "--barriers", "2", "--device",
               part.device, "--embed"]  # fmt: skip
    steps = []
    for name, cmd in (("search", search), ("analyze", analyze)):
        t0 = time.perf_counter()
        proc = run_command(part, cmd, max(5.0, part.left()))
        steps.append({"step": name, "command": " ".join(["landscape", *cmd[3:]]), "returncode": proc.returncode,
                      "seconds": time.perf_counter() - t0, "stdout": proc.stdout[-1500:],
                      "stderr": proc.stderr[-1500:]})  # fmt: skip
        log(
            f"  e2e {name}: rc={proc.returncode} in {steps[-1]['seconds']:.1f} s\n{proc.stdout[-800:]}{proc.stderr[-800:]}"
        )
        part.save(steps=steps)
        if proc.returncode:
            part.fail(f"{name} exit {proc.returncode}")
            return
    part.save(steps=steps, **e2e_summary(runs))


def _text(out) -> str:
    return out.decode(errors="replace") if isinstance(out, bytes) else (out or "")


def e2e_summary(runs: Path) -> dict:
    import pandas as pd

    import landscape as ls

    ms = ls.read_runs(runs)
    table = pd.read_csv(runs / "_analysis" / "barriers.csv")
    return {"masks": len(ms), "test_acc": ms.obs["test_acc"].round(4).tolist(),
            "barrier_rows": len(table), "barrier_loss": table["barrier_loss"].round(4).tolist(),
            "barrier_paths": sorted(table["path"].unique().tolist())}  # fmt: skip


def part_timebox(part: Part) -> None:
    """Saves one row, then hangs: what a stuck kernel looks like to the orchestrator (its tests)."""
    part.save(row=1)
    time.sleep(3600)


PARTS = {
    "tests": part_tests,
    "tuning": None,  # filled by gpu_tuning (kept apart: it is the longest part's code)
    "conv4": lambda p: part_throughput(p, "conv4"),
    "resnet18": lambda p: part_throughput(p, "resnet18"),
    "distances": part_distances,
    "e2e": part_e2e,
    "_timebox": part_timebox,
}


def run_part(part: Part) -> None:
    if part.name not in ("tests", "e2e", "_timebox"):  # those run their work in child processes
        import torch

        # tiny tensors run fastest on one thread (and idle OpenMP threads spin on a busy machine)
        torch.set_num_threads(1 if part.tiny else min(16, os.cpu_count() or 1))
    if part.name == "tuning":
        from gpu_tuning import part_tuning

        part_tuning(part)
    else:
        PARTS[part.name](part)
    part.save(finished=True)
