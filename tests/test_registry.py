"""Registries: lazy entries, did-you-mean errors, no torch at validation time."""

import subprocess
import sys

import pytest

from landscape import registries
from landscape.errors import ConfigError
from landscape.registry import Registry


def test_unknown_name_suggests_the_closest():
    reg = Registry("model", "model.name")
    reg.add("conv4", object())
    reg.add("conv6", object())
    with pytest.raises(ConfigError) as err:
        reg.get("conv5")
    assert str(err.value).startswith("model.name: unknown model 'conv5'; did you mean")


def test_duplicate_registration_is_refused():
    reg = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(ValueError):
        reg.add("a", 2)


def test_every_registered_entry_resolves():
    for reg in (registries.models, registries.datasets, registries.methods):
        for name in reg:
            assert callable(reg.load(name)), f"{reg.kind} {name}"


def test_validating_a_config_does_not_import_torch():
    code = (
        "import sys; from landscape.config import load_config; "
        "load_config(None, ['method.density=0.3']); assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
