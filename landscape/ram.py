"""The RAM this process may still take: the machine's ``MemAvailable``, or less where a cgroup
(a Slurm job's ``--mem``, a container) limits it. For sizing work and refusing, before it
starts, work that cannot fit."""

from __future__ import annotations

from pathlib import Path


def available_ram(root: Path = Path("/")) -> int | None:
    """Bytes this process can allocate without swapping or hitting its cgroup's limit, or None
    where neither is known (``root``: where ``/proc`` and ``/sys`` are, for tests)."""
    known = [v for v in (_mem_available(root), _cgroup_room(root)) if v is not None]
    return min(known) if known else None


def _mem_available(root: Path) -> int | None:
    try:
        with open(root / "proc" / "meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room(root: Path) -> int | None:
    """The smallest ``limit - usage`` over this process's memory cgroup and its parents
    (cgroup v2 ``memory.max`` / ``memory.current``; v1 ``memory.limit_in_bytes`` /
    ``memory.usage_in_bytes``); None when no limit is set."""
    try:
        lines = (root / "proc" / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if controllers == "":  # v2: one unified hierarchy
            base, files = root / "sys" / "fs" / "cgroup", ("memory.max", "memory.current")
        elif "memory" in controllers.split(","):
            base, files = (
                root / "sys" / "fs" / "cgroup" / "memory",
                ("memory.limit_in_bytes", "memory.usage_in_bytes"),
            )
        else:
            continue
        folder = base / path.lstrip("/")
        while True:  # a parent's limit binds too
            room = _room(folder, *files)
            if room is not None:
                rooms.append(room)
            if folder == base or base not in folder.parents:
                break
            folder = folder.parent
    return min(rooms) if rooms else None


def _room(folder: Path, limit_file: str, usage_file: str) -> int | None:
    try:
        limit = (folder / limit_file).read_text().strip()
        usage = int((folder / usage_file).read_text().strip())
    except (OSError, ValueError):
        return None
    if limit == "max" or not limit.isdigit() or int(limit) >= 2**62:  # v1 writes a huge number for none
        return None
    return max(int(limit) - usage, 0)
