"""Reading configs: nested mappings to dataclasses, ``--set`` overrides, YAML/TOML files.

Every error is a one-line :class:`~landscape.errors.ConfigError` naming the dotted field or
the file.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from landscape.config.presets import merge, nested, preset_values
from landscape.config.reads import METHOD_SECTION_READERS, SOURCE_FIELDS_READ
from landscape.config.schema import MethodConfig, ModelConfig, SearchConfig, SourceConfig
from landscape.config.validate import FIXED_WIDTH_MODELS, check_data_fields_given, validate
from landscape.errors import ConfigError

# Config and sweep files are a few hundred bytes; anything this big is the wrong file.
MAX_CONFIG_BYTES = 2**20


def from_dict(data: Mapping[str, Any], cls: type = SearchConfig, path: str = "") -> Any:
    """Build a config dataclass from a nested mapping, rejecting unknown keys by dotted name.

    A ``method.preset`` in ``data`` is expanded first; the mapping's own fields win over it
    (see :mod:`landscape.config.presets`).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or 'config'}: expected a table of fields, got {_tname(data)}")
    if cls is SearchConfig and not path:
        data = _with_preset(data)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{path}.{key}" if path else str(key)
        if key not in fields:
            raise ConfigError(_unknown_key(dotted, key, list(fields)))
        kwargs[key] = _coerce(value, hints[key], dotted)
    return cls(**kwargs)


def _preset_name(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"method.preset: expected a preset name, got {value!r}")
    return value


def _with_preset(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data`` on top of the fields of its ``method.preset`` (unchanged without one)."""
    method = data.get("method")
    name = _preset_name(method.get("preset")) if isinstance(method, Mapping) else ""
    if not name:
        return data
    return merge(nested(preset_values(name)), data)


def _unknown_key(dotted: str, key: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
    return f"{dotted}: unknown field{hint}"


def _tname(value: Any) -> str:
    return type(value).__name__


def _coerce(value: Any, tp: Any, dotted: str) -> Any:
    if dataclasses.is_dataclass(tp):
        if dataclasses.is_dataclass(value):
            return value
        return from_dict(value, tp, dotted)
    origin = typing.get_origin(tp)
    if origin is tuple:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            value = [value] if isinstance(value, (int, float)) else value
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
            raise ConfigError(f"{dotted}: expected a list, got {value!r}")
        (item,) = {a for a in typing.get_args(tp) if a is not Ellipsis}
        return tuple(_coerce(v, item, f"{dotted}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (tp,) = [a for a in args if a is not type(None)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{dotted}: expected true or false, got {value!r}")
    if tp is int:
        return _integer(value, dotted)
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{dotted}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{dotted}: expected a number, got {value!r}") from None
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{dotted}: expected a string, got {value!r}")
        return str(value)
    return value


def _integer(value: Any, dotted: str) -> int:
    """An int as given; a string by ``int()`` first: a float would round seeds above 2**53
    (two seeds, one run id). Whole floats (``2.0``, ``"1e3"``) are accepted."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (float, str)):
        raise ConfigError(f"{dotted}: expected an integer, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{dotted}: expected an integer, got {value!r}") from None
    if not number.is_integer():
        raise ConfigError(f"{dotted}: expected an integer, got {value!r}")
    return int(number)


# --------------------------------------------------------------------------------------------
# overrides and files


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.epochs=2"`` -> ``("train.epochs", 2)``; values parse as YAML scalars/lists."""
    import yaml

    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected dotted.key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_overrides(cfg: SearchConfig, overrides: Mapping[str, Any]) -> SearchConfig:
    """``cfg`` with dotted fields replaced; the result is validated.

    A ``method.preset`` among the overrides replaces ``cfg``'s values of the fields it sets;
    the other overrides then apply on top of it.
    """
    data = cfg.to_dict()
    given = dict(overrides)  # what the caller asks for, a preset's fields included
    if "method.preset" in overrides:
        name = _preset_name(overrides["method.preset"])
        if name:
            data = merge(data, nested(preset_values(name)))
            given = {**preset_values(name), **overrides}
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict) or part not in node or not isinstance(node[part], dict):
                raise ConfigError(f"{'.'.join(parts[: i + 1])}: unknown config section")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(_unknown_key(dotted, parts[-1], list(node)))
        node[parts[-1]] = value
    _drop_inherited_hidden(cfg, data, given)
    _drop_inherited_method_fields(cfg, data, given)
    return validate(from_dict(data))


def _given(overrides: Mapping[str, Any], dotted: str) -> bool:
    """Whether ``overrides`` sets ``dotted`` (or a field inside it), as a dotted key or
    inside a section it gives."""
    if any(key.startswith(f"{dotted}.") for key in overrides):
        return True
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in overrides:
            node = overrides[".".join(parts[:i])]
            for part in parts[i:]:
                if not isinstance(node, Mapping) or part not in node:
                    return False
                node = node[part]
            return True
    return False


def _drop_inherited_hidden(cfg: SearchConfig, data: dict, overrides: Mapping[str, Any]) -> None:
    """An MLP config switched to a model of fixed widths leaves its hidden widths behind:
    that model never reads them, and kept they would give its one network a second run id.
    Widths given beside the switch are still refused (see ``validate``)."""
    switched = data["model"]["name"] in FIXED_WIDTH_MODELS and cfg.model.name not in FIXED_WIDTH_MODELS
    if switched and not _given(overrides, "model.hidden"):
        data["model"] = {**data["model"], "hidden": list(ModelConfig.hidden)}  # the caller's dict stays


def _drop_inherited_method_fields(cfg: SearchConfig, data: dict, overrides: Mapping[str, Any]) -> None:
    """A config switched to another method leaves behind the sections the new one does not
    read (an IteRand config's ``rerand`` under ``method.name=edge_popup``), and one switched
    to another source kind the source fields that kind does not read; kept, they would be
    refused. Fields given beside the switch are still refused (see ``validate``)."""
    if not isinstance(data.get("method"), Mapping) or not isinstance(
        data["method"].get("source", {}), Mapping
    ):
        return  # from_dict names what is wrong
    method = data["method"] = dict(data["method"])  # the caller's dict stays
    name = method.get("name", MethodConfig.name)
    if isinstance(name, str) and name != cfg.method.name:  # another type: validate names it
        for section, readers in METHOD_SECTION_READERS.items():
            if name not in readers and not _given(overrides, f"method.{section}"):
                method[section] = dataclasses.asdict(getattr(MethodConfig(), section))
    source = method["source"] = dict(method.get("source", {}))
    kind = source.get("kind", SourceConfig.kind)
    if isinstance(kind, str) and kind != cfg.method.source.kind:
        read = SOURCE_FIELDS_READ.get(kind, ())
        for f in dataclasses.fields(SourceConfig):
            if f.name != "kind" and f.name not in read and not _given(overrides, f"method.source.{f.name}"):
                source[f.name] = f.default


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(key, line)
        self.key, self.line = key, line


@functools.cache
def _unique_key_loader():
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        """``safe_load`` keeps the last of two equal keys silently; this refuses them."""

        def construct_mapping(self, node, deep=False):
            seen: set = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<:` entries may be overridden
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in seen:
                        raise _DuplicateKey(key, key_node.start_mark.line + 1)
                    seen.add(key)
                except TypeError:  # unhashable: the base class says so
                    pass
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a YAML or TOML config file into a mapping, with a one-line error on failure."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, expected a .yaml or .toml config file")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: {size:,} bytes is too large for a config file (limit {MAX_CONFIG_BYTES:,})"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)  # refuses a key given twice itself
        else:
            data = yaml.load(text, Loader=_unique_key_loader())
    except _DuplicateKey as exc:
        raise ConfigError(f"{path}: key {exc.key!r} given twice (line {exc.line}); give it once") from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: cannot parse ({first})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return data


def load_config(
    path: str | Path | None = None, overrides: Sequence[str] | Mapping[str, Any] = ()
) -> SearchConfig:
    """Load a config file (YAML/TOML; none = all defaults) and apply ``--set`` overrides."""
    data = read_config_file(path) if path is not None else {}
    cfg = validate(from_dict(data))
    if isinstance(overrides, Mapping):
        pairs = dict(overrides)
    else:
        pairs = dict(parse_override(o) for o in overrides)
    cfg = apply_overrides(cfg, pairs) if pairs else cfg
    given = data.get("data") if isinstance(data.get("data"), Mapping) else {}
    check_data_fields_given(cfg, [*given, *(k.split(".")[1] for k in pairs if k.startswith("data."))])
    return cfg
