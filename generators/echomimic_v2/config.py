"""Settings of ``[generators.echomimic_v2]`` (antgroup/echomimic_v2, accelerated ``infer_acc.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# The shipped poses carry draw_pose_params = [768, 768, 0, 768, 0, 768] (assets/halfbody_demo/pose/*/0.npy)
# and are pasted into a zeros((W, H)) canvas (infer_acc.py:198-204): smaller sizes crash, larger ones
# put the pose in the top-left 768 square.
POSE_CANVAS = 768


@dataclass
class EchoMimicV2Config:
    """Where EchoMimic-v2 lives and how to call it.

    Environment:
        checkout: the echomimic_v2 repository clone (``infer_acc.py`` inside).
        python: interpreter of its environment (or ``conda_env``).
        weights: the ``pretrained_weights`` folder (default: ``<checkout>/pretrained_weights``).
    Call:
        config_template: YAML whose model paths are kept; its ``test_cases`` are replaced per batch.
        size: square generation size (``-W = -H``); must be 768, the canvas the poses are drawn for.
        fps: output frame rate (``--fps``); pose folders are made with this many files per second.
        max_frames: ``-L``, the frame budget per case (upstream default 240).
        default_pose_dir: per-frame DWPose ``{i}.npy`` folder for clips without a skeleton folder
            (default: the upstream demo sequence ``assets/halfbody_demo/pose/01``).
        extra_args, env, timeout_s: as for the other adapters.
    """

    checkout: Path | None = field(default=None, metadata={"help": "echomimic_v2 repository clone"})
    python: str | None = field(default=None, metadata={"help": "python of the EchoMimic-v2 environment"})
    conda_env: str | None = field(default=None, metadata={"help": "conda env name instead of `python`"})
    weights: Path | None = field(default=None, metadata={"help": "pretrained_weights folder"})
    config_template: str = field(default="configs/prompts/infer_acc.yaml", metadata={"help": "YAML, relative to checkout"})
    size: int = field(default=768, metadata={"help": "-W and -H; only 768 (the poses' canvas)"})
    fps: int = field(default=24, metadata={"help": "--fps"})
    max_frames: int = field(default=240, metadata={"help": "-L"})
    default_pose_dir: Path | None = field(default=None, metadata={"help": "pose folder for clips without one"})
    extra_args: list[str] = field(default_factory=list, metadata={"help": "extra command-line arguments"})
    env: dict[str, str] = field(default_factory=dict, metadata={"help": "extra environment variables"})
    timeout_s: float = field(default=12 * 3600, metadata={"help": "limit for one batch call, seconds"})

    def __post_init__(self) -> None:
        if self.checkout is not None:
            self.weights = self.weights or Path(self.checkout) / "pretrained_weights"
            self.default_pose_dir = self.default_pose_dir or Path(self.checkout) / "assets" / "halfbody_demo" / "pose" / "01"
        if self.size != POSE_CANVAS:
            raise ValueError(f"`size` must be {POSE_CANVAS}: EchoMimic-v2's poses are drawn for a {POSE_CANVAS} canvas "
                             f"and pasted into a size x size one (infer_acc.py:198-204), so {self.size} would "
                             f"{'crash' if self.size < POSE_CANVAS else 'leave the pose in the top-left corner'}.")
        if self.fps <= 0 or self.max_frames <= 0:
            raise ValueError(f"`fps` and `max_frames` must be > 0. Got {self.fps}, {self.max_frames}.")
        if self.timeout_s <= 0:
            raise ValueError(f"`timeout_s` must be > 0. Got {self.timeout_s}.")
        self.extra_args = [str(a) for a in self.extra_args]
        self.env = {str(k): str(v) for k, v in self.env.items()}

    @property
    def entry(self) -> Path | None:
        return Path(self.checkout) / "infer_acc.py" if self.checkout else None
