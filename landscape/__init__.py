"""landscape: the mask landscape of strong lottery tickets.

The analysis side (``read_runs``, ``MaskSet``, ``pp``, ``tl``, ``pl``) never imports torch at
import time; torch enters through ``landscape.search``, ``landscape.nn`` and the barrier tool.
"""

__version__ = "0.1.0"

# loaded on first use so ``import landscape`` stays instant
_LAZY = {"read_runs": "landscape.maskset", "MaskSet": "landscape.maskset"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'landscape' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
