"""HKC and HKV (CyberHost, Lin et al. 2024): hand keypoint confidence and variance from DWPose.

The keypoints come from DWPose's whole-body model (``dw-ll_ucoco_384.onnx``, 133 COCO-WholeBody
keypoints; 91-111 left hand, 112-132 right hand), run with onnxruntime the way DWPose runs it
without a person detector: the whole frame is the person box, padded 1.25x, widened to the
model's 3:4 aspect, warped (no rotation) to 288 x 384, RGB normalised with the ImageNet mean
and std; SimCC decoding: per keypoint the argmax of the x and y vectors divided by the split
ratio 2, score = the smaller of the two maxima, mapped back to frame pixels.

- HKC: mean score of the 42 hand keypoints over every frame.
- HKV: per hand keypoint, the variance over frames of its x and of its y (pixels), summed,
  using only frames where that keypoint's score exceeds 0.3 (DWPose's own drawing threshold);
  averaged over keypoints that have at least 2 such frames.
CyberHost does not publish its evaluation code; this is our reading of its definitions, so
absolute HKV values may differ from the paper's by a normalisation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from storage.errors import CurateError

HANDS = slice(91, 133)  # left hand 91-111, right hand 112-132
INPUT_W, INPUT_H = 288, 384
SPLIT = 2.0
PADDING = 1.25
VISIBLE = 0.3
MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)


def person_box(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(centre, size) of the whole frame as the person box: padded, then widened to the input's aspect."""
    center = np.array([width / 2, height / 2], np.float64)
    w, h = width * PADDING, height * PADDING
    aspect = INPUT_W / INPUT_H
    size = np.array([w, w / aspect] if w > h * aspect else [h * aspect, h], np.float64)
    return center, size


def to_input(frame: np.ndarray, center: np.ndarray, size: np.ndarray) -> np.ndarray:
    """(3, 384, 288) float32: the box scaled into the model input, normalised."""
    import cv2

    sx, sy = INPUT_W / size[0], INPUT_H / size[1]
    warp = np.array(
        [[sx, 0, INPUT_W / 2 - sx * center[0]], [0, sy, INPUT_H / 2 - sy * center[1]]], np.float64
    )
    img = cv2.warpAffine(frame, warp, (INPUT_W, INPUT_H), flags=cv2.INTER_LINEAR).astype(np.float32)
    return ((img - MEAN) / STD).transpose(2, 0, 1)


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray, center: np.ndarray, size: np.ndarray):
    """(K, 2) keypoints in frame pixels and (K,) scores from one person's (K, Wx) and (K, Wy) vectors."""
    loc = np.stack([simcc_x.argmax(-1), simcc_y.argmax(-1)], -1).astype(np.float64) / SPLIT
    scores = np.minimum(simcc_x.max(-1), simcc_y.max(-1))
    points = loc / np.array([INPUT_W, INPUT_H]) * size + center - size / 2
    return points, scores


def hkc_hkv(points: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """HKC and HKV of (T, 42, 2) hand keypoints with (T, 42) scores."""
    hkc = float(scores.mean())
    variances = []
    for k in range(points.shape[1]):
        seen = scores[:, k] > VISIBLE
        if seen.sum() >= 2:
            variances.append(points[seen, k].var(axis=0).sum())
    return {"hkc": hkc, "hkv": float(np.mean(variances)) if variances else float("nan")}


class DWPose:
    """The whole-body keypoint model from ``eval.dwpose`` (ONNX)."""

    def __init__(self, path: Path, device: str = "cpu"):
        import onnxruntime as ort
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf

        providers = (
            ["CUDAExecutionProvider", "CPUExecutionProvider"]
            if device.startswith("cuda")
            else ["CPUExecutionProvider"]
        )
        try:
            self.session = ort.InferenceSession(str(path), providers=providers)
        except (Fail, InvalidGraph, InvalidProtobuf) as e:
            raise CurateError(
                f"eval.dwpose = {str(path)!r}: not an ONNX model: {str(e).splitlines()[0][:200]}"
            ) from None
        outs = [o.name for o in self.session.get_outputs()]
        if len(outs) != 2:
            raise CurateError(
                f"eval.dwpose = {str(path)!r}: expected two outputs (simcc_x, simcc_y), got {outs}."
            )
        self.input = self.session.get_inputs()[0].name

    def __call__(self, frames: np.ndarray) -> dict[str, float]:
        center, size = person_box(frames.shape[2], frames.shape[1])
        points, scores = [], []
        for frame in frames:
            sx, sy = self.session.run(None, {self.input: to_input(frame, center, size)[None]})
            if sx.shape[1] < HANDS.stop:
                raise CurateError(
                    f"eval.dwpose: the model gives {sx.shape[1]} keypoints; DWPose whole-body has 133."
                )
            p, s = decode_simcc(sx[0], sy[0], center, size)
            points.append(p[HANDS])
            scores.append(s[HANDS])
        return hkc_hkv(np.stack(points), np.stack(scores))
