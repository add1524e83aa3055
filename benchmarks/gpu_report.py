"""Markdown of the device check's results (``gpu_check.json`` -> ``gpu_check.md``)."""

from __future__ import annotations

TARGETS = {"vs_loop": 8.0, "vs_plain": 20.0, "fraction_of_matmul": 0.40}


def _f(value, fmt: str = ".2f", missing: str = "") -> str:
    if value is None:
        return missing
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


def _mib(value) -> str:
    return "" if value is None else f"{value / 2**20:,.0f}"


def _cell(text) -> str:
    """Text fit for one markdown table cell."""
    return str(text).replace("|", "/").replace("\n", " ")


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out + [""]


def render(report: dict) -> str:
    meta, parts = report["meta"], report["parts"]
    dry = not str(meta.get("device", "")).startswith("cuda")
    title = meta.get("gpu") or ("CPU dry run" if dry else meta.get("device"))
    lines = [f"# Device check: {title}", ""]
    if dry:
        flags = "--device cpu --tiny" if meta.get("tiny") else "--device cpu"
        lines += [f"> **CPU dry run** (`{flags}`): it proves the script runs end to end. "
                  "None of these numbers is a GPU measurement.", ""]  # fmt: skip
    lines += [f"Machine: {meta.get('gpu', 'no GPU')}, {meta.get('cpus')} CPUs, torch {meta.get('torch')}"
              + (f", CUDA {meta['cuda']}, cuDNN {meta.get('cudnn')}" if meta.get("cuda") else "")
              + f"; {meta.get('date')}; load {_f(meta.get('load'), '.1f')} at the start. "
              f"Budget {_f(meta.get('budget_s'), '.0f')} s, used {_f(meta.get('seconds'), '.0f')} s.", ""]  # fmt: skip
    if meta.get("error"):
        lines += [f"> **The check did not run**: {meta['error']}.", ""]
    if meta.get("packages"):
        found = ", ".join(f"{k} {v}" for k, v in meta["packages"].items() if v)
        absent = ", ".join(meta.get("absent") or []) or "none"
        lines += [f"Python {meta.get('python')}; {found}. Absent: {absent}.", ""]
    broken = meta.get("import_errors") or {}
    if broken:
        lines += ["**Import failures** (the check exits non-zero): "
                  + "; ".join(f"{k}: {_cell(v)}" for k, v in broken.items()) + ".", ""]  # fmt: skip
    if meta.get("error"):
        return "\n".join(lines).rstrip() + "\n"
    lines += _table(["part", "status", "seconds", "CPU seconds", "time box (s)"],
                    [[n, _cell(r["status"]), _f(r.get("seconds"), ".1f"), _f(r.get("cpu_seconds"), ".1f"),
                      _f(r.get("box_s"), ".0f")] for n, r in parts.items()])  # fmt: skip
    for section in (_tests, _tuning, _throughput, _distances, _e2e):
        lines += section(parts)
    return "\n".join(lines).rstrip() + "\n"


def _data(parts: dict, name: str) -> dict:
    return parts.get(name, {}).get("data", {})


def _tests(parts: dict) -> list[str]:
    d = _data(parts, "tests")
    lines = ["## 1. GPU tests (`pytest -m gpu`)", ""]
    if not d:
        return lines + ["Not run.", ""]
    c = d.get("counts", {})
    lines += [f"`{d.get('command', '')}`", "",
              f"{c.get('passed', 0)} passed, {c.get('failed', 0)} failed, {c.get('error', 0)} errors, "
              f"{c.get('skipped', 0)} skipped (exit code {d.get('returncode')}).", ""]  # fmt: skip
    cases = d.get("cases", [])
    skipped = [x for x in cases if x["outcome"] == "skipped"]
    reasons = sorted({x["message"] for x in skipped})
    if skipped:
        lines += [f"Skipped: {len(skipped)} ({'; '.join(reasons)}).", ""]
    ran = [x for x in cases if x["outcome"] != "skipped"]
    if ran:
        lines += _table(["test", "outcome", "seconds", "message"],
                        [[f"`{x['test']}`", x["outcome"], _f(x["seconds"], ".1f"), x["message"].replace("|", "/")]
                         for x in ran])  # fmt: skip
    return lines


def _tuning(parts: dict) -> list[str]:
    d = _data(parts, "tuning")
    lines = ["## 2. Search engine on the device", "", "### Matmul ceilings and host synchronisations", ""]
    if not d:
        return lines + ["Tuning part not run.", ""]
    mm = d.get("matmul_tflops", {})
    lines += [f"Dense matmul, same run: fp32 (IEEE) {_f(mm.get('fp32'))}, TF32 {_f(mm.get('tf32'))}, "
              f"bf16 {_f(mm.get('bf16'))} TFLOP/s.", ""]  # fmt: skip
    for h in d.get("host_syncs", []):
        where = "; ".join(f"{w} x{n}" for w, n in h["where"]) or "none"
        lines.append(f"- host syncs in the step loop, {h['model']} M={h['M']}: **{h['syncs']}** ({where})")
    lines += ["", "### Top-k routes (exact masks of M x N keys, density 0.5)", ""]
    lines += _table(["M", "N", "route", "ms", "same masks as the first route"],
                    [[r["M"], f"{r['N']:,}", r.get("route", ""), _f(r.get("ms")),
                      r.get("same_masks", r.get("error", r.get("skipped", "")))] for r in d.get("topk", [])])  # fmt: skip
    lines += ["### Convolution routes x precision (Conv-4, milliseconds per training step)", ""]
    lines += _table(["route", "precision", "cudnn.benchmark", "ms / step", "speed vs grouped fp32"],
                    [[r["route"], r["precision"], r["cudnn_benchmark"], _f(r.get("step_ms")),
                      _f(r.get("vs_grouped_fp32"), ".2f", r.get("error", r.get("skipped", "")))]
                     for r in d.get("conv_routes", [])])  # fmt: skip
    if d.get("profile_conv4"):
        lines += ["Top operators of three Conv-4 steps (`profile_conv4.txt`):", "", "```",
                  *d["profile_conv4"][:20], "```", ""]  # fmt: skip
    return lines


def _throughput(parts: dict) -> list[str]:
    lines = []
    for name in ("conv4", "resnet18"):
        d = _data(parts, name)
        t = d.get("table")
        lines += [f"### Search throughput: {name}", ""]
        if not t:
            lines += ["Not measured.", ""]
            continue
        lines += [f"Edge-Popup, density 0.5, synthetic {'x'.join(map(str, t['input_shape']))} data, "
                  f"{t['train_rows']} training rows, batch {t['batch_size']}, {t['epochs']} epoch(s), width "
                  f"{t['width_mult']}, {t['precision']}; every row includes building the model and the per-epoch "
                  f"evaluation. This engine one mask at a time: {_f(t.get('loop_masks_per_hour'), ',.0f')} masks/h; "
                  f"plain per-mask loop: {_f(t.get('plain_loop_masks_per_hour'), ',.0f')} masks/h"
                  f"{_plain_precision(t)}. Training "
                  f"FLOPs {_f(t['flops_per_example'] / 1e9, '.3f')} GFLOP per example and mask; same-run fp32 "
                  f"matmul {_f(t.get('matmul_tflops'))} TFLOP/s. Memory estimate "
                  f"{_mib(t.get('estimate_bytes_per_mask'))} MiB per mask; largest M it allows: {t['largest_fit']}.",
                  ""]  # fmt: skip
        rows = []
        for r in t["rows"]:
            if "skipped" in r or "error" in r:
                why = f"skipped: {r['skipped']}" if "skipped" in r else f"error: {_cell(r['error'])}"
                rows.append([r["M"], why, *[""] * 9])
                continue
            rows.append([r["M"], _f(r["seconds"]), _f(r["masks_per_hour"], ",.0f"), _f(r.get("vs_loop")) + "x",
                         _f(r.get("vs_plain")) + "x", _f(r["train_tflops"], ".3f"),
                         _f(r.get("fraction_of_matmul"), ".1%"), _mib(r.get("peak_bytes")),
                         _mib(r.get("bytes_per_mask")), _mib(r.get("marginal_bytes_per_mask")),
                         _f(r["test_acc"], ".3f")])  # fmt: skip
        lines += _table(["M", "seconds", "masks/h", "vs one at a time", "vs plain loop", "train TFLOP/s",
                         "of matmul", "peak MiB", "MiB / mask", "marginal MiB / mask", "test acc"], rows)  # fmt: skip
        prec = d.get("precision_rows")
        if prec:
            lines += ["Precision (same search, same M):", ""]
            lines += _table(["precision", "M", "masks/h", "train TFLOP/s", "of same-precision matmul", "test acc"],
                            [[r["precision"], r.get("M", ""), _f(r.get("masks_per_hour"), ",.0f", _cell(r.get("skipped", r.get("error", "")))),
                              _f(r.get("train_tflops"), ".3f"), _f(r.get("fraction_of_matmul"), ".1%"),
                              _f(r.get("test_acc"), ".3f")] for r in prec])  # fmt: skip
    return lines + _targets(parts)


PRECISION_WORDS = {"fp32": "IEEE float32, TF32 off", "tf32": "TF32", "bf16": "bf16 autocast"}


def _plain_precision(t: dict) -> str:
    """Under which arithmetic the plain loop ran (the engine's, so speed-ups are not arithmetic)."""
    p = t.get("plain_loop_precision")
    return f" (same {p} arithmetic as the engine: {PRECISION_WORDS.get(p, p)})" if p else ""


def _targets(parts: dict) -> list[str]:
    t = _data(parts, "conv4").get("table")
    lines = ["### Targets (Conv-4)", ""]
    rows = [r for r in (t or {}).get("rows", []) if "masks_per_hour" in r and r["M"] >= 32]
    if not rows:
        return lines + ["No Conv-4 row at M >= 32 was measured.", ""]
    for key, label in (("vs_loop", "masks/h vs this engine one mask at a time"),
                       ("vs_plain", "masks/h vs the plain per-mask loop"),
                       ("fraction_of_matmul", "training TFLOP/s as a fraction of the same-run matmul")):  # fmt: skip
        best = max(rows, key=lambda r: r.get(key) or 0)
        value, goal = best.get(key), TARGETS[key]
        verdict = "met" if value is not None and value >= goal else "missed"
        shown = _f(value, ".1%") if key == "fraction_of_matmul" else _f(value) + "x"
        goal_s = f"{goal:.0%}" if key == "fraction_of_matmul" else f"{goal:g}x"
        lines.append(f"- {label}: best {shown} at M = {best['M']} (target >= {goal_s}): **{verdict}**")
    return lines + [""]


def _distances(parts: dict) -> list[str]:
    d = _data(parts, "distances")
    lines = ["## 3. Distances: GPU route against the CPU kernel, same masks", ""]
    if not d.get("cases"):
        return lines + ["Not measured.", ""]
    rows = []
    for c in d["cases"]:
        if "skipped" in c:
            rows.append([c["n"], f"{c['n_weights']:,}", f"skipped: {c['skipped']}", "", "", "", ""])
            continue
        note = f"CPU time extrapolated by pairs from {c['cpu_rows']} masks" if c["cpu_extrapolated"] else ""
        rows.append([c["n"], f"{c['n_weights']:,}", f"{_cell(c['gpu_route'])}: {_f(c['gpu_seconds'], '.3f')}",
                     _f(c["cpu_seconds"], ".3f"), _f(c["speedup"], ".1f") + "x",
                     "identical" if c["identical"] else "**MISMATCH**", note])  # fmt: skip
    if d.get("warmup_seconds") is not None:
        lines += [f"A first small product on the GPU route (CUDA context, kernel loading) took "
                  f"{_f(d['warmup_seconds'], '.3f')} s, outside the timings. The route column is the "
                  "one that ran.", ""]  # fmt: skip
    return lines + _table(
        ["N", "bits per mask", "GPU route s", "CPU numba s", "speed-up", "counts", "note"], rows
    )


def _e2e(parts: dict) -> list[str]:
    d = _data(parts, "e2e")
    lines = ["## 4. End to end: `landscape search --device` then `landscape analyze --barriers`", ""]
    if not d.get("steps"):
        return lines + ["Not run.", ""]
    lines += _table(["step", "exit code", "seconds", "command"],
                    [[s["step"], s["returncode"], _f(s["seconds"], ".1f"), f"`{s['command']}`"] for s in d["steps"]])  # fmt: skip
    if "masks" in d:
        accs = d["test_acc"]
        lines += [f"{d['masks']} masks stored; test accuracy mean {sum(accs) / len(accs):.3f} "
                  f"(min {min(accs):.3f}); {d['barrier_rows']} barrier rows ({', '.join(d['barrier_paths'])}), "
                  f"loss barriers {d['barrier_loss']}.", ""]  # fmt: skip
    for s in d["steps"]:
        if s["returncode"]:
            lines += [f"{s['step']} failed:", "```", s["stderr"][-1200:], "```", ""]
    return lines
