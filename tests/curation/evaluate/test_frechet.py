"""FID/FVD: loading TorchScript feature networks, their preprocessing, and the Fréchet distance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

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
    frames = np.full((40, 32, 48, 3), 255, np.uint8)
    frames[16:] = 0
    every = I3DFeatures(save_torchscript(TinyI3D(), tmp_path / "i3d.pt"), clips="all")
    f = every(frames)  # windows 0-15 and 16-31; frames 32-39 are too few for a third
    assert f.shape == (2, 11)
    assert f[:, 8:].tolist() == [[16, 224, 224]] * 2  # T, H, W seen by the network
    assert f[0, 6:8].tolist() == pytest.approx([1, 1]) and f[1, 6:8].tolist() == pytest.approx([-1, -1])
    assert every(frames[:15]).size == 0
    first = I3DFeatures(tmp_path / "i3d.pt")  # the default: StyleGAN-V's one clip from the start
    assert first(frames).shape == (1, 11) and first(frames)[0].tolist() == f[0].tolist()
    assert first.take(first(frames), 15).size == 0 and every.take(f, 33).shape == (2, 11)


class GridI3D(torch.nn.Module):
    """Same call as i3d_torchscript.pt; features: a 4 x 4 grid of block means per frame and channel."""

    def forward(
        self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False
    ) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool3d(x, (16, 4, 4)).flatten(1)


def _ramp_video(h: int, w: int, seed: int) -> np.ndarray:
    """16 frames whose picture is a horizontal ramp over the full width: squashing and cropping differ."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, w)[None, :, None] * rng.uniform(0.5, 1.0, 3)
    frame = np.broadcast_to(ramp, (h, w, 3)) * np.linspace(0.6, 1.0, h)[:, None, None]
    return np.stack([np.roll(frame, 3 * t, axis=1) for t in range(16)]).astype(np.uint8)


def _independent_centre_crop_features(frames: np.ndarray) -> np.ndarray:
    """The protocol written out again: centre square, PIL bilinear to 224, [-1, 1], 4 x 4 block means."""
    from PIL import Image

    h, w = frames.shape[1:3]
    s = min(h, w)
    sq = frames[:, (h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    small = np.stack([np.asarray(Image.fromarray(f).resize((224, 224), Image.BILINEAR)) for f in sq])
    x = small.astype(np.float64) / 127.5 - 1  # (16, 224, 224, 3)
    blocks = x.reshape(16, 4, 56, 4, 56, 3).mean(axis=(2, 4))  # (16, 4, 4, 3)
    return blocks.transpose(3, 0, 1, 2).reshape(1, -1)  # channel, time, row, column like the network


@pytest.mark.parametrize("h,w", [(360, 640), (640, 360)])
def test_fvd_centre_crops_non_square_frames(tmp_path, h, w):
    net = I3DFeatures(save_torchscript(GridI3D(), tmp_path / "grid.pt"))
    videos = [_ramp_video(h, w, seed) for seed in range(4)]
    ours = np.concatenate([net(v) for v in videos])
    expected = np.concatenate([_independent_centre_crop_features(v) for v in videos])
    assert np.abs(ours - expected).max() < 0.01  # resamplers differ by less than 1/200 of the range
    squashed = np.concatenate(
        [_independent_centre_crop_features(np.stack([np.asarray(Image.fromarray(f).resize((s, s))) for f in v]))
         for v in videos for s in [min(h, w)]]
    )
    assert np.abs(squashed - expected).max() > 0.1  # the old squash would not have passed
    real = [_ramp_video(h, w, 10 + seed) for seed in range(4)]
    fvd = frechet_distance(np.concatenate([net(v) for v in real]), ours)
    ref = frechet_distance(np.concatenate([_independent_centre_crop_features(v) for v in real]), expected)
    assert fvd == pytest.approx(ref, rel=2e-2)


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
    from curation.evaluate.config import EvalConfig
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


def test_fid_takes_as_many_ground_truth_frames_as_generated_ones(tmp_path):
    from curation.evaluate.items import Item
    from curation.evaluate.run import evaluate
    from curation.evaluate.config import EvalConfig
    from tests.fixtures.media import make_video

    save_torchscript(TinyInception(), tmp_path / "w" / "inception.pt")
    items = []
    for i in range(3):  # the candidate is the first 10 of the ground truth's 20 frames (same picture, rolling)
        ref = make_video(tmp_path / "ref" / f"c{i}.mp4", seconds=0.8, size=(32, 32), seed=i)
        short = make_video(tmp_path / "short" / f"c{i}.mp4", seconds=0.4, size=(32, 32), seed=i)
        items.append(Item("short", f"c{i}", f"c{i}:short", short, ref))
    res = evaluate(items, EvalConfig(inception="w/inception.pt"), tmp_path, ("fid",))
    fake, real = zip(*res_pairs(res, items, tmp_path))
    assert [len(f) for f in fake] == [len(r) for r in real] == [10, 10, 10]
    assert res.distribution["short"]["fid"] == pytest.approx(0.0, abs=1e-3)


def res_pairs(res, items, root):
    """The (generated, ground truth) feature pairs evaluate collected, recomputed through its own path."""
    from curation.evaluate.decode import decode
    from curation.evaluate.run import _Run, load_models
    from curation.evaluate.config import EvalConfig

    cfg = EvalConfig(inception="w/inception.pt")
    models, _ = load_models(cfg, root, ("fid",))
    run = _Run(cfg, ("fid",), models, "cpu")
    for item in items:
        run._frechet_features("fid", item, decode(item.video, "g", audio=False), decode(item.reference, "r", audio=False))
    return run.feats[("fid", "short")]
