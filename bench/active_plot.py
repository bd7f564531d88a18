"""The accuracy-vs-ratings curve of bench/active.py as a small SVG (matplotlib is not a dependency)."""

from __future__ import annotations

from pathlib import Path

W, H, PAD = 560, 360, 50
COLOURS = {"(a)": "#888888", "(b)": "#1f77b4", "(c)": "#d62728"}


def _series(rows: list[dict]) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        key = r["policy"][:3]
        out.setdefault(key, []).append((r["ratings_per_clip"], r["pair_acc"]))
    return {k: sorted(v) for k, v in out.items()}


def write_svg(rows: list[dict], path: Path) -> None:
    series = _series(rows)
    xs = [x for s in series.values() for x, _ in s]
    ys = [y for s in series.values() for _, y in s]
    x0, x1, y0, y1 = 0.0, max(xs), min(ys) - 0.02, min(1.0, max(ys) + 0.02)

    def px(x, y):
        return PAD + (x - x0) / (x1 - x0) * (W - 2 * PAD), H - PAD - (y - y0) / (y1 - y0) * (H - 2 * PAD)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
             f'<rect width="{W}" height="{H}" fill="white"/>',
             f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="black"/>',
             f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="black"/>',
             f'<text x="{W / 2}" y="{H - 12}" text-anchor="middle">ratings per clip</text>',
             f'<text x="14" y="{H / 2}" transform="rotate(-90 14 {H / 2})" text-anchor="middle">pair accuracy</text>']
    for k in range(int(x1) + 1):
        x, y = px(k, y0)
        parts.append(f'<text x="{x}" y="{y + 16}" text-anchor="middle">{k}</text>')
    for i in range(5):
        yv = y0 + i * (y1 - y0) / 4
        x, y = px(x0, yv)
        parts.append(f'<text x="{x - 6}" y="{y + 4}" text-anchor="end">{yv:.2f}</text>')
    labels = {"(a)": "(a) uniform, plain means", "(b)": "(b) uniform, model", "(c)": "(c) active + model"}
    for n, (key, pts) in enumerate(series.items()):
        colour = COLOURS.get(key, "black")
        path_d = " ".join(f"{'M' if i == 0 else 'L'}{px(x, y)[0]:.1f},{px(x, y)[1]:.1f}" for i, (x, y) in enumerate(pts))
        parts.append(f'<path d="{path_d}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{PAD + 10}" y="{PAD + 14 * n}" fill="{colour}">{labels.get(key, key)}</text>')
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")
