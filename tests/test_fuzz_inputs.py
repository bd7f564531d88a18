"""Fuzz (hypothesis) of ids and table cells through the real commands (issue 12).

`curate ingest`, `curate import candidates`, `curate import ratings` and `curate build-pairs --ratings` get
files (CSV, JSON Lines, Parquet) whose ids, scores and paths are drawn from valid and nasty values. Every file
is either stored exactly (read back and compared with an independent reference of the id rule and the score
rule) or refused with one line naming the file (exit 1, no traceback) and the store's row counts unchanged.
The store-backed tests run many examples on SQLite and fewer on PostgreSQL, on one workspace per test:
counts are compared before/after each example rather than against absolutes.
"""

from __future__ import annotations

import csv
import json
import math
import string
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from storage import Annotator, Candidate, Clip, Rating
from storage.media import sha256_file
from tests.fixtures.pairs_reference import reference_pairs

# Examples per store-backed test: SQLite gets the many, PostgreSQL a smaller run of the same properties.
EXAMPLES = {"sqlite": 60, "postgres": 15}
PAIRS_EXAMPLES = 70


def _settings(db_url: str | None = None, n: int | None = None):
    n = n or EXAMPLES["postgres" if db_url and db_url.startswith("postgresql") else "sqlite"]
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ---- the reference: what the files say and what the rules allow, written independently of storage/ids.py ----

ALLOWED = set(string.ascii_letters + string.digits + "._:@+-")
BAD = object()  # a cell no id can come from (a list, a bool, a float)


def ref_text(v):
    """The id a cell means (str stripped, whole numbers as digits); None when empty; BAD when not an id at all."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, bool):
        return BAD
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return v.strip() or None
    return BAD


def ref_id(v, limit: int = 100):
    """The stored id for cell ``v``, or None when the rule refuses it."""
    t = ref_text(v)
    if t is None or t is BAD or not 1 <= len(t) <= limit or not set(t) <= ALLOWED or not t[0].isalnum():
        return None
    return t


def ref_score(v):
    """The score 1..5 a cell means, or None when it must be refused."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, str):
        try:
            v = float(v.strip())
        except ValueError:
            return None
    if not isinstance(v, (int, float)) or not math.isfinite(v) or v != int(v) or not 1 <= v <= 5:
        return None
    return int(v)


# ---- strategies ----

VALID_ID = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:@+\-]{0,20}", fullmatch=True)
NASTY_TEXT = st.one_of(
    st.sampled_from([
        "", " ", "\t", "a" * 100, "b" * 101, "c" * 100_000, "a\x00b", "\x00", "a\nb", "a\r\nb", "a\rb",
        "abc\u202edef", "\u200bx", "x\u00a0", "\u2003y", "\x1fz", "é", "ＡＢ", " pad ", "-rf", "../x", "x/y",
        "a b", "NaN", "nan", "null", "None", "True", "1e3", "1.5", "007", "[1, 2]", '{"a": 1}', "=HYPERLINK(1)",
        "![x](http://127.0.0.1:9/p)", '"q"', "a,b", "\ufeffbom",
    ]),
    st.text(max_size=8),
)
JSON_VALUE = st.one_of(
    st.integers(-(2**70), 2**70), st.integers(0, 99), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.none(), st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from("ab"), st.integers(0, 3), max_size=1),
)
# Text is the likely mistake, so it comes three times as often as a JSON value that is not text.
NASTY_ID = st.one_of(NASTY_TEXT, NASTY_TEXT, NASTY_TEXT, JSON_VALUE)
NASTY_SCORE = st.one_of(
    st.integers(-3, 9), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1.0, 3.0, 5.0, 2.5, -0.0]),
    st.sampled_from(["3", " 4 ", "5.0", "1e0", "x", "", "nan", "inf", "6", "0", "2.5", "+2", "٣"]),
    st.booleans(), st.none(), st.lists(st.integers(1, 5), max_size=1),
)


@st.composite
def tables(draw, *columns, max_rows: int = 4, ids: int = 1):
    """1..max_rows rows of plain (valid) cells, then 0-2 cells swapped for nasty ones.

    ``columns`` are (plain, nasty) strategy pairs, the first ``ids`` of them ids: half the swaps hit those.
    Mostly-valid files get through often enough that the read-back is exercised as much as the refusals.
    """
    rows = [[draw(plain) for plain, _ in columns] for _ in range(draw(st.integers(1, max_rows)))]
    for _ in range(draw(st.sampled_from([0, 1, 1, 2]))):
        i = draw(st.integers(0, len(rows) - 1))
        j = draw(st.integers(0, ids - 1) if draw(st.sampled_from([True, True, False])) else
                 st.integers(0, len(columns) - 1))
        rows[i][j] = draw(columns[j][1])
    return [tuple(r) for r in rows]


FORMATS = st.sampled_from(["csv", "jsonl", "parquet"])
# Always tried, whatever the seed: the cases issue 12 reported, one per format.
KNOWN_BAD_IDS = [("a b", "csv"), ("a\x00b", "csv"), ("abc\u202edef", "parquet"), ("x" * 100_000, "jsonl"),
                 ([1, 2], "jsonl"), ({"a": 1}, "jsonl"), (True, "jsonl"), ("a\nb", "parquet"), ("-rf", "csv")]


def known_bad(build, **extra):
    """@example decorators: ``build(bad_id)`` is the rows argument for one known-bad id."""
    def decorate(f):
        for bad, fmt in KNOWN_BAD_IDS:
            f = example(rows=build(bad), fmt=fmt, **extra)(f)
        return f
    return decorate


def _csv_text(v) -> str:
    return "" if v is None else v if isinstance(v, str) else json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def write_table(path: Path, rows: list[dict], fmt: str) -> tuple[Path, list[dict]]:
    """Write ``rows``; returns the file and the rows as the format holds them (what the file says)."""
    path = path.with_suffix("." + fmt)
    cols = list(rows[0])
    if fmt == "csv":
        said = [{c: _csv_text(r[c]) for c in cols} for r in rows]
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, cols)
            w.writeheader()
            w.writerows(said)
        return path, said
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path, [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    arrays = {}
    for c in cols:
        values = [r[c] for r in rows]
        try:
            arrays[c] = pa.array(values)
            if pa.types.is_struct(arrays[c].type) and arrays[c].type.num_fields == 0:
                raise pa.ArrowInvalid("Parquet cannot hold an empty struct")
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # mixed kinds: the column becomes text
            arrays[c] = pa.array([None if v is None else _csv_text(v) for v in values])
    table = pa.table(arrays)
    pq.write_table(table, path)
    return path, table.to_pylist()


def _counts(ws) -> tuple[int, ...]:
    store = ws.open_store()
    try:
        with store.session() as s:
            return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Clip, Candidate, Rating, Annotator))
    finally:
        store.dispose()


def assert_refused(r, path: Path, row: int | None = None) -> None:
    """One line, exit 1, the file named (and the row, when the reference knows which), no traceback."""
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    assert path.name in lines[0], r.output
    if row is not None and "cannot be read as" not in lines[0]:  # a file the reader refuses has no row
        assert f"row {row}," in lines[0] or f"row {row}:" in lines[0], r.output


# Path cells: (kind, text); ok kinds resolve to the sample file, the others must be refused.
def path_cell(ok_name: str, other_name: str):
    """(plain, nasty) path cells as (kind, text): "ok"/"abs" resolve to the sample file, "bad" must be refused."""
    plain = st.sampled_from([("ok", ok_name), ("ok", f" {ok_name}"), ("ok", f"../sample/{ok_name}"),
                             ("ok", f"{ok_name}\n"), ("abs", ok_name)])
    nasty = st.sampled_from([
        ("bad", "missing.png"), ("bad", "/etc/hostname"), ("bad", "../../../../etc/passwd"), ("bad", ""),
        ("bad", "a\x00b.png"), ("bad", "."), ("bad", other_name), ("bad", f"{ok_name}\nx"), ("bad", "nope\u202e.png"),
    ])
    return plain, nasty


def _path_text(kind: str, text: str, folder: Path) -> str:
    return str(folder / text) if kind == "abs" else text


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
        raw = [{"clip_id": c, "image": _path_text(*i, media), "audio": _path_text(*a, media)} for c, i, a in rows]
        path, said = write_table(media / f"m-{uuid.uuid4().hex[:8]}", raw, fmt)
        before = _counts(workspace)
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
            assert _counts(workspace) == before
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
        assert _counts(workspace) == (before[0] + len(want - known), *before[1:])
        seen["accepted"] += 1

    run()
    assert seen["accepted"] and seen["refused"], seen


@pytest.fixture
def videos(workspace, sample_manifest):
    """Two real videos under the workspace's media folder."""
    from tests.fixtures.media import make_video

    d = workspace.path("media", "cands")
    make_video(d / "a.mp4", seconds=0.4, fps=10, size=(32, 32), seed=1)
    make_video(d / "b.mp4", seconds=0.4, fps=10, size=(32, 32), seed=2)
    return d


def _store_rows(ws, stmt) -> list:
    store = ws.open_store()
    try:
        with store.session() as s:
            return list(s.execute(stmt))
    finally:
        store.dispose()


CLIPS = ["sample-001", "sample-002", "sample-003"]


def test_import_candidates_fuzz(workspace, videos, cli, db_url):
    seen = {"accepted": 0, "refused": 0}
    cand_sql = select(Candidate.candidate_id, Clip.clip_id, Candidate.method, Candidate.video_path).join(Clip)

    @_settings(db_url)
    @given(rows=tables((st.sampled_from(CLIPS), st.one_of(VALID_ID, NASTY_ID)), (VALID_ID, NASTY_ID),
                       (st.one_of(st.none(), VALID_ID), NASTY_ID), path_cell("a.mp4", "../sample/sample-001.png"),
                       max_rows=3, ids=3), fmt=FORMATS)
    @known_bad(lambda bad: [("sample-001", bad, None, ("ok", "a.mp4"))])
    def run(rows, fmt):
        raw = [{"clip_id": c, "method": m, "candidate_id": k, "video": _path_text(*v, videos)} for c, m, k, v in rows]
        path, said = write_table(videos / f"c-{uuid.uuid4().hex[:8]}", raw, fmt)
        before = _counts(workspace)
        known = {r.candidate_id: tuple(r) for r in _store_rows(workspace, cand_sql)}
        r = cli("import", "candidates", path, "-w", workspace.root, "--no-progress")
        if r.exit_code != 0:
            assert_refused(r, path)
            assert _counts(workspace) == before
            seen["refused"] += 1
            return
        want = {}
        for rec, (_c, _m, _k, (kind, _t)) in zip(said, rows):
            clip, method = ref_id(rec["clip_id"]), ref_id(rec["method"])
            cand = ref_id(rec["candidate_id"], 201) if ref_text(rec["candidate_id"]) is not None else f"{clip}:{method}"
            assert None not in (clip, method, cand) and kind != "bad", f"accepted a file the rules refuse: {said}"
            want[cand] = (cand, clip, method, str(videos / "a.mp4"))
        got = {r.candidate_id: tuple(r) for r in _store_rows(workspace, cand_sql.where(Candidate.candidate_id.in_(want)))}
        assert got == want  # byte-equal ids, the file's clip, method and video
        assert _counts(workspace) == (before[0], before[1] + len(set(want) - set(known)), *before[2:])
        seen["accepted"] += 1

    run()
    assert seen["accepted"] and seen["refused"], seen


def test_import_ratings_fuzz(workspace, videos, cli, db_url):
    cands = videos / "cands.csv"
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
        path, said = write_table(videos / f"r-{uuid.uuid4().hex[:8]}", raw, fmt)
        before = _counts(workspace)
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
            assert _counts(workspace) == before
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
        if any(r[c] is None or not r[c].strip(" \t\n\v\f\r") for c in ("clip_id", "candidate_id", "method", "annotator_id")):
            return True  # an empty id (issue 12 item 6: such ids were paired)
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
    before = _counts(workspace)
    for col in ("image", "skeleton"):
        path = media / f"nul-{col}.jsonl"
        path.write_text(json.dumps({"clip_id": "n1", "image": "sample-001.png", "audio": "sample-001.wav",
                                    col: "a\x00b.png"}) + "\n")
        r = cli("ingest", path, "-w", workspace.root, "--no-progress")
        assert r.exit_code == 1, r.output
        assert f"nul-{col}.jsonl, row 1, column '{col}': path 'a\\x00b.png' contains a NUL byte." in r.output
    assert _counts(workspace) == before


def test_a_path_with_a_newline_is_reported_on_one_line(workspace, media, cli):
    """"file not found: <path>" printed the resolved path raw, so the message broke over two lines."""
    path = media / "newline.jsonl"
    path.write_text(json.dumps({"clip_id": "n2", "image": "sample-001.png\nx", "audio": "sample-001.wav"}) + "\n")
    r = cli("ingest", path, "-w", workspace.root, "--no-progress")
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1, r.output
    missing = str(media.resolve() / "sample-001.png\nx")
    assert f"row 1, column 'image': file not found: {missing!r}" in r.output


def test_build_pairs_refuses_blank_ids(tmp_path, cli):
    """A whitespace-only candidate_id was paired like any other (issue 12 item 6): candidate 'a' 5.0 beat ' \\t' 1.0."""
    from tests.fixtures.pairs_data import write_ratings

    rows = [{"clip_id": "c1", "candidate_id": "a", "method": "m", "annotator_id": "x", "alignment": 5, "fidelity": 5},
            {"clip_id": "c1", "candidate_id": " \t", "method": "n", "annotator_id": "x", "alignment": 1, "fidelity": 1}]
    path = write_ratings(tmp_path / "r.parquet", rows)
    r = cli("build-pairs", "--ratings", path, "--out", tmp_path / "p.parquet")
    assert r.exit_code == 1, r.output
    assert "r.parquet, row 2, column 'candidate_id': blank id; every rating needs one." in r.output
    assert not (tmp_path / "p.parquet").exists()
