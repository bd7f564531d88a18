"""Every figure of ``compute_stats`` on the hand-worked campaign of tests/fixtures/stats_seed.py (k = 2).

Runs on SQLite and PostgreSQL (the ``workspace`` fixture).
"""

from __future__ import annotations

import json

import pytest

from annotate_app.stats import StatsConfig, compute_stats, stats_and_frames, stats_frames
from storage.workspace import init
from tests.fixtures.stats_seed import K, scratch_database, seed


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def st(request, tmp_path_factory):
    """The figures, computed once per backend: the tests below only read them."""
    if request.param == "postgres":
        request.getfixturevalue("pg_available")
    folder = tmp_path_factory.mktemp(f"stats_{request.param}")
    with scratch_database(request.param, folder) as url:
        ws = init(folder / "ws", db=url)
        seed(ws)
        store = ws.open_store()
        try:
            yield compute_stats(store, K)
        finally:
            store.dispose()


def test_output_is_strict_json(st):
    assert json.loads(json.dumps(st, allow_nan=False)) == st  # no NaN, no Timestamp, no numpy types


def test_progress_overall_and_per_clip(st):
    # ready candidates: 6 (c4:m2 failed; c2:m2 flagged by alice's broken report); needed 6 * 2 = 12; done toward k:
    # c1 2+2, c2 1, c3 2+2, c4 0 = 9 -> 9/12 = 0.75
    assert st["ratings"] == 13
    assert st["progress"] == {
        "overlap": 2, "ratings_needed": 12, "ratings_done_toward_overlap": 9, "progress": 0.75,
        "clips": 4, "clips_complete": 2, "clips_in_progress": 1, "clips_not_started": 1,
    }
    clips = {c["clip_id"]: c for c in st["clips"]}
    assert {k: clips["c1"][k] for k in (
        "candidates", "ratings", "annotators", "min_ratings", "done", "needed", "progress", "complete", "is_gold")} == {
        "candidates": 2, "ratings": 5, "annotators": 3, "min_ratings": 2, "done": 4, "needed": 4, "progress": 1.0,
        "complete": True, "is_gold": False}
    assert (clips["c2"]["progress"], clips["c2"]["min_ratings"], clips["c2"]["complete"]) == (0.5, 1, False)
    assert (clips["c3"]["is_gold"], clips["c3"]["ratings"], clips["c3"]["complete"]) == (True, 6, True)
    assert (clips["c4"]["candidates"], clips["c4"]["ratings"], clips["c4"]["progress"]) == (1, 0, 0.0)
    # least complete first
    assert [c["clip_id"] for c in st["clips"]] == ["c4", "c2", "c1", "c3"]


def test_progress_per_annotator(st):
    anns = {a["annotator_id"]: a for a in st["annotators"]}
    assert set(anns) == {"alice", "bob", "carol", "zed"}
    cols = ("ratings", "clips_rated", "assignments_leased", "assignments_done", "assignments_released")
    assert {n: tuple(anns[n][c] for c in cols) for n in anns} == {
        "alice": (6, 3, 1, 2, 0), "bob": (4, 2, 0, 1, 1), "carol": (3, 2, 0, 0, 0), "zed": (0, 0, 0, 0, 0)}
    assert anns["zed"]["role"] == "admin" and anns["zed"]["first_rating_at"] is None
    assert anns["alice"]["first_rating_at"].startswith("2026-01-05T09:00:00")


def test_throughput_counts_work_gaps_and_skips_imports(st):
    # alice: gaps 60, 60, [3 h break], 30, 60 -> 4 gaps in 210 s -> 4 * 3600 / 210 = 68.57/h
    tp = st["throughput"]
    assert tp["annotators"] == [{"annotator_id": "alice", "ratings": 6, "active_hours": 0.0583,
                                 "ratings_per_hour": 68.57, "median_seconds_per_rating": 60.0}]
    assert tp["overall"]["ratings_per_hour"] == 68.57 and tp["overall"]["ratings"] == 6
    assert tp["overall"]["first_at"].startswith("2026-01-05T09:00:00")
    assert tp["overall"]["skipped_sources"] == ["import", "labelstudio"]


def test_score_distributions_per_annotator(st):
    alice = st["scores_by_annotator"]["alice"]
    # alignment 4,2,5,3,1,4: mean 19/6; sum of squares 71 -> var (71 - 361/6)/5 = 2.1667
    assert alice["alignment"] == {"n": 6, "counts": {"1": 1, "2": 1, "3": 1, "4": 2, "5": 1},
                                  "mean": 3.1667, "std": 1.472}
    # fidelity 5,2,5,3,4,4: mean 23/6; var (95 - 529/6)/5 = 1.3667
    assert alice["fidelity"] == {"n": 6, "counts": {"1": 0, "2": 1, "3": 1, "4": 2, "5": 2},
                                 "mean": 3.8333, "std": 1.169}
    # bob alignment 4,2,3,4: mean 3.25, var (45 - 42.25)/3
    assert (st["scores_by_annotator"]["bob"]["alignment"]["mean"],
            st["scores_by_annotator"]["bob"]["alignment"]["std"]) == (3.25, 0.9574)
    assert "zed" not in st["scores_by_annotator"]


def test_score_distributions_per_method_with_composite(st):
    m1, m2 = st["scores_by_method"]["m1"], st["scores_by_method"]["m2"]
    # m1 alignment 4,4,3,5,1,3,2; fidelity 5,4,4,5,4,4,2; composite 4.5,4,3.5,5,2.5,3.5,2
    assert m1["alignment"]["counts"] == {"1": 1, "2": 1, "3": 2, "4": 2, "5": 1}
    assert (m1["alignment"]["mean"], m1["fidelity"]["mean"], m1["composite"]["mean"]) == (3.1429, 4.0, 3.5714)
    assert m1["composite"]["counts"] == {"1": 0, "1.5": 0, "2": 1, "2.5": 1, "3": 0, "3.5": 2, "4": 1, "4.5": 1, "5": 1}
    assert m1["candidates"] == 3
    # m2 alignment 2,2,3,4,4,5; fidelity 2,3,3,4,4,5; composite 2,2.5,3,4,4,5
    assert (m2["alignment"]["mean"], m2["fidelity"]["mean"], m2["composite"]["mean"]) == (3.3333, 3.5, 3.4167)


def test_agreement_ordinal_alpha_hand_worked(st):
    ag = st["agreement"]
    # Non-gold units with 2+ ratings: c1:m1 and c1:m2 (worked out in tests/annotate_app/stats/test_alpha.py):
    # alignment (4,4,3),(2,2) -> 0.8; fidelity (5,4,4),(2,3) -> 69/95; composite (9,8,7),(4,5) -> 0.68
    assert ag["alignment"]["alpha"] == 0.8 and ag["alignment"]["interpretation"] == "reliable"
    assert ag["fidelity"]["alpha"] == round(69 / 95, 4) and ag["fidelity"]["interpretation"] == "tentative"
    assert ag["composite"]["alpha"] == 0.68 and ag["composite"]["interpretation"] == "tentative"
    assert (ag["alignment"]["units"], ag["alignment"]["annotators"], ag["alignment"]["pairable_values"]) == (2, 3, 5)
    assert ag["gold_included"] is False


def test_gold_accuracy(st):
    # gold c3:m1 expects alignment 1-2: alice (1,4) pass, bob (3,4) fail, carol (2,2) pass
    assert st["gold"]["answers"] == 1 and st["gold"]["gold_clips"] == 1
    assert st["gold"]["annotators"] == [
        {"annotator_id": "alice", "gold_ratings": 1, "passed": 1, "accuracy": 1.0, "alignment_passed": 1,
         "fidelity_passed": 1, "below_threshold": False},
        {"annotator_id": "bob", "gold_ratings": 1, "passed": 0, "accuracy": 0.0, "alignment_passed": 0,
         "fidelity_passed": 1, "below_threshold": True},
        {"annotator_id": "carol", "gold_ratings": 1, "passed": 1, "accuracy": 1.0, "alignment_passed": 1,
         "fidelity_passed": 1, "below_threshold": False},
    ]


def test_flagged_and_over_assigned(st):
    assert st["flagged"]["candidates"] == 1
    assert st["flagged"]["items"] == [{"candidate_id": "c2:m2", "clip_id": "c2", "method": "m2", "status": "flagged",
                                       "ratings": 1, "flagged_by": 1, "comments": ["frozen frames"], "share": 1.0}]
    # non-gold rated candidates: c1:m1 (3), c1:m2 (2), c2:m1 (1), c2:m2 (1); only c1:m1 exceeds k=2.
    # c3:m1/c3:m2 have 3 too, but gold clips are handed to everyone on purpose.
    assert st["over_assigned"] == {"overlap": 2, "candidates_rated": 4, "over_assigned": 1, "share": 0.25,
                                   "extra_ratings": 1, "max_ratings": 3,
                                   "items": [{"candidate_id": "c1:m1", "clip_id": "c1", "method": "m1", "ratings": 3}]}


def test_alpha_with_gold_included_uses_more_units(workspace):
    seed(workspace)
    store = workspace.open_store()
    try:
        st = compute_stats(store, K, StatsConfig(overlap=K, alpha_include_gold=True))
    finally:
        store.dispose()
    assert st["agreement"]["alignment"]["units"] == 4 and st["agreement"]["gold_included"] is True


def test_frames_for_plots(workspace):
    seed(workspace)
    store = workspace.open_store()
    try:
        f = stats_frames(store, overlap=K)
    finally:
        store.dispose()
    assert {"ratings", "clips", "annotators", "throughput", "ratings_by_hour", "scores_by_annotator",
            "scores_by_method", "gold_answers", "gold_accuracy", "flagged", "over_assigned"} <= set(f)
    long = f["scores_by_method"]
    m1_align = long[(long["method"] == "m1") & (long["axis"] == "alignment")].set_index("score")["count"].to_dict()
    assert m1_align == {1: 1, 2: 1, 3: 2, 4: 2, 5: 1}
    # 5 + 9 + 9 rows per method (alignment, fidelity, composite domains), 2 methods
    assert len(long) == 2 * (5 + 5 + 9)
    by_hour = f["ratings_by_hour"]
    assert by_hour["ratings"].sum() == 13
    alice = by_hour[by_hour["annotator_id"] == "alice"].set_index("hour")["ratings"]
    assert alice.to_dict() == {alice.index[0]: 3, alice.index[1]: 3}  # 09:00 and 12:00 UTC
    assert [h.hour for h in alice.index] == [9, 12]


def test_empty_store_gives_nulls_not_errors(workspace):
    store = workspace.open_store()
    try:
        st = compute_stats(store, 3)
    finally:
        store.dispose()
    assert json.loads(json.dumps(st, allow_nan=False)) == st
    assert st["ratings"] == 0 and st["progress"]["progress"] == 0.0
    assert st["agreement"]["alignment"]["alpha"] is None
    assert "at least 2 annotators" in st["agreement"]["alignment"]["reason"]
    assert st["throughput"]["overall"]["ratings_per_hour"] is None
    assert st["over_assigned"]["share"] == 0.0 and st["flagged"]["items"] == []


def test_stats_and_frames_reads_once_and_agrees(workspace):
    seed(workspace)
    store = workspace.open_store()
    try:
        fig, frames = stats_and_frames(store, K)
        alone = compute_stats(store, K)
    finally:
        store.dispose()
    assert {k: v for k, v in fig.items() if k != "generated_at"} == {
        k: v for k, v in alone.items() if k != "generated_at"}
    assert len(frames["clips"]) == 4 and frames["over_assigned"]["candidate_id"].tolist() == ["c1:m1"]


def test_timed_sources_are_configurable(workspace):
    seed(workspace)
    store = workspace.open_store()
    try:
        st = compute_stats(store, K, StatsConfig(overlap=K, throughput_skip_sources=()))
    finally:
        store.dispose()
    # bob's and carol's imported ratings now count (their rates are meaningless: microseconds apart,
    # the time of the import, which is why "import" is skipped by default); alice's rate is unchanged
    rates = {t["annotator_id"]: t["ratings_per_hour"] for t in st["throughput"]["annotators"]}
    assert set(rates) == {"alice", "bob", "carol"} and rates["alice"] == 68.57
    assert st["throughput"]["overall"]["ratings"] == 13
