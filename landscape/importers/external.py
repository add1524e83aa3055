"""``external``: the model, dataset and method names of imported masks whose architecture,
data or search method this toolkit does not know (or was not told).

They make an imported run a valid config (so it is stored, listed and analysed like any
other) while anything that would need the real thing fails with one line saying what is
missing: distances, diversity, consensus and embeddings work; searching, evaluating and
barriers do not.
"""

from __future__ import annotations

from landscape.config.validate import EXTERNAL_CANNOT_SEARCH
from landscape.errors import ConfigError, DataError


def external_model(cfg, input_shape, n_classes, n_masks: int = 1):
    """``model.name: external``: an imported architecture this toolkit does not build."""
    raise ConfigError(
        "model.name 'external' stands for imported masks of an architecture this toolkit does not "
        "build; it cannot be searched or evaluated (choose one of the toolkit's models)"
    )


def load_external(cfg):
    """``data.name: external``: masks imported without naming the data they were found on."""
    raise DataError(
        "data.name 'external': these masks were imported without naming the data they were found "
        "on; import them again with --set data.name=<dataset> (cifar10, mnist, ...) to evaluate them"
    )


class ExternalMethod:
    """``method.name: external``: imported masks whose search method was not given."""

    def __init__(self, cfg) -> None:
        raise ConfigError(EXTERNAL_CANNOT_SEARCH)
