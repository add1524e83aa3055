"""The measured parts of ``benchmarks/scale.py``: the random ResNet-18 runs root it writes and
the steps it times, each in a subprocess of its own (``scale.py _step NAME``)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

# ------------------------------------------------------------------------------------------
# the runs root


def resnet18_layout():
    from landscape.config import ModelConfig
    from landscape.nn.models import resnet18

    return resnet18(ModelConfig(name="resnet18"), (3, 32, 32), 10, 1).layout()


def write_root(root: Path, n: int, shard: int = 256) -> float:
    """``n`` random density-0.5 masks as one run of ``n / shard`` shards; returns seconds."""
    from landscape.config import SearchConfig
    from landscape.store.run_store import RunStore
    from landscape.store.shards import valid_bits

    start = time.perf_counter()
    layout = resnet18_layout()
    cfg = SearchConfig().replace(**{"model.name": "resnet18", "data.name": "cifar10"})
    store = RunStore.create(root, cfg, layout, data_info={"input_shape": [3, 32, 32], "n_classes": 10})
    store.add_plan([(0, s) for s in range(n)])
    valid = valid_bits(layout)
    rng = np.random.default_rng(0)
    for s0 in range(0, n, shard):
        seeds = range(s0, min(s0 + shard, n))
        rows = rng.integers(0, 256, size=(len(seeds), layout.row_bytes), dtype=np.uint8) & valid
        store.write_masks(rows, [{"weight_seed": 0, "search_seed": s, "test_acc": 0.1} for s in seeds])
        print(f"  wrote masks {s0}..{seeds[-1]}", flush=True)
    return time.perf_counter() - start


# ------------------------------------------------------------------------------------------
# steps (run in subprocesses)


def _digest(array: np.ndarray, rows: int = 64) -> str:
    h = hashlib.sha256()
    for r0 in range(0, array.shape[0], rows):
        h.update(np.ascontiguousarray(array[r0 : r0 + rows]).tobytes())
    return h.hexdigest()[:16]


def step_tiled(args) -> dict:
    from landscape import tl
    from landscape.reading import read_runs
    from landscape.tl._tilejob import TileJob
    from landscape.tl._tiles import parse_memory

    t0 = time.perf_counter()
    ms = read_runs(args.root)
    if args.n_masks:
        ms = ms[: args.n_masks]
    t_load = time.perf_counter() - t0
    memory = parse_memory(args.memory)
    from landscape.tl._numba import pair_counts

    pair_counts(np.zeros((3, 4), dtype=np.uint64), None, np.array([0, 4]))  # load the compiled kernel
    job = TileJob.prepare(ms, args.tiles, memory)
    before = len(job.store.finished())
    t1 = time.perf_counter()
    computed = job.run(progress=False)
    t_tiles = time.perf_counter() - t1
    t2 = time.perf_counter()
    tl.distances(ms, metric=("jaccard", "hamming"), per_layer=True, memory=memory, tiles=args.tiles)
    t_merge = time.perf_counter() - t2
    digests = {k: _digest(v) for k, v in sorted(ms.obsp.items())} if args.digest else {}
    if args.digest and args.fit:  # the first --fit masks, to compare with the in-memory kernel
        digests["block"] = _digest(np.asarray(ms.obsp["intersection_layers"][: args.fit, : args.fit]))
    plan = job.plan
    return {
        "n": len(ms), "n_weights": ms.n_weights, "load_s": t_load, "tiles_s": t_tiles, "merge_s": t_merge,
        "tiles_before": before, "tiles_computed": computed, "n_tiles": len(plan.tiles()),
        "plan": plan.to_json() | {"ranges": len(plan.ranges()), "blocks": len(plan.blocks())},
        "word_pairs": len(ms) * (len(ms) + 1) / 2 * ms.layout.row_words,
        "digests": digests, "on_disk": ms.uns["distances"]["tiles"]["on_disk"],
    }  # fmt: skip


def step_in_memory(args) -> dict:
    from landscape.reading import read_runs
    from landscape.tl import _kernels
    from landscape.tl._numba import ROW_BLOCK, pair_counts

    ms = read_runs(args.root)[: args.n_masks]
    words = np.ascontiguousarray(ms.words())  # in memory: the kernel reads no file
    bounds = _kernels.layer_bounds(ms.layout)
    _kernels.intersection_counts(words[:8, :64], backend="numba")
    row_block = {None: ROW_BLOCK, 0: None}.get(args.row_block, args.row_block)
    t = time.perf_counter()
    counts = pair_counts(words, None, bounds, row_block=row_block)  # what tl.distances runs
    seconds = time.perf_counter() - t
    n = len(ms)
    return {"n": n, "seconds": seconds, "word_pairs": n * (n + 1) / 2 * ms.layout.row_words,
            "digest": _digest(counts), "row_block": row_block}  # fmt: skip


def step_peers(args) -> dict:
    from scipy.spatial.distance import pdist

    from landscape.reading import read_runs
    from landscape.tl import _kernels

    ms = read_runs(args.root)
    out = {}
    sub = np.ascontiguousarray(ms.words(np.arange(args.faiss_rows)))
    _kernels.intersection_counts(sub[:8, :64], backend="numba")
    t = time.perf_counter()
    inter = _kernels.intersection_counts(sub, backend="numba")[:, :, 0]
    ham = _kernels.hamming_counts(inter)
    out["kernel_s"] = time.perf_counter() - t
    out["faiss_rows"] = args.faiss_rows
    try:
        import faiss
    except ImportError:
        out["faiss"] = "not installed"
    else:
        codes = sub.view(np.uint8)
        index = faiss.IndexBinaryFlat(codes.shape[1] * 8)
        t = time.perf_counter()
        index.add(codes)
        dist, idx = index.search(codes, len(codes))
        out["faiss_s"] = time.perf_counter() - t
        full = np.empty_like(ham)
        np.put_along_axis(full, idx.astype(np.int64), dist.astype(np.int64), axis=1)
        out["faiss_identical"] = bool(np.array_equal(full, ham))
        out["faiss_version"] = faiss.__version__
    rows = args.scipy_rows
    dense = ms.dense(np.arange(rows))
    t = time.perf_counter()
    d_ham = pdist(dense, "hamming")
    pdist(dense, "jaccard")
    out["scipy_s"] = time.perf_counter() - t
    out["scipy_rows"] = rows
    expected = _kernels.hamming(inter[:rows, :rows], ms.n_weights)[np.triu_indices(rows, 1)]
    out["scipy_identical"] = bool(np.array_equal(d_ham, expected))
    return out


STEPS = {"tiled": step_tiled, "in_memory": step_in_memory, "peers": step_peers}
