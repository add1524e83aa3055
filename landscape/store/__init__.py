"""The only code that knows file formats: run directories, packed shards, manifests."""

from landscape.store.catalog import RunInfo, list_runs
from landscape.store.layout import LayerSpec, Layout
from landscape.store.run_store import RunStore

__all__ = ["LayerSpec", "Layout", "RunInfo", "RunStore", "list_runs"]
