"""Atomic claims and locks on a (possibly shared, network) filesystem.

A claim is a small file hard-linked into place from a private draft holding its owner record
(``link`` fails when the name exists): exactly one of several processes, possibly on different
hosts, succeeds in creating it, and a claim is never seen half-written. The file records who owns it;
its modification time is the owner's heartbeat (:func:`refresh` touches it). A claim whose
heartbeat is older than ``stale_after_s`` belongs to a worker that died (SIGKILL, node lost)
and may be broken by anybody; breaking renames the file to a unique name first, so of two
processes breaking the same stale claim only one wins, and a claim refreshed in the meantime
is put back instead of being stolen.

Assumptions
-----------
- ``O_EXCL`` creation, ``rename`` and ``link`` are atomic. This holds on local filesystems and
  on NFSv3 and later (NFSv2 and some FUSE/SMB mounts do not honour ``O_EXCL``).
- A claim made on this host by a process that no longer exists (SIGKILL, crash) is stale at
  once, so a search restarted on the same machine resumes immediately; process ids are
  assumed not to be reused within the life of a claim.
- A claim made inside a Slurm job records the job id and its restart count. When Slurm runs
  the job again (requeued after preemption, a node failure or ``scontrol requeue``), the
  earlier run has ended, so its claims are stale at once wherever the new run lands.
- Staleness compares file modification times (set by the file server on NFS) with the local
  clock, so hosts need roughly synchronised clocks (NTP); pick ``stale_after_s`` well above
  the worst clock skew and above the longest gap between heartbeats.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from landscape.errors import StoreError

_MAX_CLAIM_BYTES = 4096


def make_owner(label: str = "") -> str:
    """A unique owner string ``host:pid:random[:label]`` for :func:`claim`."""
    parts = [socket.gethostname(), str(os.getpid()), uuid.uuid4().hex[:12]]
    if label:
        parts.append(label)
    return ":".join(parts)


def claim(path: str | Path, owner: str, stale_after_s: float) -> bool:
    """Try to take the claim at ``path`` for ``owner``.

    Parameters
    ----------
    path
        The claim file (its folder must exist).
    owner
        A string unique to the claiming worker (see :func:`make_owner`).
    stale_after_s
        A claim whose last heartbeat is older than this is broken and taken over.

    Returns
    -------
    bool
        True when ``owner`` now holds the claim (also when it already held it).
    """
    path = Path(path)
    if _create(path, owner):
        return True
    info = read_claim(path)
    if info is not None and info.get("owner") == owner:
        return True
    if not break_stale(path, stale_after_s):
        return False
    return _create(path, owner)


def release(path: str | Path, owner: str) -> bool:
    """Give the claim back; returns False (and leaves the file) when ``owner`` does not hold it."""
    path = Path(path)
    info = read_claim(path)
    if info is None or info.get("owner") != owner:
        return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True


def refresh(path: str | Path, owner: str) -> bool:
    """Heartbeat: touch the claim. False means the claim was lost (broken as stale or released)."""
    path = Path(path)
    info = read_claim(path)
    if info is None or info.get("owner") != owner:
        return False
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def is_stale(path: str | Path, stale_after_s: float) -> bool:
    """True when the claim exists and its heartbeat is older than ``stale_after_s``."""
    try:
        mtime = os.stat(path).st_mtime
    except FileNotFoundError:
        return False
    return time.time() - mtime > stale_after_s or owner_is_dead(path)


BREAK_GUARD_STALE_S = 30.0  # a breaking guard older than this was left by a killed breaker


def break_stale(path: str | Path, stale_after_s: float) -> bool:
    """Remove the claim at ``path`` if it is stale; True when it is gone afterwards.

    Breakers are serialised by a guard file (``O_EXCL``): of several processes that judge the
    same claim stale, one breaks it and the others give up. The breaker re-checks that the
    claim is the very file it judged (inode and heartbeat) before renaming it away, and puts
    it back (``link`` never overwrites) if its owner refreshed it in between.
    """
    path = Path(path)
    try:
        seen = os.stat(path)
    except FileNotFoundError:
        return True
    if time.time() - seen.st_mtime <= stale_after_s and not owner_is_dead(path):
        return False
    guard = path.with_name(f".{path.name}.breaking")
    if not _create(guard, f"breaker:{os.getpid()}"):
        _clear_abandoned_guard(guard)
        return False
    try:
        try:
            now = os.stat(path)
        except FileNotFoundError:
            return True
        if (now.st_ino, now.st_mtime_ns) != (seen.st_ino, seen.st_mtime_ns):
            return False  # released, re-claimed or refreshed since it was judged
        grave = path.with_name(f".{path.name}.broken-{uuid.uuid4().hex}")
        try:
            os.rename(path, grave)
        except FileNotFoundError:
            return not path.exists()
        moved = os.stat(grave)
        if moved.st_mtime_ns != seen.st_mtime_ns or moved.st_ino != seen.st_ino:
            with contextlib.suppress(FileExistsError):
                os.link(grave, path)
            grave.unlink()
            return False
        grave.unlink()
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            guard.unlink()


def _clear_abandoned_guard(guard: Path) -> None:
    """Remove a breaking guard whose breaker died (so the claim can be broken next time)."""
    try:
        age = time.time() - os.stat(guard).st_mtime
    except FileNotFoundError:
        return
    if age > BREAK_GUARD_STALE_S or owner_is_dead(guard):
        with contextlib.suppress(FileNotFoundError):
            guard.unlink()


def owner_is_dead(path: str | Path) -> bool:
    """True when the claim was made on this host by a process that no longer runs, or by an
    earlier run of the Slurm job this process belongs to."""
    info = read_claim(path)
    if info and _earlier_run_of_this_job(info):
        return True
    if not info or info.get("host") != socket.gethostname() or not isinstance(info.get("pid"), int):
        return False
    if info["pid"] == os.getpid():
        return False
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return _is_zombie(info["pid"])


def _slurm_job() -> tuple[str, int] | None:
    """This process's Slurm job id and how often Slurm has restarted the job, if in one."""
    job = os.environ.get("SLURM_JOB_ID", "")
    if not job:
        return None
    restarts = os.environ.get("SLURM_RESTART_COUNT", "0")
    return job, int(restarts) if restarts.isdigit() else 0


def _earlier_run_of_this_job(info: dict) -> bool:
    """Slurm runs one instance of a job at a time: a claim from a lower restart count of the
    same job was left by a run that has ended."""
    here = _slurm_job()
    if here is None or str(info.get("slurm_job", "")) != here[0]:
        return False
    restarts = info.get("slurm_restarts")
    return isinstance(restarts, int) and restarts < here[1]


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().split(b")")[-1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def read_claim(path: str | Path) -> dict | None:
    """The owner record of a claim, or None when there is no (readable) claim."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(_MAX_CLAIM_BYTES)
    except (FileNotFoundError, IsADirectoryError):
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        # created but not yet written by its owner, or garbage: it is held, by nobody known
        return {"owner": None}
    return data if isinstance(data, dict) else {"owner": None}


def _create(path: Path, owner: str) -> bool:
    """Create the claim whole or not at all: the owner record is written to a private file
    first and hard-linked into place (``link`` never overwrites). A claimer killed between
    creating the file and writing it would otherwise leave an empty claim that nobody can
    judge dead, and its mask would be skipped as busy until the claim went stale."""
    record = {"owner": owner, "host": socket.gethostname(), "pid": os.getpid(), "claimed_at": time.time()}
    job = _slurm_job()
    if job is not None:
        record.update(slurm_job=job[0], slurm_restarts=job[1])
    draft = path.with_name(f".{path.name}.new-{uuid.uuid4().hex[:12]}")  # hidden: never read as a claim
    try:
        with open(draft, "wb") as fh:
            fh.write(json.dumps(record).encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.link(draft, path)
    except FileExistsError:
        # NFS may answer a retransmitted link that did succeed with EEXIST: the draft's
        # link count says whether the claim is ours
        return os.stat(draft).st_nlink >= 2
    finally:
        with contextlib.suppress(FileNotFoundError):
            draft.unlink()
    return True


class Heartbeat:
    """Refresh the claims at ``paths`` every ``interval`` seconds while the block runs.

    A batch that trains for longer than the stale limit keeps its claims fresh, so no worker
    on another host takes it for abandoned.
    """

    def __init__(self, paths: list[Path], owner: str, interval: float = 60.0) -> None:
        self.paths, self.owner, self.interval = list(paths), owner, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="claims-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            for path in self.paths:
                refresh(path, self.owner)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def file_lock(
    path: str | Path, *, timeout_s: float = 120.0, stale_after_s: float = 60.0, poll_s: float = 0.005
) -> Iterator[Path]:
    """Hold an exclusive lock file for a short read-modify-write.

    Built on :func:`claim`: the lock is the file ``path`` itself. A lock left behind by a killed
    process is broken after ``stale_after_s`` (keep the critical section much shorter).

    Raises
    ------
    StoreError
        When the lock cannot be taken within ``timeout_s``.
    """
    path = Path(path)
    owner = make_owner("lock")
    deadline = time.monotonic() + timeout_s
    delay = poll_s
    while not claim(path, owner, stale_after_s):
        if time.monotonic() > deadline:
            raise StoreError(f"{path}: lock held by another process for over {timeout_s:g} s")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)
    try:
        yield path
    finally:
        release(path, owner)
