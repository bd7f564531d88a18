"""``curate gold mark|list|unmark|import`` end to end, including bad input (clear error, nothing written)."""

from __future__ import annotations

import json

import pytest

from storage import CandidateStatus
from tests.fixtures.stats_seed import add_clips


def _with_clips(workspace):
    store = workspace.open_store()
    try:
        add_clips(store, {"c1": {"lipsync_offset": CandidateStatus.ready, "still": CandidateStatus.ready},
                          "c2": {"still": CandidateStatus.ready}})
    finally:
        store.dispose()
    return workspace


@pytest.fixture
def ws(workspace):
    """On SQLite and PostgreSQL."""
    return _with_clips(workspace)


@pytest.fixture
def sqlite_ws(sqlite_workspace):
    """SQLite only: for the many input-validation cases, which do not depend on the database."""
    return _with_clips(sqlite_workspace)


def gold_list(cli, ws) -> list[dict]:
    r = cli("gold", "list", "--json", "-w", ws.root)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def is_gold(cli, ws) -> dict[str, bool]:
    return {c["clip_id"]: c["is_gold"] for c in json.loads(cli("stats", "--json", "-w", ws.root).output)["clips"]}


def test_mark_list_unmark(cli, ws):
    r = cli("gold", "mark", "c1", "--candidate", "lipsync_offset", "--alignment", "1-2",
            "--note", "audio shifted 0.4 s", "-w", ws.root)
    assert r.exit_code == 0, r.output
    assert "alignment 1-2, fidelity 1-5 (added)" in r.output
    assert gold_list(cli, ws) == [{
        "clip_id": "c1", "candidate_id": "c1:lipsync_offset", "method": "lipsync_offset", "alignment_min": 1,
        "alignment_max": 2, "fidelity_min": 1, "fidelity_max": 5, "note": "audio shifted 0.4 s", "ratings": 0,
        "passed": 0}]
    assert is_gold(cli, ws) == {"c1": True, "c2": False}
    table = cli("gold", "list", "-w", ws.root).output
    assert "c1:lipsync_offset" in table and "audio shifted 0.4 s" in table

    r = cli("gold", "unmark", "c1", "-w", ws.root)
    assert r.exit_code == 0 and "removed 1 gold answer(s) from c1" in r.output
    assert gold_list(cli, ws) == [] and is_gold(cli, ws) == {"c1": False, "c2": False}
    assert "no gold answers" in cli("gold", "list", "-w", ws.root).output


@pytest.mark.parametrize("args,msg", [
    (["c9", "--candidate", "still", "--alignment", "1-2"], "unknown clip 'c9'"),
    (["c1", "--candidate", "hallo3", "--alignment", "1-2"], "has no candidate (id or method) 'hallo3'"),
    (["c1", "--candidate", "c2:still", "--alignment", "1-2"], "belongs to another clip"),
    (["c1", "--candidate", "still", "--alignment", "4-2"], "--alignment: '4-2' is not a range within 1-5"),
    (["c1", "--candidate", "still", "--fidelity", "0-3"], "--fidelity: '0-3' is not a range within 1-5"),
    (["c1", "--candidate", "still", "--fidelity", "good"], "--fidelity: 'good' is not a score range"),
    (["c1", "--candidate", "still"], "1-5 on both axes checks nothing"),
])
def test_mark_bad_input_writes_nothing(cli, sqlite_ws, args, msg):
    r = cli("gold", "mark", *args, "-w", sqlite_ws.root)
    assert r.exit_code == 1
    assert r.output.startswith("Error: ") and msg in r.output
    assert gold_list(cli, sqlite_ws) == [] and not any(is_gold(cli, sqlite_ws).values())


def test_unmark_unknown_clip(cli, ws):
    r = cli("gold", "unmark", "nope", "-w", ws.root)
    assert r.exit_code == 1 and "unknown clip 'nope'" in r.output


def test_import_then_bad_import(cli, ws, tmp_path):
    f = tmp_path / "gold.csv"
    f.write_text("clip_id,candidate_id,alignment_min,alignment_max,fidelity_min,fidelity_max,note\n"
                 "c1,c1:lipsync_offset,1,2,,,audio shifted 0.4 s\n"
                 "c2,still,4,5,4,5,clean reference\n")
    r = cli("gold", "import", f, "-w", ws.root)
    assert r.exit_code == 0 and "2 added, 0 unchanged, 0 updated" in r.output
    assert cli("gold", "import", f, "-w", ws.root).output.strip().endswith("0 added, 2 unchanged, 0 updated")
    assert [g["candidate_id"] for g in gold_list(cli, ws)] == ["c1:lipsync_offset", "c2:still"]

    bad = tmp_path / "bad.csv"
    bad.write_text("clip_id,candidate_id,fidelity_min,fidelity_max\nc1,still,1,2\nc1,nope,1,2\n")
    r = cli("gold", "import", bad, "-w", ws.root)
    assert r.exit_code == 1 and "bad.csv, row 2, column 'candidate_id'" in r.output
    assert len(gold_list(cli, ws)) == 2  # row 1 (c1:still) was not written

    missing = tmp_path / "missing.csv"
    missing.write_text("clip,candidate\nc1,still\n")
    r = cli("gold", "import", missing, "-w", ws.root)
    assert r.exit_code == 1 and "missing required column(s)" in r.output


def test_help_teaches(cli):
    assert "lipsync_offset" in cli("gold", "--help").output
    assert "alignment_min" in cli("gold", "import", "--help").output
    assert "1-2" in cli("gold", "mark", "--help").output
