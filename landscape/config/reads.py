"""Which ``method`` and ``train`` fields a configuration reads.

A method reads only some sub-sections (IteRand alone reads ``method.rerand``), a search
without recycling (``method.recycle.every: 0``) no other recycling field, a source the
fields of its kind (an ER source its density, a frozen one its pruned and locked fractions),
and the random null model, which trains nothing, only ``train.batch_size`` of ``train``
(the batches of its BatchNorm estimate) and no score initialisation.
Validation refuses a method section or a source field that is not read at a value other
than its default (the other unread fields enter the run id as given); group labels leave
unread fields out where the labels stay apart without them, so that no label names a
setting its search never used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# methods that search scores with a top-k (and so take sources, IWR, rescaling)
SCORE_METHODS = ("edge_popup", "biprop", "iterand")
# methods that train nothing (``needs_training = False``): the random-mask null model
UNTRAINED_METHODS = frozenset({"random"})
# what an untrained method reads of ``train``: the batches of its BatchNorm estimate
UNTRAINED_TRAIN_FIELDS = ("batch_size",)

#: the method sections and the methods that read them
METHOD_SECTION_READERS = {
    "recycle": SCORE_METHODS,
    "rerand": ("iterand",),
    "kstarts": ("kstarts", "kstarts_dissipating"),
    "dissipate": ("dissipating", "kstarts_dissipating"),
}

#: the ``method.source`` fields each source kind reads, besides ``kind``
SOURCE_FIELDS_READ = {
    "dense": (),
    "er": ("density", "sampling", "er_distribution"),
    "frozen": ("pruned", "locked", "distribution", "locked_rule", "scope"),
}
#: the fields that decide whether another field is read
DECIDING_FIELDS = ("method.name", "method.source.kind", "method.recycle.every")
#: what a source field's refusal says reads it
SOURCE_KIND_NAMES = {"er": "an ER source", "frozen": "a frozen source"}


def source_kinds_reading(name: str) -> list[str]:
    """The source kinds that read ``method.source.<name>``."""
    return [kind for kind, fields in SOURCE_FIELDS_READ.items() if name in fields]


def field_read(dotted: str, values: Mapping[str, Any]) -> bool:
    """Whether a configuration reads config field ``dotted``.

    ``values`` holds the configuration's flattened fields; those that decide it are
    :data:`DECIDING_FIELDS`, and one of them missing (masks built in Python, say) counts as
    read.
    """
    parts = dotted.split(".")
    if parts[0] in ("train", "method") and len(parts) == 2:
        # the random null model trains nothing and draws no scores
        if _given(values, "method.name") in UNTRAINED_METHODS:
            return dotted != "method.score_init" and (
                parts[0] != "train" or parts[1] in UNTRAINED_TRAIN_FIELDS
            )
        return True
    if len(parts) < 3 or parts[0] != "method":
        return True
    section, name = parts[1], parts[2]
    if section in METHOD_SECTION_READERS:
        method = _given(values, "method.name")
        if method is not None and method not in METHOD_SECTION_READERS[section]:
            return False
        if section == "recycle" and name != "every":  # "every 0" itself says: no recycling
            return _given(values, "method.recycle.every") != 0
        return True
    if section == "source" and name != "kind":
        kind = _given(values, "method.source.kind")
        return kind is None or name in SOURCE_FIELDS_READ.get(kind, (name,))
    return True


def _given(values: Mapping[str, Any], dotted: str) -> Any:
    """The value of ``dotted``, None where it is missing (absent, NaN or pandas' NA)."""
    value = values.get(dotted)
    try:
        missing = value is None or bool(value != value)
    except (TypeError, ValueError):  # pandas' NA has no truth value
        missing = True
    return None if missing else value
