"""Settings of ``[generators.sadtalker]`` (OpenTalker/SadTalker)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PREPROCESS = ("crop", "extcrop", "resize", "full", "extfull")


@dataclass
class SadTalkerConfig:
    """Where SadTalker lives and how to call it.

    Environment:
        checkout: the SadTalker repository clone (``inference.py`` inside).
        python: interpreter of its environment (or ``conda_env``).
        weights: the ``checkpoints`` folder (default: ``<checkout>/checkpoints``).
    Call:
        size: face model resolution, 256 or 512.
        preprocess: crop | extcrop | resize | full | extfull (``full`` pastes the face back into the image).
        still: fewer head motions (recommended with ``full``).
        enhancer: ``gfpgan`` / ``RestoreFormer``, or empty for none.
        extra_args, env, timeout_s: as for the other adapters (timeout per clip).
    """

    checkout: Path | None = field(default=None, metadata={"help": "SadTalker repository clone"})
    python: str | None = field(default=None, metadata={"help": "python of the SadTalker environment"})
    conda_env: str | None = field(default=None, metadata={"help": "conda env name instead of `python`"})
    weights: Path | None = field(default=None, metadata={"help": "checkpoints folder"})
    size: int = field(default=256, metadata={"help": "256 or 512"})
    preprocess: str = field(default="crop", metadata={"help": "crop|extcrop|resize|full|extfull"})
    still: bool = field(default=False, metadata={"help": "pass --still"})
    enhancer: str = field(default="", metadata={"help": "gfpgan, RestoreFormer or empty"})
    extra_args: list[str] = field(default_factory=list, metadata={"help": "extra command-line arguments"})
    env: dict[str, str] = field(default_factory=dict, metadata={"help": "extra environment variables"})
    timeout_s: float = field(default=3600, metadata={"help": "limit for one clip, seconds"})

    def __post_init__(self) -> None:
        if self.weights is None and self.checkout is not None:
            self.weights = Path(self.checkout) / "checkpoints"
        if self.size not in (256, 512):
            raise ValueError(f"`size` must be 256 or 512. Got {self.size}.")
        if self.preprocess not in PREPROCESS:
            raise ValueError(f"`preprocess` must be one of {PREPROCESS}. Got {self.preprocess!r}.")
        if self.timeout_s <= 0:
            raise ValueError(f"`timeout_s` must be > 0. Got {self.timeout_s}.")
        self.extra_args = [str(a) for a in self.extra_args]
        self.env = {str(k): str(v) for k, v in self.env.items()}

    @property
    def entry(self) -> Path | None:
        return Path(self.checkout) / "inference.py" if self.checkout else None
