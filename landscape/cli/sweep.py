"""``landscape sweep``: search every run of a sweep file."""

from __future__ import annotations

import argparse

from landscape.cli._common import add_overrides
from landscape.errors import ConfigError, LandscapeError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="search a grid of configurations x seeds (a sweep file) into the run store",
        description="Search every mask of a sweep file; finished masks are skipped, so running it "
        "again resumes, and several workers may run the same sweep at once.",
    )
    p.add_argument("sweep", help="sweep file (YAML or TOML; see configs/sweeps/)")
    add_overrides(p)  # --set KEY=VALUE in every run of the sweep
    p.add_argument("--runs", default="runs", help="runs root (default: runs/)")
    p.add_argument("--executor", default="local", choices=["local", "slurm", "submitit-local", "debug"],
                   help="local: this machine; slurm: a submitit job array; submitit-local: the same "
                   "jobs as local processes; debug: submitit in-process (default local)")  # fmt: skip
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: one per visible GPU, else in-process)")  # fmt: skip
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default auto)")
    p.add_argument("--masks-in-flight", type=int, default=None,
                   help="masks trained at once in one batched model (default: from free memory)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="print the expanded runs and exit")
    p.add_argument("--status", action="store_true", help="print masks done / total per run and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("cluster (slurm / submitit-local)")
    g.add_argument("--partition", default=None, help="Slurm partition")
    g.add_argument("--time", dest="time_min", type=int, default=None, help="time limit per job, minutes")
    g.add_argument("--gpus-per-node", type=int, default=None, help="GPUs per job")
    g.add_argument("--cpus-per-task", type=int, default=None, help="CPUs per job")
    g.add_argument("--mem-gb", type=float, default=None, help="memory per job, GB")
    g.add_argument("--array-parallelism", type=int, default=None, help="jobs of the array running at once")
    g.add_argument("--account", default=None, help="Slurm account")
    g.add_argument("--no-wait", action="store_true", help="submit and return (the store collects the masks)")


def _sweep(args: argparse.Namespace) -> int:
    from landscape.search.sweep import load_sweep, run_sweep

    sweep = load_sweep(args.sweep, args.overrides)
    if args.dry_run:
        print(dry_run_text(sweep))
        return 0
    if args.status:
        print(status_text(sweep, args.runs))
        return 0
    for flag in (
        "workers",
        "masks_in_flight",
        "time_min",
        "gpus_per_node",
        "cpus_per_task",
        "array_parallelism",
    ):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} {value}: must be >= 1")
    options = {k: getattr(args, k) for k in ("partition", "time_min", "gpus_per_node", "cpus_per_task",
                                             "mem_gb", "array_parallelism", "account")}  # fmt: skip
    if args.executor != "local":
        if args.workers is not None:
            raise ConfigError(
                f"--workers: applies to --executor local (jobs of {args.executor} are its workers)"
            )
        options["wait"] = not args.no_wait
    elif any(v is not None for v in options.values()) or args.no_wait:
        raise ConfigError(
            "cluster options (--partition, --time, ...) need --executor slurm or submitit-local"
        )
    report = run_sweep(sweep, args.runs, args.executor, args.device, args.workers, args.masks_in_flight,
                       progress=not args.quiet, **{k: v for k, v in options.items() if v is not None})  # fmt: skip
    if report.job_ids and not report.results:
        print(f"sweep {sweep.name}: submitted {len(report.job_ids)} job(s) ({report.job_ids[0]}...); "
              f"follow with: landscape sweep {args.sweep}{_sets(args)} --runs {args.runs} --status")  # fmt: skip
        return 0
    print(f"sweep {sweep.name}: {report.line()} -> {args.runs}")
    for failure in report.failures:
        print(f"  failed: {failure.error}")
    if report.failures:
        raise LandscapeError(
            f"{len(report.failures)} unit(s) of sweep {sweep.name} failed; run it again to retry"
        )
    return 0


def _sets(args: argparse.Namespace) -> str:
    return "".join(f" --set {o}" for o in args.overrides)


def dry_run_text(sweep) -> str:
    """The expanded runs: run id, description, masks, grid values."""
    from landscape.search.sweep import seed_label

    tasks = sweep.expand()
    lines = [f"sweep {sweep.name}: {len(tasks)} runs, {sweep.n_masks} masks "
             f"(weight seeds {seed_label(sweep.weight_seeds)}, search seeds {seed_label(sweep.search_seeds)})"]  # fmt: skip
    if sweep.overrides:
        lines.append("every run with --set " + " --set ".join(f"{k}={v}" for k, v in sweep.overrides))
    for t in tasks:
        lines.append(f"{t.run_id}  {t.cfg.describe():<34} {t.n_masks:>6} masks  {t.label()}")
    return "\n".join(lines)


def status_text(sweep, runs_root) -> str:
    """Masks done / total per run, and in all; with the states of the sweep's last Slurm
    submission when Slurm answers."""
    from landscape.search.submitit_jobs import submitted_job_states

    rows = sweep.status(runs_root)
    done, total = sum(r.done for r in rows), sum(r.total for r in rows)
    lines = [f"sweep {sweep.name} in {runs_root}: {done}/{total} masks done, "
             f"{sum(r.complete for r in rows)}/{len(rows)} runs complete"]  # fmt: skip
    for r in rows:
        mark = "done" if r.complete else ("partial" if r.done else "todo")
        lines.append(f"{r.task.run_id}  {mark:<8} {r.done:>6}/{r.total:<6} {r.task.label()}")
    jobs = submitted_job_states(runs_root, sweep.name)
    if jobs is not None:
        job_ids, counts = jobs
        arrays = ", ".join(sorted({j.split("_")[0] for j in job_ids}))
        states = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        lines.append(f"slurm jobs of the last submission (array {arrays}): {states}")
    return "\n".join(lines)


COMMANDS = {"sweep": _sweep}
