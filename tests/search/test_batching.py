"""Masks in flight from free memory (``search.batching``): the estimate, the data set aside,
and, on CUDA, the estimate against the memory a batched search really takes."""

from __future__ import annotations

import pytest
import torch

from landscape.config import SearchConfig
from landscape.nn import memory
from landscape.search import batching
from landscape.search.runner import load_dataset
from landscape.search.trainer import Trainer

CONV4 = {"model.name": "conv4", "model.width_mult": 0.25, "data.name": "synthetic",
         "data.input_shape": [3, 16, 16], "data.n_train": 256, "data.n_test": 64, "train.epochs": 1}  # fmt: skip


def test_masks_in_flight_follow_free_memory_and_set_the_data_aside(monkeypatch):
    cfg = SearchConfig().replace(**CONV4)
    dataset = load_dataset(cfg.data)
    per_mask = batching.bytes_per_mask(cfg, dataset)
    resident = batching.resident_bytes(dataset)
    assert resident == sum(
        t.numel() * t.element_size() for s in (dataset.train, dataset.val, dataset.test) for t in s
    )
    # the device's free memory is what the hardware query reports: stand in for a GPU here
    monkeypatch.setattr(memory, "available_bytes", lambda device: resident + int(5.5 * per_mask))
    assert batching.auto_masks_in_flight(cfg, dataset, "cuda", 100) == 5
    assert batching.auto_masks_in_flight(cfg, dataset, "cuda", 3) == 3  # never more than asked for
    # on the CPU the data already sits outside the available RAM figure
    assert batching.auto_masks_in_flight(cfg, dataset, "cpu", 100) == min(
        batching.CPU_CAP, int((resident + 5.5 * per_mask) // per_mask)
    )
    monkeypatch.setattr(memory, "available_bytes", lambda device: 10**15)
    assert batching.auto_masks_in_flight(cfg, dataset, "cuda", 10**6) == batching.CUDA_CAP
    assert batching.auto_masks_in_flight(cfg, dataset, "cpu", 10**6) == batching.CPU_CAP


@pytest.mark.gpu
def test_the_memory_estimate_covers_what_a_batched_cuda_search_takes():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    cfg = SearchConfig().replace(**{**CONV4, "data.input_shape": [3, 32, 32], "train.batch_size": 128})
    dataset = load_dataset(cfg.data)
    peaks = {}
    for m in (2, 10):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        Trainer(cfg, dataset, 0, list(range(m)), "cuda", progress=False).run()
        peaks[m] = torch.cuda.max_memory_allocated()
    marginal = (peaks[10] - peaks[2]) / 8
    assert 0 < marginal <= batching.bytes_per_mask(cfg, dataset), (
        marginal,
        batching.bytes_per_mask(cfg, dataset),
    )
