"""The tuning part of the device check: which formulation is fastest on this device.

- matmul ceilings: dense ``8192^3`` products in fp32 (IEEE), TF32 and bf16;
- host synchronisations inside the step loop (``profiling.HostSyncAudit``) of a Conv-4 and a
  ResNet-18 search: should be none;
- the top-k routes (``methods.select``) on ``M x N`` keys: milliseconds per exact top-k
  mask, and whether every route gave the same masks;
- the convolution routes (``nn.conv_routes``) x precision: seconds per training step of a
  Conv-4 ensemble of M = 32 masks (the second epoch of two; the first warms up), and
  ``cudnn.benchmark`` for the grouped route;
- a torch.profiler table of three Conv-4 steps, top operators by device time, written to
  ``profile_conv4.txt`` in the report folder.
"""

from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext

import torch

from landscape.nn import conv_routes
from landscape.search.methods import select
from landscape.search.methods.base import kept_count, topk_mask
from landscape.search.profiling import HostSyncAudit, StepTimer, TorchProfile
from landscape.search.runner import load_dataset
from landscape.search.trainer import Trainer


def log(*args) -> None:
    print(*args, flush=True)


def tuning_config(model: str, tiny: bool, **overrides):
    """The throughput data, shortened: 512 training rows (4 steps of 128), 128 val and test."""
    import search_throughput as st

    sizes = {} if tiny else {"data.n_train": 640, "data.n_test": 128}
    return st.image_config(model, tiny, **{"train.epochs": 2, **sizes, **overrides})


@contextmanager
def cudnn_benchmark(on: bool):
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = on
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def host_syncs(model: str, m: int, device: str, tiny: bool) -> dict:
    cfg = tuning_config(model, tiny, **{"train.epochs": 1})
    audit = HostSyncAudit()
    # on the CPU the default route reads values on purpose; audit the device-generic one
    route = select.use("kthvalue") if device == "cpu" else nullcontext()
    with route:
        Trainer(cfg, load_dataset(cfg.data), 0, list(range(m)), device, progress=False, hooks=[audit]).run()
    return {"model": model, "M": m, "syncs": audit.count, "where": audit.summary(5)}


def topk_rows(device: str, shapes: list[tuple[int, int]], routes: list[str], reps: int, part) -> list[dict]:
    rows = []
    for m, n in shapes:
        if part.left() < 10:
            rows.append({"M": m, "N": n, "skipped": "time box"})
            continue
        keys = torch.rand((m, n), device=device)  # random: ties are rare, as for real scores
        k = kept_count(n, 0.5)
        reference = None
        for route in routes:
            try:
                with select.use(route):
                    mask = topk_mask(keys, k)  # warm-up
                    times = []
                    for _ in range(reps):
                        _sync(device)
                        t0 = time.perf_counter()
                        mask = topk_mask(keys, k)
                        _sync(device)
                        times.append(time.perf_counter() - t0)
            except (RuntimeError, ValueError) as exc:
                rows.append({"M": m, "N": n, "route": route, "error": str(exc).splitlines()[0][:200]})
                continue
            reference = mask if reference is None else reference
            rows.append({"M": m, "N": n, "route": route, "ms": 1e3 * sorted(times)[len(times) // 2],
                         "same_masks": bool(torch.equal(mask, reference))})  # fmt: skip
            log(f"  top-k {route:<8} M={m} N={n:,}: {rows[-1]['ms']:.2f} ms")
        del keys, reference
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return rows


def step_seconds(cfg, dataset, m: int, device: str, route: str, benchmark: bool = False) -> float:
    timer = StepTimer()
    with conv_routes.use(route), cudnn_benchmark(benchmark):
        Trainer(cfg, dataset, 0, list(range(m)), device, progress=False, hooks=[timer]).run()
    per_epoch = timer.steps_run // len(timer.seconds)
    return timer.seconds[-1] / per_epoch


def conv_route_rows(device: str, m: int, tiny: bool, part) -> list[dict]:
    rows = []
    precisions = ("fp32", "tf32", "bf16")
    if device.startswith("cuda"):
        variants = [(r, p, False) for p in precisions for r in conv_routes.ROUTES]
        variants += [("grouped", p, True) for p in ("fp32", "bf16")]
    else:  # the dry run: every route once, every precision once
        variants = [(r, "fp32", False) for r in conv_routes.ROUTES] + [
            ("grouped", p, False) for p in precisions[1:]
        ]
    for route, precision, bench in variants:
        label = {"route": route, "precision": precision, "cudnn_benchmark": bench}
        if part.left() < 8:
            rows.append({**label, "skipped": "time box"})
            continue
        extra = {"train.precision": precision} if precision != "fp32" else {}
        cfg = tuning_config("conv4", tiny, **extra)
        try:
            seconds = step_seconds(cfg, load_dataset(cfg.data), m, device, route, bench)
        except (RuntimeError, MemoryError) as exc:
            rows.append({**label, "error": str(exc).splitlines()[0][:200]})
            continue
        rows.append({**label, "M": m, "step_ms": 1e3 * seconds})
        log(f"  conv route {route:<13} {precision} benchmark={bench}: {1e3 * seconds:.2f} ms/step (M={m})")
        part.save(conv_routes=rows)
    base = next((r["step_ms"] for r in rows if r.get("step_ms") and r["route"] == "grouped"), None)
    for r in rows:
        if base and r.get("step_ms"):
            r["vs_grouped_fp32"] = base / r["step_ms"]
    return rows


def profile_table(device: str, m: int, tiny: bool, out_path) -> list[str]:
    cfg = tuning_config("conv4", tiny, **{"train.epochs": 1})
    prof = TorchProfile(epoch=0, skip=1, n_steps=2 if tiny else 3, row_limit=25)
    Trainer(cfg, load_dataset(cfg.data), 0, list(range(m)), device, progress=False, hooks=[prof]).run()
    text = prof.table()
    out_path.write_text(text)
    return text.splitlines()[:40]


def part_tuning(part) -> None:
    import search_throughput as st

    dev, tiny = part.device, part.tiny
    n = 256 if tiny else 8192
    part.save(matmul_tflops={p: st.matmul_tflops(p, dev, n=n) for p in ("fp32", "tf32", "bf16")})
    log(f"  matmul TFLOP/s: {part.data['matmul_tflops']}")
    part.save(
        host_syncs=[host_syncs("conv4", 2 if tiny else 8, dev, tiny), host_syncs("resnet18", 2, dev, tiny)]
    )
    log(f"  host syncs in the step loop: {[(h['model'], h['syncs']) for h in part.data['host_syncs']]}")
    shapes = [(4, 20_000), (2, 100_000)] if tiny else [(8, 2_097_152), (128, 2_097_152), (32, 11_164_352)]
    routes = ["numpy", "kthvalue", "topk", "sort"] if dev == "cpu" else ["kthvalue", "topk", "sort"]
    part.save(topk=topk_rows(dev, shapes, routes, 3 if tiny else 5, part))
    m = 2 if tiny else 32
    part.save(conv_routes=conv_route_rows(dev, m, tiny, part))
    if part.left() > 10:
        part.save(profile_conv4=profile_table(dev, m, tiny, part.out / "profile_conv4.txt"))
