"""``index.html`` beside the figures: each figure, its caption, its numbers and its provenance.

Built from the provenance records in the folder (``<name>.json`` with a ``figure`` key), so it
lists every figure there, also those of an earlier build; one static page, relative links,
opens from disk without a server.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from landscape.store._io import write_atomic

INDEX = "index.html"
MAX_ROWS = 25  # rows of a figure's numbers shown on the page (all of them are in its CSV)

_STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; color: #222; }
figure { margin: 0 0 0.5em 0; } img { max-width: 100%; border: 1px solid #ddd; }
figcaption { margin-top: 0.4em; line-height: 1.4; }
table { border-collapse: collapse; font-size: 0.8em; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 0.15em 0.4em; text-align: right; }
th { background: #f3f3f3; } pre { font-size: 0.75em; background: #f7f7f7; padding: 0.5em; overflow-x: auto; }
section { border-top: 1px solid #ccc; padding-top: 0.8em; margin-top: 1.5em; } .skipped { color: #777; }
"""


def _records(folder: Path) -> list[dict]:
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # not a provenance record (or a damaged one): nothing to show
        if isinstance(record, dict) and "figure" in record:
            record["_stem"] = path.stem
            records.append(record)
    return records


def _table(folder: Path, record: dict) -> str:
    name = record.get("data_file")
    if not name or not (folder / name).exists():
        return ""
    try:
        frame = pd.read_csv(folder / name)
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return f'<p><a href="{html.escape(name)}">{html.escape(name)}</a> (unreadable)</p>'
    shown = frame.head(MAX_ROWS).to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0)
    more = f"first {MAX_ROWS} of {len(frame)} rows; " if len(frame) > MAX_ROWS else ""
    link = f'<a href="{html.escape(name)}">{html.escape(name)}</a>'
    return f"<details open><summary>numbers ({more}all in {link})</summary>{shown}</details>"


def _section(folder: Path, record: dict) -> str:
    stem = record["_stem"]
    files = [f for f in record.get("files", []) if (folder / f).exists()]
    png = f"{stem}.png" if (folder / f"{stem}.png").exists() else None
    image = f'<img src="{html.escape(png)}" alt="{html.escape(stem)}">' if png else "<p>(no PNG written)</p>"
    links = " · ".join(f'<a href="{html.escape(f)}">{html.escape(f)}</a>' for f in files)
    caption = html.escape(record.get("caption") or record.get("description") or "")
    provenance = {k: v for k, v in record.items() if not k.startswith("_")}
    return (
        f'<section id="{html.escape(stem)}"><h2>{html.escape(stem)}</h2>'
        f"<figure>{image}<figcaption>{caption}</figcaption></figure><p>{links}</p>"
        f"{_table(folder, record)}"
        f"<details><summary>provenance</summary><pre>{html.escape(json.dumps(provenance, indent=1))}</pre></details>"
        "</section>"
    )


def write_index(folder: str | Path, skipped: Sequence[tuple[str, str]] = ()) -> Path:
    """Write ``<folder>/index.html`` for every figure recorded in ``folder``.

    Parameters
    ----------
    folder
        The output folder of :func:`landscape.figures.build_figures`.
    skipped
        ``(name, reason)`` of figures left out by the latest build (listed at the end).
    """
    folder = Path(folder)
    records = _records(folder)
    shown = {r["_stem"] for r in records}
    contents = " · ".join(
        f'<a href="#{html.escape(r["_stem"])}">{html.escape(r["_stem"])}</a>' for r in records
    )
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>landscape figures</title>",
        f"<style>{_STYLE}</style></head><body><h1>Figures</h1>",
        f"<p>{contents}</p>" if records else "<p>No figures yet.</p>",
        *(_section(folder, r) for r in records),
    ]
    left = [(n, why) for n, why in skipped if n not in shown]
    if left:
        items = "".join(f"<li><b>{html.escape(n)}</b>: {html.escape(why)}</li>" for n, why in left)
        parts.append(f'<section class="skipped"><h2>Skipped</h2><ul>{items}</ul></section>')
    parts.append("</body></html>\n")
    path = folder / INDEX
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(path, "\n".join(parts).encode())
    return path
