"""Settings of ``[generators.policy]`` (and of every method with ``adapter = "policy"``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class PolicyConfig:
    """Which run samples, at which step, with which settings.

    Run:
        run: the run folder (``curate train-dpo --output``), relative to the workspace.
        step: a saved checkpoint's step, or None for the run's ``final/``.
    Sampling (what ``curate sample`` takes; ``trainer.sample_config.SampleConfig`` checks them again):
        steps, scheduler, guidance_text, guidance_audio, overlap. The seed is the table's ``seed`` key.
    Process:
        python: interpreter with torch and this project installed (default: the one running curate).
        env: extra environment variables (e.g. ``CUDA_VISIBLE_DEVICES`` is set by ``--gpus`` already).
        timeout_s: limit for one batch call.
    """

    run: Path | None = field(default=None, metadata={"help": "run folder (train-dpo --output)"})
    step: int | None = field(default=None, metadata={"help": "a saved checkpoint's step (default: final/)"})
    steps: int = field(default=30, metadata={"help": "solver steps (1-1000)"})
    scheduler: str = field(default="auto", metadata={"help": "auto, unipc, euler (Wan) or ddim (UNet)"})
    guidance_text: float = field(default=5.0, metadata={"help": "CFG scale on the prompt, 1-20"})
    guidance_audio: float = field(default=3.5, metadata={"help": "CFG scale on the audio, 1-20"})
    overlap: int = field(default=1, metadata={"help": "latent frames carried between windows (>= 1)"})
    python: str = field(default=sys.executable, metadata={"help": "python with torch and portrait-curate"})
    env: dict[str, str] = field(default_factory=dict, metadata={"help": "extra environment variables"})
    timeout_s: float = field(default=12 * 3600, metadata={"help": "limit for one batch call, seconds"})

    def __post_init__(self) -> None:
        if self.run is None:
            raise ValueError("`run` is required: the run folder to sample (what train-dpo --output wrote).")
        if self.step is not None and (not isinstance(self.step, int) or self.step < 1):
            raise ValueError(f"`step` must be an integer >= 1. Got {self.step!r}.")
        if not isinstance(self.steps, int) or not 1 <= self.steps <= 1000:
            raise ValueError(f"`steps` must be an integer in 1..1000. Got {self.steps!r}.")
        for name in ("guidance_text", "guidance_audio"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 1 <= v <= 20:
                raise ValueError(f"`{name}` must be a number in [1, 20]. Got {v!r}.")
        if not isinstance(self.overlap, int) or self.overlap < 1:
            raise ValueError(f"`overlap` must be an integer >= 1. Got {self.overlap!r}.")
        if self.timeout_s <= 0:
            raise ValueError(f"`timeout_s` must be > 0. Got {self.timeout_s}.")
        self.env = {str(k): str(v) for k, v in self.env.items()}

    def sampling(self) -> dict:
        """The settings handed to ``trainer.sample`` (the seed comes per request)."""
        return {"steps": self.steps, "scheduler": self.scheduler, "guidance_text": float(self.guidance_text),
                "guidance_audio": float(self.guidance_audio), "overlap": self.overlap}
