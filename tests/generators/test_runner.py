"""The batch runner: kill -9 and resume, retries with stderr kept, broken outputs, GPU workers, Ray, CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.fixtures.generators_ws import REPO, configure, fake_settings, sample_clips

SLOW = "tests.fixtures.generators_slow:make"
SMALL = {"fps": 25.0, "width": 64, "height": 64}


def _rows(ws):
    from storage import Candidate, GenerationJob

    store = ws.open_store()
    try:
        with store.session() as s:
            return list(s.scalars(select(GenerationJob).order_by(GenerationJob.id))), list(s.scalars(select(Candidate)))
    finally:
        store.dispose()


def _curate(ws, *args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "curation.cli", *args, "-w", str(ws.root), "--db", ws.database_url]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_9_mid_run_then_resume_finishes_each_job_exactly_once(workspace):
    """5 clips x slow (0.6 s/clip): SIGKILL after 2 jobs are done, rerun, every job done once."""
    from storage import JobStatus

    ws = configure(workspace, generators={"slow": {"adapter": SLOW, "delay": 0.6}}, normalize=SMALL)
    sample_clips(ws, n=5, seconds=1.0)
    proc = _curate(ws, "generate", "--methods", "slow", "--no-progress")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        jobs, _ = _rows(ws)
        if sum(j.status == JobStatus.done for j in jobs) >= 2 and any(j.status == JobStatus.running for j in jobs):
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    jobs, cands = _rows(ws)
    left_running = [j.id for j in jobs if j.status == JobStatus.running]
    assert left_running, "the kill should leave a job claimed by the dead process"
    assert len(cands) == sum(j.status == JobStatus.done for j in jobs) < 5

    from generators.runner import run_generation

    rep = run_generation(ws, ["slow"], progress=False)
    jobs, cands = _rows(ws)
    assert (rep.done + rep.skipped, rep.failed, rep.unfinished) == (5, 0, 0)
    assert all(j.status == JobStatus.done for j in jobs)
    assert sorted(c.id for c in cands) == sorted(j.candidate_pk for j in jobs) and len(cands) == 5
    for c in cands:
        assert Path(c.video_path).is_file() and ".tmp" not in c.video_path
    # What the killed worker left half-made was swept: only registered files remain.
    on_disk = {p for p in ws.path("media", "candidates", "slow").rglob("*") if p.is_file()}
    assert on_disk == {Path(c.video_path) for c in cands} | {Path(c.raw_path) for c in cands}
    assert not any(ws.path("tmp", "generate").iterdir())
    for j in jobs:  # one DONE line per job log: nothing was registered twice
        assert Path(j.log_path or _log_of(ws, j)).read_text().count("DONE:") == 1
    recovered = [j for j in jobs if j.id in left_running]
    assert all(j.attempts == 2 for j in recovered)  # claimed by the killed run, then by the rerun


def test_killing_curate_kills_the_upstream_process_too(sqlite_workspace, tmp_path):
    """SIGKILL of `curate generate` while a (fake) Hallo3 runs: the upstream dies with it, and a rerun finishes."""
    from generators.runner import run_generation
    from storage import JobStatus
    from storage.proc import pid_alive

    pidfile = tmp_path / "upstream.pid"
    slow = fake_settings("hallo3", env={"FAKE_SLEEP": "60", "FAKE_PIDFILE": str(pidfile)})
    ws = configure(sqlite_workspace, generators={"hallo3": slow}, normalize=SMALL)
    sample_clips(ws, n=1)
    proc = _curate(ws, "generate", "--methods", "hallo3", "--no-progress")
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    upstream = int(pidfile.read_text())
    assert pid_alive(upstream)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while pid_alive(upstream) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(upstream), "the upstream outlived the killed runner"
    ws = configure(ws, generators={"hallo3": fake_settings("hallo3")})
    assert run_generation(ws, ["hallo3"], progress=False).done == 1
    (job,), (cand,) = _rows(ws)
    assert job.status == JobStatus.done and job.attempts == 2 and job.candidate_pk == cand.id


def _log_of(ws, job):
    return next(ws.path("logs", "jobs").glob(f"{job.id:06d}-*.log"))


def test_failing_upstream_is_retried_then_failed_with_stderr_kept(workspace):
    """retries=1: two attempts of the fake Hallo3 that exits 1; no candidate; the error and log keep stderr."""
    from generators.runner import run_generation
    from storage import JobStatus

    ws = configure(workspace, generators={"hallo3": fake_settings("hallo3", env={"FAKE_FAIL": "1"})}, normalize=SMALL)
    sample_clips(ws, n=1, seconds=1.0)
    rep = run_generation(ws, ["hallo3"], retries=1, progress=False)
    assert (rep.done, rep.failed) == (0, 1)
    (job,), cands = _rows(ws)
    assert cands == []
    assert job.status == JobStatus.failed and job.attempts == 2 and job.candidate_pk is None
    assert "exited with status 1" in job.error and "CUDA out of memory" in job.error
    log = _log_of(ws, job).read_text()
    assert log.count("=== attempt") == 2 and log.count("CUDA out of memory") >= 2
    # Not rerun by default; --retry-failed puts it back (and it fails again: 2 more attempts).
    assert run_generation(ws, ["hallo3"], retries=1, progress=False).skipped == 1
    rep = run_generation(ws, ["hallo3"], retries=1, progress=False, retry_failed=True)
    assert rep.failed == 1 and _rows(ws)[0][0].attempts == 2


def test_broken_output_becomes_a_failed_candidate_with_reason(sqlite_workspace):
    """An imported 'video' that does not decode: job failed, candidate failed with the reason, never ready."""
    from generators.runner import run_generation
    from storage import CandidateStatus, JobStatus

    ws = sqlite_workspace
    incoming = ws.path("incoming")
    incoming.mkdir()
    (incoming / "sample-001.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    ws = configure(ws, generators={"elsewhere": {"adapter": "import", "videos": "incoming/{clip_id}.mp4"}}, normalize=SMALL)
    sample_clips(ws, n=1)
    rep = run_generation(ws, ["elsewhere"], retries=0, progress=False)
    (job,), (cand,) = _rows(ws)
    assert (rep.done, rep.failed) == (0, 1) and job.status == JobStatus.failed
    assert cand.status == CandidateStatus.failed and "does not decode" in cand.failure_reason
    assert cand.video_path is None and job.candidate_pk == cand.id


def test_import_adapter_normalises_foreign_videos(sqlite_workspace):
    """A 30 fps, 2 s, 96x64 video for a 1 s clip becomes 25 frames of 64x64 with the clip's audio."""
    from generators.runner import run_generation
    from storage.media import probe_video
    from tests.fixtures.media import make_video

    ws = sqlite_workspace
    make_video(ws.path("incoming", "sample-001.mp4"), seconds=2.0, fps=30, size=(96, 64))
    ws = configure(ws, generators={"elsewhere": {"adapter": "import", "videos": "incoming/{clip_id}.mp4"}}, normalize=SMALL)
    sample_clips(ws, n=1, seconds=1.0)
    assert run_generation(ws, ["elsewhere"], progress=False).done == 1
    (_,), (cand,) = _rows(ws)
    p = probe_video(Path(cand.video_path), "candidate")
    assert (p.fps, p.frame_count, p.width, p.height, p.has_audio) == (25.0, 25, 64, 64, True)


def test_one_worker_process_per_gpu(sqlite_workspace, monkeypatch):
    """--gpus 0,1: each job ran in a worker whose CUDA_VISIBLE_DEVICES matches its label."""
    from generators.runner import run_generation

    ws = configure(sqlite_workspace, generators={"slow": {"adapter": SLOW, "delay": 0.3}}, normalize=SMALL)
    sample_clips(ws, n=4)
    # The workers import the slow test adapter from tests/; monkeypatch restores PYTHONPATH afterwards.
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    rep = run_generation(ws, ["slow"], gpus=["0", "1"], progress=False)
    assert rep.done == 4
    jobs, _ = _rows(ws)
    for j in jobs:
        gpu = j.worker.removeprefix("gpu")
        log = _log_of(ws, j).read_text()
        assert gpu in ("0", "1") and f"CUDA_VISIBLE_DEVICES={gpu}," in log and f"CUDA_VISIBLE_DEVICES={gpu}\n" in log


def test_abandoned_job_detection(sqlite_workspace):
    """Same host + dead pid: abandoned at once. Other host: only after stale_after seconds without heartbeat."""
    from generators import _jobs
    from storage import GenerationJob, JobStatus
    from storage.models import utcnow

    now = utcnow()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job = GenerationJob(status=JobStatus.running, host=_jobs.HOST, pid=dead.pid, heartbeat_at=now)
    assert _jobs.is_abandoned(job, now, stale_after=120)
    job.pid = os.getppid()  # alive, not ours
    assert not _jobs.is_abandoned(job, now, stale_after=120)
    job.host = "another-node"
    assert not _jobs.is_abandoned(job, now + timedelta(seconds=119), stale_after=120)
    assert _jobs.is_abandoned(job, now + timedelta(seconds=121), stale_after=120)


def test_unknown_method_and_clip_are_clear_errors(sqlite_workspace):
    from generators.runner import run_generation
    from storage.errors import CurateError

    sample_clips(sqlite_workspace, n=1)
    with pytest.raises(CurateError, match="unknown generator 'hallo5'"):
        run_generation(sqlite_workspace, ["hallo5"], progress=False)
    with pytest.raises(CurateError, match="unknown clip id\\(s\\): nope"):
        run_generation(sqlite_workspace, ["still"], clip_ids=["nope"], progress=False)
    assert _rows(sqlite_workspace) == ([], [])


def test_cli_generate_list_and_check(sqlite_workspace, cli):
    ws = configure(sqlite_workspace, generators={"hallo3": fake_settings("hallo3"),
                                                 "sadtalker": {"checkout": "/nowhere/SadTalker", "python": "python3"}},
                   normalize=SMALL)
    sample_clips(ws, n=2)
    res = cli("generate", "-w", ws.root, "--methods", "still", "--clips", "sample-002", "--no-progress")
    assert res.exit_code == 0, res.output
    assert "still: 1 done, 0 failed, 0 skipped" in res.output
    listing = cli("generators", "list", "-w", ws.root).output
    assert "hallo3  upstream  configured" in listing and "lipsync  built-in  ready" in listing
    assert "aniportrait  upstream  not configured" in listing
    check = cli("generators", "check", "-w", ws.root, "hallo3", "sadtalker")
    assert check.exit_code == 1
    assert "hallo3: ready" in check.output
    assert "sadtalker: NOT READY\n  - checkout not found: /nowhere/SadTalker" in check.output


def test_ray_executor_runs_the_same_jobs(sqlite_workspace):
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install ray to test --executor ray")
    from generators.runner import run_generation

    ws = configure(sqlite_workspace, normalize=SMALL)
    sample_clips(ws, n=2)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rep = run_generation(ws, ["still", "lipsync"], executor="ray", progress=False)
    finally:
        ray.shutdown()
    assert (rep.done, rep.failed) == (4, 0)
    jobs, cands = _rows(ws)
    assert len(cands) == 4 and {j.worker for j in jobs} <= {"ray0"}
