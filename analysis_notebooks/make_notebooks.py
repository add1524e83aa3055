"""Write the notebooks of this folder from their cell sources (outputs stay out of git).

Run ``python analysis_notebooks/make_notebooks.py`` after editing the cells below.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

MASK_LANDSCAPE = [
    new_markdown_cell(
        "# The mask landscape of one random network\n\n"
        "Masks found inside frozen random weights, one group per configuration (a run): do "
        "high-accuracy masks overlap more than chance? Are they connected by low-loss paths? "
        "Do they cluster?\n\n"
        "Set `LANDSCAPE_RUNS` to your runs root (default `../runs`, made by `make run`). Any runs "
        "root works; the sections that compare with a random-mask null model say how to add one."
    ),
    new_code_cell(
        "import os\n"
        "from pathlib import Path\n\n"
        "import matplotlib.pyplot as plt\n\n"
        "import landscape as ls\n"
        "from landscape.grouping import group_masks\n\n"
        "RUNS = Path(os.environ.get('LANDSCAPE_RUNS', '../runs'))\n"
        "if not any(RUNS.glob('*/manifest.json')):\n"
        "    raise SystemExit(f'no finished runs under {RUNS}: run `make run` (or landscape demo) first')\n"
        "layouts = ls.read_layout_groups(RUNS)   # one MaskSet per network layout, largest first\n"
        "ms = layouts[0]\n"
        "if 'method.name' in ms.obs:  # weight-training baselines train their weights: no shared network\n"
        "    ms = ls.pp.subset(ms, ~ms.obs['method.name'].isin(['dense', 'kstarts', 'dissipating', "
        "'kstarts_dissipating']).to_numpy())\n"
        "groups = group_masks(ms.obs)           # one group per configuration, never pooled\n"
        "HAS_NULL = 'method' in ms.obs and (ms.obs['method'] == 'random').sum() >= 2\n"
        "[(g.label, g.n_masks, g.n_networks) for g in groups]"
    ),
    new_code_cell(
        "ms.obs.assign(group=ls.grouping.group_labels(ms.obs)).groupby('group', sort=False)"
        "[['test_acc', 'all_ones_test_acc']].agg(['mean', 'std', 'count'])"
    ),
    new_markdown_cell(
        "## Similarity against the random baseline\n\n"
        "Exact pairwise Jaccard similarities (whole network and per layer) within each group and "
        "network, the analytic expectation for independent random masks with the same per-layer "
        "counts, the excess with its 95% interval (jackknife over masks; over networks when a "
        "group has several) and the p-value of the test against independent random masks."
    ),
    new_code_cell(
        "ls.tl.distances(ms, metric=('jaccard', 'hamming'), per_layer=True)\n"
        "table = ls.tl.diversity(ms, metric='jaccard')\n"
        "summary = ms.uns['diversity']['summary']  # across the networks of each group\n"
        "summary[['group', 'layer', 'n_networks', 'n_masks', 'similarity', 'chance_similarity', "
        "'excess_similarity', 'excess_ci_low', 'excess_ci_high', 'p_value']]"
    ),
    new_code_cell(
        "labels = [g.label for g in groups if len(g.positions) > 1]\n"
        "fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))\n"
        "ls.pl.similarity_heatmap(ms, metric='jaccard', lower=labels[0], upper=labels[min(1, len(labels) - 1)], "
        "ax=axes[0])\n"
        "ls.pl.layer_overlap(ms, metric='jaccard', ax=axes[1])\n"
        "fig.tight_layout()"
    ),
    new_markdown_cell(
        "Pairwise distances against chance. The analytic band is always drawn; the empirical "
        "null needs random masks of the same configuration, e.g. "
        "`landscape search CONFIG --set method.name=random --search-seeds 0-7`."
    ),
    new_code_cell(
        "ax = ls.pl.distance_distribution(ms, metric='jaccard', null='both' if HAS_NULL else 'analytic')"
    ),
    new_markdown_cell(
        "## Loss barriers between masks\n\n"
        "Along the linear path of effective weights and along a constant-density path that "
        "swaps differing bits; barrier = max loss above the chord of the end losses. Two pairs "
        "per configuration and network of the largest searched group."
    ),
    new_code_cell(
        "searched = [g for g in groups if max(len(p) for p in g.networks.values()) > 1\n"
        "            and ms.obs['method'].iloc[g.positions[0]] != 'random'] or groups\n"
        "sub = ms[searched[0].positions]\n"
        "barriers = ls.tl.barriers(sub, pairs=2, n_points=7, rng=0, progress=False)\n"
        "barriers[['obs_i', 'obs_j', 'path', 'barrier_loss', 'barrier_acc', 'hamming']]"
    ),
    new_code_cell("ax = ls.pl.interpolation(sub, metric='loss')"),
    new_markdown_cell(
        "## Embedding and clusters\n\n"
        "Masks of different random networks share no weights (their distances sit at chance), so "
        "an embedding or a clustering of several networks at once would find the networks. A "
        "network is a weight seed and what it draws (`model.weight_init`: Edge-Popup's signed "
        "constants and Biprop's Kaiming normal values of one seed are two networks). The "
        "embedding shows the first network; `tl.group_clusters` clusters the masks of every network "
        "and density on their own and tests whether the clusters are the groups (adjusted Rand "
        "index against shuffled group labels)."
    ),
    new_code_cell(
        "from landscape.networks import network_values\n\n"
        "nets = network_values(ms.obs)  # weight seed, with the initialiser where those differ\n"
        "one = ms[[k for k, net in enumerate(nets) if net == nets[0]]]\n"
        "ls.tl.embed(one, method='mds', metric='jaccard', rng=0)\n"
        "one.obs['group'] = ls.grouping.group_labels(one.obs)\n"
        "fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))\n"
        "ls.pl.embedding(one, basis='mds', color='group', ax=axes[0])\n"
        "ls.pl.embedding(one, basis='mds', color='test_acc', ax=axes[1])\n"
        "fig.tight_layout()\n"
        "clusters = ls.tl.group_clusters(ms, metric='jaccard')\n"
        "clusters if len(clusters) else 'one group per network and density: nothing for clusters to follow'"
    ),
    new_markdown_cell("## Which weights do the masks agree on?"),
    new_code_cell(
        "summary = ls.tl.consensus(ms)\n"
        "ax = ls.pl.selection_frequency(ms, group=labels[0], layer=ms.layout.names[0])\n"
        "summary[['group', 'layer', 'n_masks', 'frac_all', 'frac_none', 'dispersion', 'chi2_pvalue']]"
    ),
]


def write(name: str, cells) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = HERE / name
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    print(write("mask_landscape.ipynb", MASK_LANDSCAPE))
