"""``python -m trainer.generation JOBS.json``: the subprocess of ``curate sample --gpus`` and the ``policy`` generator.

Reads a :class:`~trainer.generation.settings.SampleJobs` file, loads the run once, and prints one JSON line per job,
``{"out", "error", "meta"}``, also appended to the ``results`` file when one is named. A run that does not load (or
a bad setting) exits 1 with one line.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import torch

from storage.errors import CurateError
from trainer.generation.clip import sample_clip
from trainer.generation.run_loader import load_run
from trainer.generation.settings import SampleConfig, SampleJob, SampleJobs


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m trainer.generation JOBS.json", file=sys.stderr)
        return 2
    try:
        spec = SampleJobs.read(argv[0])
        run = load_run(spec.run, spec.step, "cuda" if torch.cuda.is_available() else "cpu")
        spec.settings.solver(run.cfg.model_kind)
    except (CurateError, ValueError) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    for job in spec.jobs:
        _append(spec.results, _one(run, spec.settings, job))
    return 0


def _one(run, scfg: SampleConfig, job: SampleJob) -> dict:
    row = {"out": job.out, "error": None}
    try:
        one = dataclasses.replace(scfg, seed=int(job.seed))
        row["meta"] = sample_clip(run, one, job.image, job.audio, job.prompt, job.out, skeleton=job.skeleton)
    except (CurateError, ValueError, RuntimeError, OSError) as e:
        row["error"] = f"{type(e).__name__}: {e}"
    return row


def _append(results: str | None, row: dict) -> None:
    print(json.dumps(row), flush=True)  # lands in the job's log
    if results is not None:
        with Path(results).open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
