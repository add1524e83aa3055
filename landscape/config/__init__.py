"""Search configuration: frozen dataclasses (:mod:`.schema`), file loading and overrides
(:mod:`.parse`), validation (:mod:`.validate`), named reference presets (:mod:`.presets`) and
run ids.

A :class:`SearchConfig` says *what* is searched (model, data, method, optimisation).
``run_id`` is a hash of the canonical JSON with default-valued fields dropped, so adding a
field with a neutral default keeps existing run ids.
"""

from landscape.config.parse import (
    MAX_CONFIG_BYTES,
    apply_overrides,
    from_dict,
    load_config,
    parse_override,
    read_config_file,
)
from landscape.config.presets import PRESETS, Preset, preset_values
from landscape.config.schema import (
    DATASET_FIELDS,
    NOT_IDENTITY,
    DataConfig,
    DissipateConfig,
    KStartsConfig,
    MethodConfig,
    Mnist1dConfig,
    ModelConfig,
    OriginConfig,
    RecycleConfig,
    RerandConfig,
    SearchConfig,
    SourceConfig,
    TrainConfig,
    data_fields_used,
)
from landscape.config.validate import validate

__all__ = [
    "DATASET_FIELDS",
    "MAX_CONFIG_BYTES",
    "NOT_IDENTITY",
    "PRESETS",
    "DataConfig",
    "DissipateConfig",
    "KStartsConfig",
    "MethodConfig",
    "Preset",
    "Mnist1dConfig",
    "ModelConfig",
    "OriginConfig",
    "RecycleConfig",
    "RerandConfig",
    "SearchConfig",
    "SourceConfig",
    "TrainConfig",
    "apply_overrides",
    "data_fields_used",
    "from_dict",
    "load_config",
    "parse_override",
    "preset_values",
    "read_config_file",
    "validate",
]
