"""The one home of the sampling settings and of the jobs file ``python -m trainer.generation JOBS.json`` reads.

:class:`SampleConfig`: how ``curate sample`` and the ``policy`` generator draw videos from a trained run. The model,
its size, frame count and fps come from the run (its ``config.json``); these settings only choose the solver, the
guidance and the seed. Every field is recorded beside each video so a sample can be remade.

:class:`SampleJobs`: the jobs file, written by ``curate sample --gpus`` and the ``policy`` generator, read by the
subprocess. Standard library only: ``generators/`` imports this module (the one thing it may import from the
trainer), and must never pull in torch.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

SCHEDULERS = ("auto", "unipc", "unipc_wan", "euler", "ddim")
FLOW_SCHEDULERS = ("unipc", "unipc_wan", "euler")  # Wan runs (flow matching)
EPS_SCHEDULERS = ("ddim",)  # UNet runs (epsilon / v)


def _f(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class SampleConfig:
    """Solver, guidance, windows and seed of one sampling job.

    Guidance (classifier-free, three forwards per step): ``v = v_null + g_text (v_text - v_null)
    + g_audio (v_full - v_text)`` where ``v_full`` sees prompt and audio, ``v_text`` the prompt and zero audio,
    ``v_null`` the empty prompt and zero audio. Scales of 1 skip the forwards they do not need.
    """

    steps: int = _f(30, "Solver steps (1-1000).")
    scheduler: str = _f("auto", "auto (unipc_wan for a converted Hallo4 run, unipc for other Wan runs, ddim for "
                                "UNet runs), unipc, unipc_wan (UniPC on Wan2.1's own sigma grid, as Hallo4 samples), "
                                "euler or ddim.")
    guidance_text: float = _f(5.0, "Classifier-free guidance scale on the prompt (1 = off; 1-20).")
    guidance_audio: float = _f(3.5, "Guidance scale on the audio, zero audio as the unconditional input (1-20).")
    overlap: int = _f(1, "Latent frames a window takes from the end of the previous one (>= 1, < window).")
    seed: int = _f(42, "Seed of the initial noise (window i uses seed + i).")
    shift: float = _f(0.0, "Flow-matching shift of the sampling schedule; 0 = the run's training shift (Hallo4's "
                           "own sampler uses 8).")

    def __post_init__(self) -> None:
        if not isinstance(self.steps, int) or not 1 <= self.steps <= 1000:
            raise ValueError(f"`steps` must be an integer in 1..1000. Got {self.steps!r}.")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"`scheduler` must be one of {SCHEDULERS}. Got {self.scheduler!r}.")
        for name in ("guidance_text", "guidance_audio"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 1 <= v <= 20:
                raise ValueError(f"`{name}` must be a number in [1, 20]. Got {v!r}.")
        if not isinstance(self.overlap, int) or self.overlap < 1:
            raise ValueError(f"`overlap` must be an integer >= 1. Got {self.overlap!r}.")
        if isinstance(self.shift, bool) or not isinstance(self.shift, (int, float)) or not 0 <= self.shift <= 100:
            raise ValueError(f"`shift` must be a number in [0, 100] (0 = the run's). Got {self.shift!r}.")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"`seed` must be an integer >= 0. Got {self.seed!r}.")

    def solver(self, model_kind: str) -> str:
        """The scheduler for a run of ``model_kind``; a flow solver on a UNet run (or DDIM on Wan) is an error."""
        name = self.scheduler if self.scheduler != "auto" else ("unipc" if model_kind == "wan" else "ddim")
        allowed = FLOW_SCHEDULERS if model_kind == "wan" else EPS_SCHEDULERS
        if name not in allowed:
            raise ValueError(f"`scheduler` {name!r} does not fit a {model_kind} run; use one of {allowed}.")
        return name

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SampleConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown sampling setting(s) {unknown}; known: {sorted(known)}.")
        return cls(**d)


def field_help() -> dict[str, str]:
    return {f.name: f.metadata["help"] for f in dataclasses.fields(SampleConfig)}


def sampling_keys() -> tuple[str, ...]:
    """The settings a run samples with; the seed is not one of them (each job carries its own)."""
    return tuple(f.name for f in dataclasses.fields(SampleConfig) if f.name != "seed")


@dataclass
class SampleJob:
    """One video to draw: the clip's reference image, audio and prompt, the noise seed and the mp4 to write."""

    image: str
    audio: str
    prompt: str | None
    seed: int
    out: str
    job_id: str | None = None  # the generator request it answers (the policy adapter), or None
    skeleton: str | None = None  # the clip's rendered skeleton video (a run with Hallo4's skeleton branch)


@dataclass
class SampleJobs:
    """A jobs file: the run (and step) to load once, the shared settings, the jobs, and the results file.

    JSON: ``{"run", "step", "settings", "jobs": [{"image", "audio", "prompt", "seed", "out", "job_id"}],
    "results", "method"}``. The subprocess prints one ``{"out", "error", "meta"}`` line per job and appends it to
    ``results`` when one is named.
    """

    run: str
    step: int | None
    settings: SampleConfig
    jobs: list[SampleJob]
    results: str | None = None
    method: str | None = None  # the generator method, for the reader of a job folder

    def to_dict(self) -> dict:
        settings = {k: v for k, v in self.settings.to_dict().items() if k != "seed"}
        return {"run": self.run, "step": self.step, "settings": settings,
                "jobs": [dataclasses.asdict(j) for j in self.jobs], "results": self.results, "method": self.method}

    def write(self, path: str | Path) -> Path:
        # a plain write: the file is made before the process that reads it starts, in a folder of its own
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def read(cls, path: str | Path) -> SampleJobs:
        """The jobs of ``path``; a bad setting raises ValueError naming it."""
        d = json.loads(Path(path).read_text())
        return cls(run=d["run"], step=d.get("step"), settings=SampleConfig.from_dict(d.get("settings") or {}),
                   jobs=[SampleJob(**j) for j in d["jobs"]], results=d.get("results"), method=d.get("method"))
