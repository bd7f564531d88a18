"""Videos from a trained run: ``curate sample`` and the ``policy`` generator (``python -m trainer.sample JOBS``).

:func:`load_run` (``trainer.sample_run``) loads a run's model, VAE and encoders. :func:`sample_clip` makes one
mp4: the clip's audio drives overlapping windows (``trainer.sample_loop``), the VAE decodes them, and the clip's
audio is muxed in.
The mp4's ``comment`` tag holds the JSON of run, step, settings and seeds (:func:`read_metadata`).

``python -m trainer.sample JOBS.json`` reads ``{"run", "step", "settings", "jobs": [{"image", "audio", "prompt",
"seed", "out"}], "results"}``, loads the run once, and prints one JSON line per job, ``{"out", "error", "meta"}``,
also appended to the ``results`` file when one is named. A run that does not load exits 1 with one line.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from storage.errors import CurateError
from trainer.sample_config import SampleConfig
from trainer.sample_loop import latent_frames, make_scheduler, sample_window, video_frames, window_starts
from trainer.sample_run import Run, load_run, saved_steps  # noqa: F401 - the module's public entry points

# ---- one clip ---------------------------------------------------------------------------------------------

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
    from trainer.audio_features import audio_condition
    from trainer.cache import (
        CacheSettings,
        encode_audio,
        encode_clip_image,
        encode_pixels,
        read_audio,
        read_image,
    )

    cfg = run.cfg
    s = CacheSettings(frames_rule="n", num_frames=cfg.num_frames, height=cfg.height, width=cfg.width, fps=cfg.fps,
                      audio_layers=cfg.audio_layers, audio_window=cfg.audio_window)
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
            hidden = encode_audio(run.audio_encoder, samples, s)
            audio_embeds = audio_condition(hidden, frames, cfg.audio_window)[None].to(run.device)
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


@torch.no_grad()
def decode(vae, latents: torch.Tensor) -> torch.Tensor:
    """Normalised latents (1, C, T, h, w) -> pixels (3, F, H, W) in [-1, 1] (the inverse of the cache's encode)."""
    from trainer.cache import is_video_vae

    p = next(vae.parameters())
    z = latents.to(p.device, p.dtype)
    if is_video_vae(vae):
        c = z.shape[1]
        mean = torch.tensor(vae.config.latents_mean, device=z.device, dtype=z.dtype).view(1, c, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std, device=z.device, dtype=z.dtype).view(1, c, 1, 1, 1)
        return vae.decode(z * std + mean).sample[0].float().clamp(-1, 1).cpu()
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    frames = (z[0].permute(1, 0, 2, 3) / vae.config.scaling_factor) + shift  # (T, C, h, w)
    x = torch.cat([vae.decode(frames[i: i + 8]).sample for i in range(0, frames.shape[0], 8)])
    return x.float().clamp(-1, 1).permute(1, 0, 2, 3).cpu()


def write_video(video: torch.Tensor, out: Path, fps: float, audio: Path, meta: dict) -> Path:
    """(3, F, H, W) in [-1, 1] -> H.264 mp4 with ``audio`` as AAC and ``meta`` in the comment tag; written under
    a temp name and renamed, so ``out`` is either absent or complete."""
    import imageio_ffmpeg
    import numpy as np

    frames = ((video.permute(1, 2, 3, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.mp4")
    h, w = frames.shape[1:3]
    try:
        writer = imageio_ffmpeg.write_frames(
            str(tmp), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=1,
            audio_path=str(audio), audio_codec="aac", ffmpeg_log_level="error",
            output_params=["-preset", "veryfast", "-metadata", f"comment={json.dumps(meta)}"])
        writer.send(None)
        for f in frames:
            writer.send(np.ascontiguousarray(f))
        writer.close()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def read_metadata(path: str | Path) -> dict:
    """The JSON :func:`sample_clip` put in an mp4's comment tag ({} when there is none)."""
    import subprocess

    import imageio_ffmpeg

    res = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"],
                         capture_output=True, text=True, check=False)
    for line in res.stdout.splitlines():
        if line.startswith("comment="):
            return json.loads(line[len("comment="):].replace("\\=", "=").replace("\\;", ";").replace("\\#", "#"))
    return {}


# ---- the policy generator's subprocess --------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m trainer.sample JOBS.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    try:
        scfg = SampleConfig.from_dict(spec.get("settings") or {})
        run = load_run(spec["run"], spec.get("step"), "cuda" if torch.cuda.is_available() else "cpu")
        scfg.solver(run.cfg.model_kind)
    except (CurateError, ValueError) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    results = Path(spec["results"]) if spec.get("results") else None
    for job in spec["jobs"]:
        row = {"out": job["out"], "error": None}
        try:
            one = SampleConfig.from_dict({**scfg.to_dict(), "seed": int(job.get("seed", scfg.seed))})
            row["meta"] = sample_clip(run, one, job["image"], job["audio"], job.get("prompt"), job["out"])
        except (CurateError, ValueError, RuntimeError, OSError) as e:
            row["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(row), flush=True)  # lands in the job's log
        if results is not None:
            with results.open("a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
