"""Where the pair is still in doubt: an ordinal annotator model and per-clip pair confidence.

Modules: ``data`` (ratings as integer index arrays), ``model`` (the ordinal model per axis, fitted
MAP by L-BFGS), ``posterior`` (Laplace blocks per clip, posterior means/spreads, pair confidence,
the expected gain of one more rating) and ``priority`` (the background fit that writes the
``clip_priority`` table the hand-out reads). The model is documented in docs/stats.md.
"""

from annotate_app.doubt.data import RatingSet, rating_set
from annotate_app.doubt.model import AxisFit, ModelFit, Priors, fit
from annotate_app.doubt.posterior import ClipPosterior, candidate_table, clip_posterior, pair_confidence

__all__ = ["AxisFit", "ClipPosterior", "ModelFit", "Priors", "RatingSet", "candidate_table", "clip_posterior",
           "fit", "pair_confidence", "rating_set"]
