"""One video from a loaded run: :func:`sample_clip` and the conditions of its guidance branches.

The clip's audio drives overlapping windows (``trainer.generation.windows``), the VAE decodes them, and the clip's
audio is muxed in (``trainer.generation.video_io``); the mp4's ``comment`` tag holds the JSON of run, step, settings
and seeds. The run comes from ``trainer.generation.run_loader.load_run``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from storage.errors import CurateError
from trainer.generation.run_loader import Run
from trainer.generation.settings import SampleConfig
from trainer.generation.video_io import decode, write_video
from trainer.generation.windows import (
    latent_frames,
    make_scheduler,
    sample_window,
    video_frames,
    window_starts,
)

PER_FRAME = ("audio_embeds", "skeleton")  # conditions with one entry per video frame, cut per window


def sample_clip(run: Run, scfg: SampleConfig, image: str | Path, audio: str | Path, prompt: str | None,
                out: str | Path, on_window=None, skeleton: str | Path | None = None) -> dict:
    """Write ``out`` (mp4 with the clip's audio; temp name, then renamed); return the metadata recorded in it.

    on_window: called once with the total number of solver steps (windows x steps) before sampling; it returns a
    callback for each step (or None).
    skeleton: the clip's rendered skeleton video, needed by (and only by) a run with Hallo4's skeleton branch; it is
    checked against the audio before any model work."""
    from storage.media import audio_duration
    from trainer.models import make_denoiser

    cfg, kind = run.cfg, run.cfg.model_kind
    seconds = audio_duration(Path(audio), f"clip audio {audio}")
    total = max(1, round(seconds * cfg.fps))
    if run.has_skeleton:
        from trainer.motion.hallo4_media import check_fits_audio

        if not skeleton:
            raise CurateError("the run's model has Hallo4's skeleton branch: give the clip a rendered skeleton video "
                              "(the clip manifest's skeleton column).")
        check_fits_audio(str(skeleton), seconds, cfg.fps)
    window = cfg.num_frames
    k = min(scfg.overlap, latent_frames(kind, window) - 1)
    starts = window_starts(total, window, video_frames(kind, k) if k else 0)
    covered = starts[-1] + window
    conds = _conditions(run, scfg, image, audio, prompt, covered, skeleton if run.has_skeleton else None)
    denoiser = make_denoiser(kind, cfg.reference_image)
    solver = "unipc_wan" if scfg.scheduler == "auto" and run.vace else scfg.solver(kind)
    shape = (1, *_latent_shape(run))
    lead = 1 if run.vace else 0  # upstream draws the reference frame's noise too (then overwrites the frame)
    pieces, known, seeds = [], None, []
    on_step = on_window(len(starts) * scfg.steps) if on_window else None
    for i, s in enumerate(starts):
        branches = {role: {**c, **{key: c[key][:, s: s + window] for key in PER_FRAME if c.get(key) is not None}}
                    for role, c in conds.items()}
        scheduler = make_scheduler(solver, scfg.shift or cfg.shift, cfg.num_train_timesteps, cfg.prediction_type)
        seeds.append(scfg.seed + i)
        g = torch.Generator().manual_seed(scfg.seed + i)
        lat = sample_window(run.model, denoiser, scheduler, steps=scfg.steps, flow=kind == "wan", shape=shape,
                            branches=branches, g_text=scfg.guidance_text, g_audio=scfg.guidance_audio,
                            generator=g, known=known, device=run.device, on_step=on_step, lead=lead)
        known = lat[:, :, -k:] if k else None
        frames = decode(run.vae, lat)  # (3, W, H, W')
        pieces.append(frames if i == 0 else frames[:, video_frames(kind, k):])
    video = torch.cat(pieces, dim=1)[:, :total]
    meta = {"run": str(run.path), "step": run.step if run.step is not None else "final",
            "settings": scfg.to_dict(), "window_seeds": seeds, "windows": len(starts), "frames": total,
            "fps": cfg.fps, "size": [cfg.width, cfg.height]}
    if run.has_skeleton:
        meta["skeleton"] = str(skeleton)
    write_video(video, Path(out), cfg.fps, Path(audio), meta)
    return meta


def _conditions(run: Run, scfg: SampleConfig, image, audio, prompt, frames: int,
                skeleton=None) -> dict[str, dict]:
    """The guidance branches' conds (batch 1): "full", and "text" / "null" when their scale is not 1. With equal
    text and audio scales g the three-branch formula is ``v_null + g (v_full - v_null)`` with a zero-audio null
    branch (upstream Hallo4's guidance), so the "text" branch is not run."""
    from trainer.cache import CacheSettings
    from trainer.encoders import clip_audio_condition, encode_clip_image, encode_pixels
    from trainer.media_decode import read_audio, read_image

    cfg = run.cfg
    s = CacheSettings(frames_rule="n", num_frames=cfg.num_frames, height=cfg.height, width=cfg.width, fps=cfg.fps,
                      audio_layers=cfg.audio_layers, audio_window=cfg.audio_window,
                      audio_features=cfg.audio_features)
    with torch.no_grad():
        text, empty = _prompt(run, prompt), _prompt(run, "")
        base = {"encoder_hidden_states": text}
        if cfg.reference_image == "vace":
            base["ref_latents"] = encode_pixels(run.vae, read_image(str(image), s))[None]
        if cfg.reference_image == "i2v":
            img = read_image(str(image), s)
            rest = torch.zeros(3, cfg.num_frames - 1, *img.shape[2:])
            base["i2v_latents"] = encode_pixels(run.vae, torch.cat([img, rest], dim=1))[None]
        if run.vace:
            from trainer.motion.vace import encode_vace_latents

            base["vace_latents"] = encode_vace_latents(lambda v: encode_pixels(run.vae, v), cfg.num_frames,
                                                       cfg.height, cfg.width)[None]
        if skeleton is not None:
            base["skeleton"] = _skeleton_latents(run, skeleton, frames)
        if run.image_encoder is not None:
            base["image_embeds"] = encode_clip_image(run.image_encoder, str(image))[None]
        audio_embeds = None
        if run.has_audio:
            samples = read_audio(str(audio), frames / cfg.fps) if run.separator is None \
                else run.separator.read_16k(str(audio), frames / cfg.fps)
            # the whole clip's frames (every window's), not one window's
            whole = dataclasses.replace(s, num_frames=frames)
            audio_embeds = clip_audio_condition(run.audio_encoder, samples, whole)[None].to(run.device)
    full = {**base, "audio_embeds": audio_embeds}
    branches = {"full": full}
    audio_cfg = run.has_audio and scfg.guidance_audio != 1
    if audio_cfg and run.text_encoder is not None and scfg.guidance_text == scfg.guidance_audio:
        return {"full": full, "null": {**full, "audio_embeds": torch.zeros_like(audio_embeds),
                                       "encoder_hidden_states": empty}}
    if audio_cfg:
        branches["text"] = {**full, "audio_embeds": torch.zeros_like(audio_embeds)}
    if run.text_encoder is not None and scfg.guidance_text != 1:
        branches["null"] = {**(branches["text"] if audio_cfg else full), "encoder_hidden_states": empty}
    return branches


def _skeleton_latents(run: Run, skeleton, frames: int) -> torch.Tensor:
    """(1, frames, C, h, w): each frame of the skeleton video VAE-encoded alone (Hallo4's pose input)."""
    from trainer.encoders import encode_pixels
    from trainer.motion.hallo4_media import read_skeleton_video

    cfg = run.cfg
    pixels = read_skeleton_video(str(skeleton), frames, cfg.fps, cfg.height, cfg.width, cfg.skeleton_framing)
    return torch.stack([encode_pixels(run.vae, pixels[:, t:t + 1])[:, 0] for t in range(frames)])[None]


def _prompt(run: Run, prompt: str | None) -> torch.Tensor:
    if run.text_encoder is None:  # the run trained on zero prompt embeddings
        dim = int(run.model.config["text_dim" if run.cfg.model_kind == "wan" else "cross_attention_dim"])
        return torch.zeros(1, run.cfg.text_length, dim)
    return run.text_encoder([prompt or ""])


def _latent_shape(run: Run) -> tuple[int, int, int, int]:
    c = run.vae.config
    if run.cfg.model_kind == "wan":
        spatial, channels = 2 ** len(c.temperal_downsample), c.z_dim
    else:
        spatial, channels = 2 ** (len(c.block_out_channels) - 1), c.latent_channels
    t = latent_frames(run.cfg.model_kind, run.cfg.num_frames)
    return channels, t, run.cfg.height // spatial, run.cfg.width // spatial
