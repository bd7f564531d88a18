"""The motion module (Hallo4 sec. 3.3) attached to a diffusers Wan or UNet model without editing diffusers.

``attach_motion(model, cfg, kind)`` adds ``model.motion`` (eq. 7's projections and the skeleton encoder), puts a
:mod:`trainer.motion.fusion` processor on every block's cross-attention, and registers two hooks:

* a forward pre-hook on the model takes ``attention_kwargs["motion"]`` (Wan; ``cross_attention_kwargs`` for the
  UNet) = ``{"audio": C_audio (B, T, N_a, d_a), "skeleton": keypoints (B, T, J, 3) or None}``, turns it into
  per-latent-frame tokens H (eq. 6-7) and records the layout;
* Wan: a forward hook on ``condition_embedder`` appends H after the projected text tokens, so the tokens enter every
  block as part of ``encoder_hidden_states``. UNet: the pre-hook appends the projected audio tokens of each folded
  frame to ``encoder_hidden_states`` directly (no temporal compression: the UNet's latents keep every frame).

The skeleton branch is the heatmap encoder + eq. 6-7 + eq. 8 (defaults), or Hallo4's released design
(``skeleton_projection`` / ``skeleton_fusion`` "hallo4", :mod:`trainer.motion.skeleton_condition`: VAE-encoded skeleton frames,
skeleton-query attention on the feed-forward's input), which ``curate convert hallo4`` fills from its checkpoint.

A model called without ``motion`` runs the stock attention everywhere. Everything is an ``nn.Module`` attribute of
the model, so ``state_dict``, ``requires_grad_``, LoRA and ``copy.deepcopy`` (the frozen reference) see it; the
hooks are bound methods of ``model.motion`` and are deep-copied with it. ``save_pretrained`` writes the weights,
but ``from_pretrained`` of the stock class drops them: :func:`save_motion` / :func:`load_motion` keep them in
``motion_config.json`` + ``motion.safetensors`` beside a model folder or on their own.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from trainer.motion.fusion import Layout, UNetMotionProcessor, WanMotionProcessor
from trainer.motion.reshape import ABLATIONS, modulate, tokens_per_latent_frame
from trainer.motion.skeleton import SkeletonEncoder
from trainer.motion.skeleton_condition import Hallo4PoseProjection

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


class AudioMLP(nn.Module):
    """Hallo4's audio projection: a video frame's whole window (N_a x d_a, flattened in that order) -> ReLU MLP ->
    ``tokens`` x dim, LayerNorm over dim. (B, T, N_a, d_a) -> (B, T, tokens, dim)."""

    def __init__(self, in_features: int, hidden: int, tokens: int, dim: int):
        super().__init__()
        self.proj1, self.proj2 = nn.Linear(in_features, hidden), nn.Linear(hidden, hidden)
        self.proj3, self.norm = nn.Linear(hidden, tokens * dim), nn.LayerNorm(dim)
        self.tokens = tokens

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.proj2(torch.relu(self.proj1(c.flatten(2)))))
        return self.norm(self.proj3(x).unflatten(-1, (self.tokens, -1)))


class MotionModule(nn.Module):
    """Eq. 7's learnable projections (``audio_proj``; ``skeleton`` + ``skeleton_proj``) and the model hooks."""

    def __init__(self, cfg: MotionConfig, dim: int, kind: str):
        super().__init__()
        self.cfg, self.kind, self.layout = cfg, kind, Layout()
        self.audio_proj = None
        if cfg.audio_dim and cfg.audio_projection == "mlp":
            self.audio_proj = AudioMLP(cfg.audio_window_tokens * cfg.audio_dim, cfg.audio_hidden,
                                       cfg.audio_context_tokens, dim)
        elif cfg.audio_dim:
            self.audio_proj = nn.Linear(cfg.audio_dim, dim)
        self.skeleton = self.skeleton_proj = None
        if cfg.skeleton_joints and cfg.skeleton_projection == "hallo4":  # latents -> tokens in one module
            self.skeleton_proj = Hallo4PoseProjection(cfg.skeleton_joints, dim, cfg.skeleton_stride, cfg.rho)
        elif cfg.skeleton_joints:
            self.skeleton = SkeletonEncoder(cfg.skeleton_joints, cfg.skeleton_channels, cfg.skeleton_stride)
            self.skeleton_proj = nn.Linear(cfg.skeleton_channels, dim)
        self._pending: torch.Tensor | None = None

    def tokens(self, audio, skeleton, grid: tuple[int, int]) -> tuple[torch.Tensor, int, int]:
        """(B, T', N_a' + N_s', dim) motion tokens per latent frame, and the audio / skeleton token counts."""
        rho = self.cfg.rho if self.kind == "wan" else 1
        parts = []
        if self.audio_proj is not None:
            if audio is None:
                raise ValueError("this model has an audio branch: the batch needs audio_embeds (zeros for none).")
            audio = audio.to(next(self.audio_proj.parameters()).dtype)
            if self.cfg.audio_projection == "mlp":  # per video frame first, then eq. 6 on the tokens it made
                parts.append(modulate(self.audio_proj(audio), rho, self.cfg.audio_ablation))
            else:
                parts.append(self.audio_proj(modulate(audio, rho, self.cfg.audio_ablation)))
        if self.skeleton_proj is not None:
            if skeleton is None:
                raise ValueError("this model has a skeleton branch: the batch needs skeleton keypoints.")
            skeleton = skeleton.to(next(self.skeleton_proj.parameters()).dtype)
            if self.skeleton is None:  # 'hallo4': (B, T, C, h, w) skeleton latents -> (B, T', N, dim)
                parts.append(self.skeleton_proj(skeleton, grid))
            else:
                feats = self.skeleton(skeleton, grid)  # (B, T, Ds, d_k)
                parts.append(self.skeleton_proj(modulate(feats, rho, self.cfg.skeleton_ablation)))
        if len(parts) == 2 and parts[0].shape[1] != parts[1].shape[1]:
            raise ValueError(f"audio gives {parts[0].shape[1]} latent frames, skeleton {parts[1].shape[1]}.")
        n_audio = parts[0].shape[2] if self.audio_proj is not None else 0
        return torch.cat(parts, dim=2), n_audio, parts[-1].shape[2] if self.skeleton_proj is not None else 0

    # ---- hooks (bound methods, so a deep copy of the model gets its own) ----

    def _pre_forward(self, model, args, kwargs):
        name = "attention_kwargs" if self.kind == "wan" else "cross_attention_kwargs"
        extra = dict(kwargs.get(name) or {})
        motion = extra.pop("motion", None)
        kwargs[name] = extra or None
        self.layout.motion_tokens, self._pending = 0, None
        if motion is None:
            return args, kwargs
        x = kwargs["hidden_states" if self.kind == "wan" else "sample"] if not args else args[0]
        if self.kind == "wan":
            return args, self._wan_layout(model, x, motion, kwargs)
        return args, self._unet_context(x, motion, kwargs)

    def _wan_layout(self, model, x, motion, kwargs):
        _, _, frames, h, w = x.shape  # the skeleton's heatmaps go on this latent grid
        tokens, n_audio, n_skel = self.tokens(motion.get("audio"), motion.get("skeleton"), (h, w))
        lay = self.layout
        lay.frames, lay.motion_frames = frames // model.config.patch_size[0], tokens.shape[1]
        if lay.motion_frames > lay.frames:
            raise ValueError(f"motion covers {lay.motion_frames} latent frames, the video has {lay.frames}.")
        lay.audio_tokens, lay.skeleton_tokens = n_audio, n_skel
        self._pending = tokens.flatten(1, 2)  # (B, T' * N, dim), frame-major
        lay.motion_tokens = self._pending.shape[1]
        return kwargs

    def _unet_context(self, x, motion, kwargs):
        audio = motion.get("audio")  # frames already folded by the denoiser: (N*T, Na, da)
        if audio is None:
            raise ValueError("this model has an audio branch: the batch needs audio_embeds (zeros for none).")
        tokens = self.audio_proj(audio.to(self.audio_proj.weight.dtype))  # (N*T, Na, cross_attention_dim)
        self.layout.motion_tokens = tokens.shape[1]
        ehs = kwargs["encoder_hidden_states"]
        kwargs["encoder_hidden_states"] = torch.cat([ehs, tokens.to(ehs.dtype)], dim=1)
        return kwargs

    def _after_condition(self, module, args, output):
        if self._pending is None:
            return output
        temb, timestep_proj, ehs, ehs_image = output
        ehs = torch.cat([ehs, self._pending.to(ehs.dtype)], dim=1)
        self._pending = None
        return temb, timestep_proj, ehs, ehs_image


def attach_motion(model: nn.Module, cfg: MotionConfig, kind: str) -> MotionModule:
    """Add the motion module, its processors and hooks to a diffusers Wan / UNet2DCondition model (in place)."""
    if hasattr(model, "motion"):
        raise ValueError("this model already has a motion module.")
    if kind == "wan":
        dim = model.config.num_attention_heads * model.config.attention_head_dim
        module = MotionModule(cfg, dim, kind)
        condition = bool(cfg.skeleton_joints) and cfg.skeleton_fusion == "hallo4"
        if condition and cfg.skeleton_stride != model.config.patch_size[1]:
            raise ValueError(f"skeleton_fusion 'hallo4' needs skeleton_stride = the transformer's spatial patch "
                             f"({model.config.patch_size[1]}), got {cfg.skeleton_stride}.")
        for block in model.blocks:
            proc = WanMotionProcessor(dim, block.attn2.heads, module.layout, audio=bool(cfg.audio_dim),
                                      skeleton=bool(cfg.skeleton_joints) and not condition, condition=condition)
            block.attn2.set_processor(proc)
            block.norm2.register_forward_hook(proc.residual.grab)
            if condition:
                block.ffn.register_forward_pre_hook(proc.before_ffn)
        model.condition_embedder.register_forward_hook(module._after_condition)
    elif kind == "unet":
        if cfg.skeleton_joints or cfg.audio_projection != "linear":
            raise ValueError("the UNet path takes audio through the linear projection only (skeleton_joints 0, "
                             "audio_projection 'linear').")
        module = MotionModule(cfg, model.config.cross_attention_dim, kind)
        for name, sub in list(model.named_modules()):
            if name.endswith(".attn2") and hasattr(sub, "set_processor"):
                proc = UNetMotionProcessor(sub.to_q.in_features, sub.to_k.in_features, sub.heads, module.layout)
                sub.set_processor(proc)
                model.get_submodule(name.rsplit(".", 1)[0]).norm2.register_forward_hook(proc.residual.grab)
    else:
        raise ValueError(f"model kind must be 'wan' or 'unet'. Got {kind!r}.")
    p = next(model.parameters())
    model.add_module("motion", module.to(p.device, p.dtype))
    for sub in model.modules():  # the processors were built on the CPU in float32
        if isinstance(sub, (WanMotionProcessor, UNetMotionProcessor)):
            sub.to(p.device, p.dtype)
    model.register_forward_pre_hook(module._pre_forward, with_kwargs=True)
    return module


# the parameter sets of the phased SFT (sec. 3.5), matched against "." + parameter name
PHASES = {
    "audio": (".motion.audio_proj.", ".processor.motion.norm_in.", ".processor.motion.to_q.",
              ".processor.motion.to_k.", ".processor.motion.to_v.", ".processor.motion.norm_q.",
              ".processor.motion.norm_k.", ".processor.motion.to_out."),
    "skeleton": (".motion.skeleton.", ".motion.skeleton_proj.", ".processor.motion.to_k_skel.",
                 ".processor.motion.to_v_skel.", ".processor.condition."),
}


def phase_parameters(model: nn.Module, phase: str) -> dict[str, nn.Parameter]:
    """The parameters phase ``audio`` (audio projection + the motion cross-attention) or ``skeleton`` (skeleton
    encoder, its projection and the skeleton K/V of each block; plus the shared query/output of the motion
    attention when the module has no audio branch) trains, by name."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {sorted(PHASES)}. Got {phase!r}.")
    found = {n: p for n, p in model.named_parameters() if any(pat in "." + n for pat in PHASES[phase])}
    if not found:
        raise ValueError(f"phase {phase!r}: the model has no {phase} branch in its motion module.")
    if phase == "skeleton" and model.motion.audio_proj is None and model.motion.cfg.skeleton_fusion == "joint":
        found.update(dict(phase_parameters_shared(model)))  # a skeleton-only module: nothing else trains these
    return found


def check_phase(model: nn.Module, phase: str) -> None:
    """Refuse a phase whose parameters cannot learn: the skeleton phase of an audio + skeleton module needs the
    shared output projections trained first (at zero, no gradient reaches the skeleton's keys and values)."""
    if phase != "skeleton" or model.motion.audio_proj is None or model.motion.cfg.skeleton_fusion == "hallo4":
        return  # the hallo4 skeleton attention has its own output projection, trained in this phase
    out = [p for n, p in model.named_parameters() if ".processor.motion.to_out." in "." + n]
    if all(not p.any() for p in out):
        raise ValueError("phase 'skeleton' trains the skeleton's keys and values only, but the motion module's "
                         "output projections are still zero (no gradient reaches them): train --phase audio "
                         "first and start this phase from it (--init).")


def phase_parameters_shared(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The query, norms and output projection of every block's motion attention (trained by the audio phase)."""
    shared = (".processor.motion.norm_in.", ".processor.motion.to_q.", ".processor.motion.norm_q.",
              ".processor.motion.norm_k.", ".processor.motion.to_out.")
    return [(n, p) for n, p in model.named_parameters() if any(pat in "." + n for pat in shared)]


def has_motion(model: nn.Module) -> bool:
    return isinstance(getattr(getattr(model, "module", model), "motion", None), MotionModule)


def is_motion_key(name: str) -> bool:
    return name.startswith("motion.") or ".processor." in name


def motion_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The motion weights by name, LoRA layers left out and peft's ``base_layer`` folded back to the plain name."""
    out = {}
    for name, t in model.state_dict().items():
        if is_motion_key(name) and "lora_" not in name:
            out[name.replace(".base_layer.", ".")] = t.detach()
    return out


def save_motion(model: nn.Module, folder: str | Path) -> Path:
    """``motion_config.json`` + ``motion.safetensors`` in ``folder`` (kept beside a model folder, or alone)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    motion = model.motion
    (folder / MOTION_CONFIG).write_text(json.dumps({"kind": motion.kind, **motion.cfg.to_dict()}, indent=1))
    save_file({k: v.cpu().contiguous() for k, v in motion_state_dict(model).items()}, str(folder / MOTION_WEIGHTS))
    return folder


def load_motion(model: nn.Module, folder: str | Path) -> MotionModule:
    """Attach the module described in ``folder`` and load its weights (every motion key must be there)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    raw = json.loads((folder / MOTION_CONFIG).read_text())
    kind = raw.pop("kind")
    module = attach_motion(model, MotionConfig(**raw), kind)
    state = load_file(str(folder / MOTION_WEIGHTS))
    want = {k for k in model.state_dict() if is_motion_key(k)}
    if set(state) != want:
        raise ValueError(f"{folder / MOTION_WEIGHTS} does not match the motion module: missing "
                         f"{sorted(want - set(state))[:5]}, unexpected {sorted(set(state) - want)[:5]}.")
    try:
        model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches: another model width or audio feature size
        raise ValueError(f"{folder / MOTION_WEIGHTS} does not fit this model: {str(e).splitlines()[-1].strip()}") \
            from None
    return module


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
