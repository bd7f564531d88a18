"""Statistics of a pair build and the Markdown dataset card written beside every manifest."""

from __future__ import annotations

from curation import _duck

_BAR = 40  # width of the longest histogram bar, in characters


def statistics(con) -> dict:
    """Counts, margin histogram and per-method table, from the temp tables of a build (see curation.pairs.build)."""
    stats = {k: int(v or 0) for k, v in _duck.rows(con, "card_counts")[0].items()}
    stats["margin_histogram"] = [
        {"bin_lo": float(r["bin_lo"]), "bin_hi": float(r["bin_lo"]) + 0.5, "pairs": int(r["pairs"])}
        for r in _duck.rows(con, "card_margins")
    ]
    stats["methods"] = [
        {
            "method": r["method"],
            "candidates": int(r["candidates"]),
            "mean_reward": round(float(r["mean_reward"]), 4),
            "wins": int(r["wins"]),
            "losses": int(r["losses"]),
        }
        for r in _duck.rows(con, "card_methods")
    ]
    return stats


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _win_rate(m: dict) -> str:
    games = m["wins"] + m["losses"]
    return f"{m['wins'] / games:.1%}" if games else "-"


def render_card(name: str, meta: dict, stats: dict) -> str:
    """The dataset card (Markdown) of manifest ``name``: parameters, counts, margin histogram, per-method table."""
    p = meta
    lines = [
        f"# {name}",
        "",
        f"DPO pairs built by `curate build-pairs` (portrait-curate {meta['tool_version']}) on {meta['created_at']}",
        f"from {meta['source']} (sha256 `{meta['source_sha256']}`).",
        "",
        "## Parameters",
        "",
    ]
    weights = ", ".join(f"{k}={v:g}" for k, v in p["weights"].items())
    lines += _table(
        ["strategy", "min margin", "weights", "aggregate", "min raters", "gold clips"],
        [[p["strategy"], f"{p['min_margin']:g}", weights, p["aggregate"], p["min_raters"],
          "included" if p["include_gold"] else "excluded"]],
    )
    s = stats
    lines += ["", "## Counts", ""]
    lines += _table(
        ["what", "count"],
        [
            ["ratings", s["rating_rows"]],
            ["clips rated", s["clips"]],
            ["candidates rated", s["candidates"]],
            ["excluded: marked broken by an annotator", s["excluded_broken"]],
            ["excluded: candidate failed or flagged", s["excluded_failed_flagged"]],
            ["excluded: gold clip", s["excluded_gold"]],
            [f"excluded: fewer than {p['min_raters']} ratings", s["excluded_few_raters"]],
            ["candidates paired from (eligible)", s["eligible_candidates"]],
            ["clips with at least one pair", s["clips_with_pairs"]],
            ["pairs", s["pairs"]],
        ],
    )
    lines += ["", "## Margin histogram", "", "Reward margin (winner - loser) in bins of 0.5.", ""]
    top = max((b["pairs"] for b in s["margin_histogram"]), default=0)
    lines += _table(
        ["margin", "pairs", ""],
        [[f"[{b['bin_lo']:g}, {b['bin_hi']:g})", b["pairs"], "#" * max(1, round(_BAR * b["pairs"] / top))]
         for b in s["margin_histogram"]],
    )
    lines += ["", "## Per method", ""]
    lines += _table(
        ["method", "eligible candidates", "mean reward", "wins", "losses", "win rate"],
        [[m["method"], m["candidates"], f"{m['mean_reward']:.3f}", m["wins"], m["losses"], _win_rate(m)]
         for m in s["methods"]],
    )
    if meta.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in meta["notes"]]
    return "\n".join(lines) + "\n"
