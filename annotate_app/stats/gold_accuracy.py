"""Gold accuracy: how often each annotator's ratings of gold clips land inside the known answers.

It lives with the other figures (not in ``annotate_app.gold``, which marks and imports the
answers) so the import runs one way: stats reads gold's answers, gold never reads stats.
"""

from __future__ import annotations

import pandas as pd

from storage import AXES


def gold_accuracy(ratings: pd.DataFrame, answers: pd.DataFrame, min_accuracy: float = 0.8) -> list[dict]:
    """Per annotator, the share of their gold ratings inside the expected ranges (both axes).

    ``ratings`` has annotator_id, candidate_id, alignment, fidelity; ``answers`` is
    :func:`gold_answers_frame`. Annotators without gold ratings are left out.
    ``below_threshold`` marks accuracy under ``min_accuracy`` (the usual rule: retrain
    or exclude someone who fails more than ~20% of gold checks).
    """
    cols = ["candidate_id"] + [f"{a}_{e}" for a in AXES for e in ("min", "max")]
    df = ratings.merge(answers[cols], on="candidate_id", how="inner")
    out = []
    for name, g in df.groupby("annotator_id", sort=True):
        ok = {a: g[a].between(g[f"{a}_min"], g[f"{a}_max"]) for a in AXES}
        passed = int((ok["alignment"] & ok["fidelity"]).sum())
        acc = passed / len(g)
        out.append({
            "annotator_id": name, "gold_ratings": len(g), "passed": passed, "accuracy": round(acc, 4),
            "alignment_passed": int(ok["alignment"].sum()), "fidelity_passed": int(ok["fidelity"].sum()),
            "below_threshold": acc < min_accuracy,
        })
    return out
