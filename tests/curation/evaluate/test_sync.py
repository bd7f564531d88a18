"""Sync-C/D: the SyncNet architecture in its checkpoint format, the offset/confidence maths, the pipeline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from curation.evaluate.decode import decode
from curation.evaluate.sync import TrackRules, crop_faces, face_track, mfcc, offset_scores, sync_scores
from curation.evaluate.syncnet import SyncNet, load_syncnet
from storage.errors import CurateError
from tests.fixtures.eval_media import CodedNet, make_coded_video
from tests.fixtures.media import make_video

RELAXED = TrackRules(min_track=0, min_face=0, scene_cuts=False)  # short test clips

# Key names of syncnet_v2.model (joonson/syncnet_python): conv layers at these Sequential indices.
CONV_AT = [0, 4, 8, 11, 14, 18]


@pytest.fixture(scope="module")
def syncnet_file(tmp_path_factory):
    """A randomly initialised SyncNet saved as a plain state dict, the format of syncnet_v2.model."""
    torch.manual_seed(0)
    net = SyncNet()
    for m in net.modules():  # non-trivial BatchNorm statistics, so eval mode matters
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("w") / "syncnet_v2.model"
    torch.save(net.state_dict(), path)
    return path


def test_checkpoint_layout_and_shapes(syncnet_file):
    state = torch.load(syncnet_file, weights_only=True)
    for tower in ("netcnnaud", "netcnnlip"):
        assert {k.split(".")[1] for k in state if k.startswith(tower) and k.endswith("weight")} == {
            str(i)
            for i in CONV_AT + [i + 1 for i in CONV_AT]  # conv and its batch norm
        }
    assert state["netcnnlip.0.weight"].shape == (96, 3, 5, 7, 7)
    assert state["netcnnaud.18.weight"].shape == (512, 256, 5, 4)
    assert state["netfcaud.3.weight"].shape == state["netfclip.3.weight"].shape == (1024, 512)
    net = load_syncnet(syncnet_file)
    assert not net.training
    with torch.no_grad():
        assert net.forward_lip(torch.rand(2, 3, 5, 224, 224) * 255).shape == (2, 1024)
        assert net.forward_aud(torch.randn(2, 1, 13, 20)).shape == (2, 1024)


def test_load_refuses_other_files(tmp_path):
    torch.save({"netcnnaud.0.weight": torch.zeros(1)}, tmp_path / "x.model")
    with pytest.raises(CurateError, match="not a SyncNet state dict"):
        load_syncnet(tmp_path / "x.model")
    (tmp_path / "y.model").write_bytes(b"garbage")
    with pytest.raises(CurateError, match="not a torch checkpoint"):
        load_syncnet(tmp_path / "y.model")


def test_offset_and_confidence_on_constructed_embeddings():
    # 20 frames, one-hot embeddings e_0..e_24; audio window j carries e_(j+5), so frame i matches
    # audio window i - 5: offset 5. At that shift 5 frames meet zero padding (distance 1) and 15 match
    # (distance 0): Sync-D = 5/20 = 0.25. Every other shift s gives (|s| + (20 - |s|) sqrt 2) / 20;
    # the median of the 31 means is the one of |s| = 8: (8 + 12 sqrt 2) / 20 = 1.248528, so
    # Sync-C = 1.248528 - 0.25 = 0.998528.
    e = torch.eye(25)
    lip, aud = e[:20], e[5:25]
    offset, dist, conf = offset_scores(lip, aud)
    assert offset == 5
    assert dist == pytest.approx(0.25, abs=1e-4)
    assert conf == pytest.approx((8 + 12 * math.sqrt(2)) / 20 - 0.25, abs=1e-4)
    assert offset_scores(e[5:25], e[:20])[0] == -5


@pytest.mark.parametrize("lead", [-3, 0, 5])
def test_pipeline_finds_the_audio_shift_of_a_real_mp4(tmp_path, lead):
    video = decode(make_coded_video(tmp_path / "v.mp4", frames=75, audio_lead=lead), "v")
    energy = mfcc(video.audio)[0]
    net = CodedNet()
    net.threshold = (energy.min() + energy.max()) / 2
    got = sync_scores(net, video, crop="full", rules=RELAXED)
    assert got["sync_offset"] == lead
    assert got["sync_c"] > 0.5  # the true shift stands out from the median of the 31


def test_random_syncnet_runs_on_a_face_video(tmp_path, syncnet_file):
    from PIL import Image

    from curation.demo.media import draw_portrait

    face = np.asarray(Image.open(draw_portrait(tmp_path / "p.png", seed=0, size=128)).convert("RGB"))
    video = decode(make_coded_video(tmp_path / "f.mp4", frames=30, base=face), "f")
    boxes = face_track(video.frames)
    assert boxes is not None and np.allclose(boxes[:, :2], [64, 64], atol=6)
    got = sync_scores(load_syncnet(syncnet_file), video, crop="face", rules=RELAXED)
    assert set(got) == {"sync_c", "sync_d", "sync_offset", "sync_tracks"} and got["sync_c"] >= 0
    assert -15 <= got["sync_offset"] <= 15 and got["sync_d"] > 0


def test_crop_is_the_syncnet_square_around_the_face():
    # half-size 10 at (32, 32): rows 32 - 10 .. 32 + 18, columns 32 - 14 .. 32 + 14
    frame = np.zeros((1, 100, 100, 3), np.uint8)
    frame[0, 22:50, 18:46] = 255
    crop = crop_faces(frame, np.array([[32.0, 32.0, 10.0]]))
    assert crop.shape == (1, 224, 224, 3) and crop.min() == 255
    frame[0, 21, 18:46] = 0  # the row above the square is not part of it
    assert crop_faces(frame, np.array([[32.0, 32.0, 10.0]])).min() == 255


def test_reasons_when_sync_cannot_run(tmp_path, syncnet_file):
    net = load_syncnet(syncnet_file)
    silent = decode(make_video(tmp_path / "s.mp4", seconds=0.4, audio=False), "s")
    assert sync_scores(net, silent).startswith("no audio")
    noise = decode(make_video(tmp_path / "n.mp4", seconds=0.4, size=(64, 64)), "n")
    assert sync_scores(net, noise, crop="face").startswith("no face found")
    short = decode(make_video(tmp_path / "t.mp4", seconds=0.2, size=(64, 64)), "t")
    assert sync_scores(net, short, crop="full").startswith("too short")


def test_driving_audio_must_decode_and_replaces_the_track(tmp_path):
    from tests.fixtures.media import make_wav

    v = make_video(tmp_path / "v.mp4", seconds=0.4, size=(32, 32))
    wav = make_wav(tmp_path / "a.wav", seconds=2.0)
    assert len(decode(v, "v", audio_from=wav).audio) == pytest.approx(32000, abs=400)  # the wav's 2 s
    assert len(decode(v, "v").audio) == pytest.approx(6400, abs=1200)  # the video's own 0.4 s track
    assert decode(v, "v", audio=False).audio is None
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    with pytest.raises(CurateError, match=r"m/c1: driving audio does not decode \(.*bad.wav\)"):
        decode(v, "m/c1", audio_from=tmp_path / "bad.wav")
