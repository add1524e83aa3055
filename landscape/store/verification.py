"""The record of a run's last full check: ``verified.json``, written by ``landscape verify``.

``landscape ls`` reads it instead of re-hashing shards: a run whose last verify failed is
listed as corrupt until a later verify (or ``verify --repair``) passes, and every run shows
when it was last verified. The record names the manifest it checked (its sha256), so masks
added since are visible as not yet verified.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass
from pathlib import Path

from landscape.errors import StoreError
from landscape.store import _io

VERIFIED = "verified.json"


@dataclass(frozen=True)
class Verification:
    """One full check of a run.

    Attributes
    ----------
    ok
        Every listed file matched its checksum (and the weights, when ``weights``).
    at
        When, ISO 8601 UTC.
    landscape
        The toolkit version that checked.
    fault
        The first fault found (None when ``ok``).
    n_masks
        Masks the manifest listed at the time.
    manifest_sha256
        sha256 of the ``manifest.json`` that was checked (None when there was none).
    weights
        The random networks were regenerated (or read from the stored ones) and compared too.
    repaired
        What ``verify --repair`` quarantined just before (``[{"pairs", "folder", "reason"}]``).
    """

    ok: bool
    at: str
    landscape: str
    fault: str | None = None
    n_masks: int = 0
    manifest_sha256: str | None = None
    weights: bool = False
    repaired: tuple = ()

    def when(self) -> str:
        """``2025-01-31 14:05`` (UTC, to the minute)."""
        return self.at[:16].replace("T", " ")


def manifest_sha256(run: Path) -> str | None:
    path = Path(run) / "manifest.json"
    return _io.sha256_file(path) if path.is_file() else None


def record(run: Path, ok: bool, fault: str | None = None, n_masks: int = 0,
           weights: bool = False, repaired: list | None = None) -> Verification:  # fmt: skip
    """Write ``verified.json`` of ``run`` atomically and return what it holds."""
    from landscape import __version__

    entry = Verification(
        ok=bool(ok),
        at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        landscape=__version__,
        fault=fault,
        n_masks=int(n_masks),
        manifest_sha256=manifest_sha256(run),
        weights=bool(weights),
        repaired=tuple(repaired or ()),
    )
    _io.write_json(Path(run) / VERIFIED, asdict(entry))
    return entry


def last(run: Path) -> Verification | None:
    """The last recorded check of ``run``, or None when it was never verified.

    A damaged record counts as no record (``verify`` writes a new one).
    """
    path = Path(run) / VERIFIED
    if not path.is_file():
        return None
    try:
        data = _io.read_json(path)
        return Verification(
            ok=bool(data["ok"]),
            at=str(data["at"]),
            landscape=str(data.get("landscape", "")),
            fault=data.get("fault"),
            n_masks=int(data.get("n_masks", 0)),
            manifest_sha256=data.get("manifest_sha256"),
            weights=bool(data.get("weights", False)),
            repaired=tuple(data.get("repaired") or ()),
        )
    except (StoreError, KeyError, TypeError, ValueError):
        return None


def describe(entry: Verification | None, run: Path, n_masks: int) -> str:
    """What ``landscape ls`` shows: ``never``, ``2025-01-31 14:05`` or ``FAILED 2025-...``,
    with ``+N masks since`` / ``changed since`` when the manifest moved on."""
    if entry is None:
        return "never"
    if not entry.ok:
        return f"FAILED {entry.when()}"
    text = entry.when()
    if manifest_sha256(run) != entry.manifest_sha256:
        added = n_masks - entry.n_masks
        text += f" (+{added} masks since)" if added > 0 else " (changed since)"
    return text
