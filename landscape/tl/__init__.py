"""Analysis tools over a MaskSet: each writes its results into the MaskSet's slots.

Pure kernels live in :mod:`landscape.tl._kernels`; nothing here imports torch at import time.
"""

# interpolation barriers and representation similarity need torch at call time only
from landscape.tl.agreement import agreement
from landscape.tl.barriers import barriers
from landscape.tl.baseline import random_baseline
from landscape.tl.cluster import cluster
from landscape.tl.consensus import consensus
from landscape.tl.cross_method import cross_method
from landscape.tl.distances import distances
from landscape.tl.diversity import diversity
from landscape.tl.embed import embed, mds, pca, tsne, umap
from landscape.tl.ensemble import ensemble
from landscape.tl.group_clusters import group_clusters
from landscape.tl.input_frequency import input_frequency
from landscape.tl.representation import representation_similarity
from landscape.tl.seed_sources import seed_sources
from landscape.tl.trajectory import trajectory
from landscape.tl.typicality import typicality

__all__ = [
    "agreement",
    "barriers",
    "cluster",
    "consensus",
    "cross_method",
    "distances",
    "diversity",
    "embed",
    "ensemble",
    "group_clusters",
    "input_frequency",
    "mds",
    "pca",
    "random_baseline",
    "representation_similarity",
    "seed_sources",
    "trajectory",
    "tsne",
    "typicality",
    "umap",
]
