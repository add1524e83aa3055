"""Masked layers, initialisers and models (torch)."""
