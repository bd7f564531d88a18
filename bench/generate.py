"""Benchmark of ``curate generate`` orchestration: per-job overhead and scaling over fake GPUs.

A fake generator sleeps ``--job-seconds`` per clip (like a GPU busy on inference) and
hands back a tiny pre-made video, so what is measured beyond the sleep is the runner's
own cost: claiming, heartbeats, logs, normalisation (re-encode + mux of a 1 s 64x64 clip),
hashing and registration, plus worker start-up.

    python bench/generate.py                     # 10 s jobs, 8 jobs, 1/2/4 workers (~3 min)
    python bench/generate.py --job-seconds 1     # quick run

Prints a table and writes bench/results/generate.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class SleepGenerator:
    """Sleeps, then returns a copy of a ready-made 1 s video."""

    kind = "builtin"

    def __init__(self, name: str, seconds: float, video: Path):
        self.name, self.seconds, self.video = name, seconds, video

    def check(self) -> list[str]:
        return []

    def generate(self, requests, workdir: Path):
        from generators.base import GenerationResult

        out = []
        for r in requests:
            time.sleep(self.seconds)
            dst = workdir / f"{r.safe_id}.mp4"
            shutil.copyfile(self.video, dst)
            out.append(GenerationResult(r.job_id, raw_path=dst))
        return out


def make_sleep(name: str, settings: dict, root: Path) -> SleepGenerator:
    return SleepGenerator(name, float(settings["seconds"]), Path(settings["video"]))


def _workspace(folder: Path, jobs: int, job_seconds: float):
    import tomli_w
    import tomllib

    from curation.demo.media import make_sample_clips
    from curation.ingest import ingest_manifest
    from storage.workspace import init, load
    from tests.fixtures.media import make_video

    ws = init(folder)
    video = make_video(folder / "fake.mp4", seconds=1.0, fps=25, size=(64, 64), audio=False)
    data = tomllib.loads(ws.config_path.read_text())
    data["normalize"] = {"fps": 25.0, "width": 64, "height": 64, "max_seconds": 10.0}
    data["generators"] = {"sleep": {"adapter": "bench.generate:make_sleep", "seconds": job_seconds, "video": str(video)}}
    ws.config_path.write_text(tomli_w.dumps(data))
    ingest_manifest(ws, make_sample_clips(folder / "media" / "clips", n=jobs, seconds=1.0, size=64))
    return load(folder)


def run_case(workers: int, jobs: int, job_seconds: float, processes: bool) -> dict:
    from generators.runner import run_generation

    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        ws = _workspace(Path(tmp) / "ws", jobs, job_seconds)
        gpus = [str(i) for i in range(workers)] if processes else None
        t0 = utcnow()
        t = time.perf_counter()
        rep = run_generation(ws, ["sleep"], gpus=gpus, progress=False)
        wall = time.perf_counter() - t
        spans = _job_spans(ws, t0)
    assert rep.done == jobs, rep
    ideal = math.ceil(jobs / workers) * job_seconds
    per_job = (wall - ideal) / (jobs / workers)
    # From the store's own timestamps: claim -> done of each job, minus the sleep; and the time
    # from the call until the first claim (workspace load, worker start-up).
    in_job = sum(end - start for start, end in spans) / len(spans) - job_seconds
    startup = min(start for start, _ in spans)
    return {"workers": workers, "mode": "processes" if processes else "in-process", "jobs": jobs,
            "job_seconds": job_seconds, "wall_s": round(wall, 2), "ideal_s": ideal,
            "overhead_per_job_s": round(per_job, 3), "overhead_pct_of_job": round(100 * per_job / job_seconds, 2),
            "startup_s": round(startup, 2), "in_job_overhead_s": round(in_job, 3),
            "in_job_overhead_pct": round(100 * in_job / job_seconds, 2)}


def _normalise_seconds(repeat: int = 3) -> float:
    """Median time of normalising the fake output alone (the part of a job's overhead that is real work)."""
    from curation.demo.media import speech_like, write_wav
    from generators.normalize import normalize_video
    from generators.normalize_config import NormalizeConfig
    from tests.fixtures.media import make_video

    with tempfile.TemporaryDirectory(prefix="bench-normalise-") as tmp:
        d = Path(tmp)
        video = make_video(d / "raw.mp4", seconds=1.0, fps=25, size=(64, 64), audio=False)
        wav = write_wav(d / "a.wav", speech_like(1.0, seed=0))
        times = []
        for i in range(repeat):
            t = time.perf_counter()
            normalize_video(video, wav, d / f"out{i}.mp4", NormalizeConfig(25.0, 64, 64, 10.0), 1.0)
            times.append(time.perf_counter() - t)
    return round(sorted(times)[len(times) // 2], 3)


def utcnow():
    from storage.models import utcnow as now

    return now()


def _job_spans(ws, t0) -> list[tuple[float, float]]:
    """(claimed, finished) of every job, in seconds since ``t0``."""
    from sqlalchemy import select

    from storage import GenerationJob

    def rel(ts):
        return (ts.replace(tzinfo=t0.tzinfo) - t0).total_seconds()

    store = ws.open_store()
    try:
        with store.session() as s:
            return [(rel(j.started_at), rel(j.finished_at)) for j in s.scalars(select(GenerationJob))]
    finally:
        store.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--job-seconds", type=float, default=10.0, help="fake inference time per clip")
    p.add_argument("--jobs", type=int, default=8, help="clips per case")
    p.add_argument("--workers", default="1,2,4", help="fake GPU counts to compare")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "generate.json"))
    a = p.parse_args()
    os.environ["PYTHONPATH"] = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")  # for worker processes
    norm = _normalise_seconds()
    rows = [run_case(1, a.jobs, a.job_seconds, processes=False)]
    rows += [run_case(int(n), a.jobs, a.job_seconds, processes=True) for n in a.workers.split(",")]
    base = next(r for r in rows if r["mode"] == "processes" and r["workers"] == 1)["wall_s"]
    for r in rows:
        r["normalise_s"] = norm
        r["orchestration_per_job_s"] = round(r["in_job_overhead_s"] - norm, 3)
        r["speedup_vs_1_gpu"] = round(base / r["wall_s"], 2)
        r["scaling_efficiency"] = round(base / r["wall_s"] / r["workers"], 2) if r["mode"] == "processes" else None
        # The same, with each run's start-up (time to the first claim) taken out: the steady state.
        steady = next(x for x in rows if x["mode"] == "processes" and x["workers"] == 1)
        r["steady_efficiency"] = (round((steady["wall_s"] - steady["startup_s"]) / (r["wall_s"] - r["startup_s"]) / r["workers"], 2)
                                  if r["mode"] == "processes" else None)
    print(f"normalising one 1 s 64x64 candidate alone: {norm:.3f} s")
    head = ["workers", "mode", "jobs", "job s", "wall s", "ideal s", "start-up s", "in-job ovh s", "in-job %", "orchestration s",
            "wall ovh/job s", "wall ovh %", "speedup", "efficiency", "steady eff."]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        eff = r["scaling_efficiency"] if r["scaling_efficiency"] is not None else "-"
        steady = r["steady_efficiency"] if r["steady_efficiency"] is not None else "-"
        cells = [r["workers"], r["mode"], r["jobs"], f"{r['job_seconds']:g}", f"{r['wall_s']:.2f}", f"{r['ideal_s']:g}",
                 f"{r['startup_s']:.2f}", f"{r['in_job_overhead_s']:.3f}", f"{r['in_job_overhead_pct']:.2f}",
                 f"{r['orchestration_per_job_s']:.3f}",
                 f"{r['overhead_per_job_s']:.3f}", f"{r['overhead_pct_of_job']:.2f}", f"{r['speedup_vs_1_gpu']:.2f}", eff, steady]
        print("| " + " | ".join(map(str, cells)) + " |")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(a), "cpu_count": os.cpu_count(), "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
