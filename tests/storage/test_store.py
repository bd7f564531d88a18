"""The store's invariants are enforced by the database itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from storage import Annotator, Candidate, CandidateStatus, Clip, Rating, open_store
from storage.migrate import alembic_config, current_heads


def _clip(clip_id="c1"):
    return Clip(
        clip_id=clip_id, image_path="/x.png", image_sha256="a" * 64, image_width=8, image_height=8,
        audio_path="/x.wav", audio_sha256="b" * 64, audio_duration=1.0,
    )


@pytest.fixture
def store(db_url):
    s = open_store(db_url)
    yield s
    s.dispose()


def _seed(store):
    with store.session() as s:
        clip = _clip()
        s.add(clip)
        s.flush()
        cand = Candidate(candidate_id="c1:still", clip_pk=clip.id, method="still", status=CandidateStatus.ready)
        ann = Annotator(name="alice")
        s.add_all([cand, ann])
        s.flush()
        return cand.id, ann.id


def test_migrations_create_every_table(store):
    tables = set(inspect(store.engine).get_table_names())
    assert {"clips", "candidates", "generation_jobs", "annotators", "assignments", "ratings"} <= tables
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    assert current_heads(store.engine) == heads


@pytest.mark.parametrize("alignment,fidelity", [(0, 3), (6, 3), (3, 0), (3, 6)])
def test_rating_range_is_a_database_check(store, alignment, fidelity):
    cand, ann = _seed(store)
    with pytest.raises(IntegrityError):
        with store.session() as s:
            # raw SQL: bypasses any Python-side validation
            s.execute(
                text("INSERT INTO ratings (candidate_pk, annotator_pk, alignment, fidelity, broken, source, created_at, updated_at)"
                     " VALUES (:c, :a, :al, :fi, false, 'test', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                {"c": cand, "a": ann, "al": alignment, "fi": fidelity},
            )
    with store.session() as s:
        assert s.query(Rating).count() == 0


def test_one_rating_per_candidate_and_annotator(store):
    cand, ann = _seed(store)
    with store.session() as s:
        s.add(Rating(candidate_pk=cand, annotator_pk=ann, alignment=3, fidelity=4))
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(Rating(candidate_pk=cand, annotator_pk=ann, alignment=5, fidelity=5))
    with store.session() as s:
        assert [(r.alignment, r.fidelity) for r in s.query(Rating)] == [(3, 4)]


def test_foreign_keys_are_enforced(store):
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(Rating(candidate_pk=999, annotator_pk=999, alignment=3, fidelity=3))
        s.flush()


def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    with s.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
    s.dispose()


def test_reopening_an_existing_store_keeps_data(db_url):
    s = open_store(db_url)
    with s.session() as sess:
        sess.add(_clip("keep"))
    s.dispose()
    s2 = open_store(db_url)
    with s2.session() as sess:
        assert [c.clip_id for c in sess.query(Clip)] == ["keep"]
    s2.dispose()


def test_a_long_read_does_not_block_a_writer_on_sqlite(tmp_path):
    """A reader holding a snapshot open must not make an annotator's write wait or fail."""
    import time

    s = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    cand, ann = _seed(s)
    with s.reader() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM candidates")).scalar() == 1
        t0 = time.monotonic()
        with s.session() as sess:  # a writer, while the read transaction is still open
            sess.add(Rating(candidate_pk=cand, annotator_pk=ann, alignment=2, fidelity=2))
        waited = time.monotonic() - t0
        # the reader still sees its snapshot
        assert conn.execute(text("SELECT COUNT(*) FROM ratings")).scalar() == 0
    assert waited < 5, "the writer queued behind the reader"
    with s.reader() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM ratings")).scalar() == 1
    s.dispose()
