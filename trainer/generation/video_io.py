"""Video I/O of sampling: latents to pixels, pixels to an mp4 with the clip's audio, and the record in its tag.

:func:`write_video` puts the JSON of run, step, settings and seeds in the mp4's ``comment`` tag;
:func:`read_sample_record` reads it back.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from storage.atomic import atomic_path


@torch.no_grad()
def decode(vae, latents: torch.Tensor) -> torch.Tensor:
    """Normalised latents (1, C, T, h, w) -> pixels (3, F, H, W) in [-1, 1] (the inverse of the cache's encode)."""
    from trainer.encoders import is_video_vae

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
    h, w = frames.shape[1:3]
    with atomic_path(out) as tmp:  # the temp name keeps .mp4: ffmpeg picks the container from it
        writer = imageio_ffmpeg.write_frames(
            str(tmp), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=1,
            audio_path=str(audio), audio_codec="aac", ffmpeg_log_level="error",
            output_params=["-preset", "veryfast", "-metadata", f"comment={json.dumps(meta)}"])
        writer.send(None)
        for f in frames:
            writer.send(np.ascontiguousarray(f))
        writer.close()
    return out


def read_sample_record(path: str | Path) -> dict:
    """The JSON :func:`sample_clip` put in an mp4's comment tag ({} when there is none)."""
    import subprocess

    import imageio_ffmpeg

    res = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"],
                         capture_output=True, text=True, check=False)
    for line in res.stdout.splitlines():
        if line.startswith("comment="):
            return json.loads(line[len("comment="):].replace("\\=", "=").replace("\\;", ";").replace("\\#", "#"))
    return {}
