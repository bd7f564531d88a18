"""One worker: claims batches of jobs, runs the adapter, normalises and registers each output.

Started in-process (one local worker), as a child process per GPU
(``python -m generators.worker``, with ``CUDA_VISIBLE_DEVICES`` set by the runner), or as
a Ray task. Every claimed job gets a log under ``logs/jobs/``; the adapter's upstream
output (stdout and stderr) is appended to it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from generators import _jobs
from generators._proc import die_with_parent
from generators.base import GenerationRequest, GenerationResult
from generators.normalize import BrokenOutput, normalize_video
from generators.normalize_config import NormalizeConfig
from generators.registry import batch_size, build
from storage import Candidate, CandidateStatus, Clip, JobStatus
from storage.atomic import atomic_write
from storage.tables import default_candidate_id
from storage.workspace import Workspace, load

HEARTBEAT_SECONDS = 10.0
STALE_AFTER_SECONDS = 120.0


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs; picklable, so it travels to child processes and Ray tasks."""

    workspace: str
    db: str | None
    methods: tuple[str, ...]
    clip_pks: tuple[int, ...] | None
    retries: int = 2
    label: str = "local"
    stale_after: float = STALE_AFTER_SECONDS
    heartbeat: float = HEARTBEAT_SECONDS
    rounds: tuple[int, ...] | None = None  # only the jobs of these rounds' clips (None = every round)


class _Heartbeat(threading.Thread):
    """Renews ``heartbeat_at`` of the jobs this worker holds, so other hosts see it alive."""

    def __init__(self, store, every: float):
        super().__init__(daemon=True, name="heartbeat")
        self.store, self.every = store, every
        self.tokens: set[str] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            with self.lock:
                tokens = set(self.tokens)
            try:
                with self.store.session() as s:
                    _jobs.heartbeat(s, tokens)
            except Exception:  # noqa: BLE001, S110 - a missed beat is harmless; the next one retries
                pass


def run_worker(spec: WorkerSpec, on_batch: Callable[[], None] | None = None) -> int:
    """Work until no claimable job is left in the scope; returns the number of jobs attempted."""
    ws = load(spec.workspace, db=spec.db)
    store = ws.open_store()
    beat = _Heartbeat(store, spec.heartbeat)
    beat.start()
    scope = _jobs.Scope(spec.methods, spec.clip_pks, spec.rounds)
    adapters: dict[str, object] = {}
    batch_sizes = {m: batch_size(m, ws.config.generators.get(m, {})) for m in spec.methods}
    attempted = 0
    try:
        while True:
            token = uuid.uuid4().hex
            with store.session() as s:
                abandoned = _jobs.recover_abandoned(s, scope, spec.stale_after, beat.tokens)
            _sweep(ws, abandoned)
            with store.session() as s:
                jobs = _jobs.claim_batch(s, scope, batch_sizes, token, spec.label)
                batch = [(j.id, j.method, j.attempts, j.seed, j.clip_pk) for j in jobs]
            if not batch:
                return attempted
            with beat.lock:
                beat.tokens.add(token)
            try:
                _run_batch(ws, store, batch, token, spec, adapters)
            finally:
                with beat.lock:
                    beat.tokens.discard(token)
            attempted += len(batch)
            if on_batch:
                on_batch()
    finally:
        beat.stop.set()
        store.dispose()


def _sweep(ws: Workspace, abandoned: list[tuple[str, str]]) -> None:
    """Delete what a dead worker left half-made: its working folder and unregistered outputs.

    Output names carry the claim token's first 8 characters, and a claim that was recovered
    never registered anything, so every file with that tag is garbage.
    """
    for method, token in abandoned:
        if not token:
            continue
        shutil.rmtree(ws.path("tmp", "generate", token), ignore_errors=True)
        folder = ws.path("media", "candidates", method)
        for pattern in (f"*-{token[:8]}.mp4", f".*-{token[:8]}.*.tmp.*", f"raw/*-{token[:8]}.*", f"raw/.*-{token[:8]}.*"):
            for f in folder.glob(pattern):
                f.unlink(missing_ok=True)


def _requests(store, batch) -> tuple[list[GenerationRequest], dict[int, Clip]]:
    with store.session() as s:
        clips = {c.id: c for c in s.scalars(select(Clip).where(Clip.id.in_([b[4] for b in batch])))}
    reqs = []
    for job_id, _m, _a, seed, clip_pk in batch:
        c = clips[clip_pk]
        reqs.append(GenerationRequest(
            job_id=job_id, clip_id=c.clip_id, image_path=Path(c.image_path), audio_path=Path(c.audio_path),
            audio_duration=c.audio_duration, prompt=c.prompt, seed=seed or 0,
            skeleton_path=Path(c.skeleton_path) if c.skeleton_path else None,
        ))
    return reqs, clips


def job_log_path(ws: Workspace, job_id: int, method: str, clip_id: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in clip_id)
    return ws.path("logs", "jobs", f"{job_id:06d}-{method}-{safe}.log")


def _run_batch(ws: Workspace, store, batch, token: str, spec: WorkerSpec, adapters: dict) -> None:
    method = batch[0][1]
    reqs, _clips = _requests(store, batch)
    logs = {r.job_id: job_log_path(ws, r.job_id, method, r.clip_id) for r in reqs}
    attempts = {b[0]: b[2] for b in batch}
    for r in reqs:
        _log(logs[r.job_id], f"=== attempt {attempts[r.job_id]} of {spec.retries + 1}: {method} for clip {r.clip_id} "
             f"(job {r.job_id}, worker {spec.label}, {_jobs.HOST}:{os.getpid()}, claim {token[:8]}, "
             f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')}, seed {r.seed})")
    workdir = ws.path("tmp", "generate", token)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        results = _generate(ws, method, reqs, workdir, adapters)
        upstream = _read(workdir / "upstream.log")
        for r in reqs:
            if upstream:
                _log(logs[r.job_id], "--- upstream output ---\n" + upstream)
            res = results.get(r.job_id) or GenerationResult(r.job_id, error="the adapter returned no result for this job")
            _finish(ws, store, method, r, res, token, attempts[r.job_id], spec, logs[r.job_id])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _generate(ws, method, reqs, workdir, adapters) -> dict[int, GenerationResult]:
    try:
        if method not in adapters:
            adapters[method] = build(method, ws.config.generators.get(method, {}), ws.root)
        out = adapters[method].generate(reqs, workdir)
        return {r.job_id: r for r in out}
    except Exception as e:  # noqa: BLE001 - the whole batch failed (upstream crashed, adapter bug)
        msg = f"{type(e).__name__}: {e}"
        if not isinstance(e, RuntimeError):
            msg += "\n" + traceback.format_exc(limit=5)
        return {r.job_id: GenerationResult(r.job_id, error=msg) for r in reqs}


def _finish(ws, store, method: str, req: GenerationRequest, res: GenerationResult, token: str, attempt: int,
            spec: WorkerSpec, log: Path) -> None:
    final = attempt > spec.retries
    stem = f"{_safe(req.clip_id)}-{token[:8]}"
    folder = ws.path("media", "candidates", method)
    if not res.ok:
        _log(log, f"FAILED: {res.error}")
        _fail(store, req, token, res.error or "unknown error", final, candidate=None)
        return
    raw = folder / "raw" / f"{stem}{res.raw_path.suffix or '.mp4'}"
    try:
        _keep_raw(res.raw_path, raw)
        norm = normalize_video(raw, req.audio_path, folder / f"{stem}.mp4", NormalizeConfig.from_workspace(ws), req.audio_duration)
    except BrokenOutput as e:
        _log(log, f"BROKEN OUTPUT: {e}")
        cand = {"raw_path": str(raw), "failure_reason": str(e)} if final else None
        if not final:
            raw.unlink(missing_ok=True)  # only the last attempt's raw file is kept, as evidence
        _fail(store, req, token, f"broken output: {e}", final, candidate=cand)
        return
    except Exception as e:  # noqa: BLE001 - disk full, unreadable raw file...: a failed attempt, not a dead worker
        _log(log, f"FAILED while keeping/normalising the output: {type(e).__name__}: {e}")
        raw.unlink(missing_ok=True)
        _fail(store, req, token, f"normalisation error: {type(e).__name__}: {e}", final, candidate=None)
        return
    try:
        with store.session() as s:
            job = _jobs.still_ours(s, req.job_id, token)
            if job is None:
                raise _ClaimLost()
            p = norm.probe
            cand = Candidate(
                candidate_id=default_candidate_id(req.clip_id, method), clip_pk=job.clip_pk, method=method,
                video_path=str(norm.path), raw_path=str(raw), fps=p.fps, frame_count=p.frame_count,
                width=p.width, height=p.height, duration=p.duration, has_audio=p.has_audio,
                sha256=norm.sha256, status=CandidateStatus.ready, source="generate",
            )
            s.add(cand)
            s.flush()
            job.candidate_pk = cand.id
            _jobs.release(job, JobStatus.done, None)
        _log(log, f"DONE: {norm.path} ({p.frame_count} frames, {p.width}x{p.height}, {p.fps:g} fps)")
    except (_ClaimLost, IntegrityError) as e:
        norm.path.unlink(missing_ok=True)
        raw.unlink(missing_ok=True)
        reason = "claim lost (another worker recovered this job)" if isinstance(e, _ClaimLost) else (
            f"a candidate for clip {req.clip_id!r} and method {method!r} already exists")
        _log(log, f"NOT REGISTERED: {reason}")
        if isinstance(e, IntegrityError):
            _fail(store, req, token, reason, True, candidate=None)


class _ClaimLost(Exception):
    pass


def _fail(store, req, token, error: str, final: bool, candidate: dict | None) -> None:
    with store.session() as s:
        job = _jobs.still_ours(s, req.job_id, token)
        if job is None:
            return
        if final and candidate is not None:
            c = Candidate(candidate_id=default_candidate_id(req.clip_id, job.method), clip_pk=job.clip_pk, method=job.method,
                          status=CandidateStatus.failed, source="generate", **candidate)
            s.add(c)
            s.flush()
            job.candidate_pk = c.id
        _jobs.release(job, JobStatus.failed if final else JobStatus.pending, error[-8000:])


def _keep_raw(src: Path, dst: Path) -> None:
    """Copy the upstream's file beside the candidates (atomically: a half copy never has ``dst``'s name)."""
    atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp))


def _safe(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in s)


def _log(path: Path, text: str) -> None:
    from datetime import datetime, timezone

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(f"[{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S}] {text.rstrip()}\n")


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def main(argv: list[str] | None = None) -> None:
    """``python -m generators.worker``: the per-GPU child process of ``curate generate --gpus``."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workspace", required=True)
    p.add_argument("--db")
    p.add_argument("--methods", required=True)
    p.add_argument("--clip-pks")
    p.add_argument("--retries", type=int, default=2)
    p.add_argument("--label", default="local")
    p.add_argument("--stale-after", type=float, default=STALE_AFTER_SECONDS)
    p.add_argument("--rounds")
    a = p.parse_args(argv)
    from storage.logs import configure

    configure()  # the parent's -v level, from the environment
    die_with_parent()
    # Pay the media stack's import before the first claim, not inside the first job.
    import decord  # noqa: F401
    import moviepy  # noqa: F401
    spec = WorkerSpec(a.workspace, a.db, tuple(a.methods.split(",")),
                      tuple(int(x) for x in a.clip_pks.split(",")) if a.clip_pks else None,
                      a.retries, a.label, a.stale_after,
                      rounds=tuple(int(x) for x in a.rounds.split(",")) if a.rounds else None)
    run_worker(spec)


if __name__ == "__main__":
    main()
