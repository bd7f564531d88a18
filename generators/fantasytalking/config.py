"""Settings of ``[generators.fantasytalking]`` (Fantasy-AMAP/fantasy-talking, Wan2.1-I2V-14B)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from generators.base import DEFAULT_PROMPT


@dataclass
class FantasyTalkingConfig:
    """Where FantasyTalking lives and how to call it.

    Environment:
        checkout: the fantasy-talking repository clone (``infer.py`` inside).
        python: interpreter of its environment (or ``conda_env``); runs our ``driver.py``.
        weights: the ``models`` folder (default: ``<checkout>/models``).
    Call:
        max_num_frames: frame cap (upstream default 81, about 3.5 s: the rest of the audio is cut).
        fps: ``--fps`` (upstream 23).
        image_size: longest image edge (``--image_size``).
        audio_cfg_scale, prompt_cfg_scale: guidance scales (upstream recommends 3-7).
        num_persistent_param_in_dit: VRAM/speed trade-off (None = all on GPU, about 40 GB).
        default_prompt, extra_args, env, timeout_s: as for the other adapters.
    """

    checkout: Path | None = field(default=None, metadata={"help": "fantasy-talking repository clone"})
    python: str | None = field(default=None, metadata={"help": "python of the FantasyTalking environment"})
    conda_env: str | None = field(default=None, metadata={"help": "conda env name instead of `python`"})
    weights: Path | None = field(default=None, metadata={"help": "models folder"})
    max_num_frames: int = field(default=81, metadata={"help": "--max_num_frames (4n+1)"})
    fps: int = field(default=23, metadata={"help": "--fps"})
    image_size: int = field(default=512, metadata={"help": "--image_size"})
    audio_cfg_scale: float = field(default=5.0, metadata={"help": "--audio_cfg_scale"})
    prompt_cfg_scale: float = field(default=5.0, metadata={"help": "--prompt_cfg_scale"})
    num_persistent_param_in_dit: int | None = field(default=None, metadata={"help": "VRAM trade-off"})
    default_prompt: str = field(default=DEFAULT_PROMPT, metadata={"help": "prompt for clips without one"})
    extra_args: list[str] = field(default_factory=list, metadata={"help": "extra infer.py arguments"})
    env: dict[str, str] = field(default_factory=dict, metadata={"help": "extra environment variables"})
    timeout_s: float = field(default=12 * 3600, metadata={"help": "limit for one batch call, seconds"})

    def __post_init__(self) -> None:
        if self.weights is None and self.checkout is not None:
            self.weights = Path(self.checkout) / "models"
        if self.max_num_frames < 5 or (self.max_num_frames - 1) % 4:
            raise ValueError(f"`max_num_frames` must be 4n+1 and >= 5. Got {self.max_num_frames}.")
        if self.fps <= 0 or self.image_size <= 0:
            raise ValueError(f"`fps` and `image_size` must be > 0. Got {self.fps}, {self.image_size}.")
        if self.timeout_s <= 0:
            raise ValueError(f"`timeout_s` must be > 0. Got {self.timeout_s}.")
        self.extra_args = [str(a) for a in self.extra_args]
        self.env = {str(k): str(v) for k, v in self.env.items()}

    @property
    def entry(self) -> Path | None:
        return Path(self.checkout) / "infer.py" if self.checkout else None

    def infer_args(self) -> list[str]:
        w = Path(self.weights)
        args = ["--wan_model_dir", str(w / "Wan2.1-I2V-14B-720P"),
                "--fantasytalking_model_path", str(w / "fantasytalking_model.ckpt"),
                "--wav2vec_model_dir", str(w / "wav2vec2-base-960h"),
                "--max_num_frames", str(self.max_num_frames), "--fps", str(self.fps),
                "--image_size", str(self.image_size), "--audio_cfg_scale", str(self.audio_cfg_scale),
                "--prompt_cfg_scale", str(self.prompt_cfg_scale)]
        if self.num_persistent_param_in_dit is not None:
            args += ["--num_persistent_param_in_dit", str(self.num_persistent_param_in_dit)]
        return args + self.extra_args
