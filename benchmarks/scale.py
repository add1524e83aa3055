"""Benchmark: out-of-core distances of thousands of ResNet-18-sized masks under a memory budget.

    python benchmarks/scale.py all --root /tmp/scale/runs --n 4096 --memory 2GB --out scale.md
    python benchmarks/scale.py write --root /tmp/scale/runs --n 4096     # only the runs root

``all`` does, each measured step in a fresh subprocess whose anonymous memory (``RssAnon``
of ``/proc/<pid>/status``: process memory, not file cache) is sampled every 50 ms:

1. writes ``--n`` random masks of CIFAR ResNet-18 (11,164,352 weights, 21 layers, density
   0.5) as a runs root of shards of 256 masks (skipped when the root exists);
2. the tile job of ``tl.distances(per_layer=True, metric=("jaccard", "hamming"),
   memory=..., tiles=...)``, SIGKILLed once half of its tiles are stored;
3. the same call again: it resumes (must compute exactly the missing tiles), merges, and
   derives the metrics (per-layer matrices memory-mapped); its per-layer counts of the first
   ``--fit`` masks are compared (sha256) with the in-memory kernel's;
4. tile throughput against the in-memory kernel on the first ``--fit`` masks (both fit);
5. peers on subsamples: faiss ``IndexBinaryFlat`` all-pairs Hamming (if faiss is installed)
   and scipy ``pdist`` (hamming + jaccard, extrapolated by pairs), beside this kernel on the
   same rows.

``ratio`` repeats step 4 alone on an existing root (``--repeats`` times for each of the
comma-separated ``--memory`` budgets, the two routes in alternating order so neither always
runs first), checks each tile job's per-layer counts against the in-memory kernel's
(sha256), and reports every ratio with the load beside it, then its minimum, median and
maximum::

    python benchmarks/scale.py write --root /tmp/scale/runs512 --n 512
    python benchmarks/scale.py ratio --root /tmp/scale/runs512 --fit 512 --memory 256MB,1GB --repeats 3

``blocks`` times the in-memory kernel with its row blocks against one block of all rows
(the schedule before row blocks) on the first ``--fit`` masks, ``--repeats`` times::

    python benchmarks/scale.py blocks --root /tmp/scale/runs --fit 4096 --repeats 2

``--killed part.json`` skips step 2 when its tiles are already in ``--work``/tiles-a (a first
part killed by hand; the JSON gives its ``wall_s``, ``peak_rss_anon_mb`` and ``load``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scale_report import load_text as _load
from scale_report import report
from scale_steps import STEPS, write_root

STEP_ENV = "LANDSCAPE_BENCH_STEP"


# ------------------------------------------------------------------------------------------
# the orchestrator


def _rss_anon_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_step(name: str, args, extra: list[str], kill_when=None) -> dict:
    """Run one step in a subprocess; its JSON result with ``peak_rss_anon_mb`` and ``wall_s``.

    ``kill_when()`` (polled) SIGKILLs the step when it returns True.
    """
    result_file = Path(args.work) / f"{name}-{time.time_ns()}.json"
    cmd = [sys.executable, __file__, "_step", name, "--result", str(result_file), *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, STEP_ENV: "1"})
    peak, killed = 0, False
    while proc.poll() is None:
        peak = max(peak, _rss_anon_kb(proc.pid))
        if kill_when is not None and not killed and kill_when():
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if killed:
        return {"killed": True, "peak_rss_anon_mb": peak / 1024, "wall_s": wall}
    if proc.returncode != 0:
        raise SystemExit(f"step {name} failed with exit code {proc.returncode}")
    result = json.loads(result_file.read_text())
    result.update(peak_rss_anon_mb=peak / 1024, wall_s=wall)
    return result


def _count_tiles(tiles: Path) -> int:
    return sum(1 for _ in tiles.glob("*/tiles/r*.npz"))


def main_all(args) -> None:
    root, work = Path(args.root), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    lines = [f"machine: {os.cpu_count()} CPUs; load at start {os.getloadavg()}"]
    if not root.exists():
        seconds = write_root(root, args.n)
        lines.append(f"wrote {args.n} masks as a runs root in {seconds:.0f} s")
    size = sum(p.stat().st_size for p in root.rglob("shard-*.bin"))
    lines.append(f"runs root: {root} ({size / 1e9:.2f} GB of packed shards)")
    common = ["--root", str(root), "--memory", args.memory]
    tiles = work / "tiles-a"

    # 2. the job, SIGKILLed once half of its tiles are stored (or that part given), then resumed
    if args.killed:
        killed = json.loads(Path(args.killed).read_text())
    else:
        shutil.rmtree(tiles, ignore_errors=True)
        plan_tiles = _planned_tiles(args)
        run = run_step("tiled", args, [*common, "--tiles", str(tiles)],
                       kill_when=lambda: _count_tiles(tiles) >= plan_tiles // 2)  # fmt: skip
        killed = {
            "wall_s": run["wall_s"],
            "peak_rss_anon_mb": run["peak_rss_anon_mb"],
            "load": os.getloadavg(),
        }
    killed["stored"] = _count_tiles(tiles)
    load = os.getloadavg()
    resumed = run_step("tiled", args, [*common, "--tiles", str(tiles), "--digest", "--fit", str(args.fit)])
    resumed.update(load=load, killed=killed)
    print(json.dumps(resumed, indent=1), flush=True)

    # 3. throughput and identity: the in-memory kernel and a tile job on the first --fit masks
    tiles_c = work / "tiles-c"
    shutil.rmtree(tiles_c, ignore_errors=True)
    mem = run_step("in_memory", args, ["--root", str(root), "--n-masks", str(args.fit)])
    til = run_step("tiled", args, [*common, "--tiles", str(tiles_c), "--n-masks", str(args.fit)])

    # 4. peers
    peers = run_step("peers", args, ["--root", str(root), "--faiss-rows", str(args.faiss_rows),
                                     "--scipy-rows", str(args.scipy_rows)])  # fmt: skip
    lines.append(f"load at end {os.getloadavg()}")
    text = report(resumed, mem, til, peers, args, lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if not args.keep:
        for t in (tiles, tiles_c):
            shutil.rmtree(t, ignore_errors=True)


def main_ratio(args) -> None:
    root, work = Path(args.root), Path(args.work)
    if not root.exists():
        raise SystemExit(f"{root}: no runs root; write one first with: scale.py write --root {root} --n N")
    work.mkdir(parents=True, exist_ok=True)
    tiles = work / "tiles-ratio"
    fit = ["--n-masks", str(args.fit)]
    print(f"tiles vs in-memory kernel on the first {args.fit} masks of {root}; {os.cpu_count()} CPUs")
    print(
        "| repeat | memory | tiles | first | in-memory s | tiles s | tiles / in-memory | counts | load (1, 5, 15 min) |"
    )
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    ratios: dict[str, list[float]] = {}
    plans: dict[str, str] = {}
    for repeat in range(args.repeats):
        for memory in args.memory.split(","):
            load = os.getloadavg()
            shutil.rmtree(tiles, ignore_errors=True)
            steps = [("in_memory", fit),
                     ("tiled", ["--memory", memory, "--tiles", str(tiles), "--digest", "--fit", str(args.fit), *fit])]  # fmt: skip
            order = steps if repeat % 2 == 0 else steps[::-1]  # neither always runs first
            done = {name: run_step(name, args, ["--root", str(root), *extra]) for name, extra in order}
            mem, til = done["in_memory"], done["tiled"]
            ratio = til["tiles_s"] / mem["seconds"]  # the same word pairs, the same kernel
            ratios.setdefault(memory, []).append(ratio)
            p = til["plan"]
            plans[memory] = (f"{p['blocks']} row blocks of {p['block_rows']} x {p['ranges']} word ranges of "
                             f"{p['range_words']:,} words")  # fmt: skip
            same = "identical" if til["digests"]["block"] == mem["digest"] else "DIFFERENT"
            print(f"| {repeat + 1} | {memory} | {til['n_tiles']} | {order[0][0]} | {mem['seconds']:.2f} | "
                  f"{til['tiles_s']:.2f} | {ratio:.3f} | {same} | {_load(load)} |", flush=True)  # fmt: skip
    shutil.rmtree(tiles, ignore_errors=True)
    for memory, values in ratios.items():
        print(f"memory {memory} ({plans[memory]}): tiles / in-memory min {min(values):.3f}, "
              f"median {np.median(values):.3f}, max {max(values):.3f} over {len(values)} repeats")  # fmt: skip
    print(f"load at end {_load(os.getloadavg())}")


def main_blocks(args) -> None:
    """The in-memory kernel with its row blocks against all rows in every chunk (the schedule
    before row blocks), in fresh processes, alternating which runs first."""
    root, work = Path(args.root), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"in-memory kernel on the first {args.fit} masks of {root}, row blocks vs none; {os.cpu_count()} CPUs"
    )
    print("| repeat | first | one block s | row blocks s | blocks / one | counts | load (1, 5, 15 min) |")
    print("|---|---|---|---|---|---|---|", flush=True)
    ratios = []
    for repeat in range(args.repeats):
        load = os.getloadavg()
        order = [("one", ["--row-block", "0"]), ("blocks", [])]  # blocks: the kernel's default
        order = order if repeat % 2 == 0 else order[::-1]
        fit = ["--root", str(root), "--n-masks", str(args.fit)]
        done = {name: run_step("in_memory", args, [*fit, *extra]) for name, extra in order}
        one, blocks = done["one"], done["blocks"]
        ratios.append(blocks["seconds"] / one["seconds"])
        same = "identical" if one["digest"] == blocks["digest"] else "DIFFERENT"
        print(f"| {repeat + 1} | {order[0][0]} | {one['seconds']:.2f} | {blocks['seconds']:.2f} | "
              f"{ratios[-1]:.3f} | {same} | {_load(load)} |", flush=True)  # fmt: skip
    print(
        f"row blocks / one block: min {min(ratios):.3f}, median {np.median(ratios):.3f}, max {max(ratios):.3f}"
    )


def _planned_tiles(args) -> int:
    from landscape.reading import read_runs
    from landscape.tl import _kernels
    from landscape.tl._tiles import TilePlan, parse_memory

    ms = read_runs(args.root)
    return len(
        TilePlan.for_budget(len(ms), _kernels.layer_bounds(ms.layout), parse_memory(args.memory)).tiles()
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["all", "write", "ratio", "blocks", "_step"])
    parser.add_argument("step", nargs="?")
    parser.add_argument("--root", default="/tmp/scale/runs")
    parser.add_argument("--work", default="/tmp/scale/work", help="tile folders and step results")
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--memory", default="2GB", help="budget (ratio: comma-separated budgets)")
    parser.add_argument("--fit", type=int, default=768, help="masks for the tiles vs in-memory comparison")
    parser.add_argument("--faiss-rows", type=int, default=256)
    parser.add_argument("--scipy-rows", type=int, default=16)
    parser.add_argument("--out", help="also write the markdown report here")
    parser.add_argument("--keep", action="store_true", help="keep the tile folders")
    parser.add_argument("--repeats", type=int, default=5, help="ratio: repeats per budget")
    parser.add_argument("--killed", help="JSON of a killed first part already run (skips it)")
    # step options
    parser.add_argument("--tiles")
    parser.add_argument("--n-masks", type=int, default=0)
    parser.add_argument("--digest", action="store_true")
    parser.add_argument("--row-block", type=int, help="in-memory step: rows per block (0: one block)")
    parser.add_argument("--result")
    args = parser.parse_args(argv)
    if args.command == "write":
        print(f"{write_root(Path(args.root), args.n):.0f} s")
    elif args.command == "ratio":
        main_ratio(args)
    elif args.command == "blocks":
        main_blocks(args)
    elif args.command == "_step":
        result = STEPS[args.step](args)
        Path(args.result).write_text(json.dumps(result, default=str))
    else:
        main_all(args)


if __name__ == "__main__":
    main()
