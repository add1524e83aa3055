"""The device check: one prepared command that proves and measures the CUDA path.

    make gpu-check OUT=/path/to/report              # on a CUDA machine (about 7 minutes)
    make gpu-check DEVICE=cpu TINY=1 OUT=/tmp/dry   # the CPU dry run (about a minute)
    PYTHONPATH=. python3 benchmarks/gpu_check.py --out DIR [--device cuda] [--tiny] [--budget S]

Runs from a bare checkout (no install: ``PYTHONPATH=.``) and writes ``gpu_check.md`` and
``gpu_check.json`` under ``--out``, with ``gpu_check.log`` (everything the parts printed),
``pytest_gpu.xml`` and ``profile_conv4.txt``. Parts, each in its own process with its own
time box, so a slow or hung part cannot eat the whole budget; a part stopped at its box keeps
every row it finished:

1. ``tests``: every ``@pytest.mark.gpu`` test;
2. ``tuning``, ``conv4``, ``resnet18``: matmul ceilings, host syncs in the step loop, top-k and
   convolution routes, precisions, and search throughput (masks/hour at M = 1, 8, 32, 128 and
   the largest that fits, against this engine one mask at a time and the plain per-mask loop;
   training TFLOP/s against the same-run matmul; device memory per mask);
3. ``distances``: the GPU route against the CPU kernel on the same masks
   (N = 1,024 x 2,425,024 and N = 4,096 x 11,164,352 bits), time and identity of counts;
4. ``e2e``: ``landscape search --device`` on a short Conv-4 search, then ``landscape analyze
   --barriers`` on its masks.

Nothing here needs umap-learn, pynndescent, submitit or mnist1d (absent on that machine).

The check exits non-zero when any part is not ``ok``: a GPU test that fails, errors or (on
CUDA) skips, a pytest run that times out or leaves no junit report, a failed ``landscape``
command, a part past its box; and stops at the start, with one line and a report saying
why, when the CUDA device asked for is not available or torch does not import. Every
package the parts use is imported first; an import failure is reported and fails the check.
``--tests a.py,b.py`` runs those test paths in the ``tests`` part instead of every GPU test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

# seconds per part on the GPU (they add up to the ~7 minute budget) and in the tiny dry run
BOXES = {"tests": 90, "tuning": 60, "conv4": 90, "resnet18": 70, "distances": 60, "e2e": 45}
# the dry run proves completeness, not speed: generous boxes, so a busy CI machine still passes
TINY_BOXES = dict.fromkeys(BOXES, 240)
ORDER = tuple(BOXES)
MARGIN = 0.1  # a part aims to finish this fraction of its box early, leaving time to write


def run_part_process(name: str, args, box: float, work: Path, logfile) -> dict:
    """Run one part in a child process under a hard time box; returns its record."""
    result = work / f"part-{name}.json"
    result.unlink(missing_ok=True)
    deadline = time.time() + box * (1 - MARGIN)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--part", name, "--device", args.device,
           "--out", str(args.out), "--work", str(work), "--deadline", f"{deadline:.3f}",
           *(["--tiny"] if args.tiny else []), *(["--tests", args.tests] if args.tests else [])]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg",
           **({"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"} if args.tiny else {})}  # fmt: skip
    logfile.write(f"\n===== part {name} (box {box:.0f} s) =====\n")
    logfile.flush()
    t0, cpu0 = time.perf_counter(), _child_cpu()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        code = proc.wait(timeout=box)
        status = "ok" if code == 0 else f"failed (exit {code})"
    except subprocess.TimeoutExpired:
        status = f"timed out after {box:.0f} s"
    kill_part_groups(proc, work, name)
    record = {
        "status": status,
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": _child_cpu() - cpu0,
        "box_s": box,
    }
    try:
        record["data"] = json.loads(result.read_text())
    except (OSError, ValueError):
        record["data"] = {}
    if status == "ok":
        record["status"] = part_status(record["data"])
    return record


def part_status(data: dict) -> str:
    """``ok``, or why a part that ran to its end did not pass."""
    if data.get("failures"):
        return "failed: " + "; ".join(data["failures"])
    return "ok" if data.get("finished") else "failed (no result)"


def kill_part_groups(proc: subprocess.Popen, work: Path, name: str) -> None:
    """Kill the part's process group and those it started (each in a session of its own), also
    after a normal exit: nothing a part started may run on into the next part's time box."""
    from gpu_parts import groups_file, kill_group

    kill_group(proc.pid)
    proc.wait()
    path = groups_file(work, name)
    for line in path.read_text().split() if path.exists() else []:
        kill_group(int(line))


def _child_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine(device: str) -> dict:
    """The machine and packages; ``error`` says why the check cannot run here (else absent)."""
    import platform

    info = {"device": device, "python": platform.python_version(), "cpus": os.cpu_count(),
            "host": platform.node(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "load": os.getloadavg()[0]}  # fmt: skip
    info["packages"], info["absent"], info["import_errors"] = _packages()
    torch = sys.modules.get("torch")
    info["torch"] = getattr(torch, "__version__", None)
    error = unusable(device, info["import_errors"])
    if error:
        info["error"] = error
    elif device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        info.update(gpu=props.name, gpu_memory_gib=props.total_memory / 2**30, cuda=torch.version.cuda,
                    multiprocessors=props.multi_processor_count, cudnn=torch.backends.cudnn.version())  # fmt: skip
    return info


def unusable(device: str, import_errors: dict) -> str | None:
    """Why no part can run: torch does not import, or the CUDA device asked for is not there
    (every GPU test would skip and every figure would be a CPU one)."""
    if "torch" in import_errors:
        return f"torch cannot be imported ({import_errors['torch']})"
    if not device.startswith("cuda"):
        return None
    import torch

    if not torch.cuda.is_available():
        return (f"--device {device}: CUDA is not available (torch {torch.__version__}, "
                f"built for CUDA {torch.version.cuda})")  # fmt: skip
    try:
        index = torch.device(device).index or 0
    except RuntimeError as exc:
        return f"--device {device}: {exc}"
    if index >= torch.cuda.device_count():
        return f"--device {device}: only {torch.cuda.device_count()} CUDA device(s)"
    return None


# what the parts import, and the optional packages that machine lacks (nothing here may need them)
USED = ("numpy", "scipy", "numba", "pandas", "sklearn", "matplotlib", "yaml", "tqdm", "pytest")
OPTIONAL = ("umap", "pynndescent", "submitit", "mnist1d")


def _packages() -> tuple[dict, list, dict]:
    """Versions of the packages the parts use (imported, so a broken install shows here and not
    minutes into a part), the optional ones that are absent, and each import's error."""
    import importlib
    from importlib import util

    versions, errors = {}, {}
    for module in (*USED, "torch"):
        try:
            versions[module] = _version(importlib.import_module(module))
        except Exception as exc:  # any failure to import is what the report must show
            versions[module], errors[module] = None, _one_line(exc)
    versions.pop("torch")  # reported on its own
    absent = []
    for module in OPTIONAL:
        try:
            found = util.find_spec(module) is not None
        except ImportError:  # a finder that refuses the name counts as absent
            found = False
        if not found:
            absent.append(module)
    return versions, absent, errors


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _version(module) -> str | None:
    from importlib import metadata

    names = {"sklearn": "scikit-learn", "yaml": "pyyaml"}
    if getattr(module, "__version__", None):
        return str(module.__version__)
    try:
        return metadata.version(names.get(module.__name__, module.__name__))
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path, help="report folder")
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu (dry run)")
    p.add_argument("--tiny", action="store_true", help="tiny sizes: the CPU dry run")
    p.add_argument("--budget", type=float, default=None, help="seconds for all parts (default: sum of boxes)")
    p.add_argument("--parts", default=",".join(ORDER), help=f"comma-separated subset of {','.join(ORDER)}")
    p.add_argument("--tests", default="", help="comma-separated test paths for the tests part "
                   "(default: every test file with a GPU test)")  # fmt: skip
    p.add_argument("--part", help=argparse.SUPPRESS)  # internal: run one part in this process
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.part:
        from gpu_parts import Part, run_part

        run_part(Part(args.part, args.device, args.tiny, args.deadline, args.work / f"part-{args.part}.json",
                      args.out, args.work, tests=tuple(t for t in args.tests.split(",") if t)))  # fmt: skip
        return 0
    return orchestrate(args)


def orchestrate(args) -> int:
    import tempfile

    names = [n for n in args.parts.split(",") if n]
    unknown = sorted(set(names) - set(ORDER) - {"_timebox"})
    if unknown:
        print(f"gpu_check: unknown part(s) {unknown}; choose from {', '.join(ORDER)}", file=sys.stderr)
        return 2
    boxes = {**(TINY_BOXES if args.tiny else BOXES), "_timebox": 8}
    budget = args.budget if args.budget is not None else sum(boxes[n] for n in names)
    report = {"meta": {**machine(args.device), "tiny": args.tiny, "budget_s": budget,
                       "command": " ".join(sys.argv)}, "parts": {}}  # fmt: skip
    start = time.time()
    if report["meta"].get("error"):
        _write(args.out, report, start)
        print(f"gpu_check: {report['meta']['error']}", file=sys.stderr)
        return 1
    with (
        tempfile.TemporaryDirectory(prefix="gpu_check-") as tmp,
        open(args.out / "gpu_check.log", "w") as log,
    ):
        for name in names:
            left = budget - (time.time() - start)
            if left < 5:
                report["parts"][name] = {"status": "not run (budget spent)", "seconds": 0, "data": {}}
                continue
            box = min(boxes[name], left)
            print(f"[gpu_check] part {name}: up to {box:.0f} s ...", flush=True)
            report["parts"][name] = run_part_process(name, args, box, Path(tmp), log)
            rec = report["parts"][name]
            print(f"[gpu_check] part {name}: {rec['status']} in {rec['seconds']:.1f} s", flush=True)
            _write(args.out, report, start)
    text = _write(args.out, report, start)
    print(text, flush=True)
    passed = all(r["status"] == "ok" for r in report["parts"].values())
    return 0 if passed and not report["meta"]["import_errors"] else 1


def _write(out: Path, report: dict, start: float) -> str:
    from gpu_report import render

    report["meta"]["seconds"] = time.time() - start
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))
    text = render(report)
    (out / "gpu_check.md").write_text(text)
    return text


if __name__ == "__main__":
    sys.exit(main())
