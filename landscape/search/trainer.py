"""The search loop: M masks of one configuration and one weight seed, trained as one model.

Each mask draws its score init, data order and augmentation from its own seed streams (its
``search_seed``, unless the config holds the score or the data seed fixed), and its loss is a
separate term of the summed objective, so mask ``i`` of a batched search follows the same
trajectory as a one-mask search with those seeds (exactly in arithmetic where the batched
kernels agree with the single ones; see BENCHMARKS.md).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from landscape import registries
from landscape.config import SearchConfig
from landscape.config.seeds import mask_seeds
from landscape.data.dataset import Dataset
from landscape.errors import ConfigError, SearchDiverged
from landscape.nn.base import EnsembleNet
from landscape.nn.init import mask_generator
from landscape.search import precision
from landscape.search.evaluate import evaluate
from landscape.search.outcome import CONVENTIONS, search_result
from landscape.search.profiling import StepHook
from landscape.search.snapshots import Snapshots
from landscape.search.state import CURVE_KEYS, History, SearchResult, load_model_state
from landscape.store.records import ALL_ONES_BATCHNORM, UNMARKED, search_conventions

__all__ = [
    "CONVENTIONS", "CURVE_KEYS", "SearchResult", "Trainer", "build_model", "build_method", "learning_rate"
]  # fmt: skip

_History = History  # the name checkpoints written before the move pickled

log = logging.getLogger("landscape.search")


def build_model(cfg: SearchConfig, dataset: Dataset, n_masks: int, device: str | torch.device) -> EnsembleNet:
    cls = registries.models.load(cfg.model.name)
    return cls(cfg.model, dataset.input_shape, dataset.n_classes, n_masks).to(device)


def build_method(cfg: SearchConfig):
    return registries.methods.load(cfg.method.name)(cfg)


def learning_rate(cfg: SearchConfig, epoch: int) -> float:
    """Per-epoch schedule: optional linear warm-up, then cosine (or constant) decay."""
    t = cfg.train
    if t.warmup_epochs and epoch < t.warmup_epochs:
        return t.lr * (epoch + 1) / t.warmup_epochs
    if t.schedule == "constant" or t.epochs <= t.warmup_epochs:
        return t.lr
    progress = (epoch - t.warmup_epochs) / (t.epochs - t.warmup_epochs)
    return 0.5 * t.lr * (1 + math.cos(math.pi * progress))


class Trainer:
    """Trains ``len(search_seeds)`` masks on the network of ``weight_seed``.

    Parameters
    ----------
    cfg, dataset
        What to search and on which data.
    weight_seed, search_seeds
        The random network and one search seed per mask; it drives the mask's score
        initialisation and data order unless the config holds one of them fixed
        (``method.score_seed``, ``train.data_seed``; see :mod:`landscape.config.seeds`).
    device
        torch device for the model and the data.
    checkpoint
        Optional ``(save, load)`` pair: ``save(state)`` is called at every epoch end and
        ``load()`` returns the last state or None; a resumed search continues from it.
    label
        Names the run in errors and progress output.
    hooks
        :class:`~landscape.search.profiling.StepHook` objects around every epoch's step
        loop (timing, host-sync audit, torch.profiler); they never change what is computed.
    """

    def __init__(
        self,
        cfg: SearchConfig,
        dataset: Dataset,
        weight_seed: int,
        search_seeds: list[int],
        device: str | torch.device = "cpu",
        checkpoint: tuple[Callable[[dict], None], Callable[[], dict | None]] | None = None,
        label: str = "",
        progress: bool = True,
        hooks: Sequence[StepHook] = (),
    ) -> None:
        self.cfg, self.dataset = cfg, dataset
        self.weight_seed, self.search_seeds = int(weight_seed), [int(s) for s in search_seeds]
        self.device = torch.device(device)
        self.checkpoint = checkpoint
        self.label = label or cfg.run_id
        self.progress = progress
        self.hooks = list(hooks)
        self.m = len(self.search_seeds)

        self.method = build_method(cfg)
        if self.m > 1 and not self.method.batchable:
            raise ValueError(f"method {cfg.method.name!r} cannot search several masks in one model")
        self.model = build_model(cfg, dataset, self.m, self.device)
        self.model.init_weights(weight_seed, cfg.model.weight_init, cfg.method.density, cfg.model.scale_fan)
        self.weight_checksum = self.model.weight_checksum()
        self.score_seeds, self.data_seeds = mask_seeds(cfg, self.search_seeds)
        self.model.init_scores(self.score_seeds, cfg.method.score_init, self.weight_seed)
        self.method.setup(self.model, self.weight_seed, self.score_seeds)
        trained = cfg.train.epochs if self.method.needs_training else 0
        self.snapshots = Snapshots(cfg.train.snapshot_set(), trained, self.model.layout())
        self.snapshot_rows: list[dict[int, np.ndarray]] | None = None  # per mask, after run()
        self.params = list(self.method.parameters(self.model))
        if self.method.needs_training and not self.params:
            raise ConfigError(
                "model: no layer has anything to train (every layer dense?); "
                "check model.first_layer_dense, model.last_layer_dense and model.hidden"
            )
        self.optimizer = self._optimizer()
        self._to_device()
        self.method.set_steps_per_epoch(math.ceil(len(self.train_y) / cfg.train.batch_size))

    # set-up ----------------------------------------------------------------------------
    def _optimizer(self) -> torch.optim.Optimizer:
        t = self.cfg.train
        if not self.params:
            return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=t.lr)
        # fused kernels: one pass over each parameter per step (2x faster on CPU); masks stay
        # independent of how many are batched since the update is elementwise either way
        fused = all(p.dtype == torch.float32 for p in self.params)
        if t.optimizer == "adam":
            return torch.optim.Adam(self.params, lr=t.lr, weight_decay=t.weight_decay, fused=fused)
        return torch.optim.SGD(
            self.params,
            lr=t.lr,
            momentum=t.momentum,
            weight_decay=t.weight_decay,
            nesterov=t.nesterov,
            fused=fused,
        )

    def _to_device(self) -> None:
        ds, dev = self.dataset, self.device
        self.train_x, self.train_y = ds.train[0].to(dev), ds.train[1].to(dev)
        self.val_x, self.val_y = ds.val[0].to(dev), ds.val[1].to(dev)
        self.test_x, self.test_y = ds.test[0].to(dev), ds.test[1].to(dev)

    # one epoch ---------------------------------------------------------------------------
    def _epoch_order(self, epoch: int) -> torch.Tensor:
        """``(M, N)`` permutation of the training set per mask for this epoch."""
        n = len(self.train_y)
        w = self.weight_seed
        perms = [torch.randperm(n, generator=mask_generator(s, w, "data", epoch)) for s in self.data_seeds]
        return torch.stack(perms).to(self.device)

    def _train_epoch(self, epoch: int, hist: History) -> tuple[np.ndarray, np.ndarray]:
        lr = learning_rate(self.cfg, epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.method.before_epoch(self.model, epoch)
        self.model.train()
        order = self._epoch_order(epoch)
        n, bs = order.shape[1], self.cfg.train.batch_size
        starts = range(0, n, bs)
        augment = self._epoch_augment(epoch, [min(bs, n - s) for s in starts])
        loss_sum = torch.zeros(self.m, dtype=torch.float64, device=self.device)
        correct = torch.zeros(self.m, dtype=torch.float64, device=self.device)
        # the step loop reads nothing back to the host: the device never waits for Python
        with ExitStack() as stack:
            stack.enter_context(precision.training_kernels(self.cfg.train.precision))
            for hook in self.hooks:
                stack.enter_context(hook.steps(self, epoch))
            for start in starts:
                idx = order[:, start : start + bs]
                x, y = self.train_x[idx], self.train_y[idx]
                if augment is not None:
                    x = augment(x, start)
                self.method.before_step(self.model, hist.steps)
                self._step(x, y, loss_sum, correct)
                self.method.after_step(self.model, hist.steps)
                hist.steps += 1
                for hook in self.hooks:
                    hook.step_done(hist.steps)
        train_loss = (loss_sum / n).cpu().numpy()
        if not np.all(np.isfinite(train_loss)):
            bad = [s for s, v in zip(self.search_seeds, train_loss) if not np.isfinite(v)]
            raise SearchDiverged(
                f"run {self.label}: non-finite training loss at epoch {epoch} for weight_seed "
                f"{self.weight_seed}, search_seed(s) {bad}; lower train.lr or check the data"
            )
        return train_loss, (correct / n).cpu().numpy()

    def _step(self, x: torch.Tensor, y: torch.Tensor, loss_sum: torch.Tensor, correct: torch.Tensor) -> None:
        """One optimiser step of every mask on its own batch; adds to the epoch's sums."""
        with precision.forward_autocast(self.cfg.train.precision, self.device):
            logits = self.model(x)
            b = y.shape[1]
            flat = logits.reshape(self.m * b, -1)
            losses = F.cross_entropy(
                flat, y.reshape(-1), reduction="none", label_smoothing=self.cfg.train.label_smoothing
            )
            per_mask = losses.reshape(self.m, b).mean(1)
        # Sum, not mean: each mask's gradient is exactly that of its own loss.
        self.optimizer.zero_grad(set_to_none=True)
        per_mask.sum().backward()
        self.optimizer.step()
        with torch.no_grad():
            loss_sum += per_mask.detach().double() * b
            correct += (flat.argmax(1) == y.reshape(-1)).reshape(self.m, b).sum(1).double()

    def _epoch_augment(self, epoch: int, batch_sizes: list[int]):
        """``augment(x, start)`` for this epoch's batches, or None without augmentation.

        An augmentation that can plan its draws (``plan``/``apply``, as ``CropFlip``) draws
        the whole epoch's at once and moves them to the device in one copy; the draws, and
        so the masks, are those of drawing batch by batch. Its constants (``prepare``: a
        crop's fill) reach the device here too, outside the step loop.
        """
        aug = self.dataset.augment
        if aug is None:
            return None
        gens = [mask_generator(s, self.weight_seed, "augment", epoch) for s in self.data_seeds]
        if not (hasattr(aug, "plan") and hasattr(aug, "apply")):
            return lambda x, start: aug(x, gens)
        offsets, flips = aug.plan(batch_sizes, gens)
        offsets, flips = offsets.to(self.device), flips.to(self.device)
        if hasattr(aug, "prepare"):  # its constants on the device before the step loop
            aug.prepare(self.device, self.train_x.dtype)
        return lambda x, start: aug.apply(
            x, offsets[:, start : start + x.shape[1]], flips[:, start : start + x.shape[1]]
        )

    # the whole search --------------------------------------------------------------------
    def run(self) -> SearchResult:
        # evaluation in IEEE float32 on every device; the step loop sets train.precision
        with precision.strict_float32():
            return self._run()

    def _run(self) -> SearchResult:
        resumed_hist = self._resume()
        hist = resumed_hist or History.empty(self.m)
        if resumed_hist is None:
            # how this version searches; a checkpoint keeps what its search did (store.records)
            hist.extra[CONVENTIONS] = search_conventions(self.cfg, self.model.has_batchnorm)
        elif CONVENTIONS not in hist.extra:  # a checkpoint of an earlier version: it does not say
            hist.extra[CONVENTIONS] = dict.fromkeys(
                search_conventions(self.cfg, self.model.has_batchnorm), UNMARKED
            )
        self.snapshots.continue_from(hist.extra, hist.epochs_done, self.label)
        # a checkpoint of an older search may hold the BatchNorm value of test-batch statistics
        stale = self.model.has_batchnorm and hist.extra.get("all_ones_batchnorm") != ALL_ONES_BATCHNORM
        if "all_ones_test_acc" not in hist.extra or stale:
            hist.extra["all_ones_test_acc"] = self.all_ones_accuracy()
            if self.model.has_batchnorm:
                hist.extra["all_ones_batchnorm"] = ALL_ONES_BATCHNORM
        epochs = self.cfg.train.epochs if self.method.needs_training else 0
        bar = _progress(epochs, hist.epochs_done, self.label, self.progress)
        if epochs:
            resumed = f", resumed from the checkpoint of epoch {hist.epochs_done}" if hist.epochs_done else ""
            log.info(
                "%s: training epochs %d-%d of %d%s", self.label, hist.epochs_done + 1, epochs, epochs, resumed
            )
        t0 = time.perf_counter() - hist.wall_time
        if not hist.epochs_done:  # a resumed model is no longer the initial one
            self.snapshots.take(self.model, hist.extra, 0)
        for epoch in range(hist.epochs_done, epochs):
            train_loss, train_acc = self._train_epoch(epoch, hist)
            is_last = epoch == epochs - 1
            if is_last:  # the last end-of-epoch step (K-starts, dissipating) makes the final masks
                self.method.after_epoch(self.model, epoch, is_last)
            self._log_epoch(hist, epoch, train_loss, train_acc, is_last or self.method.final_form(epoch))
            hist.epochs_done = epoch + 1
            self.snapshots.take(self.model, hist.extra, epoch + 1)
            if not is_last:
                # recycling, selection and pruning act on the network the epoch evaluated, as
                # the reference codes do (validate, then recycle): each logged epoch is the
                # network its training made
                self.method.after_epoch(self.model, epoch, is_last)
            hist.wall_time = time.perf_counter() - t0
            if self.checkpoint is not None and not is_last:
                self.checkpoint[0](self._state(hist))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{train_loss.mean():.3f}", val=f"{hist.curves[0]['val_acc'][-1]:.3f}")
        if bar is not None:
            bar.close()
        if epochs == 0:
            if self.model.has_batchnorm:
                # as every other mask is measured: statistics of the training split, not none
                self._estimate_batchnorm()
            self._log_epoch(hist, -1, np.full(self.m, np.nan), np.full(self.m, np.nan))
        hist.wall_time = time.perf_counter() - t0
        self.snapshot_rows = self.snapshots.rows(hist.extra, self.m, self.label)
        return search_result(self, hist, epochs)

    def _estimate_batchnorm(self) -> None:
        """BatchNorm statistics of masks that train nothing: one pass over the training split
        in batches of ``train.batch_size``, without augmentation (equal-weight average)."""
        from landscape.search.all_ones import in_order_batches

        with torch.no_grad():
            self.model.reestimate_batchnorm(
                self.train_x, in_order_batches(len(self.train_x), self.cfg.train.batch_size)
            )

    def all_ones_accuracy(self) -> float:
        """Test accuracy of the random network with every weight kept (see :mod:`all_ones`)."""
        from landscape.search.all_ones import all_ones_accuracy

        return all_ones_accuracy(
            self.model, self.train_x, self.test_x, self.test_y, self.cfg.train.batch_size
        )

    def _log_epoch(
        self, hist: History, epoch: int, train_loss: np.ndarray, train_acc: np.ndarray, final: bool = True
    ) -> None:
        val_loss, val_acc = evaluate(self.model, self.val_x, self.val_y)
        test_loss, test_acc = evaluate(self.model, self.test_x, self.test_y)
        lr = self.optimizer.param_groups[0]["lr"]
        for i in range(self.m):
            c = hist.curves[i]
            for key, value in (
                ("lr", lr),
                ("train_loss", train_loss[i]),
                ("train_acc", train_acc[i]),
                ("val_loss", val_loss[i]),
                ("val_acc", val_acc[i]),
                ("test_loss", test_loss[i]),
                ("test_acc", test_acc[i]),
            ):
                c[key].append(float(value))
            # best-by-validation (never best-by-test) among epochs whose network has the
            # method's final form; without a val split, the last epoch
            score = float(val_acc[i]) if not math.isnan(float(val_acc[i])) else float(epoch)
            if final and score >= hist.best_val[i]:
                hist.best_val[i], hist.best_epoch[i] = score, epoch
                hist.test_at_best[i] = float(test_acc[i])

    # checkpoints ---------------------------------------------------------------------------
    def _state(self, hist: History) -> dict[str, Any]:
        return {
            "format": 1,
            "search_seeds": self.search_seeds,
            "weight_seed": self.weight_seed,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "method": self.method.state_dict(),
            "history": hist,
        }

    def _resume(self) -> History | None:
        if self.checkpoint is None:
            return None
        state = self.checkpoint[1]()
        if not state or state.get("search_seeds") != self.search_seeds:
            return None
        load_model_state(self.model, state["model"])
        self.method.load_state_dict(state["method"])
        self.params = list(self.method.parameters(self.model))
        self.optimizer = self._optimizer()
        self.optimizer.load_state_dict(state["optimizer"])
        return state["history"]


def _progress(total: int, done: int, label: str, enabled: bool):
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc=label, unit="epoch", leave=False, dynamic_ncols=True)
