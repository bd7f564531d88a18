"""Settings of ``[generators.hallo3]`` (fudan-generative-vision/hallo3, CogVideoX-5B-I2V under SAT)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from generators.base import DEFAULT_PROMPT


@dataclass
class Hallo3Config:
    """Where Hallo3 lives and how to call it.

    Environment:
        checkout: the hallo3 repository clone.
        python: interpreter of its environment (or ``conda_env``).
        weights: the ``pretrained_models`` folder (default: ``<checkout>/pretrained_models``).
    Call:
        base_configs: the SAT config files passed to ``--base`` (relative to the checkout).
        default_prompt: used for clips without a prompt (Hallo3 needs a scene description).
        extra_args: appended to the command line as given.
        env: extra environment variables.
        timeout_s: limit for one batch call.
    """

    checkout: Path | None = field(default=None, metadata={"help": "hallo3 repository clone"})
    python: str | None = field(default=None, metadata={"help": "python of the hallo3 environment"})
    conda_env: str | None = field(default=None, metadata={"help": "conda env name instead of `python`"})
    weights: Path | None = field(default=None, metadata={"help": "pretrained_models folder"})
    base_configs: list[str] = field(
        default_factory=lambda: ["configs/cogvideox_5b_i2v_s2.yaml", "configs/inference.yaml"],
        metadata={"help": "SAT configs for --base"},
    )
    default_prompt: str = field(default=DEFAULT_PROMPT, metadata={"help": "prompt for clips without one"})
    extra_args: list[str] = field(default_factory=list, metadata={"help": "extra command-line arguments"})
    env: dict[str, str] = field(default_factory=dict, metadata={"help": "extra environment variables"})
    timeout_s: float = field(default=12 * 3600, metadata={"help": "limit for one batch call, seconds"})

    def __post_init__(self) -> None:
        if self.weights is None and self.checkout is not None:
            self.weights = Path(self.checkout) / "pretrained_models"
        if not self.base_configs:
            raise ValueError("`base_configs` must list at least one config file.")
        if self.timeout_s <= 0:
            raise ValueError(f"`timeout_s` must be > 0. Got {self.timeout_s}.")
        self.extra_args = [str(a) for a in self.extra_args]
        self.env = {str(k): str(v) for k, v in self.env.items()}

    @property
    def entry(self) -> Path | None:
        return Path(self.checkout) / "hallo3" / "sample_video.py" if self.checkout else None
