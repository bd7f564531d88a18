"""Revision 0003_annotate: counters start right on a store that already holds work; it downgrades cleanly."""

from __future__ import annotations

from sqlalchemy import inspect, text

from storage import make_engine
from storage.migrate import alembic_config, upgrade


def test_counters_are_backfilled_and_downgrade_drops_them(db_url):
    from alembic import command

    engine = make_engine(db_url)
    try:
        upgrade(engine, "0001_initial")
        with engine.begin() as c:
            c.execute(text(
                "INSERT INTO clips (id, clip_id, image_path, image_sha256, image_width, image_height, audio_path, "
                "audio_sha256, audio_duration, is_gold, created_at) VALUES "
                "(1, 'a', 'a.png', 'x', 8, 8, 'a.wav', 'x', 1.0, false, CURRENT_TIMESTAMP), "
                "(2, 'b', 'b.png', 'x', 8, 8, 'b.wav', 'x', 1.0, false, CURRENT_TIMESTAMP)"))
            c.execute(text("INSERT INTO annotators (id, name, role, source, active, created_at) VALUES "
                           "(1, 'p', 'annotator', 'app', true, CURRENT_TIMESTAMP), "
                           "(2, 'q', 'annotator', 'app', true, CURRENT_TIMESTAMP)"))
            c.execute(text("INSERT INTO assignments (clip_pk, annotator_pk, status, order_seed, leased_at) VALUES "
                           "(1, 1, 'done', 0, CURRENT_TIMESTAMP), (1, 2, 'done', 0, CURRENT_TIMESTAMP), "
                           "(2, 1, 'leased', 0, CURRENT_TIMESTAMP)"))
        upgrade(engine)
        with engine.connect() as c:
            rows = c.execute(text("SELECT clip_pk, n_done FROM clip_progress ORDER BY clip_pk")).all()
        assert [tuple(r) for r in rows] == [(1, 2), (2, 0)]  # two done on clip 1; a lease is not done
        index_names = {ix["name"] for ix in inspect(engine).get_indexes("assignments")}
        assert "assignment_annotator_pk_status_ix" in index_names
        cfg = alembic_config(engine)
        command.downgrade(cfg, "0003_annotate-1")  # below 0003 (and so below its dependents, e.g. 0006_sessions)
        insp = inspect(engine)
        assert "clip_progress" not in insp.get_table_names()
        assert "clip_is_gold_ix" not in {ix["name"] for ix in insp.get_indexes("clips")}
    finally:
        engine.dispose()
