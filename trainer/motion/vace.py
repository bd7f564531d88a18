"""The VACE context of Hallo4's model: ``WanVACETransformer3DModel``'s control input, built as upstream builds it.

Upstream (fudan-generative-vision/hallo4 @1ccca54, ``vace_wan_inference.py`` and ``wan_vace.py`` ``generate`` /
``vace_encode_frames`` / ``vace_encode_masks``) reads the skeleton video (``--src_video``) as the *pose* input
(each frame VAE-encoded alone, into ``pose_proj``), and gives VACE an all-zero source video with an all-ones mask
(the first window; later windows of a long clip put the previous window's last frames in and zero their mask). So:

* inactive = source * (1 - mask) and reactive = source * mask are both the all-zero (grey) video of the window's
  frame count and size; ``vace_latents`` = [VAE(zeros) ; VAE(zeros)], 2C channels, T' = (T + 3) // 4 latent frames.
  They depend on the VAE, the frame count and the size only, not on the clip: the cache writes one entry per
  setting (:func:`encode_vace_latents`);
* the mask, folded 8 x 8 onto the latent grid, is all ones: 64 channels (``vace_in_channels`` - 2C);
* the reference image's frame goes first: [VAE(reference) ; zeros (C)] and a zero mask, as the noisy latent's
  frame 0 is the clean reference latent.

:func:`vace_context` builds that (N, vace_in_channels, 1 + T', h, w) tensor from ``vace_latents`` and the
reference latent.
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


def encode_vace_latents(encode, num_frames: int, height: int, width: int,
                        source: torch.Tensor | None = None) -> torch.Tensor:
    """[encode(inactive) ; encode(reactive)] of VACE's source video under an all-ones mask: (2C, T', h, w).

    ``source`` (3, T, H, W) in [-1, 1] defaults to upstream's all-zero video; with the all-ones mask the inactive
    part is zeros whatever the source. ``encode`` maps a (3, T, H, W) video to (C, T', h, w) normalised latents
    (the cache's VAE encode)."""
    video = torch.zeros(3, num_frames, height, width) if source is None else source
    return torch.cat([encode(torch.zeros_like(video)), encode(video)], dim=0)
