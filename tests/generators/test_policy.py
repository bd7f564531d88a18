"""The ``policy`` generator: trained runs as candidate methods, run through ``python -m trainer.generation``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.fixtures.generators_ws import configure, sample_clips


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from tests.fixtures.sample_run import make_tiny_run

    return make_tiny_run(tmp_path_factory.mktemp("policy"))


def test_two_runs_as_two_methods_make_ready_blind_candidates(sqlite_workspace, tiny_run, cli):
    """policy-r1 (final/) and policy-r2 (step 2) on 2 clips of 0.5 s: 4 ready candidates in the workspace format
    (normalised to its fps and size, the clip's audio), each raw video recording the run, step and settings."""
    from generators.runner import run_generation
    from storage import Candidate, CandidateStatus
    from storage.media import probe_video
    from trainer.generation.video_io import read_sample_record

    ws = configure(sqlite_workspace, normalize={"fps": 25.0, "width": 64, "height": 64}, generators={
        "policy-r1": {"adapter": "policy", "run": str(tiny_run), "steps": 2, "seed": 5},
        "policy-r2": {"adapter": "policy", "run": str(tiny_run), "step": 2, "steps": 1, "guidance_text": 1.0},
    })
    ids = sample_clips(ws, n=2, seconds=0.5, size=64)
    result = cli("generators", "check", "policy-r1", "policy-r2", "-w", ws.root)
    assert result.exit_code == 0, result.output
    rep = run_generation(ws, ["policy-r1", "policy-r2"], progress=False)
    assert (rep.done, rep.failed) == (4, 0)
    with ws.store() as store, store.session() as s:
        cands = list(s.scalars(select(Candidate).order_by(Candidate.candidate_id)))
    assert [c.candidate_id for c in cands] == [f"{i}:{m}" for i in ids for m in ("policy-r1", "policy-r2")]
    for c in cands:
        assert c.status == CandidateStatus.ready
        p = probe_video(Path(c.video_path), "candidate")
        assert (p.fps, p.frame_count, p.width, p.height, p.has_audio) == (25.0, 12, 64, 64, True)  # round(0.5*25)
        meta = read_sample_record(c.raw_path)
        assert meta["run"] == str(tiny_run)
        if c.method == "policy-r1":
            assert meta["step"] == "final" and meta["settings"]["steps"] == 2 and meta["window_seeds"][0] == 5
        else:
            assert meta["step"] == 2 and meta["settings"]["guidance_text"] == 1.0


def test_settings_and_runs_that_cannot_be_sampled(sqlite_workspace, tmp_path, cli):
    from generators.registry import build
    from storage.errors import CurateError

    with pytest.raises(CurateError, match=r"\[generators.policy\]: `run` is required"):
        build("policy", {}, tmp_path)
    with pytest.raises(CurateError, match=r"\[generators.p\]: `guidance_audio` must be a number in \[1, 20\]"):
        build("p", {"adapter": "policy", "run": "runs/x", "guidance_audio": 0}, tmp_path)
    with pytest.raises(CurateError, match=r"unknown key\(s\) \['stepz'\]"):
        build("policy", {"run": "runs/x", "stepz": 3}, tmp_path)
    gen = build("policy", {"run": "runs/x"}, tmp_path)
    assert gen.check() == [f"run folder not found: {tmp_path / 'runs' / 'x'}"]
    (tmp_path / "runs" / "x").mkdir(parents=True)
    (tmp_path / "runs" / "x" / "config.json").write_text("{}")
    assert build("policy", {"run": "runs/x", "step": 3}, tmp_path).check() == [
        f"checkpoint of step 3 not found: {tmp_path / 'runs/x/checkpoints/step-000003/model.safetensors'}"]


def test_an_unfinished_run_fails_every_job_with_one_line(tmp_path):
    """The subprocess exits 1 naming the run; each request gets that line as its error, nothing is written."""
    from generators.registry import build
    from tests.fixtures.generators_ws import requests_for

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps({"model_kind": "wan"}))
    reqs = requests_for(tmp_path / "clips", seconds=(0.5,))
    res = build("policy", {"run": str(tmp_path / "run")}, tmp_path).generate(reqs, tmp_path / "work")
    assert len(res) == 1 and not res[0].ok
    assert f"run {tmp_path / 'run'} is not a finished run (no final/); saved steps: none" in res[0].error
    assert not list((tmp_path / "work").glob("*.mp4"))


def test_a_typod_scheduler_is_refused_by_generators_check(sqlite_workspace, tmp_path, cli):
    """The sampling keys are SampleConfig's: a scheduler typo fails at the config, not inside the subprocess."""
    from generators.registry import build
    from storage.errors import CurateError

    with pytest.raises(CurateError, match=r"\[generators.policy\]: `scheduler` must be one of"):
        build("policy", {"run": "runs/x", "scheduler": "unpic"}, tmp_path)
    ws = configure(sqlite_workspace, generators={"policy": {"run": "runs/x", "scheduler": "unpic"}})
    result = cli("generators", "check", "policy", "-w", ws.root)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if "unpic" in line]
    assert len(lines) == 1 and "`scheduler` must be one of" in lines[0], result.output
