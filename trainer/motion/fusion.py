"""Motion cross-attention (Hallo4 eq. 8) as attention processors that are real ``nn.Module``s.

Each processor replaces a cross-attention's stock processor (``blocks[i].attn2`` in Wan, the ``attn2`` of every
UNet ``BasicTransformerBlock``). Registered as ``attn2.processor`` they are submodules: their weights are in the
model's ``state_dict`` (saved, loaded, reached by LoRA ``target_modules`` and by ``requires_grad``), and as they run
inside the block they are recomputed like the rest of it under gradient checkpointing.

The motion tokens travel in the block's own ``encoder_hidden_states``, appended after the text (and image) tokens
by a hook (``trainer.motion.attach``), so a checkpointed block gets them as a real argument. The processor splits them
off, runs the stock text (and image) attention on the rest, then attends from the video tokens to the motion tokens:

    attn2 output = text_out + to_out(softmax(Q K^T / sqrt(d)) V),  Q = norm_q(to_q(norm_in(X + text_out))),
    K, V from H

where X is the block's residual stream entering the cross-attention (a forward hook on the block's ``norm2``, the
text attention's input norm, hands it to the processor) and ``X + text_out`` is the stream after the text
cross-attention: the motion attention comes after it, with the block's own residual (eq. 8's ``+ Z``), as in
Hallo4's released blocks (``x = x + text(norm(x)); x = x + audio(norm'(x))``). Wan:
per latent frame, frame j's video tokens attend to frame j's motion tokens H_j = [H_audio || H_skel] (audio and
skeleton tokens have their own K/V projections, so phase 2 can train the skeleton's alone; one softmax over both).
Frames before the motion frames (a prepended reference latent) get nothing. ``to_out`` starts at zero, so a wrapped
model computes exactly what the plain one does until it is trained.

With ``skeleton_fusion="hallo4"`` the skeleton tokens skip eq. 8: the processor keeps them for ``before_ffn``, a
forward pre-hook on the block's ``ffn`` that runs Hallo4's ``condition_cross_attn`` (:mod:`trainer.motion.skeleton_condition`) on
the feed-forward's input (inside the block, so it is recomputed with it under gradient checkpointing).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from trainer.motion.skeleton_condition import ConditionAttention, multi_head


@dataclass
class Layout:
    """What one forward's token streams look like; set by the model's pre-forward hook from the input shapes.

    Gradient checkpointing recomputes blocks during backward with the layout of the LAST forward, so a model must
    not run forwards of different shapes between a forward and its backward (the trainer never does).
    """

    motion_tokens: int = 0  # appended to encoder_hidden_states; 0 = no motion this call (stock attention only)
    frames: int = 1  # latent frames of the video stream (reference frames included)
    motion_frames: int = 1  # trailing latent frames that carry motion tokens
    audio_tokens: int = 0  # per motion frame, then skeleton_tokens
    skeleton_tokens: int = 0


class MotionAttention(nn.Module):
    """The eq. 8 cross-attention of one block: Q from video tokens, K/V from audio and skeleton tokens."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None, skeleton: bool = False,
                 eps: float = 1e-6):
        super().__init__()
        context_dim = context_dim or dim
        self.heads = heads
        self.norm_in = nn.LayerNorm(dim, eps=eps)  # on the stream after the text cross-attention
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(context_dim, dim)
        self.to_v = nn.Linear(context_dim, dim)
        self.to_k_skel = nn.Linear(context_dim, dim) if skeleton else None
        self.to_v_skel = nn.Linear(context_dim, dim) if skeleton else None
        self.norm_q = nn.RMSNorm(dim, eps=eps)
        self.norm_k = nn.RMSNorm(dim, eps=eps)
        self.to_out = nn.Linear(dim, dim)
        nn.init.zeros_(self.to_out.weight)  # zero output: the wrapped model equals the plain one at step 0
        nn.init.zeros_(self.to_out.bias)

    def attend(self, x: torch.Tensor, audio: torch.Tensor, skel: torch.Tensor | None) -> torch.Tensor:
        """x (N, P, dim) queries; audio (N, Na, c), skel (N, Ns, c) or None -> (N, P, dim)."""
        keys, values = [], []
        if audio.shape[1]:
            keys.append(self.to_k(audio))
            values.append(self.to_v(audio))
        if skel is not None and skel.shape[1]:
            if self.to_k_skel is None:
                raise ValueError("skeleton tokens given, but this motion module has no skeleton branch.")
            keys.append(self.to_k_skel(skel))
            values.append(self.to_v_skel(skel))
        q = self.norm_q(self.to_q(self.norm_in(x)))
        k = self.norm_k(torch.cat(keys, dim=1))
        v = torch.cat(values, dim=1)
        return self.to_out(multi_head(q, k, v, self.heads).type_as(x))


class _Residual:
    """Holds the block's residual stream entering the cross-attention, handed over by a hook on ``norm2``."""

    def __init__(self, layout: Layout):
        self._layout, self._x = layout, None

    def grab(self, module, inputs, output):
        if self._layout.motion_tokens:  # a call without motion never takes it: do not keep the tensor alive
            self._x = inputs[0]

    def take(self, like: torch.Tensor) -> torch.Tensor:
        x, self._x = self._x, None  # drop the reference: it is recomputed under checkpointing
        if x is None or x.shape != like.shape:
            raise RuntimeError("the motion processor did not receive the block's residual stream (norm2 hook).")
        return x.to(like.dtype)


class WanMotionProcessor(nn.Module):
    """``attn2.processor`` of a ``WanTransformerBlock``: stock text/image attention + per-frame motion attention."""

    def __init__(self, dim: int, heads: int, layout: Layout, skeleton: bool = False, eps: float = 1e-6,
                 condition: bool = False, audio: bool = True):
        super().__init__()
        from diffusers.models.transformers.transformer_wan import WanAttnProcessor

        # skeleton: its K/V join the eq. 8 attention; condition: Hallo4's skeleton attention before the FFN instead
        self.motion = MotionAttention(dim, heads, skeleton=skeleton, eps=eps) if audio or skeleton else None
        self.condition = ConditionAttention(dim, heads, eps) if condition else None
        self._stock = WanAttnProcessor()
        self._layout = layout  # shared with the model's hooks; a plain object, not a submodule
        self.residual = _Residual(layout)  # attach_motion hooks the block's norm2 to it
        self._skel: torch.Tensor | None = None  # condition: this call's skeleton tokens, for the ffn pre-hook

    def forward(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):
        lay = self._layout
        if not lay.motion_tokens:
            return self._stock(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)
        context = encoder_hidden_states[:, :-lay.motion_tokens]
        motion = encoder_hidden_states[:, -lay.motion_tokens:]
        text_out = self._stock(attn, hidden_states, context, attention_mask, rotary_emb)
        m = motion.reshape(-1, lay.motion_tokens // lay.motion_frames, motion.shape[-1])  # (B*T', N, dim)
        audio, skel = m[:, :lay.audio_tokens], m[:, lay.audio_tokens:]
        if self.condition is not None:  # the skeleton goes to the ffn pre-hook (recomputed with the block)
            self._skel, skel = (skel if skel.shape[1] else None), None
        if self.motion is None or not (audio.shape[1] or (skel is not None and skel.shape[1])):
            self.residual.take(text_out)  # drop it: no eq. 8 attention this call
            return text_out
        return text_out + self._per_frame(self.residual.take(text_out) + text_out, audio, skel)

    def _frames(self, z: torch.Tensor) -> tuple[torch.Tensor, int]:
        """(B, S, dim) video tokens -> (B*T', P, dim) of the motion frames, and the leading reference tokens."""
        lay = self._layout
        b, s, dim = z.shape
        per_frame = s // lay.frames  # video tokens per latent frame (frame-major order after patchify)
        lead = (lay.frames - lay.motion_frames) * per_frame  # reference frames: no motion
        return z[:, lead:].reshape(b * lay.motion_frames, per_frame, dim), lead

    def _per_frame(self, z: torch.Tensor, audio: torch.Tensor, skel: torch.Tensor | None) -> torch.Tensor:
        x, lead = self._frames(z)
        out = self.motion.attend(x, audio, skel).reshape(z.shape[0], -1, z.shape[-1])
        return F.pad(out, (0, 0, lead, 0)) if lead else out

    def before_ffn(self, module, args):
        """Forward pre-hook on the block's ``ffn``: Hallo4's skeleton attention on the feed-forward's input."""
        skel, self._skel = self._skel, None
        if skel is None:
            return None
        y = args[0]
        frames, lead = self._frames(y)
        out = self.condition(frames, skel).reshape(y.shape[0], -1, y.shape[-1])
        return (torch.cat([y[:, :lead], out], dim=1),) + tuple(args[1:])


class TextOnlyProcessor(nn.Module):
    """``attn2.processor`` of a VACE block (``WanVACETransformer3DModel.vace_blocks``): the stock text attention on
    the text tokens alone. The motion tokens ride in the shared ``encoder_hidden_states``; Hallo4's VACE blocks have
    no audio or skeleton attention, so they are cut off here."""

    def __init__(self, layout: Layout):
        super().__init__()
        from diffusers.models.transformers.transformer_wan import WanAttnProcessor

        self._stock, self._layout = WanAttnProcessor(), layout

    def forward(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):
        m = self._layout.motion_tokens
        if m and encoder_hidden_states is not None:
            encoder_hidden_states = encoder_hidden_states[:, :-m]
        return self._stock(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)


class UNetMotionProcessor(nn.Module):
    """``attn2.processor`` of a UNet ``BasicTransformerBlock`` (frames folded into the batch): stock text attention +
    attention to the frame's own audio tokens, appended to the text tokens at the cross-attention width."""

    def __init__(self, query_dim: int, context_dim: int, heads: int, layout: Layout):
        super().__init__()
        from diffusers.models.attention_processor import AttnProcessor2_0

        self.motion = MotionAttention(query_dim, heads, context_dim=context_dim)
        self._stock = AttnProcessor2_0()
        self._layout = layout
        self.residual = _Residual(layout)

    def forward(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        m = self._layout.motion_tokens
        if not m or encoder_hidden_states is None:
            return self._stock(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        context, motion = encoder_hidden_states[:, :-m], encoder_hidden_states[:, -m:]
        text_out = self._stock(attn, hidden_states, context, attention_mask, temb)  # (N, L, C) in transformer blocks
        return text_out + self.motion.attend(self.residual.take(text_out) + text_out, motion, None)
