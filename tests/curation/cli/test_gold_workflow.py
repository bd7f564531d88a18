"""The documented gold workflow with the built-in generator: make a known-bad candidate, mark it, see it in stats."""

from __future__ import annotations

import json

import pandas as pd


def test_lipsync_offset_candidate_becomes_a_gold_check(cli, sqlite_workspace, tmp_path):
    from curation.demo.media import make_sample_clips
    from curation.ingest import ingest_manifest

    ws = sqlite_workspace
    manifest = make_sample_clips(ws.path("media", "sample"), n=2, seconds=1.0, size=64)
    ingest_manifest(ws, manifest)
    clip = pd.read_csv(manifest)["clip_id"].iloc[0]
    r = cli("generate", "--methods", "lipsync_offset", "--clips", clip, "--no-progress", "-w", ws.root)
    assert r.exit_code == 0, r.output
    r = cli("gold", "mark", clip, "--candidate", "lipsync_offset", "--alignment", "1-2",
            "--note", "audio shifted 0.4 s", "-w", ws.root)
    assert r.exit_code == 0, r.output
    [answer] = json.loads(cli("gold", "list", "--json", "-w", ws.root).output)
    assert (answer["clip_id"], answer["method"], answer["alignment_max"]) == (clip, "lipsync_offset", 2)

    # one annotator spots the shift, one does not
    ratings = tmp_path / "r.csv"
    cid = answer["candidate_id"]
    ratings.write_text(f"candidate_id,annotator_id,alignment,fidelity\n{cid},ann,1,4\n{cid},ben,4,4\n")
    assert cli("import", "ratings", ratings, "-w", ws.root).exit_code == 0
    st = json.loads(cli("stats", "--json", "-w", ws.root).output)
    assert st["gold"]["gold_clips"] == 1
    assert [(g["annotator_id"], g["accuracy"]) for g in st["gold"]["annotators"]] == [("ann", 1.0), ("ben", 0.0)]
    assert json.loads(cli("gold", "list", "--json", "-w", ws.root).output)[0]["passed"] == 1
