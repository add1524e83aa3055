"""Publication style, colours and saving with provenance."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from landscape import pl  # noqa: E402
from landscape.errors import ConfigError  # noqa: E402
from landscape.pl import style  # noqa: E402


def test_publication_style_is_scoped():
    before = matplotlib.rcParams["font.size"]
    with pl.publication_style(**{"lines.linewidth": 0.5}):
        assert 7 <= matplotlib.rcParams["font.size"] <= 8
        assert matplotlib.rcParams["pdf.fonttype"] == 42
        assert matplotlib.rcParams["lines.linewidth"] == 0.5
    assert matplotlib.rcParams["font.size"] == before


def test_widths():
    assert pl.figsize("single") == (3.5, 3.5 * style.ASPECT)
    assert pl.figsize("double", aspect=0.5) == (7.2, 3.6)
    with pytest.raises(ConfigError, match="width"):
        pl.figsize("triple")


def test_known_methods_keep_their_colour_and_others_are_distinct():
    assert pl.method_color("edge_popup") == pl.METHOD_COLORS["edge_popup"]
    assert pl.method_color("random") == style.GREY
    assert pl.method_color("my_method") == pl.method_color("my_method")  # stable across calls
    names = ["biprop", "edge_popup"] + [f"custom{i}" for i in range(6)]
    colors = pl.group_colors(names)
    assert colors["biprop"] == pl.METHOD_COLORS["biprop"]
    assert len(set(colors.values())) == len(names)
    assert len(set(pl.METHOD_COLORS.values())) == len(pl.METHOD_COLORS)


def test_save_figure_writes_files_and_provenance(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    written = pl.save_figure(
        fig,
        tmp_path / "sub" / "line",
        provenance={"run_ids": ["abc"], "values": np.arange(3), "nan": float("nan")},
    )
    assert [p.name for p in written] == ["line.pdf", "line.png", "line.json"]
    assert all(p.stat().st_size > 0 for p in written)
    assert written[0].read_bytes().startswith(b"%PDF") and written[1].read_bytes()[:4] == b"\x89PNG"
    record = json.loads(written[2].read_text())
    assert record["run_ids"] == ["abc"] and record["values"] == [0, 1, 2] and record["nan"] is None
    assert record["files"] == ["line.pdf", "line.png"]
    assert {"landscape_version", "numpy_version", "matplotlib_version", "created_at"} <= set(record)
    assert not list(tmp_path.glob("sub/.*"))  # no temp files left behind
    # the extension may be given; an Axes is accepted
    again = pl.save_figure(ax, tmp_path / "line.png", formats=("png",))
    assert [p.name for p in again] == ["line.png", "line.json"]


def test_importing_pl_and_figures_leaves_torch_out():
    import subprocess
    import sys

    code = "import sys, landscape.pl, landscape.figures, landscape.cli.figures; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
