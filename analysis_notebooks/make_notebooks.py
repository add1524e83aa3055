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
        "Masks found by Edge-Popup and Biprop inside **one** set of frozen random weights "
        "(digits, MLP 64-256-256-10, half the weights kept), next to random masks of the same "
        "per-layer density. Do high-accuracy masks overlap more than chance? Are they connected "
        "by low-loss paths? Do they cluster?\n\n"
        "The runs come from `make run` (or `landscape demo`); set `LANDSCAPE_RUNS` to analyse "
        "another runs root."
    ),
    new_code_cell(
        "import os\n"
        "from pathlib import Path\n\n"
        "import matplotlib.pyplot as plt\n\n"
        "import landscape as ls\n\n"
        "RUNS = Path(os.environ.get('LANDSCAPE_RUNS', '../runs'))\n"
        "if not any(RUNS.glob('*/manifest.json')):\n"
        "    raise SystemExit(f'no finished runs under {RUNS}: run `make run` (or landscape demo) first')\n"
        "groups = ls.read_layout_groups(RUNS)   # one MaskSet per network layout, largest first\n"
        "ms = ls.pp.subset(groups[0], \"method in ['edge_popup', 'biprop', 'random']\")\n"
        "density = ms.obs['density'].value_counts().idxmax()\n"
        "ms = ls.pp.subset(ms, ms.obs['density'].to_numpy() == density)\n"
        "ms"
    ),
    new_code_cell(
        "ms.obs.groupby('method')[['test_acc', 'all_ones_test_acc']].agg(['mean', 'std', 'count'])"
    ),
    new_markdown_cell(
        "## Diversity against the random baseline\n\n"
        "Exact pairwise Jaccard and Hamming distances (whole network and per layer), and the "
        "analytic expectation for independent random masks with the same per-layer counts."
    ),
    new_code_cell(
        "ls.tl.distances(ms, metric=('jaccard', 'hamming'), per_layer=True)\n"
        "table = ls.tl.diversity(ms, metric='jaccard')\n"
        "table['similarity'] = 1 - table['mean']\n"
        "table['chance'] = 1 - table['baseline_mean']\n"
        "table[['method', 'layer', 'n_masks', 'similarity', 'chance', 'excess', 'z']]"
    ),
    new_code_cell(
        "fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))\n"
        "ls.pl.similarity_heatmap(ms, metric='jaccard', lower='edge_popup', upper='biprop', ax=axes[0])\n"
        "ls.pl.layer_overlap(ms, metric='jaccard', ax=axes[1])\n"
        "fig.tight_layout()"
    ),
    new_code_cell("ax = ls.pl.distance_distribution(ms, metric='jaccard', null='both')"),
    new_markdown_cell(
        "## Loss barriers between masks\n\n"
        "Along the linear path of effective weights and along a constant-density path that "
        "swaps differing bits; barrier = max loss above the chord of the end losses."
    ),
    new_code_cell(
        "ep = ls.pp.subset(ms, \"method == 'edge_popup'\")\n"
        "barriers = ls.tl.barriers(ep, pairs=2, n_points=7, rng=0, progress=False)\n"
        "barriers[['i', 'j', 'path', 'barrier_loss', 'barrier_acc', 'hamming']]"
    ),
    new_code_cell("ax = ls.pl.interpolation(ep, metric='loss')"),
    new_markdown_cell("## Embedding and clusters"),
    new_code_cell(
        "ls.tl.embed(ms, method='mds', metric='jaccard', rng=0)\n"
        "ls.tl.cluster(ms, metric='jaccard', n_clusters=3)\n"
        "fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))\n"
        "ls.pl.embedding(ms, basis='mds', color='method', ax=axes[0])\n"
        "ls.pl.embedding(ms, basis='mds', color='test_acc', ax=axes[1])\n"
        "fig.tight_layout()\n"
        "ms.obs.groupby(['method', 'cluster'], observed=True).size().unstack(fill_value=0)"
    ),
    new_markdown_cell("## Which weights do the masks agree on?"),
    new_code_cell(
        "summary = ls.tl.consensus(ms)\n"
        "ax = ls.pl.selection_frequency(ms, layer=ms.layout.names[0])\n"
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
