"""Which frames SyncNet scores: syncnet_python's shot and face-track rules (``run_pipeline.py``).

1. Scene cuts split the video into shots (``ContentDetector()`` of scenedetect 0.5.1, the version
   syncnet_python's requirements.txt pins: a cut where the mean absolute change of the HSV
   channels, averaged over H, S and V, reaches 30, at least 15 frames after the previous cut;
   frames are first subsampled by VideoManager's default factor for their width).
2. In each shot, the largest face per frame forms a track; a track ends when no face is found
   for more than 25 frames or the next box overlaps the last by IoU 0.5 or less.
3. A track is kept when it has more than ``min_track`` detections (100) and its mean box side,
   over the frames it spans, is more than ``min_face`` pixels (100). Its boxes are interpolated
   over the frames it spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

# scenedetect 0.5.1 (pinned by syncnet_python): ContentDetector(threshold=30.0, min_scene_len=15);
# 0.6 changed the default threshold to 27, which would find cuts syncnet_python does not.
CUT_THRESHOLD = 30.0
MIN_SCENE = 15  # frames
# VideoManager.set_downscale_factor() without an argument (0.5.1): width -> pixel step.
DOWNSCALE = ((3200, 12), (2100, 8), (1700, 6), (1200, 5), (900, 4), (600, 3), (400, 2))
MAX_GAP = 25  # syncnet_python's num_failed_det
MIN_IOU = 0.5  # syncnet_python's iouThres


@dataclass(frozen=True)
class Track:
    """Frames ``start .. stop - 1`` of the (25 fps) video, and a (stop - start, 3) box per frame or None."""

    start: int
    stop: int
    boxes: np.ndarray | None  # centre x, centre y, half-size; None: the whole frame

    def __len__(self) -> int:
        return self.stop - self.start


def scene_cuts(frames: np.ndarray) -> list[int]:
    """Indices of the first frame of each new shot (empty: one shot)."""
    import cv2

    step = downscale_factor(frames.shape[2])
    cuts, last, prev = [], 0, None
    for t, frame in enumerate(frames):
        hsv = cv2.cvtColor(np.ascontiguousarray(frame[::step, ::step]), cv2.COLOR_RGB2HSV).astype(np.int32)
        if prev is not None:
            change = float(np.abs(hsv - prev).mean())  # mean over pixels and the three channels
            if change >= CUT_THRESHOLD and t - last >= MIN_SCENE:
                cuts.append(t)
                last = t
        prev = hsv
    return cuts


def downscale_factor(width: int) -> int:
    """The pixel step scenedetect 0.5.1 subsamples a frame of this width by (1 below 400 px)."""
    return next((f for w, f in DOWNSCALE if width >= w), 1)


def shots(n: int, cuts: list[int]) -> list[tuple[int, int]]:
    edges = [0, *cuts, n]
    return [(a, b) for a, b in pairwise(edges) if b > a]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (cx, cy, half) squares."""
    lo, hi = np.maximum(a[:2] - a[2], b[:2] - b[2]), np.minimum(a[:2] + a[2], b[:2] + b[2])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    return inter / (4 * a[2] ** 2 + 4 * b[2] ** 2 - inter)


def _runs(boxes: np.ndarray, start: int, stop: int) -> list[list[int]]:
    """Detected frames of one shot grouped into tracks by the gap and overlap rules."""
    runs: list[list[int]] = []
    for t in range(start, stop):
        if np.isnan(boxes[t, 0]):
            continue
        last = runs[-1][-1] if runs else None
        if last is not None and t - last <= MAX_GAP and _iou(boxes[t], boxes[last]) > MIN_IOU:
            runs[-1].append(t)
        else:
            runs.append([t])
    return runs


def face_tracks(boxes: np.ndarray, spans: list[tuple[int, int]], min_track: int, min_face: float) -> list[Track]:
    """Tracks of (T, 3) per-frame boxes (NaN: no face) that pass both size rules."""
    out = []
    for a, b in spans:
        if b - a < min_track:  # syncnet_python skips shots shorter than min_track outright
            continue
        for run in _runs(boxes, a, b):
            if len(run) <= min_track:
                continue
            t = np.arange(run[0], run[-1] + 1)
            filled = np.stack([np.interp(t, run, boxes[run, c]) for c in range(3)], axis=1)
            if 2 * filled[:, 2].mean() > min_face:
                out.append(Track(run[0], run[-1] + 1, filled))
    return out


def frame_tracks(spans: list[tuple[int, int]], min_track: int) -> list[Track]:
    """``face_crop = "full"``: each shot long enough is one track of whole frames."""
    return [Track(a, b, None) for a, b in spans if b - a > min_track]
