"""Sync-C and Sync-D: the SyncNet procedure of syncnet_python's ``run_syncnet`` (Chung & Zisserman 2016).

Step by step (docs/eval.md cites each step):
1. Frames at 25 fps (other rates are resampled to 25 by nearest frame).
2. Face tracks by syncnet_python's rules (``tracks``: shots split at scene cuts, more than 100
   frames, mean face side over 100 px); one face per frame (S3FD from the user's ``eval.s3fd``
   as syncnet_python runs it, else OpenCV's shipped Haar cascade as the fallback), gaps filled,
   boxes median-filtered over 13 frames; each frame cropped to the square syncnet_python uses (half-size s around the centre: s above, 1.8 s below, 1.4 s
   either side; padding value 110) and resized to 224 x 224, BGR 0-255. ``eval.face_crop =
   "full"`` uses the whole frame instead (videos that are already face crops).
3. Audio as ``ffmpeg -ac 1 -ar 16000`` decodes it to 16-bit integers (decode.read_audio), MFCC
   (python_speech_features defaults: 25 ms window, 10 ms step, 13 coefficients) on those
   integers: 4 MFCC steps per video frame.
4. For each video frame i, lip features of frames i..i+4 and audio features of MFCC steps
   4i..4i+19 (the same 0.2 s).
5. Distances d[i, k] = |lip_i - aud_(i+k-15)| for k = 0..30 (offsets of +-15 frames; audio
   outside the clip is zero-padded), averaged over i: D[k].
6. Sync-D = min D; offset = 15 - argmin D; Sync-C = median D - min D.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curation.evaluate import tracks
from curation.evaluate.decode import AUDIO_RATE, Decoded

VSHIFT = 15  # offsets searched: +-15 frames
FPS = 25.0  # SyncNet's video rate
MFCC_PER_FRAME = 4  # 100 MFCC steps per second / 25 frames per second
WINDOW = 5  # frames per lip sample (0.2 s)
CROP_SCALE = 0.4  # syncnet_python's crop_scale
SMOOTH = 13  # median filter length of the face boxes
BATCH = 20


def offset_scores(lip, aud, vshift: int = VSHIFT) -> tuple[int, float, float]:
    """(offset, Sync-D, Sync-C) of per-frame lip and audio embeddings, both (N, d) tensors.

    Positive offset: video frame i matches audio window i - offset (the audio leads).
    """
    import torch
    import torch.nn.functional as F

    n = len(lip)
    padded = F.pad(aud, (0, 0, vshift, vshift))
    win = 2 * vshift + 1
    dists = torch.stack(
        [F.pairwise_distance(lip[[i]].expand(win, -1), padded[i : i + win]) for i in range(n)]
    )
    mean = dists.mean(0)
    min_dist, argmin = torch.min(mean, 0)
    return vshift - int(argmin), float(min_dist), float(torch.median(mean) - min_dist)


def mfcc(audio: np.ndarray) -> np.ndarray:
    """(13, steps) MFCC at 100 Hz of 16 kHz int16 audio, the integers syncnet_python reads from its wav."""
    import python_speech_features

    return python_speech_features.mfcc(audio.astype(np.float64), AUDIO_RATE).T


def resample_25(frames: np.ndarray, fps: float) -> np.ndarray:
    if abs(fps - FPS) < 0.01:
        return frames
    n = round(len(frames) * FPS / fps)
    idx = np.minimum((np.arange(n) * fps / FPS).round().astype(int), len(frames) - 1)
    return frames[idx]


def _detect(frames: np.ndarray, detector=None) -> np.ndarray:
    """(T, 3) centre x, centre y, half-size of one face per frame; NaN where none is found.

    With S3FD (``detector``) the best-scoring face, as syncnet_python's tracker starts from the first
    detection it lists (scores sorted); with the Haar cascade (no scores) the largest.
    """
    if detector is not None:
        return _detect_s3fd(frames, detector)
    import cv2

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    out = np.full((len(frames), 3), np.nan)
    h, w = frames.shape[1:3]
    scale = min(1.0, 320.0 / max(h, w))  # detect on a small copy: faces in portrait videos are large
    for t, frame in enumerate(frames):
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if scale < 1:
            gray = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        faces = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5)
        if len(faces):
            x, y, fw, fh = max(faces, key=lambda f: f[2] * f[3]) / scale
            out[t] = (x + fw / 2, y + fh / 2, max(fw, fh) / 2)
    return out


def _detect_s3fd(frames: np.ndarray, detector) -> np.ndarray:
    out = np.full((len(frames), 3), np.nan)
    for t, frame in enumerate(frames):
        found = detector.detect(frame)
        if len(found):
            x1, y1, x2, y2 = found[0, :4]
            # syncnet_python's crop: centre of the box, half of its longer side
            out[t] = ((x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) / 2)
    return out


def smooth(boxes: np.ndarray) -> np.ndarray:
    """Boxes median-filtered over 13 frames per coordinate (syncnet_python's crop_video)."""
    from scipy.signal import medfilt

    k = min(SMOOTH, len(boxes) if len(boxes) % 2 else len(boxes) - 1)
    return np.stack([medfilt(boxes[:, c], kernel_size=k) for c in range(3)], axis=1)


def face_track(frames: np.ndarray) -> np.ndarray | None:
    """Smoothed (T, 3) boxes over the whole clip, gaps filled (no track rules), or None without a face."""
    boxes = _detect(frames)
    found = ~np.isnan(boxes[:, 0])
    if not found.any():
        return None
    t = np.arange(len(boxes))
    return smooth(np.stack([np.interp(t, t[found], boxes[found, c]) for c in range(3)], axis=1))


def crop_faces(frames: np.ndarray, boxes: np.ndarray | None) -> np.ndarray:
    """(T, 224, 224, 3) BGR crops: each frame's face square, or the whole frame when ``boxes`` is None."""
    import cv2

    out = np.empty((len(frames), 224, 224, 3), np.uint8)
    for t, frame in enumerate(frames):
        bgr = frame[..., ::-1]
        if boxes is not None:
            cx, cy, s = boxes[t]
            pad = int(s * (1 + 2 * CROP_SCALE))
            big = np.pad(bgr, ((pad, pad), (pad, pad), (0, 0)), constant_values=110)
            my, mx = cy + pad, cx + pad
            bgr = big[
                int(my - s) : int(my + s * (1 + 2 * CROP_SCALE)),
                int(mx - s * (1 + CROP_SCALE)) : int(mx + s * (1 + CROP_SCALE)),
            ]
        out[t] = cv2.resize(np.ascontiguousarray(bgr), (224, 224))
    return out


def embed(net, crops: np.ndarray, cc: np.ndarray, n: int, device: str = "cpu"):
    """Lip and audio embeddings of windows 0..n-1."""
    import torch

    vid = torch.from_numpy(crops).permute(3, 0, 1, 2).float()  # (3, T, 224, 224)
    aud = torch.from_numpy(cc).float()[None]  # (1, 13, steps)
    lip_out, aud_out = [], []
    with torch.no_grad():
        for start in range(0, n, BATCH):
            idx = range(start, min(n, start + BATCH))
            lip_out.append(
                net.forward_lip(torch.stack([vid[:, i : i + WINDOW] for i in idx]).to(device)).cpu()
            )
            a = [aud[:, :, i * MFCC_PER_FRAME : i * MFCC_PER_FRAME + MFCC_PER_FRAME * WINDOW] for i in idx]
            aud_out.append(net.forward_aud(torch.stack(a).to(device)).cpu())
    return torch.cat(lip_out), torch.cat(aud_out)


@dataclass(frozen=True)
class TrackRules:
    """syncnet_python's defaults; ``eval.sync_min_track`` etc. relax them (docs/eval.md)."""

    min_track: int = 100  # a track needs more than this many frames (at 25 fps)
    min_face: float = 100.0  # and a mean box side of more than this many pixels
    scene_cuts: bool = True  # shots split tracks


def _tracks(frames: np.ndarray, crop: str, rules: TrackRules, detector=None) -> list[tracks.Track] | str:
    cuts = tracks.scene_cuts(frames) if rules.scene_cuts else []
    spans = tracks.shots(len(frames), cuts)
    if crop != "face":
        found = tracks.frame_tracks(spans, rules.min_track)
        if not found:
            longest = max(b - a for a, b in spans)
            return (f"too short for SyncNet: the longest shot has {longest} frames at 25 fps, the track rule "
                    f"needs more than {rules.min_track} (eval.sync_min_track)")
        return found
    boxes = _detect(frames, detector)
    if np.isnan(boxes[:, 0]).all():
        return 'no face found (set eval.face_crop = "full" for videos that are face crops)'
    found = tracks.face_tracks(boxes, spans, rules.min_track, rules.min_face)
    if not found:
        sides = 2 * np.nanmean(boxes[:, 2])
        return (f"no face track passes syncnet_python's rules (more than {rules.min_track} frames at 25 fps in "
                f"one shot, mean face side over {rules.min_face:g} px; this clip: {len(frames)} frames, "
                f"{len(spans)} shot(s), mean face side {sides:.0f} px); relax eval.sync_min_track / "
                "eval.sync_min_face")
    return found


def _score_track(net, frames, audio, track: tracks.Track, device: str):
    step = AUDIO_RATE // int(FPS)  # 640 samples per frame; the track's audio is cut to its frames
    clip_frames = frames[track.start : track.stop]
    clip_audio = audio[track.start * step : track.stop * step]
    n = min(len(clip_frames), len(clip_audio) // step) - WINDOW
    if n < 1:
        return None
    boxes = smooth(track.boxes) if track.boxes is not None else None
    lip, aud = embed(net, crop_faces(clip_frames[: n + WINDOW], boxes), mfcc(clip_audio), n, device)
    return offset_scores(lip, aud)


def sync_scores(
    net, video: Decoded, crop: str = "face", device: str = "cpu", rules: TrackRules = TrackRules(), detector=None
) -> dict[str, float] | str:
    """{"sync_c", "sync_d", "sync_offset", "sync_tracks"} of one video, or the reason it has none.

    Several tracks (scene cuts, a face lost for over a second): Sync-C and Sync-D are the mean over
    tracks (syncnet_python prints one line per track), the offset is the longest track's.
    ``detector``: an S3FD (``eval.s3fd``), else OpenCV's Haar cascade, the fallback.
    """
    if video.audio is None:
        return "no audio (neither the clip's driving audio nor an audio track)"
    frames = resample_25(video.frames, video.fps)
    found = _tracks(frames, crop, rules, detector)
    if isinstance(found, str):
        return found
    scored = [(len(t), _score_track(net, frames, video.audio, t, device)) for t in found]
    scored = [(n, s) for n, s in scored if s is not None]
    if not scored:
        return f"too short for SyncNet (needs more than {WINDOW} frames of video and audio)"
    offset = max(scored, key=lambda x: x[0])[1][0]
    return {
        "sync_c": float(np.mean([s[2] for _, s in scored])),
        "sync_d": float(np.mean([s[1] for _, s in scored])),
        "sync_offset": float(offset),
        "sync_tracks": float(len(scored)),
    }
