"""Settings of ``[generators.policy]`` (and of every method with ``adapter = "policy"``).

The table is flat: ``run``, ``step`` and the process keys are :class:`PolicyConfig`'s; the sampling keys (steps,
scheduler, guidance_text, guidance_audio, overlap) are ``trainer.generation.settings.SampleConfig``'s, checked there
so ``curate generators check`` refuses what the sampling subprocess would.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators._settings import build_config
from storage.errors import CurateError
from trainer.generation.settings import SampleConfig, sampling_keys


@dataclass
class PolicyConfig:
    """Which run samples, at which step, in which process; ``sampling`` holds the table's sampling keys.

    Run:
        run: the run folder (``curate train-dpo --output``), relative to the workspace.
        step: a saved checkpoint's step, or None for the run's ``final/``.
    Process:
        python: interpreter with torch and this project installed (default: the one running curate).
        env: extra environment variables (e.g. ``CUDA_VISIBLE_DEVICES`` is set by ``--gpus`` already).
        timeout_s: limit for one batch call.
    The seed is the table's ``seed`` key (each request carries it).
    """

    run: Path | None = field(default=None, metadata={"help": "run folder (train-dpo --output)"})
    step: int | None = field(default=None, metadata={"help": "a saved checkpoint's step (default: final/)"})
    python: str = field(default=sys.executable, metadata={"help": "python with torch and portrait-curate"})
    env: dict[str, str] = field(default_factory=dict, metadata={"help": "extra environment variables"})
    timeout_s: float = field(default=12 * 3600, metadata={"help": "limit for one batch call, seconds"})
    sampling: SampleConfig = field(default_factory=SampleConfig, init=False, metadata={
        "help": "the table's sampling keys (steps, scheduler, guidance_text, guidance_audio, overlap)"})

    def __post_init__(self) -> None:
        if self.run is None:
            raise ValueError("`run` is required: the run folder to sample (what train-dpo --output wrote).")
        if self.step is not None and (not isinstance(self.step, int) or self.step < 1):
            raise ValueError(f"`step` must be an integer >= 1. Got {self.step!r}.")
        if self.timeout_s <= 0:
            raise ValueError(f"`timeout_s` must be > 0. Got {self.timeout_s}.")
        self.env = {str(k): str(v) for k, v in self.env.items()}


def policy_config(method: str, settings: dict[str, Any], root: Path) -> PolicyConfig:
    """A :class:`PolicyConfig` from a flat table; a bad sampling key fails here, naming the table."""
    keys = sampling_keys()
    sampling = {k: v for k, v in settings.items() if k in keys}
    cfg = build_config(PolicyConfig, method, {k: v for k, v in settings.items() if k not in keys}, root,
                       also_known=keys)
    try:
        cfg.sampling = SampleConfig(**sampling)
    except (TypeError, ValueError) as e:
        raise CurateError(f"curate.toml [generators.{method}]: {e}") from None
    return cfg
