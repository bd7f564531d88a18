"""The sampling maths: window plan, classifier-free guidance and the solver loop of one window.

Long audio is cut into overlapping windows of the run's ``num_frames`` video frames. Window i starts at video frame
``i * (W - o)`` where ``o`` is the number of video frames the ``overlap`` latent frames stand for (Wan's causal VAE:
``1 + 4 (k - 1)``; a UNet: ``k``). The first ``k`` latent frames of window i are the last ``k`` clean latent frames
of window i - 1: at every solver step they are replaced by those latents noised to the step's noise level with one
fixed noise draw (the "replacement" way of conditioning an unconditional model on known frames, as in video
inpainting), and set to the clean latents after the last step. The model denoises the rest of the window in their
context, so motion continues across the seam. On decode, window i > 0 drops its first ``o`` video frames (they repeat
the previous window's end). Wan's VAE encodes latent frame 0 as a single image, so the carried frame is decoded as
one frame rather than four: a small approximation at each seam.
"""

from __future__ import annotations

import math

import torch

WAN_TEMPORAL = 4  # AutoencoderKLWan: 4 video frames per latent frame after the first


def latent_frames(kind: str, video_frames: int) -> int:
    return (video_frames - 1) // WAN_TEMPORAL + 1 if kind == "wan" else video_frames


def video_frames(kind: str, latent: int) -> int:
    return 1 + WAN_TEMPORAL * (latent - 1) if kind == "wan" else latent


def window_starts(total: int, window: int, overlap_video: int) -> list[int]:
    """First video frame of each window so that ``total`` frames are covered; ``overlap_video`` frames repeat."""
    if not 0 <= overlap_video < window:
        raise ValueError(f"the overlap ({overlap_video} video frames) must be shorter than a window ({window}).")
    stride = window - overlap_video
    n = 1 + max(0, math.ceil((total - window) / stride))
    return [i * stride for i in range(n)]


def guided(v_full: torch.Tensor, v_text: torch.Tensor | None, v_null: torch.Tensor | None,
           g_text: float, g_audio: float) -> torch.Tensor:
    """``v_null + g_text (v_text - v_null) + g_audio (v_full - v_text)``; a missing branch means its scale is 1
    (``v_text`` None: no audio guidance; ``v_null`` None: no text guidance)."""
    base = v_full if v_text is None else v_text
    out = base if v_null is None else v_null + g_text * (base - v_null)
    return out if v_text is None else out + g_audio * (v_full - v_text)


def make_scheduler(name: str, shift: float, num_train_timesteps: int, prediction_type: str = "epsilon"):
    """A diffusers scheduler: UniPC / Euler on the run's shifted flow-matching sigmas, or DDIM on the training
    betas (SD1.5's scaled_linear, what ``trainer.objectives.EpsilonObjective`` trains with)."""
    from diffusers import DDIMScheduler, FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

    if name == "unipc_wan":
        return _wan_unipc(num_train_timesteps, shift)
    if name == "unipc":
        return UniPCMultistepScheduler(num_train_timesteps=num_train_timesteps, prediction_type="flow_prediction",
                                       use_flow_sigmas=True, flow_shift=shift)
    if name == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=num_train_timesteps, shift=shift)
    return DDIMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule="scaled_linear", beta_start=0.00085,
                         beta_end=0.012, prediction_type=prediction_type, clip_sample=False, set_alpha_to_one=False,
                         steps_offset=1)


def _wan_unipc(num_train_timesteps: int, shift: float):
    """UniPC on Wan2.1's own sigma grid (its ``FlowUniPCMultistepScheduler``, which Hallo4's sampler uses):
    ``linspace(0.999, 0, steps + 1)[:-1]`` before the shift, where diffusers' flow sigmas run from 1 to 1/1000.
    The steps are then the same UniPC (bh2, order 2) updates."""
    import numpy as np
    from diffusers import UniPCMultistepScheduler

    # Wan's sigma_max: 1 - the first of linspace(1, 1/T, T) reversed, read back from a float32 tensor
    sigma_max = float(np.float32(1 - 1 / num_train_timesteps))

    class WanGridUniPC(UniPCMultistepScheduler):
        def set_timesteps(self, num_inference_steps=None, device=None, sigmas=None, mu=None):
            grid = np.linspace(sigma_max, 0.0, num_inference_steps + 1)[:-1] if sigmas is None else sigmas
            super().set_timesteps(device=device, sigmas=np.asarray(grid, dtype=np.float64), mu=mu)

    return WanGridUniPC(num_train_timesteps=num_train_timesteps, prediction_type="flow_prediction",
                        use_flow_sigmas=True, flow_shift=shift)


def _renoise(scheduler, flow: bool, i: int, t, known: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    if flow:
        sigma = scheduler.sigmas[i].to(known)
        return (1 - sigma) * known + sigma * noise
    return scheduler.add_noise(known, noise, t.reshape(1))


@torch.no_grad()
def sample_window(model, denoiser, scheduler, *, steps: int, flow: bool, shape: tuple, branches: dict[str, dict],
                  g_text: float, g_audio: float, generator: torch.Generator, known: torch.Tensor | None = None,
                  device: torch.device | str = "cpu", on_step=None, lead: int = 0,
                  stop_after: int | None = None) -> torch.Tensor:
    """Latents (1, C, T, h, w) of one window.

    branches: {"full": cond} plus "text" (prompt, zero audio: audio guidance) and/or "null" (empty prompt; zero
        audio when there is a "text" branch), each with batch 1; they run as one batch per step.
    known: clean latents (1, C, k, h, w) of the first k frames (from the previous window), or None.
    on_step: called with no arguments after each solver step (progress bars).
    lead: the noise is drawn with this many extra leading latent frames, then they are dropped (Hallo4's sampler
        draws noise for its reference frame too, so the same seed gives the same noise on the other frames).
    stop_after: return the latents after this many solver steps (a solver-step comparison; None: all steps).
    """
    x = torch.randn(shape[0], shape[1], shape[2] + lead, *shape[3:], generator=generator, device="cpu")
    x = x[:, :, lead:].contiguous().to(device)
    known_noise = None if known is None else torch.randn(known.shape, generator=generator).to(device)
    roles = list(branches)
    cond = {key: torch.cat([branches[r][key] for r in roles]).to(device) for key, v in branches["full"].items()
            if v is not None}
    nb, k = len(roles), 0 if known is None else known.shape[2]
    scheduler.set_timesteps(steps, device=device)
    for i, t in enumerate(scheduler.timesteps):
        if k:
            x[:, :, :k] = _renoise(scheduler, flow, i, t, known, known_noise)
        x_in = scheduler.scale_model_input(x, t) if hasattr(scheduler, "scale_model_input") else x
        out = denoiser(model, x_in.expand(nb, *x.shape[1:]), t.reshape(1).expand(nb).to(device), cond)
        v = dict(zip(roles, out.float().chunk(nb)))
        v = guided(v["full"], v.get("text"), v.get("null"), g_text, g_audio)
        x = scheduler.step(v.to(x.dtype), t, x, return_dict=False)[0]
        if on_step is not None:
            on_step()
        if stop_after is not None and i + 1 >= stop_after:
            return x
    if k:
        x[:, :, :k] = known
    return x
