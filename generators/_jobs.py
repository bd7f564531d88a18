"""The generation jobs in the store: creating, claiming, heartbeats, recovery and finishing.

Claims. A worker takes pending jobs in one transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite serialises writers with ``BEGIN IMMEDIATE``), stamping each with a
fresh ``claim_token``, its ``host`` and ``pid`` and a ``heartbeat_at`` that a thread renews.
Finishing is a compare-and-set on that token, in the same transaction that registers
the candidate, so a job is done exactly once even if two workers ever held it.

Recovery. A ``running`` job is abandoned, and goes back to ``pending``, when
  * its worker ran on this host and that pid no longer exists (``kill -9``, crash), or
  * its heartbeat is older than ``stale_after`` seconds (any host; needs synced clocks).
Recovery does not count as an attempt: a killed run is not the upstream's fault.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, update

from generators.base import DEFAULT_SEED
from storage import Candidate, CandidateStatus, Clip, GenerationJob, JobStatus
from storage.models import utcnow
from storage.proc import pid_alive

HOST = socket.gethostname()


@dataclass(frozen=True)
class Scope:
    """Which jobs a run works on: these methods, for these clips (None = every clip) of these rounds (None = all)."""

    methods: tuple[str, ...]
    clip_pks: tuple[int, ...] | None = None
    rounds: tuple[int, ...] | None = None

    def where(self):
        cond = GenerationJob.method.in_(self.methods)
        if self.clip_pks is not None:
            cond = and_(cond, GenerationJob.clip_pk.in_(self.clip_pks))
        if self.rounds is not None:  # a subquery, not a list of pks: a round can hold 100k clips
            cond = and_(cond, GenerationJob.clip_pk.in_(select(Clip.id).where(Clip.round.in_(self.rounds))))
        return cond


@dataclass
class Prepared:
    """What ``prepare_jobs`` found: jobs to run, and (clip, method) pairs it left alone."""

    created: int = 0
    skipped_existing: int = 0  # a candidate already existed (e.g. imported) so no job was made
    reset_failed: int = 0
    counts_before: dict[tuple[str, str], int] = field(default_factory=dict)


def default_seed(method: str) -> int:
    """The seed of a method's jobs unless curate.toml sets one.

    One seed per method (not per clip) keeps batch-mode upstreams, which take a single
    ``--seed`` per call, batchable; a rerun still reproduces the same video.
    """
    return DEFAULT_SEED


def prepare_jobs(session, methods: list[str], clips: list[Clip], seeds: dict[str, int | None], retry_failed: bool) -> Prepared:
    """Create the missing (clip, method) jobs; optionally put failed ones back in the queue."""
    rep = Prepared()
    pks = [c.id for c in clips]
    jobs = {(j.clip_pk, j.method): j for j in session.scalars(select(GenerationJob).where(GenerationJob.method.in_(methods), GenerationJob.clip_pk.in_(pks)))}
    have = {(c.clip_pk, c.method): c for c in session.scalars(select(Candidate).where(Candidate.method.in_(methods), Candidate.clip_pk.in_(pks)))}
    for m in methods:
        for clip in clips:
            job = jobs.get((clip.id, m))
            if job is None:
                if (clip.id, m) in have:
                    rep.skipped_existing += 1
                    continue
                seed = seeds.get(m)
                session.add(GenerationJob(clip_pk=clip.id, method=m, status=JobStatus.pending, attempts=0,
                                          seed=default_seed(m) if seed is None else int(seed)))
                rep.created += 1
            elif job.status == JobStatus.failed and retry_failed:
                cand = have.get((clip.id, m))
                job.candidate_pk = None
                session.flush()
                if cand is not None and cand.status == CandidateStatus.failed:
                    session.delete(cand)
                job.status, job.attempts, job.error = JobStatus.pending, 0, None
                rep.reset_failed += 1
    session.flush()
    return rep


def status_counts(session, scope: Scope) -> dict[tuple[str, str], int]:
    """{(method, status): n} over the scope."""
    q = select(GenerationJob.method, GenerationJob.status, func.count()).where(scope.where()).group_by(GenerationJob.method, GenerationJob.status)
    return {(m, s.value if hasattr(s, "value") else str(s)): n for m, s, n in session.execute(q)}


def is_abandoned(job: GenerationJob, now: datetime, stale_after: float) -> bool:
    if job.host == HOST and job.pid is not None and (job.pid == os.getpid() or not pid_alive(job.pid)):
        # The same pid as ours cannot be a live worker of another run: it is a recycled pid.
        return True
    beat = job.heartbeat_at or job.started_at
    if beat is None:
        return True
    if beat.tzinfo is None:  # SQLite returns naive datetimes (stored as UTC)
        beat = beat.replace(tzinfo=now.tzinfo)
    return now - beat > timedelta(seconds=stale_after)


def recover_abandoned(session, scope: Scope, stale_after: float, own_tokens: set[str]) -> list[tuple[str, str]]:
    """Put abandoned ``running`` jobs of the scope back to ``pending``; returns their (method, old claim token)."""
    now = utcnow()
    out = []
    for job in session.scalars(select(GenerationJob).where(scope.where(), GenerationJob.status == JobStatus.running)):
        if job.claim_token in own_tokens or not is_abandoned(job, now, stale_after):
            continue
        out.append((job.method, job.claim_token or ""))
        job.status = JobStatus.pending
        job.error = f"recovered: worker {job.worker} ({job.host}:{job.pid}) stopped while running it"
        job.claim_token = job.pid = job.host = None
    return out


def claim_batch(session, scope: Scope, batch_sizes: dict[str, int], token: str, worker: str) -> list[GenerationJob]:
    """Mark up to ``batch_sizes[method]`` pending jobs of one method as ours (running)."""
    first = session.scalar(
        select(GenerationJob).where(scope.where(), GenerationJob.status == JobStatus.pending)
        .order_by(GenerationJob.id).limit(1).with_for_update(skip_locked=True)
    )
    if first is None:
        return []
    n = max(1, batch_sizes.get(first.method, 1))
    jobs = list(session.scalars(
        select(GenerationJob).where(scope.where(), GenerationJob.status == JobStatus.pending, GenerationJob.method == first.method)
        .order_by(GenerationJob.id).limit(n).with_for_update(skip_locked=True)
    ))
    now = utcnow()
    for j in jobs:
        j.status, j.claim_token, j.worker = JobStatus.running, token, worker
        j.host, j.pid, j.heartbeat_at, j.started_at = HOST, os.getpid(), now, now
        j.attempts = (j.attempts or 0) + 1
    session.flush()
    return jobs


def heartbeat(session, tokens: set[str]) -> int:
    if not tokens:
        return 0
    res = session.execute(
        update(GenerationJob).where(GenerationJob.claim_token.in_(tokens), GenerationJob.status == JobStatus.running)
        .values(heartbeat_at=utcnow())
    )
    return res.rowcount


def still_ours(session, job_id: int, token: str) -> GenerationJob | None:
    """The job, locked, if we still hold its claim; else None (someone recovered it)."""
    job = session.scalar(select(GenerationJob).where(GenerationJob.id == job_id).with_for_update())
    if job is None or job.claim_token != token or job.status != JobStatus.running:
        return None
    return job


def release(job: GenerationJob, status: JobStatus, error: str | None) -> None:
    job.status, job.error, job.finished_at = status, error, utcnow() if status != JobStatus.pending else None
    job.claim_token = job.pid = job.host = None

