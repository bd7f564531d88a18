"""One video from a loaded run: :func:`sample_clip` and the conditions of its guidance branches.

The clip's audio drives overlapping windows (``trainer.generation.windows``), the VAE decodes them, and the clip's
audio is muxed in (``trainer.generation.video_io``); the mp4's ``comment`` tag holds the JSON of run, step, settings
and seeds. The run comes from ``trainer.generation.run_loader.load_run``.
"""

from __future__ import annotations

from pathlib import Path

import torch

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


def sample_clip(run: Run, scfg: SampleConfig, image: str | Path, audio: str | Path, prompt: str | None,
                out: str | Path, on_window=None) -> dict:
    """Write ``out`` (mp4 with the clip's audio; temp name, then renamed); return the metadata recorded in it.

    on_window: called once with the total number of solver steps (windows x steps) before sampling; it returns a
    callback for each step (or None)."""
    from storage.media import audio_duration
    from trainer.models import make_denoiser

    cfg, kind = run.cfg, run.cfg.model_kind
    seconds = audio_duration(Path(audio), f"clip audio {audio}")
    total = max(1, round(seconds * cfg.fps))
    window = cfg.num_frames
    k = min(scfg.overlap, latent_frames(kind, window) - 1)
    starts = window_starts(total, window, video_frames(kind, k) if k else 0)
    covered = starts[-1] + window
    conds = _conditions(run, scfg, image, audio, prompt, covered)
    denoiser = make_denoiser(kind, cfg.reference_image)
    solver = scfg.solver(kind)
    shape = (1, *_latent_shape(run))
    pieces, known, seeds = [], None, []
    on_step = on_window(len(starts) * scfg.steps) if on_window else None
    for i, s in enumerate(starts):
        branches = {role: {**c, "audio_embeds": None if c.get("audio_embeds") is None
                           else c["audio_embeds"][:, s: s + window]} for role, c in conds.items()}
        scheduler = make_scheduler(solver, cfg.shift, cfg.num_train_timesteps, cfg.prediction_type)
        seeds.append(scfg.seed + i)
        g = torch.Generator().manual_seed(scfg.seed + i)
        lat = sample_window(run.model, denoiser, scheduler, steps=scfg.steps, flow=kind == "wan", shape=shape,
                            branches=branches, g_text=scfg.guidance_text, g_audio=scfg.guidance_audio,
                            generator=g, known=known, device=run.device, on_step=on_step)
        known = lat[:, :, -k:] if k else None
        frames = decode(run.vae, lat)  # (3, W, H, W')
        pieces.append(frames if i == 0 else frames[:, video_frames(kind, k):])
    video = torch.cat(pieces, dim=1)[:, :total]
    meta = {"run": str(run.path), "step": run.step if run.step is not None else "final",
            "settings": scfg.to_dict(), "window_seeds": seeds, "windows": len(starts), "frames": total,
            "fps": cfg.fps, "size": [cfg.width, cfg.height]}
    write_video(video, Path(out), cfg.fps, Path(audio), meta)
    return meta


def _conditions(run: Run, scfg: SampleConfig, image, audio, prompt, frames: int) -> dict[str, dict]:
    """The guidance branches' conds (batch 1): "full", and "text" / "null" when their scale is not 1."""
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
        if run.image_encoder is not None:
            base["image_embeds"] = encode_clip_image(run.image_encoder, str(image))[None]
        audio_embeds = None
        if run.has_audio:
            samples = read_audio(str(audio), frames / cfg.fps)
            audio_embeds = clip_audio_condition(run.audio_encoder, samples, s)[None].to(run.device)
    full = {**base, "audio_embeds": audio_embeds}
    branches = {"full": full}
    audio_cfg = run.has_audio and scfg.guidance_audio != 1
    if audio_cfg:
        branches["text"] = {**full, "audio_embeds": torch.zeros_like(audio_embeds)}
    if run.text_encoder is not None and scfg.guidance_text != 1:
        branches["null"] = {**(branches["text"] if audio_cfg else full), "encoder_hidden_states": empty}
    return branches


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
