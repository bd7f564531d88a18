"""``--executor ray``: the same workers as Ray tasks, one GPU each.

``ray.init()`` joins the cluster in ``RAY_ADDRESS`` (e.g. ``ray://head:10001`` or ``auto``),
else starts a local Ray instance. Every node must have portrait-curate installed, see the
workspace folder at the same path (shared filesystem) and reach the database: use
PostgreSQL (``--db``) for a cluster; SQLite only works on one machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from generators.worker import WorkerSpec, run_worker
from storage.errors import CurateError

POLL_SECONDS = 0.5


def _task(spec: WorkerSpec) -> int:
    return run_worker(spec)


def run_on_ray(spec: WorkerSpec, gpus: list[str] | None, refresh: Callable[[], None]) -> None:
    """Start one worker task per GPU of the cluster (or per ``gpus`` entry / one CPU task) and wait."""
    try:
        import ray
    except ImportError:
        raise CurateError("--executor ray needs Ray: pip install 'ray[default]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=os.environ.get("RAY_ADDRESS") or None, include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True)
    try:
        cluster_gpus = int(ray.cluster_resources().get("GPU", 0))
        n = len(gpus) if gpus else max(1, cluster_gpus)
        remote = ray.remote(num_gpus=1 if cluster_gpus else 0, num_cpus=1, max_retries=0)(_task)
        refs = [remote.remote(_with_label(spec, f"ray{i}")) for i in range(n)]
        pending = list(refs)
        while pending:
            _done, pending = ray.wait(pending, timeout=POLL_SECONDS)
            refresh()
        ray.get(refs)  # re-raise a worker's exception here
    finally:
        if started_here:
            ray.shutdown()


def _with_label(spec: WorkerSpec, label: str) -> WorkerSpec:
    from dataclasses import replace

    return replace(spec, label=label)
