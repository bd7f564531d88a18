"""Built-in CPU generators and normalisation: real videos, probed with decord."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from tests.fixtures.generators_ws import configure, requests_for, sample_clips

BUILTINS = ["still", "lipsync", "lipsync_offset", "lipsync_blur"]


def test_builtins_make_normalised_candidates(workspace):
    """3 clips x 4 methods -> 12 ready candidates: 25 fps, 1 s = 25 frames, 96x64, audio muxed."""
    from generators.runner import run_generation
    from storage import Candidate, CandidateStatus, GenerationJob, JobStatus
    from storage.media import probe_video, sha256_file

    ws = configure(workspace, normalize={"fps": 25.0, "width": 96, "height": 64})
    sample_clips(ws, n=3, seconds=1.0, size=64)
    rep = run_generation(ws, BUILTINS, progress=False)
    assert (rep.done, rep.failed, rep.skipped, rep.unfinished) == (12, 0, 0, 0)
    store = ws.open_store()
    try:
        with store.session() as s:
            cands = list(s.scalars(select(Candidate)))
            jobs = list(s.scalars(select(GenerationJob)))
    finally:
        store.dispose()
    assert len(cands) == 12 and {c.method for c in cands} == set(BUILTINS)
    assert all(j.status == JobStatus.done and j.attempts == 1 and j.candidate_pk for j in jobs)
    for c in cands:
        assert c.status == CandidateStatus.ready and c.source == "generate"
        assert c.candidate_id.startswith("sample-") and c.candidate_id.endswith(":" + c.method)
        p = probe_video(Path(c.video_path), "candidate")
        assert (p.fps, p.frame_count, p.width, p.height) == (25.0, 25, 96, 64)
        assert p.duration == pytest.approx(1.0) and p.has_audio and p.audio_duration == pytest.approx(1.0, abs=0.05)
        assert (c.frame_count, c.width, c.height, c.has_audio) == (25, 96, 64, True)
        assert sha256_file(c.video_path) == c.sha256
        assert Path(c.raw_path).is_file() and Path(c.raw_path).parent.name == "raw"
        assert ".tmp" not in c.video_path
    # Idempotent: a second run finds nothing to do.
    again = run_generation(ws, BUILTINS, progress=False)
    assert (again.done, again.failed, again.skipped) == (0, 0, 12)


def _mouth_openness(video: Path, box) -> np.ndarray:
    """Per-frame count of dark (open-mouth) pixels inside ``box`` = (x1, y1, x2, y2)."""
    import decord

    vr = decord.VideoReader(str(video))
    x1, y1, x2, y2 = box
    frames = vr.get_batch(list(range(len(vr)))).asnumpy()[:, y1:y2, x1:x2].astype(int)
    dark = (frames[..., 0] < 110) & (frames[..., 1] < 60)  # the drawn mouth is (70, 20, 30)
    return dark.sum(axis=(1, 2)).astype(float)


def _best_lag(a: np.ndarray, b: np.ndarray, max_lag: int = 15) -> int:
    """The shift (frames) of ``a`` behind ``b`` that maximises their correlation."""
    scores = {lag: np.corrcoef(a[lag:], b[: len(b) - lag])[0, 1] for lag in range(max_lag + 1)}
    return max(scores, key=scores.get)


def test_lipsync_follows_audio_and_offset_variant_lags_0_4s(tmp_path):
    """The mouth opens with loudness: best lag 0 frames for lipsync, 10 frames (0.4 s x 25 fps) for lipsync_offset."""
    from generators.builtin._render import loudness_envelope
    from generators.registry import build

    (req,) = requests_for(tmp_path / "in", seconds=(3.0,), size=128)
    env = loudness_envelope(req.audio_path, 25.0, 75)
    box = (40, 70, 88, 105)  # around the mouth at (64, 87) of a 128 px portrait
    lags = {}
    for method in ("lipsync", "lipsync_offset"):
        gen = build(method, {"bob_pixels": 0.0}, tmp_path)
        (res,) = gen.generate([req], tmp_path / method)
        assert res.ok, res.error
        mouth = _mouth_openness(res.raw_path, box)
        assert len(mouth) == 75 and mouth.std() > 0
        lags[method] = _best_lag(mouth, env)
    assert lags == {"lipsync": 0, "lipsync_offset": 10}


def test_still_is_static_and_blur_variant_is_blurred(tmp_path):
    import decord

    from generators.registry import build

    (req,) = requests_for(tmp_path / "in", seconds=(1.0,), size=64)
    out = {}
    for method in ("still", "lipsync", "lipsync_blur"):
        (res,) = build(method, {}, tmp_path).generate([req], tmp_path / method)
        out[method] = decord.VideoReader(str(res.raw_path)).get_batch(list(range(25))).asnumpy().astype(float)
    assert np.abs(np.diff(out["still"], axis=0)).mean() < 1  # codec noise only: nothing moves
    # Frame 0 is silent (speech starts after 0.15 s) and has no bob, so lipsync matches the still
    # frame there, while the blurred, noisy variant differs everywhere.
    assert np.abs(out["lipsync"][0] - out["still"][0]).mean() < 4
    assert np.abs(out["lipsync_blur"][0] - out["still"][0]).mean() > 8


def test_crop_box_and_target_length_by_hand():
    """Centre-crop boxes and whole-frame lengths worked out by hand."""
    from generators.normalize import crop_box, target_length
    from generators.normalize_config import NormalizeConfig

    assert crop_box(96, 64, 64, 64) == (16, 0, 80, 64)  # too wide: 16 px off each side
    assert crop_box(64, 96, 64, 64) == (0, 16, 64, 80)  # too tall
    assert crop_box(720, 480, 512, 512) == (120, 0, 600, 480)
    assert crop_box(100, 50, 100, 50) == (0, 0, 100, 50)  # same aspect: untouched
    cfg = NormalizeConfig(fps=25, width=64, height=64, max_seconds=1.5)
    assert target_length(2.5, 2.0, NormalizeConfig(fps=25)) == (2.0, 50)  # audio is shorter
    assert target_length(81 / 23, 5.0, NormalizeConfig(fps=25)) == (3.52, 88)  # 3.5217 s -> 88 whole frames
    assert target_length(3.0, 3.0, cfg) == pytest.approx((1.48, 37))  # cap 1.5 s = 37.5 frames -> 37


def test_broken_outputs_are_refused(tmp_path):
    from generators.normalize import BrokenOutput, normalize_video
    from generators.normalize_config import NormalizeConfig
    from tests.fixtures.media import make_video, make_wav

    wav = make_wav(tmp_path / "a.wav", seconds=1.0)
    cfg = NormalizeConfig(fps=25, width=64, height=64)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 1000)
    with pytest.raises(BrokenOutput, match="does not decode"):
        normalize_video(garbage, wav, tmp_path / "out1.mp4", cfg, 1.0)
    short = make_video(tmp_path / "short.mp4", seconds=0.2, fps=25, audio=False)  # 5 frames
    with pytest.raises(BrokenOutput, match="too short"):
        normalize_video(short, wav, tmp_path / "out2.mp4", cfg, 1.0)
    assert not list(tmp_path.glob("out*")) and not list(tmp_path.glob(".*tmp*"))
