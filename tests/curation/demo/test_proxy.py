"""The demo's simulated raters score what the video shows (curation.demo.rounds.proxy_scores)."""

from __future__ import annotations


def test_a_still_video_scores_no_alignment_and_full_fidelity(tmp_path):
    """The portrait held still with speech under it: no frame-to-frame motion, so alignment is the floor 1; the
    frames equal the portrait up to H.264 error, under 8 grey levels on average at this size, so fidelity
    5 - 4 d / 64 lies in [4.5, 5]."""
    from curation.demo.rounds import proxy_scores
    from generators.base import GenerationRequest
    from generators.builtin.still import StillConfig, StillGenerator
    from generators.normalize import NormalizeConfig, normalize_video
    from tests.fixtures.media import make_png, make_wav

    image, audio = make_png(tmp_path / "face.png", size=64), make_wav(tmp_path / "voice.wav", seconds=1.0)
    req = GenerationRequest(job_id=1, clip_id="c", image_path=image, audio_path=audio, audio_duration=1.0)
    raw = StillGenerator("still", StillConfig(fps=25.0)).generate([req], tmp_path)[0].raw_path
    video = normalize_video(raw, audio, tmp_path / "still.mp4", NormalizeConfig(fps=25.0, width=64, height=64),
                            1.0).path
    alignment, fidelity = proxy_scores(video, image)
    assert alignment == 1.0
    assert 4.5 <= fidelity <= 5.0
