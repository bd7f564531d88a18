"""Fuzz (hypothesis) of ids and table cells through the real commands.

`curate ingest`, `curate import candidates`, `curate import ratings` and `curate build-pairs --ratings` get
files (CSV, JSON Lines, Parquet) whose ids, scores and paths are drawn from valid and nasty values. Every file
is either stored exactly (read back and compared with an independent reference of the id rule and the score
rule) or refused with one line naming the file (exit 1, no traceback) and the store's row counts unchanged.
The store-backed tests run many examples on SQLite and fewer on PostgreSQL, on one workspace per test:
counts are compared before/after each example rather than against absolutes.
"""

from __future__ import annotations

import json
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from storage import Annotator, Candidate, Clip, Rating
from storage.media import sha256_file
from tests.fixtures.fuzz_inputs import (
    FORMATS,
    NASTY_ID,
    NASTY_SCORE,
    NASTY_TEXT,
    VALID_ID,
    assert_refused,
    known_bad,
    path_cell,
    path_text,
    ref_id,
    ref_score,
    ref_text,
    store_counts,
    tables,
    write_table,
)
from tests.fixtures.pairs_reference import reference_pairs

# Examples per store-backed test: SQLite gets the many, PostgreSQL a smaller run of the same properties.
EXAMPLES = {"sqlite": 60, "postgres": 15}
PAIRS_EXAMPLES = 70


def _settings(db_url: str | None = None, n: int | None = None):
    n = n or EXAMPLES["postgres" if db_url and db_url.startswith("postgresql") else "sqlite"]
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def media(workspace, sample_manifest):
    """The sample clips' folder (clips sample-001..003 are in the store)."""
    return sample_manifest.parent


def test_ingest_fuzz(workspace, media, cli, db_url):
    image, audio = media / "sample-001.png", media / "sample-001.wav"
    img_sha = sha256_file(image)
    seen = {"accepted": 0, "refused": 0}

    @_settings(db_url)
    @given(rows=tables((VALID_ID, NASTY_ID), path_cell(image.name, audio.name), path_cell(audio.name, image.name)),
           fmt=FORMATS)
    @known_bad(lambda bad: [("ok-1", ("ok", image.name), ("ok", audio.name)), (bad, ("ok", image.name), ("ok", audio.name))])
    def run(rows, fmt):
        raw = [{"clip_id": c, "image": path_text(*i, media), "audio": path_text(*a, media)} for c, i, a in rows]
        path, said = write_table(media / f"m-{uuid.uuid4().hex[:8]}", raw, fmt)
        before = store_counts(workspace)
        store = workspace.open_store()
        try:
            with store.session() as s:
                known = set(s.scalars(select(Clip.clip_id)))
        finally:
            store.dispose()
        first_bad = next((i for i, (rec, (_c, im, au)) in enumerate(zip(said, rows), 1)
                          if ref_id(rec["clip_id"]) is None or im[0] == "bad" or au[0] == "bad"), None)
        r = cli("ingest", path, "-w", workspace.root, "--no-progress")
        if r.exit_code != 0:
            assert_refused(r, path, first_bad)
            assert first_bad is not None or any(ref_id(rec["clip_id"]) in known and ref_id(rec["clip_id"]).startswith("sample-")
                                                for rec in said), r.output  # a valid file is never refused
            assert store_counts(workspace) == before
            seen["refused"] += 1
            return
        assert first_bad is None, f"accepted a file the rules refuse (row {first_bad}): {said}"
        want = {ref_id(rec["clip_id"]) for rec in said}
        store = workspace.open_store()
        try:
            with store.session() as s:
                got = {c.clip_id: c for c in s.scalars(select(Clip).where(Clip.clip_id.in_(want)))}
                assert set(got) == want  # byte-equal ids
                for c in got.values():
                    if c.clip_id not in known:
                        assert (c.image_sha256, c.image_path, c.audio_path) == (img_sha, str(image), str(audio))
        finally:
            store.dispose()
        assert store_counts(workspace) == (before[0] + len(want - known), *before[1:])
        seen["accepted"] += 1

    run()
    assert seen["accepted"] and seen["refused"], seen


def _store_rows(ws, stmt) -> list:
    store = ws.open_store()
    try:
        with store.session() as s:
            return list(s.execute(stmt))
    finally:
        store.dispose()


CLIPS = ["sample-001", "sample-002", "sample-003"]


def test_import_candidates_fuzz(workspace, cand_videos, cli, db_url):
    seen = {"accepted": 0, "refused": 0}
    cand_sql = select(Candidate.candidate_id, Clip.clip_id, Candidate.method, Candidate.video_path).join(Clip)

    @_settings(db_url)
    @given(rows=tables((st.sampled_from(CLIPS), st.one_of(VALID_ID, NASTY_ID)), (VALID_ID, NASTY_ID),
                       (st.one_of(st.none(), VALID_ID), NASTY_ID), path_cell("a.mp4", "../sample/sample-001.png"),
                       max_rows=3, ids=3), fmt=FORMATS)
    @known_bad(lambda bad: [("sample-001", bad, None, ("ok", "a.mp4"))])
    def run(rows, fmt):
        raw = [{"clip_id": c, "method": m, "candidate_id": k, "video": path_text(*v, cand_videos)} for c, m, k, v in rows]
        path, said = write_table(cand_videos / f"c-{uuid.uuid4().hex[:8]}", raw, fmt)
        before = store_counts(workspace)
        known = {r.candidate_id: tuple(r) for r in _store_rows(workspace, cand_sql)}
        r = cli("import", "candidates", path, "-w", workspace.root, "--no-progress")
        if r.exit_code != 0:
            assert_refused(r, path)
            assert store_counts(workspace) == before
            seen["refused"] += 1
            return
        want = {}
        for rec, (_c, _m, _k, (kind, _t)) in zip(said, rows):
            clip, method = ref_id(rec["clip_id"]), ref_id(rec["method"])
            cand = ref_id(rec["candidate_id"], 201) if ref_text(rec["candidate_id"]) is not None else f"{clip}:{method}"
            assert None not in (clip, method, cand) and kind != "bad", f"accepted a file the rules refuse: {said}"
            want[cand] = (cand, clip, method, str(cand_videos / "a.mp4"))
        got = {r.candidate_id: tuple(r) for r in _store_rows(workspace, cand_sql.where(Candidate.candidate_id.in_(want)))}
        assert got == want  # byte-equal ids, the file's clip, method and video
        assert store_counts(workspace) == (before[0], before[1] + len(set(want) - set(known)), *before[2:])
        seen["accepted"] += 1

    run()
    assert seen["accepted"] and seen["refused"], seen


def test_import_ratings_fuzz(workspace, cand_videos, cli, db_url):
    cands = cand_videos / "cands.csv"
    cands.write_text("clip_id,method,video\nsample-001,m1,a.mp4\nsample-002,m1,b.mp4\n")
    assert cli("import", "candidates", cands, "-w", workspace.root, "--no-progress").exit_code == 0
    seen = {"accepted": 0, "refused": 0}
    rating_sql = select(Candidate.candidate_id, Annotator.name, Rating.alignment, Rating.fidelity).join(
        Candidate, Rating.candidate_pk == Candidate.id).join(Annotator, Rating.annotator_pk == Annotator.id)

    @_settings(db_url)
    @given(rows=tables((st.sampled_from(["sample-001:m1", "sample-002:m1"]), st.one_of(VALID_ID, NASTY_ID)),
                       (VALID_ID, NASTY_ID), (st.integers(1, 5), NASTY_SCORE), (st.integers(1, 5), NASTY_SCORE),
                       ids=2),
           fmt=FORMATS, replace=st.booleans())
    @known_bad(lambda bad: [("sample-001:m1", "ok-1", 3, 4), ("sample-002:m1", bad, 3, 4)], replace=True)
    def run(rows, fmt, replace):
        raw = [{"candidate_id": c, "annotator_id": a, "alignment": x, "fidelity": y} for c, a, x, y in rows]
        path, said = write_table(cand_videos / f"r-{uuid.uuid4().hex[:8]}", raw, fmt)
        before = store_counts(workspace)
        want, first_bad = {}, None
        for i, rec in enumerate(said, 1):
            key = (ref_id(rec["candidate_id"], 201), ref_id(rec["annotator_id"]))
            scores = (ref_score(rec["alignment"]), ref_score(rec["fidelity"]))
            if key[0] not in ("sample-001:m1", "sample-002:m1") or None in key + scores or key in want:
                first_bad = first_bad or i
            want[key] = key + scores
        r = cli("import", "ratings", path, "-w", workspace.root, *(["--replace"] if replace else []))
        if r.exit_code != 0:
            assert_refused(r, path, first_bad if replace else None)  # without it, an earlier row may clash
            assert first_bad is not None or not replace, r.output  # with --replace a valid file always goes in
            assert store_counts(workspace) == before
            seen["refused"] += 1
            return
        assert first_bad is None, f"accepted a file the rules refuse (row {first_bad}): {said}"
        got = {(r[0], r[1]): tuple(r) for r in _store_rows(workspace, rating_sql) if (r[0], r[1]) in want}
        assert got == want  # byte-equal ids, the file's scores
        seen["accepted"] += 1

    run()
    assert seen["accepted"] and seen["refused"], seen


# build-pairs reads Parquet only; each column has one Arrow type, as a real export would.
_LIKERT = st.integers(1, 5)
NASTY_SCORES = {  # per column type: a value that may break the file (or may happen to be fine)
    "int64": st.one_of(st.integers(-2, 8), st.none()),
    "float64": st.one_of(st.sampled_from([2.5, -0.0, 3.0, None]), st.floats(allow_nan=True, allow_infinity=True)),
    "string": st.sampled_from(["3", "x", ""]),
    "bool_": st.booleans(),
}
PLAIN_SCORES = {"int64": _LIKERT, "float64": _LIKERT.map(float), "string": _LIKERT.map(str), "bool_": st.booleans()}


@st.composite
def campaigns(draw):
    """1-2 clips x 2-3 candidates x 1-2 annotators of valid ids and scores, then 0-2 cells made nasty."""
    kinds = {a: draw(st.sampled_from(["int64"] * 8 + ["float64"] * 3 + ["string", "bool_"]))
             for a in ("alignment", "fidelity")}
    rows = []
    for _ in range(draw(st.integers(1, 2))):
        clip = draw(VALID_ID)
        for _ in range(draw(st.integers(2, 3))):  # two at least, or there is nothing to pair
            cand, method = draw(VALID_ID), draw(VALID_ID)
            for ann in draw(st.lists(VALID_ID, min_size=1, max_size=2)):
                rows.append({"clip_id": clip, "candidate_id": cand, "method": method, "annotator_id": ann,
                             **{a: draw(PLAIN_SCORES[k]) for a, k in kinds.items()}})
    for _ in range(draw(st.integers(0, 2))):
        row = rows[draw(st.integers(0, len(rows) - 1))]
        col = draw(st.sampled_from(list(row)))
        row[col] = draw(NASTY_SCORES[kinds[col]] if col in kinds else st.one_of(st.none(), NASTY_TEXT.filter(lambda t: len(t) < 200)))
    return rows, kinds


def _pairs_refusal_expected(rows) -> bool:
    """The reference's view of a ratings file: True when build-pairs must refuse it."""
    keys, seen = {}, set()
    for r in rows:
        if any(r[c] is None or ref_id(r[c], 201 if c == "candidate_id" else 100) != r[c]
               for c in ("clip_id", "candidate_id", "method", "annotator_id")):
            return True  # an empty id (such ids were paired) or one the id rule refuses
        if any(ref_score(r[a]) is None or isinstance(r[a], str) for a in ("alignment", "fidelity")):
            return True
        if keys.setdefault(r["candidate_id"], (r["clip_id"], r["method"])) != (r["clip_id"], r["method"]):
            return True  # one candidate under two clips or methods
        if (r["candidate_id"], r["annotator_id"]) in seen:
            return True
        seen.add((r["candidate_id"], r["annotator_id"]))
    return False


def test_build_pairs_ratings_fuzz(tmp_path, cli):
    seen = {"accepted": 0, "refused": 0, "no pairs": 0}
    columns = ["clip_id", "candidate_id", "method", "annotator_id"]

    @_settings(n=PAIRS_EXAMPLES)
    @given(campaign=campaigns(), strategy=st.sampled_from(["best-vs-worst", "better-vs-worse"]))
    def run(campaign, strategy):
        rows, kinds = campaign
        path = tmp_path / f"r-{uuid.uuid4().hex[:8]}.parquet"
        schema = pa.schema([(c, pa.string()) for c in columns] + [(a, getattr(pa, k)()) for a, k in kinds.items()])
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
        out = tmp_path / f"p-{uuid.uuid4().hex[:8]}.parquet"
        r = cli("build-pairs", "--ratings", path, "--out", out, "--strategy", strategy, "--threads", 1)
        refuse = _pairs_refusal_expected(rows)
        want = [] if refuse else reference_pairs(
            [{**row, "alignment": int(row["alignment"]), "fidelity": int(row["fidelity"])} for row in rows],
            strategy=strategy)
        if r.exit_code != 0:
            if "no pairs" in r.output:
                assert r.exit_code == 1 and not refuse and want == [], r.output
            else:
                assert refuse, f"refused a valid file: {r.output}"
                assert_refused(r, path)
            seen["refused" if refuse else "no pairs"] += 1
            return
        assert not refuse, f"accepted a file build-pairs must refuse: {rows}"
        got = pq.read_table(out).to_pylist()
        assert sorted((p["clip_id"], p["winner_candidate_id"], p["loser_candidate_id"], round(p["winner_reward"] * 1e6),
                       round(p["loser_reward"] * 1e6)) for p in got) == want  # byte-equal ids, the file's scores
        seen["accepted"] += 1

    run()
    assert seen["accepted"] and seen["refused"], seen


# ---- regressions for what the fuzz found ----


def test_nul_byte_in_a_path_is_refused_naming_the_row(workspace, media, cli):
    """Path.resolve raised ValueError("embedded null byte"): exit 2 and a message naming no file, row or column."""
    before = store_counts(workspace)
    for col in ("image", "skeleton"):
        path = media / f"nul-{col}.jsonl"
        path.write_text(json.dumps({"clip_id": "n1", "image": "sample-001.png", "audio": "sample-001.wav",
                                    col: "a\x00b.png"}) + "\n")
        r = cli("ingest", path, "-w", workspace.root, "--no-progress")
        assert r.exit_code == 1, r.output
        assert f"nul-{col}.jsonl, row 1, column '{col}': path 'a\\x00b.png' contains a NUL byte." in r.output
    assert store_counts(workspace) == before


def test_a_path_with_a_newline_is_reported_on_one_line(workspace, media, cli):
    """"file not found: <path>" printed the resolved path raw, so the message broke over two lines."""
    path = media / "newline.jsonl"
    path.write_text(json.dumps({"clip_id": "n2", "image": "sample-001.png\nx", "audio": "sample-001.wav"}) + "\n")
    r = cli("ingest", path, "-w", workspace.root, "--no-progress")
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1, r.output
    missing = str(media.resolve() / "sample-001.png\nx")
    assert f"row 1, column 'image': file not found: {missing!r}" in r.output


def test_build_pairs_refuses_blank_ids(tmp_path, cli):
    """A whitespace-only candidate_id was paired like any other: candidate 'a' 5.0 beat ' \\t' 1.0."""
    from tests.fixtures.pairs_data import write_ratings

    rows = [{"clip_id": "c1", "candidate_id": "a", "method": "m", "annotator_id": "x", "alignment": 5, "fidelity": 5},
            {"clip_id": "c1", "candidate_id": " \t", "method": "n", "annotator_id": "x", "alignment": 1, "fidelity": 1}]
    path = write_ratings(tmp_path / "r.parquet", rows)
    r = cli("build-pairs", "--ratings", path, "--out", tmp_path / "p.parquet")
    assert r.exit_code == 1, r.output
    assert "r.parquet, row 2, column 'candidate_id': empty value; every rating needs one." in r.output
    assert not (tmp_path / "p.parquet").exists()


def test_labelstudio_reply_fuzz(workspace, db_url):
    """Any annotation payload: a well-formed one is read, anything else stops the pull with one line before
    the store is touched (its rows unchanged); never a traceback of another kind."""
    from types import SimpleNamespace

    from annotate_app.labelstudio.pull_annotations import pull
    from storage.errors import CurateError
    from tests.fixtures.fuzz_inputs import ls_annotations, ref_annotation_ok
    from tests.fixtures.labelstudio_pull import CFG, FakeClient, rows, seed

    ws = seed(workspace)
    settings_ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

    @settings_
    @given(anns=st.lists(ls_annotations(), max_size=3))
    def run(anns):
        before = rows(ws)
        client = FakeClient([SimpleNamespace(id=11, annotations=anns)])
        if all(ref_annotation_ok(a) for a in anns):
            pull(ws, CFG, client=client)  # well-formed: stored, or rejected as invalid, never an exception
            return
        with pytest.raises(CurateError) as e:
            pull(ws, CFG, client=client)
        assert "\n" not in str(e.value) and "nothing was stored" in str(e.value)
        assert rows(ws) == before

    run()
