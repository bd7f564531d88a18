"""Hallo4's released skeleton branch, as options of the motion module (``skeleton_projection`` /
``skeleton_fusion`` = ``"hallo4"``), so ``curate convert hallo4`` can carry its pose weights over unchanged.

Read from fudan-generative-vision/hallo4 @1ccca54 (``pose_proj.py``, ``model.py``, ``wan_model.py``, ``wan_vace.py``):

* Input: the rendered skeleton video, each frame VAE-encoded on its own as a one-frame video, so (B, T, C, h, w)
  latents at the VIDEO frame rate (T = 4k + 1, C = 16, h x w the latent grid), not keypoints.
* ``pose_proj`` (:class:`Hallo4PoseProjection`): frame 0 repeated so T becomes 4(k + 1) (our first-frame rule);
  per frame a Conv2d C -> dim/4, kernel = stride = the transformer's spatial patch p, so each frame gives exactly
  the N = (h/p)(w/p) tokens of a latent frame in patchify order; LayerNorm(dim/4, eps 1e-5); then each latent frame's
  4 video frames are laid side by side in the CHANNEL axis (``b (df four) n d -> b df n (four d)``): token n of
  latent frame j is [f_4j(n) || f_4j+1(n) || f_4j+2(n) || f_4j+3(n)], width dim. Eq. 6 lays them side by side in
  the token axis instead; this is the released model's variant.
* ``condition_cross_attn`` (:class:`ConditionAttention`), per block, per latent frame, AFTER the audio attention,
  on the feed-forward's input Y = norm3(x) * (1 + scale) + shift (diffusers' names; Hallo4's ``norm2``):
  ``Y <- Y + o(softmax(Q K^T / sqrt(d)) V)``, Q = norm_q(q(S_j)) from the frame's skeleton tokens, K = norm_k(k(
  norm(Y_j))), V = v(norm(Y_j)) from the frame's video tokens; ``o`` starts at zero. Query i is skeleton token i,
  so its output lands on video token i: skeleton and video tokens of a frame correspond one to one. The result
  reaches the stream only through the feed-forward (x + gate * ffn(Y)), not as a residual of its own.

Difference kept: Hallo4 prepends an all-zero skeleton frame for the VACE reference latent (whose queries are then
the bias of ``q``); here reference frames get nothing, as in the audio attention (:mod:`trainer.motion.fusion`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.motion.reshape import first_frame_rule


def multi_head(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Scaled dot-product attention over ``heads`` heads: q (N, Lq, dim), k and v (N, Lk, dim) -> (N, Lq, dim).
    Shared with eq. 8's attention (:class:`trainer.motion.fusion.MotionAttention`)."""
    split = lambda t: t.unflatten(-1, (heads, -1)).transpose(1, 2)  # (N, L, dim) -> (N, h, L, dim/h)
    return F.scaled_dot_product_attention(split(q), split(k), split(v)).transpose(1, 2).flatten(2)


class Hallo4PoseProjection(nn.Module):
    """Skeleton latents (B, T, C, h, w) -> (B, T', (h/p)(w/p), dim) tokens (see the module docstring)."""

    def __init__(self, in_channels: int, dim: int, patch: int, rho: int = 4):
        super().__init__()
        if dim % rho:
            raise ValueError(f"the Hallo4 pose projection needs the model width ({dim}) divisible by rho ({rho}).")
        self.proj = nn.Conv2d(in_channels, dim // rho, patch, stride=patch)
        self.norm = nn.LayerNorm(dim // rho)
        self.rho, self.in_channels = rho, in_channels

    def forward(self, latents: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        if latents.dim() != 5 or latents.shape[2] != self.in_channels or tuple(latents.shape[-2:]) != tuple(grid):
            raise ValueError(f"the Hallo4 pose projection takes skeleton latents (B, T, {self.in_channels}, "
                             f"{grid[0]}, {grid[1]}) (each skeleton frame VAE-encoded), got {tuple(latents.shape)}.")
        c = first_frame_rule(latents, self.rho)
        b, t = c.shape[:2]
        y = self.proj(c.flatten(0, 1))  # (B*T, dim/rho, h/p, w/p)
        y = self.norm(y.flatten(2).transpose(1, 2))  # (B*T, N, dim/rho), patchify order
        y = y.reshape(b, t // self.rho, self.rho, y.shape[1], -1)  # (B, T', rho, N, dim/rho)
        return y.permute(0, 1, 3, 2, 4).flatten(3)  # frame i of the group -> channels i*dim/rho ..


class ConditionAttention(nn.Module):
    """One block's ``condition_cross_attn``: queries from skeleton tokens, keys/values from the normed video tokens,
    output (zero-initialised) added token by token to the feed-forward's input."""

    def __init__(self, dim: int, heads: int, eps: float = 1e-6):
        super().__init__()
        self.heads = heads
        self.norm_in = nn.LayerNorm(dim, eps=eps)  # Hallo4's condition_cross_norm
        self.to_q, self.to_k, self.to_v, self.to_out = (nn.Linear(dim, dim) for _ in range(4))
        self.norm_q, self.norm_k = nn.RMSNorm(dim, eps=eps), nn.RMSNorm(dim, eps=eps)
        nn.init.zeros_(self.to_out.weight)  # zero output: the wrapped model equals the plain one at step 0
        nn.init.zeros_(self.to_out.bias)

    def forward(self, y: torch.Tensor, skel: torch.Tensor) -> torch.Tensor:
        """y (N, P, dim) video tokens of one frame each, skel (N, P, dim) -> y + attention output."""
        if skel.shape != y.shape:
            raise ValueError(f"the Hallo4 skeleton attention needs one skeleton token per video token: "
                             f"{tuple(skel.shape[1:])} skeleton, {tuple(y.shape[1:])} video tokens per frame.")
        ctx = self.norm_in(y)
        q = self.norm_q(self.to_q(skel.to(y.dtype)))
        return y + self.to_out(multi_head(q, self.norm_k(self.to_k(ctx)), self.to_v(ctx), self.heads))
