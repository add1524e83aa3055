"""Which seed drives which randomness of a mask: score initialisation and data order.

By default a mask's ``search_seed`` drives both (and so every run searched before these fields
existed is unchanged). A run may hold one of them fixed for all its masks
(``method.score_seed`` or ``train.data_seed``); the search seed then drives only the other, so
the masks of that run differ only in what still varies. The method's own draws (IteRand's
re-draws, random masks, K-starts candidates) follow the score seed: they are part of the
mask's initialisation, not of the data it sees. Augmentation follows the data seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from landscape.config.schema import SearchConfig

#: the config fields that hold one source of randomness fixed across a run's masks
SEED_FIELDS = ("method.score_seed", "train.data_seed")

#: what varies between the masks of a run, by which field is held
BOTH, SCORES, DATA = "scores + data order", "scores", "data order"
VARIES = (BOTH, SCORES, DATA)


def score_seed(cfg: SearchConfig, search_seed: int) -> int:
    """The seed of the mask's score initialisation (and of the method's own draws)."""
    held = cfg.method.score_seed
    return int(search_seed) if held is None else int(held)


def data_seed(cfg: SearchConfig, search_seed: int) -> int:
    """The seed of the mask's data order and augmentation."""
    held = cfg.train.data_seed
    return int(search_seed) if held is None else int(held)


def mask_seeds(cfg: SearchConfig, search_seeds: Sequence[int]) -> tuple[list[int], list[int]]:
    """Score seeds and data seeds of the masks of ``search_seeds``."""
    return [score_seed(cfg, s) for s in search_seeds], [data_seed(cfg, s) for s in search_seeds]


def varies(cfg: SearchConfig) -> str:
    """What differs between the masks of a run: :data:`BOTH`, :data:`SCORES` or :data:`DATA`."""
    if cfg.train.data_seed is not None:
        return SCORES
    if cfg.method.score_seed is not None:
        return DATA
    return BOTH
