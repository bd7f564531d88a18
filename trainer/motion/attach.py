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

import json
from pathlib import Path

import torch
from torch import nn

from trainer.motion.config import MOTION_CONFIG, MOTION_WEIGHTS, MotionConfig
from trainer.motion.fusion import Layout, TextOnlyProcessor, UNetMotionProcessor, WanMotionProcessor
from trainer.motion.reshape import modulate
from trainer.motion.skeleton import SkeletonEncoder
from trainer.motion.skeleton_condition import Hallo4PoseProjection


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
                need = ("a rendered skeleton video per clip (the manifest's skeleton column), VAE-encoded: "
                        "skeleton_input 'vae'") if self.cfg.skeleton_projection == "hallo4" else \
                    "skeleton keypoints or a rendered skeleton video per clip (the manifest's skeleton column)"
                raise ValueError(f"this model has a skeleton branch: the batch needs {need}.")
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
        if self.cfg.reference_tokens and lay.frames > lay.motion_frames:  # zero tokens for the reference frames
            lead = tokens.new_zeros(tokens.shape[0], lay.frames - lay.motion_frames, *tokens.shape[2:])
            tokens, lay.motion_frames = torch.cat([lead, tokens], dim=1), lay.frames
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
        for block in getattr(model, "vace_blocks", ()):  # VACE blocks see the text tokens only
            block.attn2.set_processor(TextOnlyProcessor(module.layout))
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
