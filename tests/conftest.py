"""Shared fixtures: one thread for torch (tiny ops on 2 cores), and a tiny runs root."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

TINY = ["model.hidden=[32, 32]", "train.epochs=3", "train.batch_size=64"]
TINY_METHODS = {
    "edge_popup": [],
    "biprop": ["method.name=biprop", "model.weight_init=kaiming_normal"],
    "random": ["method.name=random"],
}


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    """Tiny tensors on a 2-core machine run fastest on one thread (and never oversubscribe)."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def one_thread_workers(monkeypatch):
    """Sweep workers and subprocesses on one thread; torch's thread count restored after.

    Tiny models: one thread is as fast, and immune to oversubscribed CI machines.
    """
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def search_tiny(runs_root, method: str = "edge_popup", search_seeds=range(4), extra=()):
    """Search a tiny digits ensemble (seconds) and return the run's store."""
    from landscape.config import load_config
    from landscape.search.runner import run_search
    from landscape.store import RunStore

    cfg = load_config("configs/digits_mlp_edge_popup.yaml", [*TINY, *TINY_METHODS[method], *extra])
    summary = run_search(cfg, runs_root, [0], list(search_seeds), device="cpu", progress=False)
    return RunStore.open(summary.path)


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """A runs root with Edge-Popup, Biprop and random-null ensembles of 4 masks each."""
    root = tmp_path_factory.mktemp("runs")
    for method in TINY_METHODS:
        search_tiny(root, method)
    return root
