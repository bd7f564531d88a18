"""Settings of ``[generators.hallo4]`` (fudan-generative-vision/hallo4, Wan2.1-VACE-1.3B; inference only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from generators.base import DEFAULT_PROMPT

# vace/models/wan/configs/__init__.py SIZE_CONFIGS also has "832*480" (portrait canvas, H*W): there a
# square reference is resized to height 832 and centre-cropped to width 480 (wan_vace.py:272-312), and
# center_crop_width keeps that crop (vace_wan_inference.py:105-106), so a square portrait loses its
# sides. Only the landscape canvas gives the square reference back (480 x 480).
SIZES = ("480*832",)
REFUSED_SIZES = {"832*480": "crops a square portrait to 480x832 (vace/models/wan/wan_vace.py:272-312)"}


@dataclass
class Hallo4Config:
    """Where Hallo4 lives and how to call it.

    Environment:
        checkout: the hallo4 repository clone (``vace/`` inside).
        python: interpreter of its environment (or ``conda_env``).
        weights: the ``pretrained_models`` folder (default: ``<checkout>/pretrained_models``).
        model_path: the Hallo4 checkpoint; upstream loads only ``.ckpt``/``.safetensors``.
        ckpt_dir, wav2vec_model_path, audio_separator_model_path: encoders (defaults under ``weights``).
    Call:
        size: ``480*832`` (H*W, landscape canvas), the only size whose output keeps a square portrait whole.
        default_skeleton: pose video for clips without a skeleton (Hallo4 needs one beyond 81 frames).
        default_prompt, extra_args, env, timeout_s: as for the other adapters.
    """

    checkout: Path | None = field(default=None, metadata={"help": "hallo4 repository clone"})
    python: str | None = field(default=None, metadata={"help": "python of the hallo4 environment"})
    conda_env: str | None = field(default=None, metadata={"help": "conda env name instead of `python`"})
    weights: Path | None = field(default=None, metadata={"help": "pretrained_models folder"})
    model_path: Path | None = field(default=None, metadata={"help": "hallo4 checkpoint (.ckpt/.safetensors)"})
    ckpt_dir: Path | None = field(default=None, metadata={"help": "Wan2.1 encoders folder"})
    wav2vec_model_path: Path | None = field(default=None, metadata={"help": "wav2vec2-base-960h folder"})
    audio_separator_model_path: Path | None = field(default=None, metadata={"help": "Kim_Vocal_2.onnx"})
    size: str = field(default="480*832", metadata={"help": "canvas H*W; only 480*832"})
    default_skeleton: Path | None = field(default=None, metadata={"help": "pose video for clips without one"})
    default_prompt: str = field(default=DEFAULT_PROMPT, metadata={"help": "prompt for clips without one"})
    extra_args: list[str] = field(default_factory=list, metadata={"help": "extra command-line arguments"})
    env: dict[str, str] = field(default_factory=dict, metadata={"help": "extra environment variables"})
    timeout_s: float = field(default=12 * 3600, metadata={"help": "limit for one batch call, seconds"})

    def __post_init__(self) -> None:
        if self.weights is None and self.checkout is not None:
            self.weights = Path(self.checkout) / "pretrained_models"
        if self.weights is not None:
            w = Path(self.weights)
            self.model_path = self.model_path or w / "hallo4" / "model_weight.ckpt"
            self.ckpt_dir = self.ckpt_dir or w / "Wan2.1_Encoders"
            self.wav2vec_model_path = self.wav2vec_model_path or w / "wav2vec2-base-960h"
            self.audio_separator_model_path = self.audio_separator_model_path or w / "audio_separator" / "Kim_Vocal_2.onnx"
        if self.size in REFUSED_SIZES:
            raise ValueError(f"`size` {self.size!r} is refused: Hallo4 {REFUSED_SIZES[self.size]}; use '480*832'.")
        if self.size not in SIZES:
            raise ValueError(f"`size` must be one of {SIZES}. Got {self.size!r}.")
        if self.timeout_s <= 0:
            raise ValueError(f"`timeout_s` must be > 0. Got {self.timeout_s}.")
        self.extra_args = [str(a) for a in self.extra_args]
        self.env = {str(k): str(v) for k, v in self.env.items()}

    @property
    def entry(self) -> Path | None:
        return Path(self.checkout) / "vace" / "vace_wan_inference.py" if self.checkout else None
