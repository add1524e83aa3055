"""Search methods: each is the model's mask rule plus hooks the training loop calls.

A method is built as ``Method(cfg)`` from a :class:`~landscape.config.SearchConfig` and
looked up by name through :data:`landscape.registries.methods`:

========================  ==============================================================
``edge_popup``            top-k by |score| (layer-wise or global), optional IWR, sources
``biprop``                Edge-Popup with binarised weights ``alpha * sign(W)``
``iterand``               raw-score top-k plus periodic re-draws of pruned weights
``dense``                 weight training with an all-ones (or fixed random) mask
``kstarts``               best of k random masks after a shared dense start
``dissipating``           prune weights that barely moved from their initial value
``kstarts_dissipating``   K-starts selection, then dissipating within the chosen mask
``random``                random masks of matched density (the null model)
========================  ==============================================================

The common machinery (exact top-k, straight-through estimators) lives in
:mod:`landscape.search.methods.base`. Each score method's defining rule is one short
function (``edge_popup_mask``, ``biprop_weight``, ``iterand_mask``); what composes with it
(global top-k, sources and their layer distributions, rescaling, recycling, the fused CPU
route) is in :mod:`.score_search` and the modules it names, each proven equal to the rule by
tests.
"""
