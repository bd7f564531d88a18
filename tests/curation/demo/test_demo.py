"""`curate demo DIR --no-serve`: builds the sample workspace once, and a second run reuses it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from storage import Annotator, Candidate, CandidateStatus, Clip


@pytest.mark.slow
def test_demo_builds_and_is_idempotent(cli, tmp_path):
    target = tmp_path / "demo"
    first = cli("demo", target, "--no-serve", "--port", "8611")
    assert first.exit_code == 0, first.output
    assert "Clips: 8" in first.output
    links = re.findall(r"http://127\.0\.0\.1:8611/\?token=\d+\.\S+", first.output)
    assert len(links) == 2
    second = cli("demo", target, "--no-serve", "--port", "8611")
    assert "Clips: 8" in second.output and "0 generated" in second.output
    assert "Gold clip: sample-003" in second.output
    from storage.workspace import load

    store = load(target).open_store()
    try:
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(Clip)) == 8
            ready = s.scalar(select(func.count()).where(Candidate.status == CandidateStatus.ready))
            assert ready == 8 * 4  # still, lipsync, lipsync_offset, lipsync_blur
            assert sorted(s.scalars(select(Annotator.name))) == ["admin", "demo"]
            assert list(s.scalars(select(Clip.clip_id).where(Clip.is_gold))) == ["sample-003"]
    finally:
        store.dispose()
