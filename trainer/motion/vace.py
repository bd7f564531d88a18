"""The VACE context of Hallo4's model: the skeleton video as ``WanVACETransformer3DModel``'s control input.

Upstream (fudan-generative-vision/hallo4 @1ccca54, ``wan_vace.py`` ``vace_encode_frames`` / ``vace_encode_masks`` /
``generate``) passes the skeleton video as VACE's source video with an all-ones mask, so:

* inactive = video * (1 - mask) = an all-zero (grey) video, reactive = the skeleton video; both go through the VAE
  as whole videos: ``vace_latents`` = [VAE(zeros) ; VAE(skeleton)], 2C channels, T' = (T + 3) // 4 latent frames;
* the mask, folded 8 x 8 onto the latent grid, is all ones: 64 channels (``vace_in_channels`` - 2C);
* the reference image's frame goes first: [VAE(reference) ; zeros (C)] and a zero mask, as the noisy latent's
  frame 0 is the clean reference latent.

:func:`vace_context` builds that (N, vace_in_channels, 1 + T', h, w) tensor from the cached ``vace_latents`` and the
reference latent; :func:`encode_vace_latents` makes ``vace_latents`` from a skeleton video with the run's VAE.
"""

from __future__ import annotations

import torch


def vace_context(vace_latents: torch.Tensor, ref_latents: torch.Tensor | None, in_channels: int) -> torch.Tensor:
    """(N, 2C, T', h, w) cached skeleton latents (+ (N, C, 1, h, w) reference) -> (N, in_channels, [1 +] T', h, w)."""
    n, c2, t, h, w = vace_latents.shape
    masks = in_channels - c2
    if masks < 1:
        raise ValueError(f"vace_latents have {c2} channels, but the VACE model takes {in_channels} (2C + mask): "
                         "the VAE does not belong to this model.")
    ctx = torch.cat([vace_latents, vace_latents.new_ones(n, masks, t, h, w)], dim=1)
    if ref_latents is None:
        return ctx
    ref = ref_latents.to(ctx.dtype)
    lead = torch.cat([ref, torch.zeros_like(ref), ref.new_zeros(n, masks, ref.shape[2], h, w)], dim=1)
    return torch.cat([lead, ctx], dim=2)


def encode_vace_latents(encode, skeleton_video: torch.Tensor) -> torch.Tensor:
    """[encode(zeros) ; encode(skeleton)] for a (C, T, H, W) skeleton video in [-1, 1]; ``encode`` maps a
    (1, 3, T, H, W) video to (1, C, T', h, w) latents (the cache's VAE encode, scaling included)."""
    video = skeleton_video[None]
    return torch.cat([encode(torch.zeros_like(video)), encode(video)], dim=1)[0]
