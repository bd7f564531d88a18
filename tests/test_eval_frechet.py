"""FID/FVD: loading TorchScript feature networks, their preprocessing, and the Fréchet distance."""

from __future__ import annotations

import numpy as np
import pytest

from curation.evaluate.frechet import I3DFeatures, InceptionFeatures, frechet_distance
from storage.errors import CurateError
from tests.fixtures.eval_models import TinyI3D, TinyInception, save_torchscript


def test_frechet_distance_matches_hand_worked_values():
    # 1-D: real {0, 2}: mean 1, variance 2; generated {1, 5}: mean 3, variance 8.
    # (1 - 3)^2 + 2 + 8 - 2 sqrt(2 * 8) = 4 + 10 - 8 = 6
    assert frechet_distance(np.array([[0.0], [2.0]]), np.array([[1.0], [5.0]])) == pytest.approx(
        6.0, abs=1e-6
    )
    # 2-D, independent axes: real x {0, 2} y {0, 0, ...}: use 4 points so both covariances are diagonal.
    # real: (0,0) (2,0) (0,2) (2,2): mean (1,1), cov diag(4/3, 4/3); generated: the same shifted by (3,4)
    # and scaled by 2: mean (4,5)... (3,4) (7,4) (3,8) (7,8): mean (5,6), cov diag(16/3, 16/3).
    # |m1 - m2|^2 = 16 + 25 = 41; trace terms 2 * (4/3 + 16/3 - 2 sqrt(64/9)) = 2 * (20/3 - 16/3) = 8/3
    real = np.array([[0, 0], [2, 0], [0, 2], [2, 2]], float)
    fake = real * 2 + [3, 4]
    assert frechet_distance(real, fake) == pytest.approx(41 + 8 / 3, abs=1e-5)
    assert frechet_distance(real, real) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="at least 2 samples"):
        frechet_distance(real[:1], fake)


def test_inception_features_feed_uint8_frames(tmp_path):
    net = InceptionFeatures(save_torchscript(TinyInception(), tmp_path / "inception.pt"))
    frames = np.zeros((20, 8, 8, 3), np.uint8)
    frames[:, :4, :, 0] = 255  # top half red
    f = net(frames)
    assert f.shape == (20, 12)
    assert f[0].tolist() == pytest.approx([1, 1, 0, 0] + [0] * 8)  # red channel, top 2x2 cells


def test_i3d_windows_of_16_frames_at_224_in_minus1_to_1(tmp_path):
    net = I3DFeatures(save_torchscript(TinyI3D(), tmp_path / "i3d.pt"))
    frames = np.full((40, 32, 48, 3), 255, np.uint8)
    frames[16:] = 0
    f = net(frames)  # windows 0-15 and 16-31; frames 32-39 are too few for a third
    assert f.shape == (2, 11)
    assert f[:, 8:].tolist() == [[16, 224, 224]] * 2  # T, H, W seen by the network
    assert f[0, 6:8].tolist() == pytest.approx([1, 1]) and f[1, 6:8].tolist() == pytest.approx([-1, -1])
    assert net(frames[:15]).size == 0


def test_a_file_that_is_not_torchscript_is_refused(tmp_path):
    import torch

    torch.save({"w": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(CurateError, match=r"eval.inception = .*plain.pt.*not a TorchScript file"):
        InceptionFeatures(tmp_path / "plain.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CurateError, match="eval.i3d = .*not a TorchScript file"):
        I3DFeatures(tmp_path / "junk.pt")


def test_fid_fvd_per_method_through_evaluate(tmp_path):
    from curation.evaluate.items import Item
    from curation.evaluate.run import evaluate
    from storage.workspace import EvalConfig
    from tests.fixtures.media import make_video

    save_torchscript(TinyInception(), tmp_path / "w" / "inception.pt")
    save_torchscript(TinyI3D(), tmp_path / "w" / "i3d.pt")
    cfg = EvalConfig(inception="w/inception.pt", i3d="w/i3d.pt")
    items = []
    for i in range(3):
        ref = make_video(tmp_path / "ref" / f"c{i}.mp4", seconds=1.4, size=(32, 32), seed=i)
        other = make_video(tmp_path / "o" / f"c{i}.mp4", seconds=1.4, size=(32, 32), seed=9 + i)
        items += [
            Item("same", f"c{i}", f"c{i}:same", ref, ref),
            Item("other", f"c{i}", f"c{i}:other", other, ref),
        ]
    res = evaluate(items, cfg, tmp_path, ("fid", "fvd"))
    assert res.skips == []
    assert res.distribution["same"]["fid"] == pytest.approx(0.0, abs=1e-4)
    assert res.distribution["same"]["fvd"] == pytest.approx(0.0, abs=1e-4)
    assert res.distribution["other"]["fid"] > 1e-3 and res.distribution["other"]["fvd"] > 1e-3
    assert set(res.seconds) == {"decode", "fid", "fvd"}
