"""The RAM this machine has free (Linux ``MemAvailable``): for sizing work and refusing, before
it starts, work that cannot fit."""

from __future__ import annotations


def available_ram() -> int | None:
    """Bytes of RAM available to new allocations without swapping, or None where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
