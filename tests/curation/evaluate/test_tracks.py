"""Sync-C/D track rules (syncnet_python's run_pipeline): shots, track length, face size, on real mp4 files."""

from __future__ import annotations

import numpy as np
import pytest

from curation.evaluate.decode import decode
from curation.evaluate.sync import TrackRules, mfcc, sync_scores
from curation.evaluate.tracks import face_tracks, scene_cuts, shots
from tests.fixtures.eval_media import CodedNet, make_coded_video


def _face(size: int, seed: int = 0) -> np.ndarray:
    from PIL import Image

    from tests.fixtures.media import make_png

    return np.asarray(Image.open(make_png(f"/tmp/_face_{size}_{seed}.png", seed=seed, size=size)).convert("RGB"))


def _net(video, face: np.ndarray) -> CodedNet:
    """The stand-in SyncNet, its thresholds halfway between this video's dim and bright crops / quiet and loud."""
    from curation.evaluate.sync import crop_faces, face_track

    net = CodedNet()
    energy = mfcc(video.audio)[0]
    net.threshold = (energy.min() + energy.max()) / 2
    crops = crop_faces(video.frames[:40], face_track(video.frames[:40])).reshape(40, -1).mean(1)
    net.lip_threshold = (crops.min() + crops.max()) / 2
    return net


@pytest.fixture(scope="module")
def offset_video(tmp_path_factory):
    """130 frames of a 256 px portrait (Haar face side ~190 px); the audio leads the picture by 5 frames."""
    face = _face(256)
    path = make_coded_video(tmp_path_factory.mktemp("v") / "lead5.mp4", frames=130, audio_lead=5, base=face, dim=0.7)
    return decode(path, "lead5"), face


def test_known_five_frame_offset_through_the_default_rules(offset_video):
    video, face = offset_video
    got = sync_scores(_net(video, face), video, crop="face")  # syncnet_python's defaults: 100 frames, 100 px
    assert got["sync_offset"] == 5 and got["sync_tracks"] == 1
    assert got["sync_c"] > 0.5


def test_a_clip_of_100_frames_or_fewer_gets_a_note(offset_video):
    video, face = offset_video
    short = type(video)(video.path, video.frames[:100], video.fps, video.audio[: 100 * 640])
    note = sync_scores(_net(video, face), short, crop="face")
    assert isinstance(note, str) and "more than 100 frames" in note and "eval.sync_min_track" in note
    relaxed = sync_scores(_net(video, face), short, crop="face", rules=TrackRules(min_track=50))
    assert relaxed["sync_offset"] == 5
    note = sync_scores(_net(video, face), short, crop="full")
    assert note.startswith("too short for SyncNet: the longest shot has 100 frames")


def test_small_faces_are_dropped_unless_relaxed(tmp_path):
    face = np.pad(_face(112), ((64, 64), (64, 64), (0, 0)), constant_values=200)  # Haar box side ~85 px
    video = decode(make_coded_video(tmp_path / "s.mp4", frames=110, audio_lead=5, base=face, dim=0.7), "s")
    note = sync_scores(_net(video, face), video, crop="face")
    assert isinstance(note, str) and "mean face side over 100 px" in note
    got = sync_scores(_net(video, face), video, crop="face", rules=TrackRules(min_face=50))
    assert got["sync_offset"] == 5


def test_a_scene_cut_splits_the_track(tmp_path):
    face, other = _face(256), _face(256, seed=7)[:, ::-1, ::-1].copy()  # colours swapped, mirrored: a cut
    path = make_coded_video(tmp_path / "cut.mp4", frames=230, audio_lead=5, base=face, dim=0.7, cut=(115, other))
    video = decode(path, "cut")
    assert scene_cuts(video.frames) == [115]  # the brightness code (x 0.7 .. 0.9) is not a cut
    got = sync_scores(_net(video, face), video, crop="face")
    assert got["sync_tracks"] == 2 and got["sync_offset"] == 5
    one = sync_scores(_net(video, face), video, crop="face", rules=TrackRules(scene_cuts=False))
    assert one["sync_tracks"] in (1, 2)  # without the cut rule only the IoU rule can split it


def test_track_rules_on_constructed_boxes():
    boxes = np.full((300, 3), np.nan)
    boxes[0:120] = (100, 100, 60)  # 120 frames, side 120: kept
    boxes[130:200] = (100, 100, 60)  # 10-frame gap, overlap 1: continues the first track
    boxes[230:300] = (400, 100, 60)  # elsewhere: a new track of 70 frames, dropped
    got = face_tracks(boxes, shots(300, []), min_track=100, min_face=100)
    assert [(t.start, t.stop) for t in got] == [(0, 200)] and got[0].boxes.shape == (200, 3)
    # a cut at 90: the first shot (90 frames) is too short to track; the second holds 30 + 70 = 100 detections
    # (not more than 100) and 70 elsewhere
    assert face_tracks(boxes, shots(300, [90]), 100, 100) == []
    assert [(t.start, t.stop) for t in face_tracks(boxes, shots(300, [90]), 99, 100)] == [(90, 200)]
    assert face_tracks(boxes, shots(300, []), 100, 120) == []  # side 120 is not more than 120
