"""Settings of ``[generators.aniportrait]`` (Zejun-Yang/AniPortrait, audio2vid)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Head poses and audio features are computed at 30 fps whatever ``--fps`` says
# (scripts/audio2vid.py:178; src/utils/audio_util.py:20-24); ``--fps`` only sets the container rate.
UPSTREAM_FPS = 30
# The template the checkout ships (configs/prompts/animation_audio.yaml:15 names it, commented out).
POSE_TEMP = Path("configs") / "inference" / "head_pose_temp" / "pose_temp.npy"


@dataclass
class AniPortraitConfig:
    """Where AniPortrait lives and how to call it.

    Environment:
        checkout: the AniPortrait repository clone (``scripts/audio2vid.py`` inside).
        python: interpreter of its environment (or ``conda_env``).
        weights: the folder the YAML calls ``./pretrained_model`` (default: ``<checkout>/pretrained_model``).
    Call:
        config_template: YAML whose model paths are kept; its ``test_cases`` are replaced per batch.
        width, height: generation size (``-W``/``-H``); must be equal, because upstream resizes the
            reference with ``cv2.resize(img, (H, W))`` (audio2vid.py:150), which stretches and swaps axes.
        fps: must be 30: poses and audio features are made at 30 fps (audio2vid.py:178).
        accelerate: pass ``-acc`` (FILM interpolation, every 3rd frame diffused).
        pose_temp: N x 6 head-pose ``.npy`` (default: the checkout's ``configs/inference/head_pose_temp/pose_temp.npy``).
            Without one upstream predicts poses per 5 s chunk and crashes on audio <= 5 s (audio2vid.py:176-186).
        extra_args, env, timeout_s: as for the other adapters.
    """

    checkout: Path | None = field(default=None, metadata={"help": "AniPortrait repository clone"})
    python: str | None = field(default=None, metadata={"help": "python of the AniPortrait environment"})
    conda_env: str | None = field(default=None, metadata={"help": "conda env name instead of `python`"})
    weights: Path | None = field(default=None, metadata={"help": "pretrained_model folder"})
    config_template: str = field(default="configs/prompts/animation_audio.yaml", metadata={"help": "YAML, relative to checkout"})
    width: int = field(default=512, metadata={"help": "-W (= height)"})
    height: int = field(default=512, metadata={"help": "-H (= width)"})
    fps: int = field(default=30, metadata={"help": "--fps; only 30 is honoured upstream"})
    accelerate: bool = field(default=True, metadata={"help": "pass -acc"})
    pose_temp: Path | None = field(default=None, metadata={"help": "head-pose template .npy (default: the checkout's)"})
    extra_args: list[str] = field(default_factory=list, metadata={"help": "extra command-line arguments"})
    env: dict[str, str] = field(default_factory=dict, metadata={"help": "extra environment variables"})
    timeout_s: float = field(default=12 * 3600, metadata={"help": "limit for one batch call, seconds"})

    def __post_init__(self) -> None:
        if self.weights is None and self.checkout is not None:
            self.weights = Path(self.checkout) / "pretrained_model"
        if self.pose_temp is None and self.checkout is not None:
            self.pose_temp = Path(self.checkout) / POSE_TEMP
        if self.width <= 0 or self.height <= 0 or self.width % 8 or self.height % 8:
            raise ValueError(f"`width`/`height` must be positive multiples of 8. Got {self.width}x{self.height}.")
        if self.width != self.height:
            raise ValueError(f"`width` and `height` must be equal: AniPortrait resizes the portrait with the axes swapped "
                             f"(scripts/audio2vid.py:150), so {self.width}x{self.height} would come out distorted.")
        if self.fps != UPSTREAM_FPS:
            raise ValueError(f"`fps` must be {UPSTREAM_FPS}: AniPortrait makes poses and audio features at 30 fps "
                             f"(scripts/audio2vid.py:178) and --fps only sets the container rate, so {self.fps} would "
                             "desync lips and audio. Normalisation resamples the output instead.")
        if self.timeout_s <= 0:
            raise ValueError(f"`timeout_s` must be > 0. Got {self.timeout_s}.")
        self.extra_args = [str(a) for a in self.extra_args]
        self.env = {str(k): str(v) for k, v in self.env.items()}

    @property
    def entry(self) -> Path | None:
        return Path(self.checkout) / "scripts" / "audio2vid.py" if self.checkout else None
