"""The mask-search engine (torch): search methods, the training loop and the runner.

Submodules are imported on use so that ``import landscape.search`` stays light:

- ``landscape.search.methods`` — every search method as a mask rule plus training hooks
  (Edge-Popup, Biprop, Iterative Weight Recycling, IteRand, ER and partially frozen
  sources, weight-training baselines, random masks).
"""
