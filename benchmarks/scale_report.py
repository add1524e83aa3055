"""The Markdown report of ``benchmarks/scale.py all``: the killed and resumed job, tiles
against the in-memory kernel, and the peers on subsamples."""

from __future__ import annotations

from pathlib import Path


def report(r, mem, til, peers, args, lines) -> str:
    gb = 1e9
    k = r["killed"]
    out = ["```", *lines, "```", ""]
    out.append(f"**N = {r['n']:,} masks x {r['n_weights']:,} weights, memory = {args.memory}** "
               f"(plan: {r['plan']['blocks']} row blocks of {r['plan']['block_rows']}, "
               f"{r['plan']['ranges']} word ranges of {r['plan']['range_words']:,} words, {r['n_tiles']} tiles)")  # fmt: skip
    out.append("")
    out.append("| run | tiles computed | seconds | peak RssAnon MB | load (1, 5, 15 min) |")
    out.append("|---|---|---|---|---|")
    out.append(f"| killed (SIGKILL) once half the tiles were stored | {k['stored']} of {r['n_tiles']} | "
               f"{k['wall_s']:.0f} (wall, from start) | {k['peak_rss_anon_mb']:.0f} | {load_text(k['load'])} |")  # fmt: skip
    out.append(f"| resumed | {r['tiles_computed']} of {r['n_tiles']} | load {r['load_s']:.0f} + tiles "
               f"{r['tiles_s']:.0f} + merge and metrics {r['merge_s']:.0f} | {r['peak_rss_anon_mb']:.0f} | "
               f"{load_text(r['load'])} |")  # fmt: skip
    out.append("")
    exact = "identical" if r["digests"].get("block") == mem["digest"] else "DIFFERENT"
    out.append(f"The resumed run computed {r['tiles_computed']} tiles (= {r['n_tiles']} - {r['tiles_before']} "
               f"stored before) and reused the rest. Its per-layer counts of the first {mem['n']} masks are "
               f"{exact} (sha256) to the in-memory kernel's. Per-layer matrices on disk: "
               f"{', '.join(Path(p).name for p in r['on_disk']) or 'none'}. Tile throughput of the resumed run: "
               f"{r['word_pairs'] * r['tiles_computed'] / r['n_tiles'] / r['tiles_s'] / gb:.2f} G word pairs/s.")  # fmt: skip
    out.append("")
    rate_mem = mem["word_pairs"] / mem["seconds"] / gb
    rate_til = til["word_pairs"] / til["tiles_s"] / gb
    out.append(f"**Tiles vs in-memory kernel, N = {mem['n']} (both fit)**: in-memory {mem['seconds']:.1f} s "
               f"({rate_mem:.2f} G word pairs/s, peak RssAnon {mem['peak_rss_anon_mb']:.0f} MB), tiles "
               f"{til['tiles_s']:.1f} s ({rate_til:.2f} G word pairs/s, {til['n_tiles']} tiles, peak RssAnon "
               f"{til['peak_rss_anon_mb']:.0f} MB): in-memory / tiles throughput = {rate_mem / rate_til:.2f}x.")  # fmt: skip
    out.append("")
    n_f = peers["faiss_rows"]
    pairs_f = n_f * (n_f - 1) / 2
    out.append(
        "**Peers on subsamples** (whole-network Hamming; this kernel gives Jaccard from the same counts):"
    )
    out.append("")
    out.append("| route | masks | seconds | vs this kernel | counts |")
    out.append("|---|---|---|---|---|")
    out.append(f"| this kernel (numba, in memory) | {n_f} | {peers['kernel_s']:.2f} | 1x | reference |")
    if "faiss_s" in peers:
        out.append(f"| faiss {peers['faiss_version']} IndexBinaryFlat (search k = N) | {n_f} | {peers['faiss_s']:.2f} | "
                   f"{peers['faiss_s'] / peers['kernel_s']:.1f}x slower | "
                   f"{'identical' if peers['faiss_identical'] else 'MISMATCH'} |")  # fmt: skip
    else:
        out.append(f"| faiss IndexBinaryFlat | {n_f} | - | - | {peers['faiss']} |")
    n_s = peers["scipy_rows"]
    scale = pairs_f / (n_s * (n_s - 1) / 2)
    out.append(f"| scipy pdist hamming + jaccard (bool) | {n_s} | {peers['scipy_s']:.2f} (x{scale:.0f} pairs: "
               f"{peers['scipy_s'] * scale:.0f} s at {n_f}) | {peers['scipy_s'] * scale / peers['kernel_s']:.0f}x slower | "
               f"{'identical' if peers['scipy_identical'] else 'MISMATCH'} |")  # fmt: skip
    return "\n".join(out) + "\n"


def load_text(load) -> str:
    return ", ".join(f"{x:.1f}" for x in load)
