"""Temporal motion modulation (Hallo4 sec. 3.3, eq. 6): per-video-frame motion features onto the latent frames.

A causal video VAE (Wan) compresses T = rho*k + 1 video frames into T' = k + 1 latent frames: latent frame 0 holds
video frame 0 alone, latent frame j >= 1 holds video frames rho*(j-1)+1 .. rho*j. Eq. 6 is a redistribution, not a
subsampling: latent frame j receives the features of ITS rho video frames side by side in the token axis.

First-frame rule (:func:`first_frame_rule`): for T = rho*k + 1 frames, video frame 0 is repeated rho times
(rho - 1 copies prepended), giving rho*(k + 1) frames. Latent frame 0 then receives [f0, f0, f0, f0] and latent
frame j >= 1 receives exactly the video frames the VAE folded into it; every latent frame gets rho*D tokens.
Hallo4's released model does the same (81 -> 84 = 21 x 4).

Ablations (tables 6-7), ``expansion`` e = tokens-per-latent-frame multiplier, a divisor of rho:
    e = rho ("full"): all rho frames of a group, rho*D tokens (eq. 6).
    e = rho/2 ("/2"):  every second frame of a group, (rho/2)*D tokens (4x temporal compression, 2x expansion).
    e = 1 ("/4"):      the group's first frame only, D tokens (temporal subsampling without expansion).
"""

from __future__ import annotations

import torch

# config spelling of the ablations -> divisor of rho ("/2" keeps rho/2 frames of each group)
ABLATIONS = {"full": 1, "/2": 2, "/4": 4}


def temporal_reshape(c: torch.Tensor, rho: int) -> torch.Tensor:
    """Eq. 6: (B, T, D, d) -> (B, T // rho, rho * D, d); token i*D + m of latent frame j is token m of video frame
    rho*j + i (the ``(f four) m c -> f (four m) c`` order). T must already be a multiple of rho."""
    if c.dim() != 4:
        raise ValueError(f"temporal_reshape needs (B, T, D, d). Got shape {tuple(c.shape)}.")
    b, t, d_m, d = c.shape
    if rho < 1 or t % rho:
        raise ValueError(f"T = {t} frames is not a multiple of rho = {rho}; apply first_frame_rule first.")
    return c.reshape(b, t // rho, rho * d_m, d)


def first_frame_rule(c: torch.Tensor, rho: int) -> torch.Tensor:
    """(B, rho*k + 1, ...) -> (B, rho*(k + 1), ...): video frame 0 repeated rho times (see the module docstring).
    A T that is already a multiple of rho (a non-causal VAE) is returned unchanged."""
    t = c.shape[1]
    if t % rho == 0:
        return c
    if t % rho != 1:
        raise ValueError(f"T = {t} frames: a causal VAE with rho = {rho} needs rho*k + 1 frames (e.g. 81).")
    return torch.cat([c[:, :1].expand(-1, rho - 1, *c.shape[2:]), c], dim=1)


def latent_frame_count(t: int, rho: int) -> int:
    """Latent frames for t video frames: k + 1 for t = rho*k + 1, t / rho for a multiple of rho."""
    return t // rho + (1 if t % rho else 0)


def modulate(c: torch.Tensor, rho: int, ablation: str = "full") -> torch.Tensor:
    """Per-video-frame features (B, T, D, d) -> per-latent-frame tokens (B, T', e*D, d): first-frame rule, the
    ablation's frame selection within each group, then eq. 6."""
    if ablation not in ABLATIONS:
        raise ValueError(f"Unknown ablation {ablation!r}; choose from {sorted(ABLATIONS)}.")
    step = ABLATIONS[ablation]
    if rho % step:
        raise ValueError(f"ablation {ablation!r} needs rho divisible by {step}. Got rho = {rho}.")
    c = first_frame_rule(c, rho)
    if step > 1:
        b, t = c.shape[:2]
        c = c.reshape(b, t // rho, rho, *c.shape[2:])[:, :, ::step].flatten(1, 2)  # keep every step-th frame
        rho = rho // step
    return temporal_reshape(c, rho)


def tokens_per_latent_frame(d_m: int, rho: int, ablation: str = "full") -> int:
    """rho*D for "full", (rho/2)*D for "/2", D for "/4"."""
    return d_m * rho // ABLATIONS[ablation]
