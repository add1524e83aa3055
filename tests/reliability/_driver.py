"""Subprocess driver for the fault and concurrency tests: ``python -m tests.reliability._driver SPEC``.

torch and the search stack are imported once here; every search then runs in a forked
child, so a cycle costs the search itself, not another interpreter start. A child may be
killed with SIGKILL from inside (a hook on a file write or rename, or a timer), which
skips every ``finally`` and ``atexit``: exactly what a lost node or the OOM killer does.

SPEC is a JSON file::

    {"mode": "sequential" | "parallel",
     "jobs": [{"kind": "search", "root": ..., "overrides": [...], "weight_seeds": [...],
               "search_seeds": [...], "masks_in_flight": 2, "kill": {...} | null, "device": "cpu"}
              | {"kind": "sweep", "root": ..., "sweep": "path.yaml", "masks_in_flight": 1}],
     "out": "result.json"}

``kill`` is one of
``{"on": "write", "file": "<glob>", "nth": n}`` (half-write the temp file of the n-th
matching ``write_atomic``, then die), ``{"on": "replace", "file": "<glob>", "nth": n,
"after": bool}`` (die just before, or just after, the n-th matching ``os.replace``) or
``{"on": "timer", "delay": seconds}``. The result lists, per job, how the child ended and
what the search reported.
"""

from __future__ import annotations

import fnmatch
import json
import os
import signal
import sys
import threading
from pathlib import Path

CONFIG = "configs/digits_mlp_edge_popup.yaml"


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _install_kill(kill: dict) -> None:
    from landscape.store import _io

    seen = {"n": 0}

    def hit(path) -> bool:
        if not fnmatch.fnmatch(Path(path).name, kill["file"]):
            return False
        seen["n"] += 1
        return seen["n"] == kill["nth"]

    if kill["on"] == "write":
        original_write = _io.write_atomic

        def write_atomic(path, data):
            if hit(path):
                with open(_io.temp_name(Path(path)), "wb") as fh:
                    fh.write(data[: len(data) // 2])
                    fh.flush()
                    os.fsync(fh.fileno())
                _die()
            original_write(path, data)

        _io.write_atomic = write_atomic
    elif kill["on"] == "replace":
        original_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            fire = hit(dst)
            if fire and not kill.get("after"):
                _die()
            original_replace(src, dst, *args, **kwargs)
            if fire:
                _die()

        os.replace = replace
    elif kill["on"] == "timer":
        timer = threading.Timer(kill["delay"], _die)
        timer.daemon = True
        timer.start()
    else:  # pragma: no cover - a typo in a test
        raise ValueError(kill)


def _run_job(job: dict) -> dict:
    if job.get("kill"):
        _install_kill(job["kill"])
    if job["kind"] == "sweep":
        from landscape.search.sweep import load_sweep, run_sweep

        report = run_sweep(load_sweep(job["sweep"]), job["root"], executor="local", device="cpu",
                           masks_in_flight=job.get("masks_in_flight"), progress=False)  # fmt: skip
        return {"done": report.done, "missing": report.missing, "failures": len(report.failures)}
    from landscape.config import load_config
    from landscape.search.runner import run_search

    cfg = load_config(CONFIG, job["overrides"])
    summary = run_search(cfg, job["root"], job["weight_seeds"], job["search_seeds"], device=job.get("device", "cpu"),
                         masks_in_flight=job.get("masks_in_flight"), progress=False)  # fmt: skip
    return {"done": summary.done, "skipped": summary.skipped, "busy": summary.busy}


def _child(job: dict, report: Path) -> None:
    """Body of a forked child: run the job, write what it reported, leave without cleanup."""
    code = 0
    try:
        result = _run_job(job)
    except BaseException as exc:  # noqa: BLE001 - reported to the test, which decides
        result, code = {"error": f"{type(exc).__name__}: {exc}"}, 1
    report.write_text(json.dumps(result))
    os._exit(code)


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        return "killed" if os.WTERMSIG(status) == signal.SIGKILL else f"signal {os.WTERMSIG(status)}"
    return "ok" if os.WEXITSTATUS(status) == 0 else f"exit {os.WEXITSTATUS(status)}"


def _spawn(job: dict, report: Path) -> int:
    pid = os.fork()
    if pid == 0:
        _child(job, report)
    return pid


def main(spec_path: str) -> None:
    import torch

    torch.set_num_threads(1)
    # warm the lazy imports (optimisers pull in torch._dynamo) once, before forking
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    from landscape.search import runner, sweep  # noqa: F401

    spec = json.loads(Path(spec_path).read_text())
    out = Path(spec["out"])
    reports = [out.with_name(f"{out.stem}-job{i}.json") for i in range(len(spec["jobs"]))]
    results = []
    if spec["mode"] == "parallel":
        pids = [_spawn(job, rep) for job, rep in zip(spec["jobs"], reports)]
        statuses = [os.waitpid(pid, 0)[1] for pid in pids]
    else:
        statuses = []
        for job, rep in zip(spec["jobs"], reports):
            statuses.append(os.waitpid(_spawn(job, rep), 0)[1])
    for status, rep in zip(statuses, reports):
        info = json.loads(rep.read_text()) if rep.exists() else {}
        results.append({"ended": _ended(status), **info})
    out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
