"""Upstream's skeleton framing (fit the height, pad the width with -1 or crop its centre) against pixels worked out
by hand, and a skeleton video that does not fit the clip's audio refused in one line before any model work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch


def _write(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    from moviepy import ImageSequenceClip

    path.parent.mkdir(parents=True, exist_ok=True)
    ImageSequenceClip(frames, fps=fps).write_videofile(str(path), codec="libx264", audio=False, logger=None)
    return path


def test_a_narrow_frame_is_padded_with_minus_one_on_both_sides():
    from trainer.motion.hallo4_media import fit_height

    x = torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]]).expand(1, 3, 4, 2)
    out = fit_height(x, 4, 8)  # int(2 * 4 / 4) = 2 wide: no resize; pad (8 - 2) // 2 = 3 left, 3 right
    assert out.shape == (1, 3, 4, 8)
    assert torch.equal(out[0, 0, :, :3], torch.full((4, 3), -1.0)) and torch.equal(out[0, 0, :, 5:], -torch.ones(4, 3))
    assert torch.equal(out[0, 0, :, 3:5], x[0, 0])
    odd = fit_height(x[..., :1].expand(1, 3, 4, 1), 4, 4)  # 1 wide into 4: (4 - 1) // 2 = 1 left, 2 right
    assert odd[0, 0, 0].tolist() == pytest.approx([-1.0, 0.1, -1.0, -1.0])


def test_a_wide_frame_is_scaled_to_the_height_and_centre_cropped():
    from trainer.motion.hallo4_media import fit_height

    cols = torch.arange(8.0) / 8  # column j holds j / 8, both rows
    x = cols.expand(1, 3, 2, 8)
    out = fit_height(x, 4, 4)  # height 2 -> 4: width int(8 * 4 / 2) = 16, crop from (16 - 4) // 2 = 6
    # bilinear x2 (half-pixel centres): output column k samples source x = (k + 0.5) / 2 - 0.5
    # k = 6..9 -> x = 2.75, 3.25, 3.75, 4.25 -> (0.25 c2 + 0.75 c3), (0.75 c3 + 0.25 c4), ...
    want = torch.tensor([2.75, 3.25, 3.75, 4.25]) / 8
    torch.testing.assert_close(out[0, 0], want.expand(4, 4), rtol=0, atol=1e-6)


def test_a_portrait_skeleton_video_is_framed_as_upstream_and_cover_differs(tmp_path):
    from trainer.motion.hallo4_media import read_skeleton_video

    grey = np.full((128, 64, 3), 200, np.uint8)  # 64 wide, 128 high
    video = _write(tmp_path / "pose.mp4", [grey] * 5, fps=25)
    fit = read_skeleton_video(str(video), 3, 25.0, 32, 48, "fit_height")  # 32 high -> 16 wide, 16 black each side
    assert fit.shape == (3, 3, 32, 48)
    black = -torch.ones(3, 3, 32, 16)
    assert torch.equal(fit[..., :16], black) and torch.equal(fit[..., 32:], black)
    torch.testing.assert_close(fit[..., 16:32], torch.full((3, 3, 32, 16), 200 / 127.5 - 1), rtol=0, atol=0.03)
    cover = read_skeleton_video(str(video), 3, 25.0, 32, 48, "cover")  # zoomed to 48 wide: no black columns
    assert cover.min() > 0.4


def test_the_cache_key_changes_with_the_framing_and_the_configs_turn_it_on():
    from trainer.cache import CacheSettings
    from trainer.dpo_config import load_config
    from trainer.motion.hallo4 import HALLO4_RUN

    with pytest.raises(ValueError, match="skeleton_framing"):
        CacheSettings(skeleton_framing="stretch")
    for name in ("hallo4", "hallo4_lora"):
        assert load_config(config_file=name).skeleton_framing == "fit_height"
    assert HALLO4_RUN["skeleton_framing"] == "fit_height"
    assert load_config(preset="tiny").skeleton_framing == "cover"


def test_a_skeleton_shorter_than_the_audio_is_refused_naming_the_file(tmp_path):
    from storage.errors import CurateError
    from trainer.motion.hallo4_media import check_fits_audio

    grey = np.full((64, 64, 3), 90, np.uint8)
    short = _write(tmp_path / "short.mp4", [grey] * 10, fps=25)  # 0.4 s
    with pytest.raises(CurateError) as e:
        check_fits_audio(str(short), 0.6, 25.0)
    msg = str(e.value)
    assert "\n" not in msg and str(short) in msg and "0.40 s" in msg and "0.60 s" in msg
    check_fits_audio(str(short), 0.42, 25.0)  # within two frames: fine
    at30 = _write(tmp_path / "at30.mp4", [grey] * 18, fps=30)  # 0.6 s at another rate: resampled, fine
    check_fits_audio(str(at30), 0.6, 25.0)
    with pytest.raises(CurateError, match="not a readable video"):
        check_fits_audio(str(tmp_path / "missing.mp4"), 0.6, 25.0)

