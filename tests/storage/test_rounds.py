"""Rounds in the store: round 1 for old workspaces, new clips join the current round, round start/list."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, inspect, select, text

from storage import Clip, CurateError, make_engine, open_store
from storage.migrate import alembic_config, upgrade
from storage.rounds import current_round, parse_rounds, resolve_rounds, round_summaries, start_round


def _clip(clip_id: str) -> dict:
    return {"clip_id": clip_id, "image_path": "/x.png", "image_sha256": "a" * 64, "image_width": 8,
            "image_height": 8, "audio_path": "/x.wav", "audio_sha256": "b" * 64, "audio_duration": 1.0}


@pytest.fixture
def store(db_url):
    s = open_store(db_url)
    yield s
    s.dispose()


def _rounds_of(store) -> dict[str, int]:
    with store.session() as s:
        return dict(s.execute(select(Clip.clip_id, Clip.round)).all())


def test_a_store_written_before_rounds_opens_with_its_clips_in_round_1(db_url):
    from alembic import command

    engine = make_engine(db_url)
    try:
        # Everything but 0006_rounds: the schema of a workspace made before this revision.
        cfg = alembic_config(engine)
        for rev in ("0002_gold", "0003_annotate", "0004_labelstudio", "0005_generate"):
            command.upgrade(cfg, rev)
        assert "rounds" not in inspect(engine).get_table_names()
        with engine.begin() as c:
            c.execute(text(
                "INSERT INTO clips (clip_id, image_path, image_sha256, image_width, image_height, audio_path, "
                "audio_sha256, audio_duration, is_gold, created_at) VALUES "
                "('old1', 'a.png', 'x', 8, 8, 'a.wav', 'x', 1.0, false, CURRENT_TIMESTAMP), "
                "('old2', 'b.png', 'x', 8, 8, 'b.wav', 'x', 1.0, false, CURRENT_TIMESTAMP)"))
            c.execute(text("INSERT INTO candidates (candidate_id, clip_pk, method, status, source, created_at) "
                           "SELECT 'old1:still', id, 'still', 'ready', 'import', CURRENT_TIMESTAMP "
                           "FROM clips WHERE clip_id = 'old1'"))
    finally:
        engine.dispose()
    store = open_store(db_url)  # migrates to every head, 0006_rounds included
    try:
        assert _rounds_of(store) == {"old1": 1, "old2": 1}
        assert current_round(store) == 1
        [r1] = round_summaries(store)
        assert (r1["number"], r1["clips"], r1["candidates_ready"], r1["ratings"], r1["current"]) == (1, 2, 1, 0, True)
        with store.session() as s:
            s.add(Clip(**_clip("new1")))
        assert _rounds_of(store)["new1"] == 1
    finally:
        store.dispose()


def test_new_clips_join_the_round_opened_last_orm_and_bulk(store):
    with store.session() as s:
        s.add(Clip(**_clip("a")))
    assert start_round(store, note="policy-r1 added") == 2
    with store.session() as s:
        s.add(Clip(**_clip("b")))
    with store.engine.begin() as conn:  # a Core executemany, as bulk loaders do
        conn.execute(insert(Clip), [_clip("c"), _clip("d")])
    assert _rounds_of(store) == {"a": 1, "b": 2, "c": 2, "d": 2}
    assert current_round(store) == 2
    summary = round_summaries(store)
    assert [(r["number"], r["clips"], r["note"], r["current"]) for r in summary] == [
        (1, 1, None, False), (2, 3, "policy-r1 added", True)]
    assert summary[1]["started_at"].endswith("+00:00")


def test_round_start_refuses_an_empty_round_unless_asked(store):
    with pytest.raises(CurateError, match="round 1 has no clips yet"):
        start_round(store)
    assert start_round(store, allow_empty=True) == 2
    assert current_round(store) == 2


def test_the_migration_downgrades_cleanly(db_url):
    from alembic import command

    store = open_store(db_url)
    with store.session() as s:
        s.add(Clip(**_clip("a")))
    store.dispose()
    engine = make_engine(db_url)
    try:
        command.downgrade(alembic_config(engine), "0006_rounds")  # off the merge revision, back to branches
        command.downgrade(alembic_config(engine), "0006_rounds@-1")
        insp = inspect(engine)
        assert "rounds" not in insp.get_table_names()
        assert "round" not in {c["name"] for c in insp.get_columns("clips")}
        upgrade(engine)
        with engine.connect() as c:
            assert c.execute(text("SELECT clip_id, round FROM clips")).all() == [("a", 1)]
    finally:
        engine.dispose()


@pytest.mark.parametrize("spec, expected", [
    ("all", None), ("ALL", None), ("2", (2,)), ("2,1", (1, 2)), ("1-3", (1, 2, 3)), (" 1 , 3-4 ", (1, 3, 4)),
])
def test_parse_rounds(spec, expected):
    assert parse_rounds(spec) == expected


@pytest.mark.parametrize("spec", ["", "x", "0", "3-1", "1,,2", "-1"])
def test_parse_rounds_refuses_bad_input_naming_it(spec):
    with pytest.raises(ValueError, match="rounds must be"):
        parse_rounds(spec)


def test_resolve_rounds_defaults_to_the_current_round_and_checks_numbers(store):
    with store.session() as s:
        s.add(Clip(**_clip("a")))
    start_round(store)
    assert resolve_rounds(store, None) == (2,)
    assert resolve_rounds(store, "1,2") == (1, 2)
    assert resolve_rounds(store, "all") is None
    with pytest.raises(CurateError, match=r"round\(s\) 3 not opened yet; rounds are 1, 2"):
        resolve_rounds(store, "2-3")
