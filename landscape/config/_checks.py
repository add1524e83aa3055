"""The one-line refusals every validation module raises, and the slack of fraction sums."""

from __future__ import annotations

import math
from collections.abc import Sequence

from landscape.errors import ConfigError

# Slack when comparing fractions that are sums or differences of other fractions:
# 1 - 0.8 is 0.19999999999999996, and "density = 1 - pruned" must be accepted.
FRACTION_EPS = 1e-9


def need(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def finite(x: float) -> bool:
    return math.isfinite(x)


def choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        import difflib

        close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{name}: unknown value {value!r}{hint} (choose from {', '.join(allowed)})")
