"""``run_generation``: make every (clip, method) job, run them on local workers or Ray, report.

Executors:
    local, no GPUs: one worker inside this process.
    local, ``gpus=["0", "1"]``: one child process per GPU (``python -m generators.worker``)
        with ``CUDA_VISIBLE_DEVICES`` set to that GPU; children die with this process.
    ray: one Ray task per GPU (``num_gpus=1`` each; Ray sets ``CUDA_VISIBLE_DEVICES``), or
        one CPU task per entry of ``gpus`` / a single task when the cluster has no GPUs.
        ``ray.init()`` joins the cluster named by ``RAY_ADDRESS``, else starts a local one.
All workers claim jobs from the store, so a run killed at any moment and started again
finishes every job exactly once (see generators/_jobs.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from generators import _jobs
from generators.registry import adapter_target
from generators.worker import STALE_AFTER_SECONDS, WorkerSpec, run_worker
from storage import Clip
from storage.errors import CurateError
from storage.ids import check_id
from storage.workspace import Workspace

__all__ = ["RunReport", "run_generation"]

POLL_SECONDS = 0.5


@dataclass
class RunReport:
    """Counts over the run's (clip, method) pairs.

    done: jobs finished in this run; failed: jobs that failed for good in this run;
    skipped: pairs already done or failed before, or with a candidate from elsewhere;
    unfinished: jobs still pending or held by another live worker when the run ended.
    """

    done: int = 0
    failed: int = 0
    skipped: int = 0
    unfinished: int = 0
    seconds: float = 0.0
    per_method: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.done + self.failed + self.skipped + self.unfinished


def run_generation(
    ws: Workspace,
    methods: list[str],
    clip_ids: list[str] | None = None,
    gpus: list[str] | None = None,
    executor: str = "local",
    retries: int = 2,
    progress: bool = True,
    retry_failed: bool = False,
    stale_after: float = STALE_AFTER_SECONDS,
    rounds: tuple[int, ...] | None = None,
) -> RunReport:
    """Generate a candidate for every (clip, method) that has none yet.

    Args:
        ws: the workspace (its store holds clips, jobs and candidates).
        methods: generator names (registry keys or methods configured in curate.toml).
        clip_ids: restrict to these clips (default: every clip).
        gpus: GPU ids, one worker per GPU (default: one local worker, no GPU pinning).
        executor: ``"local"`` or ``"ray"``.
        retries: extra attempts after a failed one (``retries=2`` means at most 3 attempts).
        progress: show a tqdm bar per method.
        retry_failed: put jobs that failed in an earlier run back in the queue.
        stale_after: seconds without heartbeat after which another host's running job is taken over.
        rounds: only the clips of these rounds (default: every round; `curate generate` passes the current one).

    Raises:
        CurateError: unknown method, unknown clip id, bad executor or retries.
    """
    start = time.monotonic()
    if executor not in ("local", "ray"):
        raise CurateError(f"--executor must be local or ray. Got {executor!r}.")
    if retries < 0:
        raise CurateError(f"--retries must be >= 0. Got {retries}.")
    methods = _check_methods(ws, methods)
    scope, prepared = _prepare(ws, methods, clip_ids, retry_failed, rounds)
    spec = WorkerSpec(str(ws.root), ws.db_override, tuple(methods), scope.clip_pks, retries, "local", stale_after,
                      rounds=scope.rounds)
    bars = _Bars(ws, scope, prepared.counts_before, progress)
    try:
        if executor == "ray":
            from generators.ray_executor import run_on_ray

            run_on_ray(spec, gpus, bars.refresh)
        elif gpus:
            _run_processes(ws, spec, gpus, bars.refresh)
        else:
            run_worker(spec, on_batch=bars.refresh)
        bars.refresh()
    finally:
        bars.close()
    return _report(bars.last, prepared, time.monotonic() - start)


def _check_methods(ws: Workspace, methods: list[str]) -> list[str]:
    methods = [m.strip() for m in methods if m.strip()]
    if not methods:
        raise CurateError("no methods given; e.g. --methods still,lipsync (see `curate generators list`).")
    for m in methods:
        check_id(m, "--methods", "method")
        adapter_target(m, ws.config.generators.get(m, {}))  # raises for unknown names
    return list(dict.fromkeys(methods))


def _prepare(ws, methods, clip_ids, retry_failed, rounds=None) -> tuple[_jobs.Scope, _jobs.Prepared]:
    seeds = {m: ws.config.generators.get(m, {}).get("seed") for m in methods}
    with ws.store() as store:
        with store.session() as s:
            q = select(Clip).order_by(Clip.id)
            if clip_ids is not None:
                q = q.where(Clip.clip_id.in_(clip_ids))
            if rounds is not None:
                q = q.where(Clip.round.in_(rounds))
            clips = list(s.scalars(q))
            if clip_ids is not None:
                missing = sorted(set(clip_ids) - {c.clip_id for c in clips})
                if missing and rounds is not None:
                    raise CurateError(f"clip id(s) {', '.join(missing)} unknown or not in round(s) "
                                      f"{', '.join(map(str, rounds))}; see `curate round list`.")
                if missing:
                    raise CurateError(f"unknown clip id(s): {', '.join(missing)}; see `curate status`.")
            prepared = _jobs.prepare_jobs(s, methods, clips, seeds, retry_failed)
            scope = _jobs.Scope(tuple(methods), tuple(c.id for c in clips) if clip_ids is not None else None, rounds)
            prepared.counts_before = _jobs.status_counts(s, scope)
    return scope, prepared


def _run_processes(ws: Workspace, spec: WorkerSpec, gpus: list[str], refresh) -> None:
    log_dir = ws.path("logs", "workers")
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for gpu in gpus:
        cmd = [sys.executable, "-m", "generators.worker", "--workspace", spec.workspace, "--methods", ",".join(spec.methods),
               "--retries", str(spec.retries), "--label", f"gpu{gpu}", "--stale-after", str(spec.stale_after)]
        if spec.db:
            cmd += ["--db", spec.db]
        if spec.clip_pks is not None:
            cmd += ["--clip-pks", ",".join(map(str, spec.clip_pks))]
        if spec.rounds is not None:
            cmd += ["--rounds", ",".join(map(str, spec.rounds))]
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": str(gpu)}
        log = open(log_dir / f"gpu{gpu}.log", "ab")  # noqa: SIM115 - closed when the worker has exited
        # The worker arms PR_SET_PDEATHSIG itself first thing (generators.worker.main).
        procs.append((gpu, subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    try:
        while any(p.poll() is None for _, p, _ in procs):
            refresh()
            time.sleep(POLL_SECONDS)
    finally:
        for _, p, log in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()
            log.close()
    bad = [f"gpu{g} (exit {p.returncode}, see logs/workers/gpu{g}.log)" for g, p, _ in procs if p.returncode != 0]
    if bad:
        raise CurateError("worker process(es) failed: " + ", ".join(bad))


class _Bars:
    """One tqdm bar per method, fed from the store's job counts (so it sees every worker's progress)."""

    def __init__(self, ws, scope: _jobs.Scope, before: dict, enabled: bool):
        self.ws, self.scope, self.before, self.enabled = ws, scope, before, enabled
        self.store = ws.open_store()
        self.last = dict(before)
        self.bars = {}
        if enabled:
            from tqdm import tqdm

            for i, m in enumerate(scope.methods):
                todo = sum(n for (mm, st), n in before.items() if mm == m and st in ("pending", "running"))
                self.bars[m] = tqdm(total=todo, desc=f"{m:>16}", unit="clip", position=i, leave=True, dynamic_ncols=True)

    def refresh(self) -> None:
        with self.store.session() as s:
            self.last = _jobs.status_counts(s, self.scope)
        for m, bar in self.bars.items():
            finished = sum(self.last.get((m, st), 0) - self.before.get((m, st), 0) for st in ("done", "failed"))
            bar.update(max(0, finished - bar.n))
            failed = self.last.get((m, "failed"), 0) - self.before.get((m, "failed"), 0)
            bar.set_postfix_str(f"failed {failed}" if failed else "", refresh=True)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.store.dispose()


def _report(now: dict, prepared: _jobs.Prepared, seconds: float) -> RunReport:
    rep = RunReport(seconds=seconds, skipped=prepared.skipped_existing)
    for (m, st), n in now.items():
        pm = rep.per_method.setdefault(m, {"done": 0, "failed": 0, "skipped": 0, "unfinished": 0})
        before = prepared.counts_before.get((m, st), 0)
        if st in ("done", "failed"):
            pm[st] += n - before
            pm["skipped"] += before
        else:
            pm["unfinished"] += n
    for pm in rep.per_method.values():
        rep.done += pm["done"]
        rep.failed += pm["failed"]
        rep.skipped += pm["skipped"]
        rep.unfinished += pm["unfinished"]
    return rep
