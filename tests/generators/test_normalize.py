"""Normalised candidates are encoded at a constant bitrate, so size tells little about content."""

from __future__ import annotations

import numpy as np

from generators.normalize import VIDEO_KBPS, normalize_video, rate_params
from generators.normalize_config import NormalizeConfig
from tests.fixtures.media import make_video, make_wav


def test_rate_params_by_hand():
    assert rate_params(800) == ["-b:v", "800k", "-minrate", "800k", "-maxrate", "800k", "-bufsize", "800k",
                                "-x264-params", "nal-hrd=cbr:filler=1"]


def test_flat_and_busy_videos_come_out_the_same_size(tmp_path):
    from moviepy import ImageSequenceClip

    wav = make_wav(tmp_path / "a.wav", seconds=2.0)
    busy = make_video(tmp_path / "busy.mp4", seconds=2.0, size=(256, 256), seed=3)
    ImageSequenceClip([np.full((256, 256, 3), 120, np.uint8)] * 50, fps=25).write_videofile(
        str(tmp_path / "flat.mp4"), codec="libx264", logger=None)
    raw_ratio = busy.stat().st_size / (tmp_path / "flat.mp4").stat().st_size
    assert raw_ratio > 20  # the side channel before normalising (about 70x here)
    cfg = NormalizeConfig(fps=25, width=256, height=256)
    sizes = [normalize_video(tmp_path / f"{n}.mp4", wav, tmp_path / f"{n}-out.mp4", cfg, 2.0).path.stat().st_size
             for n in ("flat", "busy")]
    video_bytes = VIDEO_KBPS * 1000 * 2.0 / 8  # 1000 kbit/s for 2 s = 250,000 bytes, plus ~2 s of AAC
    assert all(video_bytes <= s <= video_bytes * 1.2 for s in sizes), sizes
    assert max(sizes) / min(sizes) < 1.1, sizes
