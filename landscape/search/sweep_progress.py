"""Progress of a sweep in a runs root: masks done per run, and one progress bar for the whole sweep.

Counts come from the runs' manifests, so they include the work of every worker, local or on
a cluster.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from landscape.errors import StoreError

if TYPE_CHECKING:
    from landscape.search.sweep import SweepTask


def finished_pairs(runs_root: str | Path, task: SweepTask) -> set[tuple[int, int]]:
    """``task``'s pairs the run's manifest lists (none when the run does not exist yet)."""
    from landscape.store.run_store import RunStore

    path = Path(runs_root) / task.run_id
    if not (path / "config.json").is_file():
        return set()
    try:
        finished = RunStore.open(path).finished()
    except StoreError:
        return set()  # being created, or unreadable: `landscape ls` reports the latter
    return finished & task.pairs()


def pending_pairs(runs_root: str | Path, task: SweepTask) -> set[tuple[int, int]]:
    """``task``'s pairs without a stored mask."""
    return task.pairs() - finished_pairs(runs_root, task)


def masks_done(runs_root: str | Path, task: SweepTask) -> int:
    """How many of ``task``'s masks the run's manifest lists."""
    return len(finished_pairs(runs_root, task))


class SweepProgress:
    """One progress bar for a whole sweep: masks done / total, rate and ETA.

    A background thread polls the runs' manifests (so it counts the work of every worker,
    local or on a cluster) every ``interval`` seconds. Use as a context manager.
    """

    def __init__(
        self,
        tasks: Sequence[SweepTask],
        runs_root: str | Path,
        enabled: bool = True,
        desc: str = "sweep",
        interval: float = 2.0,
    ) -> None:
        self.tasks, self.runs_root = list(tasks), runs_root
        self.total = sum(t.n_masks for t in self.tasks)
        self.done = self.initial = self.count()
        self.enabled, self.desc, self.interval = enabled, desc, interval
        self._bar = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._current = ""

    def count(self) -> int:
        return sum(masks_done(self.runs_root, t) for t in self.tasks)

    def note(self, text: str) -> None:
        """Show what is being worked on now (a run label)."""
        self._current = text

    def refresh(self) -> int:
        """Poll the store once and update the bar; returns the masks done."""
        self.done = self.count()
        if self._bar is not None:
            self._bar.n = self.done
            if self._current:
                self._bar.set_postfix_str(self._current, refresh=False)
            self._bar.refresh()
        return self.done

    def __enter__(self) -> SweepProgress:
        if self.enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, initial=self.initial, desc=self.desc, unit="mask",
                             dynamic_ncols=True, smoothing=0.1)  # fmt: skip
            self._thread = threading.Thread(target=self._poll, name="sweep-progress", daemon=True)
            self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.refresh()
        if self._bar is not None:
            self._bar.close()
