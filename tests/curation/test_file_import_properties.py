"""Property-based tests of the importers against a tiny reference model of what they must do."""

from __future__ import annotations

import shutil
import uuid

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from curation.file_import import import_ratings, parse_score
from curation.ingest import ingest_manifest
from storage import Annotator, Candidate, CandidateStatus, Clip, Rating
from storage.errors import CurateError
from storage.workspace import load

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CANDIDATES = ["c1:a", "c1:b", "c2:a"]


@given(st.integers(1, 5), st.sampled_from([int, str, float, lambda v: f" {v} "]))
def test_parse_score_accepts_every_form_of_1_to_5(v, form):
    assert parse_score(form(v), "f") == v


def _is_valid_score(v) -> bool:
    """The reference rule: a value whose text or number is exactly one of 1..5."""
    if isinstance(v, str):
        v = v.strip()
        try:
            v = float(v)
        except ValueError:
            return False
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v in (1, 2, 3, 4, 5)


@given(st.one_of(st.integers(-10, 10), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6)))
def test_parse_score_refuses_everything_but_1_to_5(v):
    if _is_valid_score(v):
        assert parse_score(v, "f") == int(float(v))
    else:
        with pytest.raises(CurateError):
            parse_score(v, "f")


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """A store with two clips and three ready candidates, copied fresh for each example."""
    root = tmp_path_factory.mktemp("tpl")
    from storage.workspace import init

    ws = init(root / "ws")
    store = ws.open_store()
    with store.session() as s:
        for cid in ("c1", "c2"):
            s.add(Clip(clip_id=cid, image_path="/i", image_sha256="0" * 64, image_width=1, image_height=1,
                       audio_path="/a", audio_sha256="1" * 64, audio_duration=1.0))
        s.flush()
        clips = {c.clip_id: c.id for c in s.scalars(select(Clip))}
        for cand in CANDIDATES:
            clip, method = cand.split(":")
            s.add(Candidate(candidate_id=cand, clip_pk=clips[clip], method=method, status=CandidateStatus.ready))
    store.dispose()
    return ws.root / "curate.db", ws.root


def _fresh(template_db, tmp_path):
    db, root = template_db
    copy = tmp_path / f"{uuid.uuid4().hex}.db"
    shutil.copy(db, copy)
    return load(root, db=f"sqlite:///{copy}")


score = st.one_of(st.integers(0, 6), st.sampled_from(["3", "x", "2.5", ""]))
# annotator ids: mostly valid names, sometimes anything (the id rule, storage/ids.py, decides)
name = st.one_of(st.sampled_from(["ann", "bob", "cy"]), st.text(max_size=6))
row = st.tuples(st.sampled_from(CANDIDATES + ["c9:z"]), name, score, score)


def _valid_name(text: str) -> str | None:
    from storage.ids import check_id

    try:
        return check_id(text, "x", "annotator")
    except CurateError:
        return None


def _first_bad_row(rows) -> int | None:
    """The reference model: the 1-based index of the first row the importer must refuse, or None."""
    seen = set()
    for i, (cand, ann, a, f) in enumerate(rows, 1):
        if cand not in CANDIDATES:
            return i
        ann = _valid_name(ann)
        if ann is None:
            return i
        for v in (a, f):
            if str(v).strip() not in {"1", "2", "3", "4", "5"}:
                return i
        if (cand, ann) in seen:
            return i
        seen.add((cand, ann))
    return None


@SETTINGS
@given(rows=st.lists(row, min_size=1, max_size=8))
def test_import_ratings_stores_all_or_nothing(template_db, tmp_path, rows):
    ws = _fresh(template_db, tmp_path)
    path = tmp_path / f"{uuid.uuid4().hex}.csv"
    pd.DataFrame(rows, columns=["candidate_id", "annotator_id", "alignment", "fidelity"]).to_csv(path, index=False)
    bad = _first_bad_row(rows)
    store = ws.open_store()
    try:
        if bad is not None:
            with pytest.raises(CurateError) as e:
                import_ratings(ws, path)
            assert f"row {bad}" in str(e.value)
            with store.session() as s:
                assert s.scalars(select(Rating)).all() == [] and s.scalars(select(Annotator)).all() == []
        else:
            assert import_ratings(ws, path).added == len(rows)
            with store.session() as s:
                got = {
                    (c.candidate_id, a.name, r.alignment, r.fidelity)
                    for r, c, a in s.execute(select(Rating, Candidate, Annotator).join(Candidate).join(Annotator))
                }
            assert got == {(c, _valid_name(a), int(x), int(y)) for c, a, x, y in rows}
    finally:
        store.dispose()


clip_ids = st.lists(
    st.one_of(
        st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12),
        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:@+\-]{0,11}", fullmatch=True),  # the id rule (storage/ids.py)
    ).filter(lambda t: t.strip() == t and t not in ("c1", "c2")),
    min_size=1, max_size=4, unique=True,
)


@SETTINGS
@given(ids=clip_ids)
def test_ingest_round_trips_any_clip_id_through_csv(template_db, tmp_path, ids):
    """Every clip id survives the CSV reader exactly, or the file is refused naming the row and nothing is stored."""
    from curation.demo.media import make_sample_clips
    from storage.ids import check_id

    ws = _fresh(template_db, tmp_path)
    media = ws.root / "media" / "prop"
    if not (media / "sample-001.png").exists():
        make_sample_clips(media, n=1, seconds=0.3, size=16)
    path = media / f"{uuid.uuid4().hex}.csv"
    pd.DataFrame({"clip_id": ids, "image": "sample-001.png", "audio": "sample-001.wav"}).to_csv(path, index=False)
    bad = []
    for i, t in enumerate(ids, 1):
        try:
            check_id(t, "x")
        except CurateError:
            bad.append(i)
    if bad:
        with pytest.raises(CurateError, match=rf"row {bad[0]}, column 'clip_id'"):
            ingest_manifest(ws, path)
    else:
        assert ingest_manifest(ws, path).added == len(ids)
    store = ws.open_store()
    with store.session() as s:
        assert set(s.scalars(select(Clip.clip_id))) == (set() if bad else set(ids)) | {"c1", "c2"}
    store.dispose()
