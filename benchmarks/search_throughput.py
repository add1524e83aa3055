"""Search throughput: masks per hour, batched (one model of M masks) vs one mask at a time.

The baseline is the plain per-mask loop: a one-mask ``Trainer`` run for each search seed in
turn. The batched search is one ``Trainer`` over M search seeds. Both use the same
configuration, process and thread count, and both include building the model and the
per-epoch evaluation, i.e. everything one mask of a real search costs.

CPU: the digits MLP 64-256-256-10 of ``configs/digits_mlp_edge_popup.yaml``.
GPU (when CUDA is available): Conv-4 and ResNet-18 on synthetic CIFAR-shaped data at M = 1, 8,
32, 128 and the largest M the memory estimate allows, with the achieved TFLOP/s of the
training steps next to the device's own matmul throughput measured in the same run
(``benchmarks/gpu_check.py`` runs these tables inside its time boxes).

    python benchmarks/search_throughput.py                 # CPU table (and GPU when present)
    python benchmarks/search_throughput.py --profile 16    # where a batched epoch spends time
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import threading
import time
from pathlib import Path

import torch

from landscape.config import load_config
from landscape.search.runner import load_dataset
from landscape.search.trainer import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
CPU_CONFIG = ROOT / "configs" / "digits_mlp_edge_popup.yaml"


def timed_run(cfg, dataset, seeds: list[int], device: str) -> float:
    """Seconds to build and run one Trainer over ``seeds`` (model build and evaluation included)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    Trainer(cfg, dataset, 0, seeds, device, progress=False).run()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def loop_rate(cfg, dataset, n: int, device: str) -> float:
    """Masks per hour of the one-mask-at-a-time loop over ``n`` seeds."""
    seconds = sum(timed_run(cfg, dataset, [s], device) for s in range(n))
    return n * 3600 / seconds


def plain_loop_rate(cfg, dataset, n: int) -> float:
    """Masks per hour of the plain reference-style loop (benchmarks/plain_loop.py)."""
    from plain_loop import train_one

    t0 = time.perf_counter()
    for seed in range(n):
        train_one(dataset, cfg.model.hidden, cfg.method.density, cfg.train.epochs, cfg.train.batch_size,
                  cfg.train.lr, seed)  # fmt: skip
    return n * 3600 / (time.perf_counter() - t0)


def cpu_table(epochs: int, sizes: list[int], loop_masks: int, repeats: int, hidden=(256, 256)) -> dict:
    cfg = load_config(CPU_CONFIG, {"train.epochs": epochs, "model.hidden": list(hidden)})
    dataset = load_dataset(cfg.data)
    timed_run(cfg.replace(**{"train.epochs": 1}), dataset, [0], "cpu")  # one-time imports and allocations
    loop = max(loop_rate(cfg, dataset, loop_masks, "cpu") for _ in range(repeats))
    plain = max(plain_loop_rate(cfg, dataset, loop_masks) for _ in range(repeats))
    print(f"  plain per-mask loop {plain:10.0f} masks/h; this engine one mask at a time {loop:10.0f} masks/h")
    rows = []
    for m in sizes:
        seconds = min(timed_run(cfg, dataset, list(range(m)), "cpu") for _ in range(repeats))
        rate = m * 3600 / seconds
        rows.append({"M": m, "seconds": seconds, "masks_per_hour": rate, "speedup": rate / loop,
                     "speedup_vs_plain": rate / plain})  # fmt: skip
        print(f"  M={m:<4} {seconds:7.2f} s  {rate:10.0f} masks/h  x{rate / loop:.2f} (x{rate / plain:.2f} vs plain)",
              flush=True)  # fmt: skip
    torch_route = torch_route_rates(cfg, dataset, loop_masks, max(sizes), repeats)
    print(f"  torch route (fused CPU kernels off): one at a time {torch_route['loop_masks_per_hour']:.0f} "
          f"masks/h, M={max(sizes)} {torch_route['batched_masks_per_hour']:.0f} masks/h")  # fmt: skip
    return {
        "config": str(CPU_CONFIG.relative_to(ROOT)),
        "epochs": epochs,
        "loop_masks_per_hour": loop,
        "plain_loop_masks_per_hour": plain,
        "rows": rows,
        "torch_route": torch_route,
    }


def torch_route_rates(cfg, dataset, loop_masks: int, m: int, repeats: int) -> dict:
    """The same engine with the fused CPU kernels switched off (their value, same run)."""
    from landscape.search.methods import _fused_route

    fused = _fused_route.fused_cpu
    _fused_route.fused_cpu = lambda: None
    try:
        loop = max(loop_rate(cfg, dataset, loop_masks, "cpu") for _ in range(repeats))
        seconds = min(timed_run(cfg, dataset, list(range(m)), "cpu") for _ in range(repeats))
    finally:
        _fused_route.fused_cpu = fused
    return {"M": m, "loop_masks_per_hour": loop, "batched_masks_per_hour": m * 3600 / seconds}


# ----------------------------------------------------------------------------------------------
# Conv-4 and ResNet-18 on synthetic CIFAR-shaped data: the GPU tables (and, tiny, their CPU dry run)


def image_config(model: str, tiny: bool = False, **overrides):
    """Synthetic 3x32x32 data (2,048 rows, 80% train), batch 128, 2 epochs; tiny: 3x8x8 at
    width 0.125, 80 rows, batch 32, 1 epoch (a second on a CPU)."""
    base = {"model.name": model, "data.name": "synthetic", "data.input_shape": [3, 32, 32],
            "data.n_train": 2048, "data.n_test": 512, "train.epochs": 2, "train.batch_size": 128}  # fmt: skip
    if tiny:
        base.update({"data.input_shape": [3, 8, 8], "model.width_mult": 0.125, "data.n_train": 80,
                     "data.n_test": 40, "train.epochs": 1, "train.batch_size": 32})  # fmt: skip
    return load_config(CPU_CONFIG, {**base, **overrides})


def synchronize(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def matmul_tflops(precision: str = "fp32", device: str = "cuda", n: int = 8192, reps: int = 10) -> float:
    """Dense ``n x n`` matmul throughput at ``precision`` (fp32 IEEE, tf32, bf16): the median
    of ``reps`` timed products after a warm-up, on fresh random inputs."""
    from landscape.search.precision import float32_kernels

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    times = []
    with float32_kernels(precision == "tf32"):
        for i in range(reps + 1):
            synchronize(device)
            t0 = time.perf_counter()
            a @ b
            synchronize(device)
            if i:  # the first product is the warm-up
                times.append(time.perf_counter() - t0)
    return 2 * n**3 / sorted(times)[len(times) // 2] / 1e12


def flops_per_example(cfg, dataset, device: str) -> float:
    """Matmul/convolution FLOPs of one training step (forward + backward) per example and mask.

    Counted by ``torch.utils.flop_counter`` on a one-mask model; an M-mask step does exactly M
    times this (grouped convolutions and batched matmuls, one slice per mask).
    """
    from torch.utils.flop_counter import FlopCounterMode

    from landscape.search.precision import forward_autocast

    trainer = Trainer(cfg, dataset, 0, [0], device, progress=False)
    b = min(cfg.train.batch_size, len(trainer.train_y))
    x, y = trainer.train_x[:b].unsqueeze(0), trainer.train_y[:b]
    with FlopCounterMode(display=False) as counter:
        with forward_autocast(cfg.train.precision, device):
            logits = trainer.model(x)
            loss = torch.nn.functional.cross_entropy(logits.reshape(b, -1).float(), y)
        loss.backward()
    return float(counter.get_total_flops()) / b


class Utilisation:
    """Mean ``torch.cuda.utilization()`` sampled while a block runs (None without pynvml)."""

    def __enter__(self):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.samples.append(float(torch.cuda.utilization()))
            except Exception:  # pynvml missing or unsupported: no figure
                return

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def measured_run(cfg, dataset, seeds: list[int], device: str) -> dict:
    """One Trainer over ``seeds``: wall seconds (build and evaluation included), step-loop
    seconds, peak device memory, mean test accuracy."""
    from landscape.search.profiling import StepTimer

    cuda = str(device).startswith("cuda")
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    timer = StepTimer()
    synchronize(device)
    t0 = time.perf_counter()
    with Utilisation() if cuda else contextlib.nullcontext() as util:
        result = Trainer(cfg, dataset, 0, seeds, device, progress=False, hooks=[timer]).run()
    synchronize(device)
    seconds = time.perf_counter() - t0
    accs = [r["test_acc"] for r in result.records]
    return {"seconds": seconds, "step_seconds": timer.total, "steps": timer.steps_run,
            "peak_bytes": torch.cuda.max_memory_allocated() if cuda else None,
            "test_acc": sum(accs) / len(accs), "utilisation": util.mean if cuda else None}  # fmt: skip


def _out_of_memory(exc: BaseException) -> bool:
    oom = getattr(torch.cuda, "OutOfMemoryError", ())
    return isinstance(exc, oom) or "out of memory" in str(exc).lower()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}" if text else type(exc).__name__


def device_table(model: str, device: str, sizes: list[int], *, tiny: bool = False, deadline: float = math.inf,
                 largest_cap: int = 512, loop_masks: int = 2, plain_masks: int = 1, precision: str = "fp32",
                 matmul: float | None = None, on_row=None, log=print) -> dict:  # fmt: skip
    """Masks/hour of a batched search at each M, against this engine one mask at a time and
    the plain per-mask loop, with the achieved training TFLOP/s and device memory per mask.

    Rows run in order of M; a row whose predicted time (the last row's, scaled by M) would
    pass ``deadline`` (a ``time.time()`` value) is recorded as skipped. The largest M the
    memory estimate allows (``search.batching``, capped at ``largest_cap``) is added as a row.
    ``on_row(table)`` is called after every row, so partial results can be saved.
    """
    from plain_loop import train_one

    from landscape.search.batching import auto_masks_in_flight, bytes_per_mask

    cfg = image_config(model, tiny, **({"train.precision": precision} if precision != "fp32" else {}))
    dataset = load_dataset(cfg.data)
    t = cfg.train
    per_example = flops_per_example(cfg, dataset, device)
    examples = len(dataset.train[1]) * t.epochs
    fit = auto_masks_in_flight(cfg, dataset, device, largest_cap)
    sizes = sorted({*sizes, *([fit] if fit > max(sizes) else [])})
    table = {"model": model, "device": device, "precision": precision, "epochs": t.epochs,
             "train_rows": len(dataset.train[1]), "batch_size": t.batch_size,
             "width_mult": cfg.model.width_mult, "input_shape": list(cfg.data.input_shape),
             "flops_per_example": per_example, "matmul_tflops": matmul, "largest_fit": fit,
             "estimate_bytes_per_mask": bytes_per_mask(cfg, dataset), "rows": []}  # fmt: skip
    if not tiny:  # warm-up: kernel selection, allocator, lazy imports
        measured_run(cfg.replace(**{"train.epochs": 1}), dataset, [0], device)
    if plain_masks:
        t0 = time.perf_counter()
        for seed in range(plain_masks):
            train_one(dataset, density=cfg.method.density, epochs=t.epochs, batch_size=t.batch_size, lr=t.lr,
                      seed=seed, model=model, width=cfg.model.width_mult, device=device,
                      precision=precision)  # fmt: skip
        synchronize(device)
        table["plain_loop_masks_per_hour"] = plain_masks * 3600 / (time.perf_counter() - t0)
        table["plain_loop_precision"] = precision  # the engine's kernel flags and autocast
    if loop_masks:
        loop = [measured_run(cfg, dataset, [s], device)["seconds"] for s in range(loop_masks)]
        table["loop_masks_per_hour"] = loop_masks * 3600 / sum(loop)
        log(f"  {model}: plain loop {table.get('plain_loop_masks_per_hour', 0):.0f} masks/h, "
            f"engine one at a time {table['loop_masks_per_hour']:.0f} masks/h")  # fmt: skip
    if on_row:
        on_row(table)
    last = None
    for m in sizes:
        if last is not None and time.time() + last["seconds"] * m / last["M"] > deadline:
            table["rows"].append({"M": m, "skipped": "predicted to pass the time box"})
            continue
        try:
            run = measured_run(cfg, dataset, list(range(m)), device)
        except (RuntimeError, MemoryError) as exc:
            if _out_of_memory(exc):
                table["rows"].append({"M": m, "skipped": "out of memory"})
                break
            # another limit of this M (32-bit indexing past 2**31 elements...): kept, next M runs
            table["rows"].append({"M": m, "error": _first_line(exc)})
            log(f"  {model} {precision} M={m}: {table['rows'][-1]['error']}")
            if on_row:
                on_row(table)
            continue
        row = {"M": m, **run, "masks_per_hour": m * 3600 / run["seconds"]}
        for key, peer in (("vs_loop", "loop_masks_per_hour"), ("vs_plain", "plain_loop_masks_per_hour")):
            if peer in table:
                row[key] = row["masks_per_hour"] / table[peer]
        row["train_tflops"] = per_example * examples * m / max(run["step_seconds"], 1e-12) / 1e12
        if matmul:
            row["fraction_of_matmul"] = row["train_tflops"] / matmul
        if run["peak_bytes"] is not None:
            row["bytes_per_mask"] = run["peak_bytes"] / m
            if last is not None and last.get("peak_bytes") is not None:
                row["marginal_bytes_per_mask"] = (run["peak_bytes"] - last["peak_bytes"]) / (m - last["M"])
        table["rows"].append(row)
        last = row
        log(f"  {model} {precision} M={m:<4} {run['seconds']:7.2f} s {row['masks_per_hour']:10.0f} masks/h "
            f"x{row.get('vs_loop', math.nan):.2f} vs one at a time, {row['train_tflops']:.3f} TFLOP/s")  # fmt: skip
        if on_row:
            on_row(table)
    return table


# ----------------------------------------------------------------------------------------------


def profile(m: int, epochs: int) -> None:
    """Top operators of a batched CPU search by self time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    cfg = load_config(CPU_CONFIG, {"train.epochs": epochs})
    dataset = load_dataset(cfg.data)
    timed_run(cfg.replace(**{"train.epochs": 1}), dataset, [0], "cpu")
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        timed_run(cfg, dataset, list(range(m)), "cpu")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


def markdown(cpu: dict, threads: int) -> str:
    lines = [f"One mask at a time, this engine: {cpu['loop_masks_per_hour']:.0f} masks/h; plain per-mask "
             f"loop: {cpu['plain_loop_masks_per_hour']:.0f} masks/h ({cpu['epochs']} epochs, {threads} thread(s))",
             "", "| M | seconds | masks/h | vs one at a time | vs plain loop |",
             "| ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for r in cpu["rows"]:
        lines.append(f"| {r['M']} | {r['seconds']:.2f} | {r['masks_per_hour']:.0f} | {r['speedup']:.2f}x "
                     f"| {r['speedup_vs_plain']:.2f}x |")  # fmt: skip
    tr = cpu["torch_route"]
    lines += ["", f"Fused CPU kernels off (torch route): one at a time {tr['loop_masks_per_hour']:.0f} masks/h, "
              f"M = {tr['M']} {tr['batched_masks_per_hour']:.0f} masks/h"]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=3, help="epochs per search (CPU)")
    p.add_argument("--masks", default="1,4,8,16,32", help="batch sizes M to time (CPU)")
    p.add_argument("--loop-masks", type=int, default=4, help="masks timed in the one-at-a-time loop")
    p.add_argument("--repeats", type=int, default=1, help="best of this many timings")
    p.add_argument("--hidden", default="256,256", help="MLP hidden widths (CPU), e.g. 64,64")
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch CPU threads")
    p.add_argument("--gpu-max-masks", type=int, default=256)
    p.add_argument("--no-gpu", action="store_true")
    p.add_argument(
        "--profile", type=int, default=0, metavar="M", help="profile a batched CPU search of M masks"
    )
    p.add_argument("--json", default=None, help="write all figures to this file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.profile:
        profile(args.profile, args.epochs)
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {args.threads} thread(s), load {os.getloadavg()[0]:.1f}")  # fmt: skip
    results: dict = {"threads": args.threads, "torch": torch.__version__}
    hidden = tuple(int(h) for h in args.hidden.split(","))
    print(f"CPU, digits MLP 64-{'-'.join(map(str, hidden))}-10:")
    results["cpu"] = cpu_table(
        args.epochs, [int(m) for m in args.masks.split(",")], args.loop_masks, args.repeats, hidden
    )
    print(markdown(results["cpu"], args.threads))
    if torch.cuda.is_available() and not args.no_gpu:
        results["device"] = torch.cuda.get_device_name()
        results["matmul_tflops"] = {p: matmul_tflops(p) for p in ("fp32", "tf32", "bf16")}
        print(f"GPU {results['device']}: matmul {results['matmul_tflops']}")
        sizes = [1, 8, 32, 128]
        results["gpu"] = [
            device_table(
                m, "cuda", sizes, largest_cap=args.gpu_max_masks, matmul=results["matmul_tflops"]["fp32"]
            )
            for m in ("conv4", "resnet18")
        ]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
