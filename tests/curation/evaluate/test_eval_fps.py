"""A candidate at another frame rate than its ground truth: resampled (nearest frame), and said under the table."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curation.evaluate.decode import Decoded
from curation.evaluate.fullref import match_rate, psnr_ssim
from curation.evaluate.report import summarise, table


def _clip(times, fps):
    """One frame per time t, every pixel = 10 * t (so a frame shows which instant it is)."""
    frames = np.stack([np.full((16, 16, 3), int(10 * t), np.uint8) for t in times])
    return Decoded(path=Path("m.mp4"), frames=frames, fps=fps, audio=None)


def test_resampled_to_the_reference_rate():
    # 16 candidate frames at 16 fps (1 s) -> 25 frames at 25 fps; frame i shows candidate frame round(i x 16 / 25)
    cand, ref = _clip(range(16), 16.0), _clip(range(25), 25.0)
    out, note = match_rate(cand, ref)
    assert out.fps == 25.0 and len(out.frames) == 25
    assert [int(f[0, 0, 0]) // 10 for f in out.frames[:6]] == [0, 1, 1, 2, 3, 3]  # 0, .64, 1.28, 1.92, 2.56, 3.2
    assert note == "candidate resampled from 16 to 25 fps (nearest frame) for the ground-truth metrics"
    assert match_rate(ref, ref) == (ref, None)


def test_same_motion_at_two_rates_compares_equal():
    """The same 1 s of video at 16 and at 25 fps (pixel = 10 x the source instant, in 16ths of a second, rounded as
    the resampler does): after resampling, every frame matches: PSNR inf."""
    cand = _clip(range(16), 16.0)
    ref = _clip([min(round(i * 16 / 25), 15) for i in range(25)], 25.0)
    out, _ = match_rate(cand, ref)
    assert psnr_ssim(out, ref)["psnr"] == float("inf")


class _Result:
    def __init__(self, rows):
        self.rows, self.skips, self.distribution = rows, [], {}


def test_the_reason_is_printed_under_the_table():
    note = "candidate resampled from 16 to 25 fps (nearest frame) for the ground-truth metrics"
    rows = [{"method": "policy", "clip_id": c, "psnr": 30.0, "note": note} for c in ("a", "b")]
    rows.append({"method": "policy", "clip_id": "c", "psnr": None, "note": "no ground truth: PSNR/SSIM/LPIPS/FID/FVD "
                 "not computed"})
    text = table(summarise(_Result(rows)))
    assert f"policy: 2 of 3 clips: {note}" in text
    assert "policy: 1 of 3 clips: no ground truth" in text
