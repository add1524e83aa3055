"""Search throughput: masks per hour, batched (one model of M masks) vs one mask at a time.

The baseline is the plain per-mask loop: a one-mask ``Trainer`` run for each search seed in
turn. The batched search is one ``Trainer`` over M search seeds. Both use the same
configuration, process and thread count, and both include building the model and the
per-epoch evaluation, i.e. everything one mask of a real search costs.

CPU: the digits MLP 64-256-256-10 of ``configs/digits_mlp_edge_popup.yaml``.
GPU (when CUDA is available): Conv-4 and ResNet-18 on synthetic CIFAR-shaped data, M doubled
until memory runs out, with the achieved TFLOP/s of the training steps next to the device's
own matmul throughput measured in the same run.

    python benchmarks/search_throughput.py                 # CPU table (and GPU when present)
    python benchmarks/search_throughput.py --profile 16    # where a batched epoch spends time
"""

from __future__ import annotations

import argparse
import json
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
# GPU


def matmul_tflops(tf32: bool, n: int = 8192, reps: int = 20) -> float:
    """Measured dense fp32 (or TF32) matmul throughput of this device."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(n, n, device="cuda")
    b = torch.randn(n, n, device="cuda")
    a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    torch.backends.cuda.matmul.allow_tf32 = before
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12


def step_flops(cfg, dataset, m: int) -> float:
    """FLOPs of one training step (forward + backward) of the M-mask model."""
    from torch.utils.flop_counter import FlopCounterMode

    trainer = Trainer(cfg, dataset, 0, list(range(m)), "cuda", progress=False)
    x = trainer.train_x[: cfg.train.batch_size].unsqueeze(0).expand(m, -1, *dataset.input_shape)
    y = trainer.train_y[: cfg.train.batch_size].repeat(m)
    with FlopCounterMode(display=False) as counter:
        logits = trainer.model(x.contiguous())
        torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y).backward()
    return float(counter.get_total_flops())


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


def gpu_table(model: str, epochs: int, max_m: int) -> dict:
    overrides = {"model.name": model, "data.name": "synthetic", "data.input_shape": [3, 32, 32],
                 "data.n_train": 2048, "train.epochs": epochs, "train.batch_size": 128}  # fmt: skip
    cfg = load_config(CPU_CONFIG, overrides)
    dataset = load_dataset(cfg.data)
    timed_run(cfg.replace(**{"train.epochs": 1}), dataset, [0], "cuda")
    loop = loop_rate(cfg, dataset, 2, "cuda")
    n_steps = epochs * -(-len(dataset.train[1]) // cfg.train.batch_size)
    rows, m = [], 1
    while m <= max_m:
        try:
            flops = step_flops(cfg, dataset, m) * n_steps
            with Utilisation() as util:
                seconds = timed_run(cfg, dataset, list(range(m)), "cuda")
        except torch.cuda.OutOfMemoryError:
            print(f"  M={m}: out of memory")
            break
        finally:
            torch.cuda.empty_cache()
        rate = m * 3600 / seconds
        row = {"M": m, "seconds": seconds, "masks_per_hour": rate, "speedup": rate / loop,
               "train_tflops": flops / seconds / 1e12, "utilisation": util.mean}  # fmt: skip
        rows.append(row)
        print(f"  {model} M={m:<4} {seconds:7.2f} s {rate:9.0f} masks/h x{rate / loop:6.2f} "
              f"{row['train_tflops']:6.2f} TFLOP/s util={util.mean}", flush=True)  # fmt: skip
        m *= 2
    return {"model": model, "epochs": epochs, "loop_masks_per_hour": loop, "rows": rows}


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
    p.add_argument("--gpu-epochs", type=int, default=2)
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
        results["matmul_tflops"] = {"fp32": matmul_tflops(False), "tf32": matmul_tflops(True)}
        print(f"GPU {results['device']}: matmul {results['matmul_tflops']}")
        results["gpu"] = [gpu_table(m, args.gpu_epochs, args.gpu_max_masks) for m in ("conv4", "resnet18")]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
