"""The one id rule (storage/ids.py) and every entry point that enforces it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from storage import Clip
from storage.errors import CurateError
from storage.ids import CANDIDATE_ID_MAX, ID_MAX, check_id, optional_id, to_id
from tests.fixtures.fuzz_inputs import store_counts

BAD_IDS = {
    "long": "x" * 100_000,
    "nul": "a\x00b",
    "newline": "a\nb",
    "bidi": "abc\u202edef",
    "space": "a b",
    "slash": "../etc",
    "markdown": "![x](http://127.0.0.1:9/p)",
    "leading-dash": "-rf",
    "formula": "=HYPERLINK(1)",
}
# JSON Lines cells that are not text: stored as "[1, 2]", "True" before the rule.
BAD_JSON = {"list": [1, 2], "dict": {"a": 1}, "bool": True, "float": 1.5}


def test_rule_by_hand():
    assert check_id("sample-001", "f") == "sample-001"
    assert check_id("  a.b_c:d@e+f-9  ", "f") == "a.b_c:d@e+f-9"  # cells are stripped
    assert check_id(17, "f") == "17"  # a Parquet int column
    assert check_id("x" * ID_MAX, "f") == "x" * ID_MAX
    assert len(check_id("c" * CANDIDATE_ID_MAX, "f", "candidate_id")) == 201 == 2 * 100 + 1
    with pytest.raises(CurateError, match=r"m.csv, row 3, column 'clip_id': clip_id is 101 characters long; at most 100"):
        check_id("x" * 101, "m.csv, row 3, column 'clip_id'")
    with pytest.raises(CurateError, match="candidate_id is 202 characters long; at most 201"):
        check_id("c" * 202, "f", "candidate_id")
    for name, bad in BAD_IDS.items():
        with pytest.raises(CurateError, match="not a valid id|characters long"):
            check_id(bad, name)
    for name, bad in BAD_JSON.items():
        with pytest.raises(CurateError, match="an id must be text"):
            check_id(bad, name)
    with pytest.raises(CurateError, match="empty method"):
        check_id("  ", "f", "method")
    assert optional_id(None, "f") is None and optional_id(float("nan"), "f") is None
    assert to_id("Zoë O'Neil <z@x>", "fb") == "Zo_O_Neil_z@x"
    assert to_id("", "labelstudio-user-7") == "labelstudio-user-7"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=120), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2)))
def test_every_value_is_stored_exactly_or_refused(value):
    try:
        out = check_id(value, "f", "clip_id")
    except CurateError:
        return
    assert out == (value.strip() if isinstance(value, str) else str(value))
    assert 1 <= len(out) <= ID_MAX and out.isascii() and out.isprintable() and " " not in out


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_ingest_refuses_bad_clip_ids(workspace, sample_manifest):
    from curation.ingest import ingest_manifest

    base = pd.read_csv(sample_manifest).iloc[0].to_dict()
    before = store_counts(workspace)
    for name, bad in {**BAD_IDS, **BAD_JSON}.items():
        rows = [dict(base, clip_id="fine-1"), dict(base, clip_id=bad)]
        m = _jsonl(sample_manifest.parent / f"bad-{name}.jsonl", rows)
        with pytest.raises(CurateError, match=rf"bad-{name}.jsonl, row 2, column 'clip_id'"):
            ingest_manifest(workspace, m)
    assert store_counts(workspace) == before


def test_longest_id_is_stored_exactly(workspace, sample_manifest):
    """100 characters fit every backend's column (PostgreSQL varchar(200) refused 100k with a raw DataError)."""
    from curation.ingest import ingest_manifest

    base = pd.read_csv(sample_manifest).iloc[0].to_dict()
    longest = "a" + "Z9._:@+-" * 12 + "abc"
    assert len(longest) == 100
    m = _jsonl(sample_manifest.parent / "long.jsonl", [dict(base, clip_id=longest)])
    assert ingest_manifest(workspace, m).added == 1
    store = workspace.open_store()
    try:
        with store.session() as s:
            assert s.scalar(select(Clip.clip_id).where(Clip.clip_id == longest)) == longest
    finally:
        store.dispose()


def test_import_candidates_ids(workspace, cand_videos):
    from curation.file_import import import_candidates

    before = store_counts(workspace)
    dup = pd.DataFrame(
        [("sample-001", "m1", "a.mp4", "same"), ("sample-002", "m1", "b.mp4", "other"), ("sample-002", "m2", "b.mp4", "same")],
        columns=["clip_id", "method", "video", "candidate_id"],
    )
    dup.to_csv(cand_videos / "dup.csv", index=False)
    with pytest.raises(CurateError, match=r"dup.csv, row 3, column 'candidate_id': candidate_id 'same' repeats row 1"):
        import_candidates(workspace, cand_videos / "dup.csv")
    for col in ("method", "candidate_id"):
        for name, bad in BAD_JSON.items():
            row = {"clip_id": "sample-001", "method": "m1", "video": "a.mp4", "candidate_id": "c1", col: bad}
            p = _jsonl(cand_videos / f"{col}-{name}.jsonl", [row])
            with pytest.raises(CurateError, match=rf"row 1, column '{col}': an id must be text"):
                import_candidates(workspace, p)
    assert store_counts(workspace) == before
    # A candidate_id already in the store for another clip: an error naming the row, not an IntegrityError.
    pd.DataFrame([("sample-001", "m1", "a.mp4", "taken")], columns=dup.columns).to_csv(cand_videos / "one.csv", index=False)
    assert import_candidates(workspace, cand_videos / "one.csv").added == 1
    pd.DataFrame([("sample-002", "m1", "b.mp4", "taken")], columns=dup.columns).to_csv(cand_videos / "two.csv", index=False)
    with pytest.raises(CurateError, match=r"two.csv, row 1, column 'candidate_id': candidate_id 'taken' is already used by clip 'sample-001' method 'm1'"):
        import_candidates(workspace, cand_videos / "two.csv")
    assert store_counts(workspace) == (before[0], before[1] + 1, before[2], before[3])


def test_import_ratings_and_gold_ids(workspace, cand_videos):
    from annotate_app.gold import import_gold
    from curation.file_import import import_candidates, import_ratings

    pd.DataFrame([("sample-001", "m1", "a.mp4")], columns=["clip_id", "method", "video"]).to_csv(cand_videos / "c.csv", index=False)
    import_candidates(workspace, cand_videos / "c.csv")
    before = store_counts(workspace)
    for name, bad in {**BAD_IDS, **BAD_JSON}.items():
        rows = [{"candidate_id": "sample-001:m1", "annotator_id": "ok", "alignment": 3, "fidelity": 3},
                {"candidate_id": "sample-001:m1", "annotator_id": bad, "alignment": 3, "fidelity": 4}]
        p = _jsonl(cand_videos / f"r-{name}.jsonl", rows)
        with pytest.raises(CurateError, match=r"row 2, column 'annotator_id'"):
            import_ratings(workspace, p)
    p = _jsonl(cand_videos / "r-cand.jsonl", [{"candidate_id": ["sample-001:m1"], "annotator_id": "ok", "alignment": 3, "fidelity": 3}])
    with pytest.raises(CurateError, match=r"row 1, column 'candidate_id': an id must be text, not list"):
        import_ratings(workspace, p)
    g = _jsonl(cand_videos / "g.jsonl", [{"clip_id": "sample-001\n", "candidate_id": "m1", "alignment_min": 4}])
    g.write_text(json.dumps({"clip_id": "sample-001\u202e", "candidate_id": "m1", "alignment_min": 4}) + "\n")
    store = workspace.open_store()
    try:
        with pytest.raises(CurateError, match=r"g.jsonl, row 1, column 'clip_id': clip_id .* is not a valid id"):
            import_gold(store, g)
    finally:
        store.dispose()
    assert store_counts(workspace) == before


def test_annotators_add_and_generate_refuse_bad_ids(workspace, cli):
    before = store_counts(workspace)
    r = cli("annotators", "add", "al ice", "-w", workspace.root)
    assert r.exit_code == 1 and "annotator name: annotator 'al ice' is not a valid id" in r.output
    assert "Traceback" not in r.output
    r = cli("annotators", "add", "=cmd|x", "-w", workspace.root)
    assert r.exit_code == 1 and "is not a valid id" in r.output
    r = cli("generate", "--methods", "still,../x", "-w", workspace.root, "--no-progress")
    assert r.exit_code == 1 and "--methods: method '../x' is not a valid id" in r.output
    assert store_counts(workspace) == before
