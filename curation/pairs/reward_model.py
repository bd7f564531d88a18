"""``--reward model``: rewards from the annotator model's posterior means, and a confidence per pair.

The plain mean weighs a careless annotator like a careful one; the ordinal model (``annotate_app.doubt``)
estimates each annotator's bias and reliability from all of a round's ratings and gives every candidate a
posterior mean and spread per axis. The means replace the per-axis aggregate (``scores_model.sql``); pairing
then follows the same queries as every other aggregate. The confidence column is the posterior probability
of each pair (``annotate_app.doubt.posterior.pair_probability``): for best-vs-worst, that the winner is the
clip's best and the loser its worst with a gap of at least ``--min-margin``; for the other strategies,
that the winner beats the loser by at least ``--min-margin``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from curation import _duck
from storage.errors import CurateError

# Gold answers as anchors (with --include-gold only: gold clips are not paired otherwise). Natural keys only.
STORE_GOLD = """
SELECT cd.candidate_id, g.alignment_min, g.alignment_max, g.fidelity_min, g.fidelity_max
FROM gold_answers g JOIN candidates cd ON cd.id = g.candidate_pk
"""


@dataclass
class ModelReward:
    fit: object  # annotate_app.doubt.ModelFit
    posterior: object  # annotate_app.doubt.ClipPosterior of the weighted composite


def _gold(store) -> pd.DataFrame | None:
    if store is None:
        return None
    from sqlalchemy import text

    with store.session() as s:
        rows = s.execute(text(STORE_GOLD)).all()
    return pd.DataFrame(rows, columns=["candidate_id", "alignment_min", "alignment_max", "fidelity_min",
                                       "fidelity_max"])


def register_model_scores(con, params: dict, weights: dict[str, float], store, include_gold: bool) -> ModelReward:
    """Fit the model to the eligible candidates' ratings and expose its means as table ``model_scores``."""
    from annotate_app.doubt import fit, rating_set
    from annotate_app.doubt.posterior import candidate_table, clip_posterior

    df = _duck.frame(con, "model_ratings", params)
    if df.empty:
        raise CurateError("--reward model: no eligible ratings to fit the annotator model to.")
    m = fit(rating_set(df, gold=_gold(store) if include_gold else None))
    tab = candidate_table(m)
    scores = pd.DataFrame({"candidate_id": tab["candidate_id"].astype(str),
                           "alignment": tab["alignment_mean"], "fidelity": tab["fidelity_mean"]})
    con.register("model_scores", scores)
    return ModelReward(m, clip_posterior(m, weights))


def confidence_column(reward: ModelReward | None, manifest: pa.Table, strategy: str, min_margin: float) -> pa.Array:
    """The manifest's ``confidence`` column: the pair's posterior probability (null without --reward model)."""
    if reward is None or manifest.num_rows == 0:
        return pa.nulls(manifest.num_rows, pa.float64())
    from annotate_app.doubt.posterior import pair_probability

    index = pd.Index(reward.fit.data.cand_ids)
    win = index.get_indexer(manifest.column("winner_candidate_id").to_pylist())
    lose = index.get_indexer(manifest.column("loser_candidate_id").to_pylist())
    prob = pair_probability(reward.posterior, len(index), win, lose, min_margin, strategy == "best-vs-worst")
    return pa.array(np.round(prob, 4), pa.float64())
