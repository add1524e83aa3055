"""The named registries of the toolkit, listed in one place.

Entries are ``"module:attribute"`` strings resolved on first use, so validating a config
(or listing names in the CLI) never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from landscape.registry import Registry


class LazyRegistry(Registry[str]):
    """A registry of import paths; :meth:`load` imports the object behind a name."""

    def load(self, name: str) -> Any:
        module, _, attr = self.get(name).partition(":")
        return getattr(importlib.import_module(module), attr)


models = LazyRegistry("model", "model.name")
for _name, _target in {
    "mlp": "landscape.nn.models:MLP",
    "conv2": "landscape.nn.models:conv2",
    "conv4": "landscape.nn.models:conv4",
    "conv6": "landscape.nn.models:conv6",
    "conv8": "landscape.nn.models:conv8",
    "resnet18": "landscape.nn.models:resnet18",
    "resnet20": "landscape.nn.models:resnet20",
    "cnn1d": "landscape.nn.models1d:CNN1d",
    # masks imported from an architecture the toolkit does not build (layout from shapes)
    "external": "landscape.importers.external:external_model",
}.items():
    models.add(_name, _target)

datasets = LazyRegistry("dataset", "data.name")
for _name, _target in {
    "digits": "landscape.data.digits:load_digits",
    "mnist": "landscape.data.mnist:load_mnist",
    "mnist1d": "landscape.data.mnist1d:load_mnist1d",
    "cifar10": "landscape.data.cifar:load_cifar10",
    "synthetic": "landscape.data.synthetic:load_synthetic",
    # masks imported without naming the data they were found on
    "external": "landscape.importers.external:load_external",
}.items():
    datasets.add(_name, _target)

methods = LazyRegistry("method", "method.name")
for _name, _target in {
    "edge_popup": "landscape.search.methods.edge_popup:EdgePopup",
    "biprop": "landscape.search.methods.biprop:Biprop",
    "iterand": "landscape.search.methods.iterand:IteRand",
    "dense": "landscape.search.methods.weight_training:DenseTraining",
    "kstarts": "landscape.search.methods.weight_training:KStarts",
    "dissipating": "landscape.search.methods.weight_training:DissipatingGradients",
    "kstarts_dissipating": "landscape.search.methods.weight_training:KStartsDissipating",
    "random": "landscape.search.methods.random_masks:RandomMasks",
    # imported masks whose method was not given
    "external": "landscape.importers.external:ExternalMethod",
}.items():
    methods.add(_name, _target)

# importers of foreign masks (``landscape import --format NAME``): each module has ``FORMAT``
importers = LazyRegistry("import format", "origin.format")
for _name in ("hidden_networks", "biprop", "iwr", "iterand", "frozen", "er_slt", "arrays"):
    importers.add(_name, f"landscape.importers.{_name}:FORMAT")
