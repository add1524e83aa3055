"""The only code that knows file formats: run directories, packed shards, manifests."""

from landscape.store.layout import LayerSpec, Layout

__all__ = ["LayerSpec", "Layout"]
