"""Per-method table (mean and 95 % interval over clips), JSON summary, per-clip Parquet."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

# (column, header, better): the order and arrows of the paper's tables
PER_CLIP = [
    ("sync_c", "Sync-C", "up"),
    ("sync_d", "Sync-D", "down"),
    ("psnr", "PSNR", "up"),
    ("ssim", "SSIM", "up"),
    ("lpips", "LPIPS", "down"),
    ("hkc", "HKC", "up"),
    ("hkv", "HKV", "up"),
]
PER_METHOD = [("fid", "FID", "down"), ("fvd", "FVD", "down")]
ARROW = {"up": "\u2191", "down": "\u2193"}


def mean_ci(values) -> dict[str, float]:
    """Mean and Student-t 95 % interval over clips (NaN dropped); no interval (None) below 2 clips."""
    from scipy import stats

    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=float)
    n = len(v)
    if n == 0:
        return {"n": 0, "mean": None, "ci_low": None, "ci_high": None}
    mean = float(v.mean())
    if n < 2 or not np.isfinite(v).all():  # PSNR of identical frames is inf: a mean, but no interval
        return {"n": n, "mean": mean, "ci_low": None, "ci_high": None}
    half = float(stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return {"n": n, "mean": mean, "ci_low": mean - half, "ci_high": mean + half}


def summarise(result) -> dict:
    """{"methods": {method: {metric: {n, mean, ci_low, ci_high} | {"value"}}}, "skipped": [...]}."""
    methods: dict[str, dict] = {}
    for method in sorted({r["method"] for r in result.rows}):
        rows = [r for r in result.rows if r["method"] == method]
        entry = {"clips": len(rows)}
        for col, _, _ in PER_CLIP:
            vals = [r.get(col) for r in rows]
            if any(v is not None for v in vals):
                entry[col] = mean_ci(vals)
        for col, _, _ in PER_METHOD:
            if col in result.distribution.get(method, {}):
                entry[col] = {"value": result.distribution[method][col]}
        notes: dict[str, int] = {}  # why a clip lacks a metric, or what was done to it: shown under the table
        for r in rows:
            for note in filter(None, (r.get("note") or "").split("; ")):
                notes[note] = notes.get(note, 0) + 1
        if notes:
            entry["notes"] = notes
        methods[method] = entry
    return {"methods": methods, "skipped": [{"metric": s.metric, "reason": s.reason} for s in result.skips]}


def finite(obj):
    """``obj`` with every NaN/inf float replaced by None, so the JSON stays standard."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _cell(stat: dict | None) -> str:
    if stat is None or stat.get("value", stat.get("mean")) is None:
        return "-"
    if "value" in stat:
        return f"{stat['value']:.3f}"
    if not math.isfinite(stat["mean"]):
        return str(stat["mean"])
    if stat["ci_low"] is None:
        return f"{stat['mean']:.3f}"
    return f"{stat['mean']:.3f} \u00b1 {(stat['ci_high'] - stat['ci_low']) / 2:.3f}"


def table(summary: dict) -> str:
    """A fixed-width text table: one row per method, one column per metric that has a value."""
    cols = [
        (c, h, b) for c, h, b in PER_CLIP + PER_METHOD if any(c in m for m in summary["methods"].values())
    ]
    header = ["method", "clips"] + [f"{h} {ARROW[b]}" for _, h, b in cols]
    body = [
        [name, str(m["clips"])] + [_cell(m.get(c)) for c, _, _ in cols]
        for name, m in summary["methods"].items()
    ]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() for r in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("(mean \u00b1 half-width of the 95 % interval over clips; FID/FVD per method)")
    for name, m in summary["methods"].items():
        for note, n in m.get("notes", {}).items():
            lines.append(f"{name}: {n} of {m['clips']} clips: {note}")
    return "\n".join(lines)


def write_outputs(result, summary: dict, out: Path) -> dict[str, Path]:
    """per_clip.parquet and summary.json in ``out``, each written under a temp name and renamed."""
    import pandas as pd
    import pyarrow as pa

    from storage.parquet import write_parquet_atomic, write_text_atomic

    out.mkdir(parents=True, exist_ok=True)
    cols = [
        "method",
        "clip_id",
        "candidate_id",
        "video",
        "reference",
        "frames",
        "seconds",
        *[c for c, _, _ in PER_CLIP],
        "sync_offset",
        "sync_tracks",
        "note",
    ]
    df = pd.DataFrame(result.rows).reindex(columns=cols)
    for c in [c for c, _, _ in PER_CLIP] + ["sync_offset", "sync_tracks", "seconds"]:
        df[c] = df[c].astype("float64")
    table_ = pa.Table.from_pandas(df, preserve_index=False)
    paths = {
        "per_clip": write_parquet_atomic(table_, out / "per_clip.parquet", {"curate_eval": finite(summary)})
    }
    paths["summary"] = write_text_atomic(
        out / "summary.json", json.dumps(finite(summary), indent=2, allow_nan=False) + "\n"
    )
    return paths
