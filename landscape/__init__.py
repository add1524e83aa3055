"""landscape: the mask landscape of strong lottery tickets.

The analysis side (``read_runs``, ``MaskSet``, ``pp``, ``tl``, ``pl``) never imports torch at
import time; torch enters through ``landscape.search``, ``landscape.nn`` and the barrier tool.
"""

__version__ = "0.1.0"

# loaded on first use so ``import landscape`` stays instant
_LAZY = {
    "read_runs": "landscape.reading",
    "read_layout_groups": "landscape.reading",
    "MaskSet": "landscape.maskset",
    "read_snapshots": "landscape.snapshots",
    "analyze": "landscape.analysis",
    "import_masks": "landscape.importers",
}
_SUBMODULES = ("pp", "tl", "pl", "figures", "grouping")


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"landscape.{name}")
    else:
        raise AttributeError(f"module 'landscape' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_SUBMODULES])
