"""The motion module's shape (:class:`MotionConfig`), the one a run's batches call for, and its file names."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from trainer.motion.reshape import ABLATIONS, tokens_per_latent_frame

MOTION_CONFIG = "motion_config.json"
MOTION_WEIGHTS = "motion.safetensors"



@dataclass
class MotionConfig:
    """Shape of the motion module. ``audio_dim`` 0 / ``skeleton_joints`` 0 leave that branch out."""

    audio_dim: int = field(default=0, metadata={"help": "d_a of a C_audio token (wav2vec2 width, x layers for 'all')."})
    audio_projection: str = field(default="linear", metadata={"help": "'linear' (eq. 7, per token) or 'mlp' "
                                  "(Hallo4's released AudioProjModel: a frame's window -> context tokens)."})
    audio_window_tokens: int = field(default=5, metadata={"help": "'mlp': N_a = 2w + 1 tokens of a frame's window."})
    audio_hidden: int = field(default=512, metadata={"help": "'mlp': hidden width."})
    audio_context_tokens: int = field(default=32, metadata={"help": "'mlp': tokens per video frame it makes."})
    rho: int = field(default=4, metadata={"help": "Video frames per latent frame (Wan VAE: 4). UNet: ignored (1)."})
    audio_ablation: str = field(default="full", metadata={"help": "Eq. 6 or table 6's 'audio/2' ('/2'), 'audio/4' ('/4')."})
    skeleton_joints: int = field(default=0, metadata={"help": "J keypoints per frame, or 3 for a rendered skeleton "
                                 "video (the encoder's input maps), or the channels of VAE-encoded skeleton frames "
                                 "for skeleton_projection 'hallo4' (16); 0 = no skeleton branch."})
    skeleton_channels: int = field(default=32, metadata={"help": "d_k: channels of the skeleton encoder."})
    skeleton_stride: int = field(default=4, metadata={"help": "Latent grid / skeleton token grid (1, 2 or 4); "
                                 "'hallo4': the convolution's patch (the transformer's spatial patch, 2)."})
    skeleton_ablation: str = field(default="full", metadata={"help": "Eq. 6 or table 7's '/2', '/4' for the skeleton."})
    skeleton_projection: str = field(default="conv", metadata={"help": "'conv' (heatmap encoder + eq. 6-7) or "
                                     "'hallo4' (the released pose_proj: per-frame patch conv, 4 frames in channels)."})
    reference_tokens: bool = field(default=False, metadata={"help": "Give prepended reference latent frames zero "
                                   "audio and zero skeleton tokens (Hallo4's released model), so its attention biases "
                                   "and skeleton attention reach them; False: they get no motion attention."})
    skeleton_fusion: str = field(default="joint", metadata={"help": "'joint' (skeleton K/V in eq. 8's attention) or "
                                 "'hallo4' (released condition_cross_attn: skeleton queries, before the FFN)."})

    def __post_init__(self) -> None:
        for name in ("audio_dim", "skeleton_joints"):
            if getattr(self, name) < 0:
                raise ValueError(f"`{name}` must be >= 0. Got {getattr(self, name)}.")
        if self.audio_projection not in ("linear", "mlp"):
            raise ValueError(f"`audio_projection` must be 'linear' or 'mlp'. Got {self.audio_projection!r}.")
        if min(self.audio_window_tokens, self.audio_hidden, self.audio_context_tokens) < 1:
            raise ValueError("audio_window_tokens, audio_hidden and audio_context_tokens must be >= 1.")
        if not self.audio_dim and not self.skeleton_joints:
            raise ValueError("A motion module needs audio_dim > 0 or skeleton_joints > 0.")
        for name in ("audio_ablation", "skeleton_ablation"):
            if getattr(self, name) not in ABLATIONS:
                raise ValueError(f"`{name}` must be one of {sorted(ABLATIONS)}. Got {getattr(self, name)!r}.")
        if self.skeleton_projection not in ("conv", "hallo4") or self.skeleton_fusion not in ("joint", "hallo4"):
            raise ValueError(f"`skeleton_projection` must be 'conv' or 'hallo4', `skeleton_fusion` 'joint' or 'hallo4'. "
                             f"Got {self.skeleton_projection!r}, {self.skeleton_fusion!r}.")
        if self.skeleton_fusion == "hallo4" and self.skeleton_projection != "hallo4":
            raise ValueError("`skeleton_fusion` 'hallo4' needs `skeleton_projection` 'hallo4' (one skeleton token "
                             "per video token).")
        if self.skeleton_projection == "hallo4" and self.skeleton_ablation != "full":
            raise ValueError("`skeleton_projection` 'hallo4' has no table 7 ablation: `skeleton_ablation` 'full'.")
        if self.rho < 1 or self.skeleton_channels < 1 or self.skeleton_stride not in (1, 2, 4):
            raise ValueError(f"need rho >= 1, skeleton_channels >= 1, skeleton_stride in (1, 2, 4). Got {self.rho}, "
                             f"{self.skeleton_channels}, {self.skeleton_stride}.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def motion_config_for(cfg, item: dict) -> MotionConfig | None:
    """The motion module a run's batches call for (``cfg``: a ``DiffusionDPOConfig``; ``item``: one dataset item),
    or None with ``motion: off`` or when they carry neither audio nor skeleton."""
    if cfg.motion == "off":
        return None
    cond = item["cond"]
    audio, skel = cond.get("audio_embeds"), cond.get("skeleton")
    if audio is not None and audio.dim() != 3:
        raise ValueError(f"audio_embeds of shape {tuple(audio.shape)}: the motion module takes frame-aligned "
                         "C_audio (T, 2w+1, d_a); prepare the cache again with this version.")
    if audio is None and skel is None:
        return None
    return MotionConfig(audio_dim=0 if audio is None else audio.shape[-1], audio_projection=cfg.audio_projection,
                        audio_window_tokens=1 if audio is None else audio.shape[-2],
                        audio_ablation=cfg.audio_ablation.removeprefix("audio"),
                        # keypoints (T, J, 3): J heatmaps; a rendered video (T, 3, h, w): 3 colour maps
                        skeleton_joints=0 if skel is None else (skel.shape[-2] if skel.dim() == 3 else skel.shape[1]),
                        skeleton_channels=cfg.skeleton_channels, skeleton_stride=cfg.skeleton_stride,
                        skeleton_ablation=cfg.skeleton_ablation.removeprefix("skeleton"))


def motion_tokens_per_frame(cfg: MotionConfig, audio_tokens: int) -> int:
    """Audio tokens per latent frame for C_audio with ``audio_tokens`` (2w + 1) tokens per video frame."""
    return tokens_per_latent_frame(audio_tokens, cfg.rho, cfg.audio_ablation)
