"""The trained model as a generator: ``python -m trainer.generation JOBS.json`` per batch, the run loaded once.

Like the baselines, the model runs in a subprocess (generators import only the trainer's torch-free
``trainer.generation.settings``, for the jobs file). Each request becomes one job of the file; ``trainer.generation`` writes ``j<job>.mp4`` (the clip's audio muxed in, run / step /
settings / seeds in its ``comment`` tag, kept in the raw file under ``media/candidates/<method>/raw/``) and one
result line per job to ``results.jsonl``; it also prints the record, so the job log shows what made the video.
The runner then normalises and registers each video like any other candidate.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from generators._proc import UpstreamError, run_logged
from generators._settings import missing_paths, missing_python
from generators.base import GenerationRequest, GenerationResult
from generators.policy.config import PolicyConfig, policy_config
from trainer.generation.settings import SampleJob, SampleJobs


class PolicyGenerator:
    kind = "upstream"

    def __init__(self, name: str, config: PolicyConfig):
        self.name, self.config = name, config

    def check(self) -> list[str]:
        c = self.config
        run = Path(c.run)
        missing = missing_paths([("run folder", run)])
        if not missing:
            missing += missing_paths([("run config", run / "config.json")])
            if c.step is None:
                missing += missing_paths([("finished run's final/ (or set `step`)", run / "final")])
            else:
                missing += missing_paths([(f"checkpoint of step {c.step}",
                                           run / "checkpoints" / f"step-{c.step:06d}" / "model.safetensors")])
        no_python = missing_python(c.python, None)
        if not missing and not no_python:  # the run's own config and model folders, checked by the sampler's python
            missing += _run_problems(c)
        return missing + no_python

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        c = self.config
        workdir.mkdir(parents=True, exist_ok=True)
        jobs = [SampleJob(str(r.image_path), str(r.audio_path), r.prompt, r.seed, str(workdir / f"{r.safe_id}.mp4"),
                          job_id=r.job_id) for r in requests]
        SampleJobs(str(c.run), c.step, c.sampling, jobs, results=str(workdir / "results.jsonl"),
                   method=self.name).write(workdir / "jobs.json")
        try:
            run_logged([c.python, "-m", "trainer.generation", str(workdir / "jobs.json")], cwd=workdir,
                       log_path=workdir / "upstream.log", env=c.env, timeout=c.timeout_s)
        except UpstreamError as e:
            return [GenerationResult(r.job_id, error=str(e)) for r in requests]
        done = _results(workdir / "results.jsonl")
        out = []
        for r, job in zip(requests, jobs):
            err = done.get(job.out, "trainer.generation reported nothing for this job")
            video = Path(job.out)
            out.append(GenerationResult(r.job_id, raw_path=video) if err is None and video.is_file()
                       else GenerationResult(r.job_id, error=err or f"policy wrote no {video.name}"))
        return out


def _run_problems(c: PolicyConfig) -> list[str]:
    """What would stop the sampler loading the run (``python -m trainer.generation.run_check``, torch-free), asked
    of the interpreter that will sample it; one line each."""
    cmd = [c.python, "-m", "trainer.generation.run_check", str(c.run)] + ([str(c.step)] if c.step else [])
    try:
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120,
                              env={**os.environ, **c.env})
    except (OSError, subprocess.TimeoutExpired) as e:
        return [f"run check did not finish ({type(e).__name__}: {e})"]
    lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
    if done.returncode not in (0, 1) or (done.returncode == 1 and not lines):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"run check failed in {c.python}: {tail}"]
    return lines


def _results(path: Path) -> dict[str, str | None]:
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["out"]: row["error"] for row in rows}


def make(name: str, settings: dict[str, Any], root: Path) -> PolicyGenerator:
    return PolicyGenerator(name, policy_config(name, settings, root))
