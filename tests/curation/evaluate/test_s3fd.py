"""S3FD as syncnet_python runs it, held against boxes its own detector code gave on the same weights.

The expected boxes come from running joonson/syncnet_python's detectors/s3fd (S3FD.detect_faces,
commit 6efbb1c, torch 2.13 CPU) with ``tests.fixtures.s3fd_weights.seeded_state`` loaded and
``scales=[0.25]``; they are data, not re-derived here. The weights are random (the real
``sfd_face.pth`` is not redistributable), so scores hover near 0.5: ``conf_th`` is lowered to
0.504, away from any score, instead of syncnet_python's 0.9.
"""

from __future__ import annotations

import numpy as np
import pytest

from curation.evaluate.s3fd import S3FD, S3FDNet, decode, load_s3fd, nms, priors
from tests.fixtures.s3fd_weights import frame_image, seeded_state

UPSTREAM = {
    (240, 320): [[-49.38, -281.867, 416.094, 276.718, 0.714], [238.289, -46.917, 368.837, 81.022, 0.507],
                 [238.449, 177.096, 368.924, 305.039, 0.506], [78.435, 177.166, 208.918, 305.104, 0.505]],
    (360, 640): [[-71.563, -271.561, 385.448, 315.384, 0.627], [257.679, -325.653, 1211.219, 659.911, 0.617],
                 [558.236, -46.906, 688.796, 81.029, 0.507], [558.217, 81.139, 688.912, 208.989, 0.506],
                 [558.471, 273.129, 688.936, 400.977, 0.506]],
}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    import torch

    shapes = {k: tuple(v.shape) for k, v in S3FDNet().state_dict().items()}
    path = tmp_path_factory.mktemp("w") / "sfd_face.pth"
    torch.save(seeded_state(shapes), path)
    return path


@pytest.mark.parametrize("shape", sorted(UPSTREAM))
def test_boxes_match_syncnet_pythons_s3fd_on_the_same_weights(weights, shape):
    got = load_s3fd(weights).detect(frame_image(*shape), conf_th=0.504)
    want = np.array(UPSTREAM[shape])
    assert got.shape == want.shape
    np.testing.assert_allclose(got[:, :4], want[:, :4], atol=2e-3)  # pixels; the data is rounded to 1e-3
    np.testing.assert_allclose(got[:, 4], want[:, 4], atol=6e-4)


def test_anchor_grid_and_box_decoding_by_hand():
    # a 64 x 32 input: level 0 (stride 4, anchor 16) is 8 x 16 cells; its first cell is centred at (2, 2) px
    a = priors(32, 64, [(8, 16), (4, 8), (2, 4), (1, 2), (1, 1), (1, 1)])
    assert len(a) == 128 + 32 + 8 + 2 + 1 + 1
    np.testing.assert_allclose(a[0], [2 / 64, 2 / 32, 16 / 64, 16 / 32])
    np.testing.assert_allclose(a[1], [6 / 64, 2 / 32, 16 / 64, 16 / 32])  # row-major: x moves first
    np.testing.assert_allclose(a[16], [2 / 64, 6 / 32, 16 / 64, 16 / 32])
    # zero offsets give the anchor; (1, 0, log 2 / 0.2, 0) moves x by 0.1 anchor widths and doubles the width
    box = decode(np.array([[0, 0, 0, 0], [1, 0, np.log(2) / 0.2, 0]], np.float32), a[:2])
    np.testing.assert_allclose(box[0], [2 / 64 - 8 / 64, 2 / 32 - 8 / 32, 2 / 64 + 8 / 64, 2 / 32 + 8 / 32], atol=1e-6)
    cx = 6 / 64 + 0.1 * 16 / 64
    np.testing.assert_allclose(box[1], [cx - 16 / 64, 2 / 32 - 8 / 32, cx + 16 / 64, 2 / 32 + 8 / 32], atol=1e-6)


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 5]], float)
    scores = np.array([0.8, 0.9, 0.7, 0.6])
    # best first: box 1; IoU(1, 0) = 90 / 110 = 0.82, IoU(1, 3) = 45 / 105 = 0.43, box 2 is apart
    assert nms(boxes, scores, 0.3).tolist() == [1, 2]
    assert nms(boxes, scores, 0.5).tolist() == [1, 2, 3]
    assert nms(boxes, scores, 0.95).tolist() == [1, 0, 2, 3]


def test_sync_uses_the_s3fd_boxes_when_given():
    """The best-scoring box of each frame is the face: centre and half the longer side (syncnet_python crop)."""
    from curation.evaluate.sync import _detect

    class Fixed:
        def detect(self, frame):
            return np.array([[10, 20, 50, 80, 0.95], [0, 0, 200, 200, 0.91]], np.float32)

    got = _detect(np.zeros((3, 100, 100, 3), np.uint8), Fixed())
    np.testing.assert_allclose(got, [[30, 50, 30]] * 3)
    # a frame under 128 px is 32 px after the 0.25 scale: too small for the trunk, so no face (not a crash)
    assert S3FD(S3FDNet()).detect(np.zeros((120, 200, 3), np.uint8)).shape == (0, 5)
