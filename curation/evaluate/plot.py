"""``plot.png``: one panel per metric, each method's mean with its 95 % interval over clips (FID/FVD: one value).

matplotlib renders off-screen (Agg) and is imported only here, so `curate eval` without the
``[eval]`` extra still writes the table, JSON and Parquet.
"""

from __future__ import annotations

from pathlib import Path

from curation.evaluate.report import ARROW, PER_CLIP, PER_METHOD
from storage.atomic import atomic_write


def panels(summary: dict) -> list[tuple[str, list[str], list[float], list[float | None]]]:
    """(title, methods, means, half-widths) per metric that has a value; a half-width is None without an interval."""
    out = []
    for col, head, better in PER_CLIP + PER_METHOD:
        names, means, halves = [], [], []
        for name, m in summary["methods"].items():
            cell = m.get(col)
            value = None if cell is None else cell.get("mean", cell.get("value"))
            if value is None:
                continue
            names.append(name)
            means.append(float(value))
            lo, hi = (cell.get("ci_low"), cell.get("ci_high")) if "mean" in cell else (None, None)
            halves.append(None if lo is None or hi is None else (hi - lo) / 2)
        if names:
            out.append((f"{head} {ARROW[better]}", names, means, halves))
    return out


def write_plot(summary: dict, path: Path) -> Path | None:
    """Draw the panels into ``path`` (temp name, then rename); None when no metric has a value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = panels(summary)
    if not rows:
        return None
    fig, axes = plt.subplots(1, len(rows), figsize=(2.6 * len(rows) + 1, 3.2), squeeze=False)
    for ax, (title, names, means, halves) in zip(axes[0], rows):
        errs = [h if h is not None else 0.0 for h in halves]
        ax.bar(range(len(names)), means, yerr=errs, capsize=3, color="#4c72b0")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    finally:
        plt.close(fig)
    return path
