"""`curate demo --rounds 2`: the two-round campaign in miniature runs end to end on CPU (about a minute) and a
second run reuses everything."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select


def test_two_round_demo_closes_the_loop(cli, tmp_path):
    from storage import Candidate, CandidateStatus, Clip, Rating
    from storage.workspace import load

    target = tmp_path / "demo"
    first = cli("demo", target, "--no-serve", "--rounds", "2")
    assert first.exit_code == 0, first.output
    assert "Round 2 candidates: 15 generated, 0 already there, 0 failed" in first.output
    assert any(line.startswith("round 2: ") and "policy-r1" in line for line in first.output.splitlines())
    assert any(line.startswith("2      policy-r1       3      6") for line in first.output.splitlines())
    ws = load(target)
    assert (target / "runs" / "sft1" / "final" / "motion").is_dir()
    assert (target / "runs" / "dpo1" / "final" / "lora").is_dir()
    with ws.store() as store, store.session() as s:
        per_round = dict(s.execute(select(Clip.round, func.count()).group_by(Clip.round)).all())
        policy = list(s.scalars(select(Candidate).join(Clip).where(Candidate.method == "policy-r1")))
        n_ratings = s.scalar(select(func.count()).select_from(Rating))
    assert per_round == {1: 8, 2: 3}
    assert len(policy) == 3 and all(c.status == CandidateStatus.ready for c in policy)
    # 8 clips x 4 built-ins in round 1, 3 x 5 in round 2; two simulated raters each
    assert n_ratings == 2 * (32 + 15)
    from trainer.generation.video_io import read_sample_record

    meta = read_sample_record(policy[0].raw_path)
    assert meta["run"].endswith("runs/dpo1") and meta["step"] == "final" and meta["settings"]["steps"] == 4
    second = cli("demo", target, "--no-serve", "--rounds", "2")
    assert second.exit_code == 0, second.output
    assert "Round 2 candidates: 0 generated, 15 already there, 0 failed" in second.output


@pytest.mark.parametrize("rounds", ["3", "0"])
def test_rounds_option_is_one_or_two(cli, tmp_path, rounds):
    result = cli("demo", tmp_path / "d", "--no-serve", "--rounds", rounds)
    assert result.exit_code == 2 and "--rounds" in result.output and not (tmp_path / "d").exists()
