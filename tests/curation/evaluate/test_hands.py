"""HKC/HKV: DWPose's box, warp and SimCC decoding, the two statistics, and the ONNX loading path."""

from __future__ import annotations

import numpy as np
import pytest

from curation.evaluate.hands import DWPose, decode_simcc, hkc_hkv, person_box, to_input
from storage.errors import CurateError
from tests.fixtures.eval_models import save_dwpose_standin


def test_person_box_is_the_padded_frame_at_3_to_4():
    # 64 x 64 padded 1.25x: 80 x 80; 80 > 80 * 0.75, so the height grows to 80 / 0.75 = 106.667
    center, size = person_box(64, 64)
    assert center.tolist() == [32, 32] and size == pytest.approx([80, 106.6667], abs=1e-3)
    # 64 wide x 200 high: 80 x 250; 80 < 250 * 0.75 = 187.5, so the width grows to 187.5
    assert person_box(64, 200)[1] == pytest.approx([187.5, 250])


def test_warp_puts_the_frame_centre_at_the_input_centre():
    # scale 288 / 80 = 3.6: the 64-pixel frame covers x 28.8..259.2 and y 76.8..307.2 of the input
    frame = np.full((64, 64, 3), 255, np.uint8)
    x = to_input(frame, *person_box(64, 64))
    white = (255 - np.array([123.675, 116.28, 103.53])) / np.array([58.395, 57.12, 57.375])
    black = -np.array([123.675, 116.28, 103.53]) / np.array([58.395, 57.12, 57.375])
    assert x.shape == (3, 384, 288)
    assert x[:, 192, 144] == pytest.approx(white, rel=1e-5)  # centre
    assert x[:, 10, 144] == pytest.approx(black, rel=1e-5)  # above the frame: padding
    assert x[:, 192, 20] == pytest.approx(black, rel=1e-5)  # left of the frame


def test_simcc_decoding_maps_back_to_frame_pixels():
    # peak x at index 288 -> 144 in the input -> 144 / 288 * 80 + 32 - 40 = 32
    # peak y at index 192 -> 96 in the input -> 96 / 384 * 106.667 + 32 - 53.333 = 5.333
    # score = min(0.9, 0.8) = 0.8
    sx = np.full((2, 576), 0.1)
    sy = np.full((2, 768), 0.1)
    sx[:, 288], sy[:, 192] = 0.9, 0.8
    sx[1, 288], sx[1, 0] = 0.1, 0.5  # keypoint 1: x at index 0 -> -8 px, score min(0.5, 0.8)
    points, scores = decode_simcc(sx, sy, *person_box(64, 64))
    assert points == pytest.approx(np.array([[32, 5.3333], [-8, 5.3333]]), abs=1e-3)
    assert scores.tolist() == pytest.approx([0.8, 0.5])


def test_hkc_hkv_hand_worked():
    # 3 frames, 2 keypoints. Keypoint 0 moves x 0, 2, 4 (variance 8/3), y fixed: HKV term 8/3.
    # Keypoint 1: frame 2 is below the 0.3 threshold, so only x 10, 10 and y 0, 6 count: variance 0 + 9.
    # HKV = (8/3 + 9) / 2 = 5.8333; HKC = mean of all six scores = (0.9*3 + 0.5 + 0.7 + 0.2) / 6 = 0.6833
    points = np.array([[[0, 1], [10, 0]], [[2, 1], [10, 6]], [[4, 1], [50, 50]]], float)
    scores = np.array([[0.9, 0.5], [0.9, 0.7], [0.9, 0.2]])
    got = hkc_hkv(points, scores)
    assert got["hkc"] == pytest.approx(4.1 / 6)
    assert got["hkv"] == pytest.approx((8 / 3 + 9) / 2)
    assert np.isnan(hkc_hkv(points, np.full((3, 2), 0.1))["hkv"])  # no hand seen: no variance


def test_onnx_standin_end_to_end(tmp_path):
    net = DWPose(save_dwpose_standin(tmp_path / "dw.onnx"))
    frames = np.zeros((4, 64, 64, 3), np.uint8)
    assert net(frames) == {"hkc": pytest.approx(0.8), "hkv": pytest.approx(0.0)}


def test_dwpose_file_errors(tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(CurateError, match="eval.dwpose = .*not an ONNX model"):
        DWPose(tmp_path / "junk.onnx")
    with pytest.raises(CurateError, match=r"expected two outputs \(simcc_x, simcc_y\)"):
        DWPose(save_dwpose_standin(tmp_path / "one.onnx", outputs=1))
    body_only = DWPose(save_dwpose_standin(tmp_path / "body.onnx", keypoints=17))
    with pytest.raises(CurateError, match="gives 17 keypoints; DWPose whole-body has 133"):
        body_only(np.zeros((1, 64, 64, 3), np.uint8))
