"""Plain masks: ``.npz`` archives, torch files (a state dict or a dict of tensors) and folders
of ``.npy`` files (one per parameter, named by it), bool or 0/1, keyed by parameter name.

Names lose a wrapper prefix (``module.``) and a trailing ``.weight``, ``.weight_mask``
(``torch.nn.utils.prune``; a file holding ``*_mask`` entries gives only those, so a pruned
model's state dict imports as is) or ``.mask``, then go through ``--rename OLD=NEW``. Names of a
reference model (Conv-2/4/6/8, ResNet-18, the hidden-networks ``FC``) or of a toolkit
model are mapped onto it; anything else keeps its names and shapes (``model.name:
external``). One file holds one mask, or with ``--stacked`` one mask per index of every
array's first axis.

Without weights the masks have no network to evaluate: distances, diversity, consensus and
embeddings work, barriers say what is missing. ``--set method.density=`` is checked against
every mask's kept count (within one weight per layer, the spread of the rounding rules of
top-k codes, or four binomial standard deviations for masks drawn weight by weight); when
not given, the density is the masks' mean kept fraction (rounded to four decimals), checked
the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from landscape.importers._build import Context, Extracted, Format, check_density
from landscape.importers._files import (
    bad,
    check_binary,
    file_sha256,
    find_state,
    is_array,
    load_torch,
    strip_wrappers,
    to_numpy,
)

_SUFFIX = re.compile(r"(\.weight_mask|\.weight|\.mask)$")
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".state")


def _read(path: Path, ctx: Context) -> list[Extracted]:
    arrays, sha = _load(path)
    arrays = _rename(_names(arrays), ctx, path)
    n_masks = _count(arrays, path, ctx.stacked)
    layers = [(name, tuple(a.shape[1:] if ctx.stacked else a.shape)) for name, a in arrays.items()]
    out = []
    for i in range(n_masks):
        masks = {name: (a[i] if ctx.stacked else a) for name, a in arrays.items()}
        entry = f"{i}" if ctx.stacked else ""
        ex = Extracted(path=path, sha256=sha, entry=entry, layers=layers, masks=masks, rule="stored masks")
        out.append(ex)
    return out


def _load(path: Path) -> tuple[dict[str, np.ndarray], str]:
    if path.is_dir() or path.suffix == ".npy":
        folder = path if path.is_dir() else path.parent
        files = sorted(folder.glob("*.npy"), key=_natural)
        arrays = {}
        for f in files:
            try:
                arrays[f.stem] = np.load(f, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise bad(f, None, f"not a readable .npy array ({str(exc).splitlines()[0]})") from None
        digest = _folder_sha(files)
        return _binary(arrays, folder), digest
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise bad(path, None, f"not a readable .npz archive ({str(exc).splitlines()[0]})") from None
        return _binary(arrays, path), file_sha256(path)
    if path.suffix in TORCH_SUFFIXES:
        obj = load_torch(path)
        state = find_state(
            obj,
            path,
            ("state_dict", "masks"),
            bare=True,
            expected="a dict of 0/1 tensors keyed by parameter name",
        )
        state = strip_wrappers(state)
        arrays = {k: to_numpy(v, path, k) for k, v in state.items() if is_array(v)}
        return _binary(arrays, path), file_sha256(path)
    raise bad(path, None, "unsupported file type (arrays take .npz, .npy, .pt or .pth)")


def _natural(path: Path) -> list:
    """``convs.2`` before ``convs.10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _folder_sha(files: list[Path]) -> str:
    import hashlib

    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + file_sha256(f).encode())
    return h.hexdigest()


def _binary(arrays: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    if not arrays:
        raise bad(path, None, "holds no arrays")
    if any(k.endswith("_mask") for k in arrays):  # a pruned model: weight_orig beside weight_mask
        arrays = {k: v for k, v in arrays.items() if k.endswith("_mask")}
    return {k: check_binary(np.asarray(v), path, k) for k, v in arrays.items()}


def _names(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, value in strip_wrappers(arrays).items():
        out[_SUFFIX.sub("", key)] = value
    return out


def _rename(arrays: dict[str, np.ndarray], ctx: Context, path: Path) -> dict[str, np.ndarray]:
    if not ctx.rename:
        return arrays
    unknown = [k for k in ctx.rename if k not in arrays]
    if unknown:
        raise bad(
            path, unknown[0], f"--rename names no array of this file (it has {', '.join(list(arrays)[:6])})"
        )
    renamed = {ctx.rename.get(k, k): v for k, v in arrays.items()}
    if len(renamed) != len(arrays):
        raise bad(path, None, "--rename maps two arrays onto one name")
    return renamed


def _count(arrays: dict[str, np.ndarray], path: Path, stacked: bool) -> int:
    if not stacked:
        return 1
    counts = {k: (a.shape[0] if a.ndim >= 2 else -1) for k, a in arrays.items()}
    bad_key = next((k for k, n in counts.items() if n < 0), None)
    if bad_key is not None:
        raise bad(path, bad_key, "--stacked: needs a first axis over masks and at least one more")
    if len(set(counts.values())) != 1:
        first, other = (
            list(counts.items())[0],
            next((k, n) for k, n in counts.items() if n != list(counts.values())[0]),
        )
        raise bad(path, other[0], f"--stacked: {other[1]} masks, but {first[0]!r} has {first[1]}")
    return next(iter(counts.values()))


def _density(items: list[Extracted], ctx: Context) -> None:
    """Check (or infer) ``method.density`` against the kept counts of every mask imported."""
    counts = [
        (sum(int(m.sum()) for m in ex.masks.values()), sum(m.size for m in ex.masks.values()), len(ex.masks))
        for ex in items
    ]
    labels = [f"{ex.path} (mask {ex.entry})" if ex.entry else str(ex.path) for ex in items]
    density, inferred = check_density(counts, ctx.user.get("method.density"), labels)
    for ex in items:
        if inferred:
            ex.facts["method.density"] = density
            ex.facts_from["method.density"] = "the mean kept fraction of the imported masks"
        if ctx.user.get("method.name") is None:
            ex.facts["method.name"] = "external"  # arrays do not say how they were found


FORMAT = Format(
    name="arrays",
    summary="plain masks keyed by parameter name (.npz, .npy folders, torch state dicts of 0/1 tensors)",
    patterns=("**/*.npz", "**/*.npy", "**/*.pt", "**/*.pth"),
    read=_read,
    unit=lambda path: path.parent if path.suffix == ".npy" else path,
    finish=_density,
)
