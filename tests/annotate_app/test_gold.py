"""Gold answers: range parsing, accuracy by hand, and the store operations on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from annotate_app.gold import (
    GoldSpec,
    ScoreRange,
    gold_answers_frame,
    import_gold,
    mark_gold,
    parse_range,
    unmark_gold,
)
from annotate_app.stats import gold_accuracy
from storage import CandidateStatus, Clip
from storage.errors import CurateError
from storage.models import GoldAnswer
from tests.fixtures.stats_seed import add_clips


@pytest.mark.parametrize("value,expected", [("1-2", (1, 2)), (" 4 - 5 ", (4, 5)), ("5", (5, 5)), ("", (1, 5)),
                                            (None, (1, 5)), ("3-3", (3, 3))])
def test_parse_range(value, expected):
    r = parse_range(value, "--alignment")
    assert (r.lo, r.hi) == expected


@pytest.mark.parametrize("value", ["4-2", "0-3", "1-6", "6", "a-b", "1-2-3", "-1", "1.5-2"])
def test_parse_range_rejects(value):
    with pytest.raises(CurateError, match="--fidelity"):
        parse_range(value, "--fidelity")


def test_score_range_validates_itself():
    with pytest.raises(ValueError, match="4-2"):
        ScoreRange(4, 2)


def test_spec_needs_a_range():
    with pytest.raises(CurateError, match="checks nothing"):
        GoldSpec("c1", "m1")


def test_gold_accuracy_by_hand():
    answers = pd.DataFrame({"candidate_id": ["g1", "g2"], "alignment_min": [1, 4], "alignment_max": [2, 5],
                            "fidelity_min": [1, 1], "fidelity_max": [5, 2]})
    ratings = pd.DataFrame({
        "annotator_id": ["ann", "ann", "ann", "ben", "ben"],
        "candidate_id": ["g1", "g2", "x", "g1", "g2"],
        "alignment": [2, 4, 1, 3, 5],
        "fidelity": [5, 3, 1, 1, 2],
    })
    # ann: g1 (2,5) pass; g2 (4,3) fidelity out -> 1/2; "x" is not gold. ben: g1 align 3 out; g2 (5,2) pass -> 1/2
    acc = gold_accuracy(ratings, answers, min_accuracy=0.5)
    assert acc == [
        {"annotator_id": "ann", "gold_ratings": 2, "passed": 1, "accuracy": 0.5, "alignment_passed": 2,
         "fidelity_passed": 1, "below_threshold": False},
        {"annotator_id": "ben", "gold_ratings": 2, "passed": 1, "accuracy": 0.5, "alignment_passed": 1,
         "fidelity_passed": 2, "below_threshold": False},
    ]
    assert all(a["below_threshold"] for a in gold_accuracy(ratings, answers, min_accuracy=0.8))


def _store_with_clips(workspace):
    s = workspace.open_store()
    add_clips(s, {"c1": {"m1": CandidateStatus.ready, "m2": CandidateStatus.ready}, "c2": {"m1": CandidateStatus.ready}})
    return s


@pytest.fixture
def store(workspace):
    """On SQLite and PostgreSQL."""
    s = _store_with_clips(workspace)
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(sqlite_workspace):
    """SQLite only: for the many input-validation cases, which do not depend on the database."""
    s = _store_with_clips(sqlite_workspace)
    yield s
    s.dispose()


def _is_gold(store, clip_id):
    with store.session() as s:
        return s.scalar(select(Clip.is_gold).where(Clip.clip_id == clip_id))


def test_mark_update_unmark(store):
    spec = GoldSpec("c1", "c1:m1", alignment=ScoreRange(1, 2), note="audio shifted 0.4 s")
    assert mark_gold(store, spec) == "added" and _is_gold(store, "c1") and not _is_gold(store, "c2")
    assert mark_gold(store, spec) == "unchanged"
    # by method name; new ranges replace the old ones
    assert mark_gold(store, GoldSpec("c1", "m1", alignment=ScoreRange(1, 1))) == "updated"
    assert mark_gold(store, GoldSpec("c1", "m2", fidelity=ScoreRange(4, 5))) == "added"
    df = gold_answers_frame(store)
    assert df[["candidate_id", "alignment_min", "alignment_max", "fidelity_min", "fidelity_max"]].values.tolist() == [
        ["c1:m1", 1, 1, 1, 5], ["c1:m2", 1, 5, 4, 5]]
    assert unmark_gold(store, "c1", candidate="m1") == 1 and _is_gold(store, "c1")  # m2's answer remains
    assert unmark_gold(store, "c1") == 1 and not _is_gold(store, "c1")
    assert gold_answers_frame(store).empty


@pytest.mark.parametrize("spec,msg", [
    (GoldSpec("nope", "m1", alignment=ScoreRange(1, 2)), "unknown clip 'nope'"),
    (GoldSpec("c1", "m9", alignment=ScoreRange(1, 2)), "no candidate (id or method) 'm9'"),
    (GoldSpec("c1", "c2:m1", alignment=ScoreRange(1, 2)), "belongs to another clip"),
])
def test_mark_rejects_unknown_or_foreign_candidates(sqlite_store, spec, msg):
    with pytest.raises(CurateError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        mark_gold(sqlite_store, spec)
    assert gold_answers_frame(sqlite_store).empty and not _is_gold(sqlite_store, "c1")


def test_unmark_errors(store):
    with pytest.raises(CurateError, match="unknown clip"):
        unmark_gold(store, "nope")
    mark_gold(store, GoldSpec("c1", "m1", alignment=ScoreRange(1, 2)))
    with pytest.raises(CurateError, match="no gold answer for candidate 'm2'"):
        unmark_gold(store, "c1", candidate="m2")
    assert len(gold_answers_frame(store)) == 1


def test_database_enforces_ranges_and_one_answer_per_candidate(store):
    mark_gold(store, GoldSpec("c1", "m1", alignment=ScoreRange(1, 2)))
    with store.session() as s:
        cand_pk = s.scalar(select(GoldAnswer.candidate_pk))
    sql = ("INSERT INTO gold_answers (candidate_pk, alignment_min, alignment_max, fidelity_min, fidelity_max, "
           "created_at, updated_at) VALUES (:c, :a0, :a1, 1, 5, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    for params in ({"c": cand_pk, "a0": 1, "a1": 2},  # duplicate candidate
                   {"c": cand_pk + 1, "a0": 4, "a1": 2},  # min > max
                   {"c": cand_pk + 1, "a0": 0, "a1": 3}):  # below 1
        with pytest.raises(IntegrityError), store.session() as s:
            s.execute(text(sql), params)
    assert len(gold_answers_frame(store)) == 1


def test_import_all_or_nothing(store, tmp_path):
    good = tmp_path / "gold.csv"
    good.write_text("clip_id,candidate_id,alignment_min,alignment_max,fidelity_min,fidelity_max,note\n"
                    "c1,c1:m1,1,2,,,audio shifted 0.4 s\n"
                    "c1,m2,,,4,5,clean\n")
    rep = import_gold(store, good)
    assert (rep.added, rep.updated, rep.unchanged) == (2, 0, 0)
    rep = import_gold(store, good)
    assert (rep.added, rep.updated, rep.unchanged) == (0, 0, 2)
    df = gold_answers_frame(store)
    assert df["note"].tolist() == ["audio shifted 0.4 s", "clean"]
    assert df[["fidelity_min", "fidelity_max"]].values.tolist() == [[1, 5], [4, 5]]

    bad = tmp_path / "bad.csv"
    bad.write_text("clip_id,candidate_id,alignment_min,alignment_max\n"
                   "c2,c2:m1,1,2\n"
                   "c1,c1:m1,4,2\n")
    with pytest.raises(CurateError, match=r"bad.csv, row 2, column 'alignment_min'.*4-2"):
        import_gold(store, bad)
    assert not _is_gold(store, "c2") and len(gold_answers_frame(store)) == 2  # row 1 rolled back


@pytest.mark.parametrize("rows,msg", [
    ("c9,m1,1,2", r"row 1, column 'candidate_id'.*unknown clip 'c9'"),
    ("c1,m1,x,2", r"row 1, column 'alignment_min'.*'x' is not an integer"),
    ("c1,m1,,", r"row 1: no range given"),
    ("c1,m1,1,2\nc1,m1,1,1", r"row 2, column 'candidate_id'.*'c1:m1' already given at .*row 1"),
    ("c1,c1:m1,1,2\nc1,m1,1,1", r"row 2, column 'candidate_id'.*'c1:m1' already given at .*row 1"),
    (",m1,1,2", r"row 1, column 'clip_id'.*empty"),
])
def test_import_bad_rows(sqlite_store, tmp_path, rows, msg):
    f = tmp_path / "g.csv"
    f.write_text("clip_id,candidate_id,alignment_min,alignment_max\n" + rows + "\n")
    with pytest.raises(CurateError, match=msg):
        import_gold(sqlite_store, f)
    assert gold_answers_frame(sqlite_store).empty


def test_migration_0002_gold_up_and_down(tmp_path):
    from alembic import command
    from sqlalchemy import inspect

    from storage import make_engine
    from storage.migrate import alembic_config, current_heads, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        upgrade(engine, "0002_gold")  # only this branch on top of the initial schema
        assert current_heads(engine) == {"0002_gold"}
        insp = inspect(engine)
        assert "gold_answers" in insp.get_table_names()
        assert [u["column_names"] for u in insp.get_unique_constraints("gold_answers")] == [["candidate_pk"]]
        assert insp.get_foreign_keys("gold_answers")[0]["referred_table"] == "candidates"
        command.downgrade(alembic_config(engine), "0001_initial")
        assert "gold_answers" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
