"""`build-pairs --reward model`: pairs from the annotator model's posterior means, and each pair's confidence.

The world: 40 background clips of 3 candidates rated by three careful annotators (a0-a2, the true score, one
point off now and then) and by a3, who answers the reverse (6 - true score). On clip T the careful three say
A=4, B=3, C=2 on both axes; a3 says A=1, B=1, C=5. Plain means: A = (12+1)/4 = 3.25, B = (9+1)/4 = 2.5,
C = (6+5)/4 = 2.75, so best-vs-worst is A vs B. The model learns from the background that a3's scores run
against everyone else's (slope <= 0), so a3's low B and high C carry no weight towards "C good": the careful
three's order stands and the pair is A vs C.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.stats import multivariate_normal

from curation.pairs.build import build_pairs
from curation.pairs.config import BuildPairsConfig
from tests.fixtures.pairs_data import rating, write_ratings
from tests.fixtures.pairs_workspace import populate


def _world() -> list[dict]:
    rng = np.random.default_rng(7)
    rows = []
    for c in range(40):
        truth = rng.permutation([1, 2, 3, 4, 5])[:3]
        for i, t in enumerate(truth):
            for j in range(3):
                s = int(np.clip(t + (rng.random() < 0.15) * rng.choice([-1, 1]), 1, 5))
                rows.append(rating(f"b{c:02d}", f"m{i}", f"a{j}", s, s))
            rows.append(rating(f"b{c:02d}", f"m{i}", "a3", int(6 - t), int(6 - t)))
    for method, careful, reverse in (("A", 4, 1), ("B", 3, 1), ("C", 2, 5)):
        rows += [rating("T", method, f"a{j}", careful, careful) for j in range(3)]
        rows.append(rating("T", method, "a3", reverse, reverse))
    return rows


@pytest.fixture(scope="module")
def ratings_file(tmp_path_factory):
    return write_ratings(tmp_path_factory.mktemp("reward") / "ratings.parquet", _world())


def _pair(table, clip="T"):
    row = next(r for r in table.to_pylist() if r["clip_id"] == clip)
    return row["winner_candidate_id"], row["loser_candidate_id"], row["confidence"]


def test_plain_mean_pairs_a_with_b_and_leaves_confidence_null(ratings_file):
    w, l, conf = _pair(build_pairs(BuildPairsConfig(), ratings=ratings_file).manifest)
    assert (w, l, conf) == ("T:A", "T:B", None)


def _orthant(mean, cov, best, worst, mid):
    """P(x_best > x_mid > x_worst) by scipy's multivariate normal CDF (3 candidates: best and worst fix the order)."""
    # y = (x_mid - x_best, x_worst - x_mid) < 0
    a = np.zeros((2, 3))
    a[0, mid], a[0, best], a[1, worst], a[1, mid] = 1, -1, 1, -1
    return multivariate_normal(a @ mean, a @ cov @ a.T).cdf(np.zeros(2))


def test_model_reward_pairs_a_with_c_and_confidence_matches_the_posterior(ratings_file):
    from annotate_app.doubt import fit, rating_set
    from annotate_app.doubt.posterior import clip_posterior

    result = build_pairs(BuildPairsConfig(reward="model"), ratings=ratings_file)
    w, l, conf = _pair(result.manifest)
    assert (w, l) == ("T:A", "T:C")
    # The same fit, integrated exactly by scipy instead of the manifest's 4000 draws.
    df = pq.read_table(ratings_file).to_pandas()
    m = fit(rating_set(df))
    post = clip_posterior(m)
    ids = list(m.data.cand_ids)
    for g, cands in enumerate(post.cands):
        rows = [r for r in range(len(cands)) if ids[cands[r][0]].startswith("T:")]
        if rows:
            r = rows[0]
            names = [ids[i] for i in cands[r]]
            exact = _orthant(post.mean[g][r], post.cov[g][r], names.index("T:A"), names.index("T:C"),
                             names.index("T:B"))
    assert conf == pytest.approx(exact, abs=0.02)
    assert 0.5 < conf < 1.0
    # A background clip rated the same by all careful three: confident.
    confs = [r["confidence"] for r in result.manifest.to_pylist()]
    assert np.median(confs) > 0.8


def test_min_margin_lowers_the_confidence(ratings_file):
    base = _pair(build_pairs(BuildPairsConfig(reward="model"), ratings=ratings_file).manifest)[2]
    wide = _pair(build_pairs(BuildPairsConfig(reward="model", min_margin=1.0), ratings=ratings_file).manifest)[2]
    assert wide < base


def test_reward_model_refuses_another_aggregate():
    with pytest.raises(ValueError, match="reward 'model' replaces the aggregate"):
        BuildPairsConfig(reward="model", aggregate="median")


def test_cli_reward_model_on_a_store(workspace, sample_manifest, cli):
    """The pairs_workspace store: sample-001 good (14/3) vs bad (4/3), every rater agreeing on the order: the
    same pair as the plain mean, confidence high; sample-002 (mid and bad tied in plain means, 0.67 below good)
    is not a pair at --min-margin 1 under either reward."""
    populate(workspace)
    out = workspace.path("m.parquet")
    r = cli("build-pairs", "-w", workspace.root, "--reward", "model", "--min-margin", "1", "--out", str(out))
    assert r.exit_code == 0, r.output
    rows = pq.read_table(out).to_pylist()
    assert [(x["winner_candidate_id"], x["loser_candidate_id"]) for x in rows] == [("sample-001:good",
                                                                                    "sample-001:bad")]
    assert rows[0]["confidence"] > 0.9
