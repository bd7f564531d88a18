"""Bringing a raw generator output to the workspace's common format (fps, size, length, audio).

Aspect ratio: when the raw video's aspect differs from the target, it is **centre-cropped**
to the target aspect and then resized, never letterboxed: black bars would be a visible
method signature that annotators could learn, and every baseline centres the face.

Length: the shorter of the raw video and the clip's audio, capped at ``max_seconds``,
rounded down to whole frames. The clip's driving audio replaces whatever audio the
upstream muxed in, so every candidate of a clip carries exactly the same sound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from generators.normalize_config import NormalizeConfig
from storage.atomic import atomic_path
from storage.errors import CurateError
from storage.media import VideoProbe, probe_video, sha256_file

__all__ = ["MIN_SECONDS", "VIDEO_KBPS", "BrokenOutput", "NormalizedVideo", "normalize_video"]

# A candidate shorter than this cannot be judged for lip sync; it is a broken output.
MIN_SECONDS = 0.4

# Constant video bitrate (kbit/s), padded with filler data: a candidate's file size then follows
# its length only, not its content. Left to the quality-based rate control, a blurred or noisy
# method made files 15x the size of the others, which anyone who can see a download's size (or
# the browser's network panel) could learn as a method signature. 1000 kbit/s is ample for
# 512x512 at 25 fps.
VIDEO_KBPS = 1000


def rate_params(kbps: int = VIDEO_KBPS) -> list[str]:
    """ffmpeg flags for a constant-bitrate H.264 stream (HRD CBR with filler NAL units)."""
    k = f"{int(kbps)}k"
    return ["-b:v", k, "-minrate", k, "-maxrate", k, "-bufsize", k, "-x264-params", "nal-hrd=cbr:filler=1"]


class BrokenOutput(Exception):
    """The raw output cannot become a candidate; ``str(e)`` is the failure reason stored with it."""


@dataclass(frozen=True)
class NormalizedVideo:
    path: Path
    probe: VideoProbe
    sha256: str


def target_length(video_seconds: float, audio_seconds: float, cfg: NormalizeConfig) -> tuple[float, int]:
    """(seconds, frames) of the normalised candidate: whole frames of the shortest of video, audio, cap."""
    seconds = min(video_seconds, audio_seconds, cfg.max_seconds)
    frames = math.floor(seconds * cfg.fps + 1e-6)
    return frames / cfg.fps, frames


def crop_box(w: int, h: int, tw: int, th: int) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) of the largest centred box of aspect tw:th inside a w x h frame."""
    if w * th > h * tw:  # too wide: trim the sides
        cw, ch = max(1, round(h * tw / th)), h
    else:  # too tall: trim top and bottom
        cw, ch = w, max(1, round(w * th / tw))
    x1, y1 = (w - cw) // 2, (h - ch) // 2
    return x1, y1, x1 + cw, y1 + ch


def normalize_video(raw: Path, audio: Path, out: Path, cfg: NormalizeConfig, audio_seconds: float) -> NormalizedVideo:
    """Write ``out`` (atomically: temp name, then rename) and return its probe and hash.

    Raises:
        BrokenOutput: undecodable or empty raw video, too short, or a written file that
            does not probe as expected. Nothing is left at ``out`` in that case.
    """
    try:
        raw_probe = probe_video(raw, "raw output")
    except CurateError as e:
        raise BrokenOutput(str(e)) from None
    seconds, frames = target_length(raw_probe.duration, audio_seconds, cfg)
    if seconds < MIN_SECONDS:
        raise BrokenOutput(
            f"too short: raw video {raw_probe.duration:.2f} s ({raw_probe.frame_count} frames), "
            f"audio {audio_seconds:.2f} s; at least {MIN_SECONDS} s is needed"
        )
    with atomic_path(out) as tmp:  # keeps out's suffix: ffmpeg picks the container from it
        _encode(raw, audio, tmp, cfg, seconds, raw_probe)
        probe = _check_written(tmp, cfg, frames)
        digest = sha256_file(tmp)
    return NormalizedVideo(out, probe, digest)


def _encode(raw: Path, audio: Path, tmp: Path, cfg: NormalizeConfig, seconds: float, rp: VideoProbe) -> None:
    from moviepy import AudioFileClip, VideoFileClip

    video = VideoFileClip(str(raw), audio=False)
    sound = AudioFileClip(str(audio))
    try:
        x1, y1, x2, y2 = crop_box(rp.width, rp.height, cfg.width, cfg.height)
        clip = video.subclipped(0, min(seconds, video.duration))
        if (x1, y1, x2, y2) != (0, 0, rp.width, rp.height):
            clip = clip.cropped(x1=x1, y1=y1, x2=x2, y2=y2)
        clip = clip.with_fps(cfg.fps).with_duration(seconds)
        clip = clip.with_audio(sound.subclipped(0, min(seconds, sound.duration)))
        # The resize is left to ffmpeg's scaler (same result as clip.resized, without a
        # per-frame Python resize): moviepy still decodes, times, crops and muxes.
        scale = f"scale={cfg.width}:{cfg.height}:flags=bicubic,setsar=1"
        clip.write_videofile(
            str(tmp),
            fps=cfg.fps,
            codec="libx264",
            audio_codec="aac",
            temp_audiofile=str(tmp.with_name(tmp.stem + ".snd.m4a")),
            preset="veryfast",
            ffmpeg_params=["-vf", scale, "-pix_fmt", "yuv420p", *rate_params()],
            logger=None,
        )
    except (OSError, ValueError, IndexError) as e:
        raise BrokenOutput(f"re-encoding failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    finally:
        video.close()
        sound.close()


def _check_written(path: Path, cfg: NormalizeConfig, frames: int) -> VideoProbe:
    try:
        p = probe_video(path, "normalised output")
    except CurateError as e:
        raise BrokenOutput(str(e)) from None
    problems = []
    if abs(p.frame_count - frames) > 1:
        problems.append(f"{p.frame_count} frames, expected {frames}")
    if (p.width, p.height) != (cfg.width, cfg.height):
        problems.append(f"size {p.width}x{p.height}, expected {cfg.width}x{cfg.height}")
    if abs(p.fps - cfg.fps) > 0.01:
        problems.append(f"fps {p.fps:.3f}, expected {cfg.fps}")
    if not p.has_audio:
        problems.append("no audio track")
    if problems:
        raise BrokenOutput("normalised output is wrong: " + "; ".join(problems))
    return p
