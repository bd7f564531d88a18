"""`[eval]` in curate.toml, weight files (missing, hash-checked), the ground-truth `video` ingest column."""

from __future__ import annotations

import hashlib
from dataclasses import asdict

import pandas as pd
import pytest

from curation.evaluate.config import EVAL_WEIGHTS, EvalConfig
from curation.evaluate.run import load_models
from curation.evaluate.weights import SOURCES, WeightsMissing, resolve_weights
from storage.errors import CurateError, WorkspaceError
from storage.workspace import WorkspaceConfig, load


def test_eval_section_round_trips_and_is_validated(tmp_path):
    import tomli_w

    want = EvalConfig(syncnet="w/syncnet_v2.model", sha256={"syncnet": "a" * 64})
    cfg = WorkspaceConfig(eval=asdict(want))  # [eval] stays a raw table in the workspace; EvalConfig checks it
    (tmp_path / "curate.toml").write_text(tomli_w.dumps(cfg.to_toml()))
    assert EvalConfig.from_workspace(load(tmp_path)) == want
    with pytest.raises(WorkspaceError, match="eval.face_crop must be 'face' or 'full'"):
        EvalConfig(face_crop="mouth")
    with pytest.raises(WorkspaceError, match="eval.sha256: unknown setting 'vgg'"):
        EvalConfig(sha256={"vgg": "a" * 64})
    with pytest.raises(WorkspaceError, match="eval.sha256.i3d must be 64 lower-case hex digits"):
        EvalConfig(sha256={"i3d": "ABC"})
    with pytest.raises(WorkspaceError, match="eval.inception must be a path string"):
        EvalConfig(inception=3)
    (tmp_path / "curate.toml").write_text('[eval]\nsyncnet = "x"\nvgg = "y"\n')
    with pytest.raises(WorkspaceError, match="vgg"):
        EvalConfig.from_workspace(load(tmp_path))


@pytest.mark.parametrize("setting", EVAL_WEIGHTS)
def test_every_missing_weights_message_names_the_setting_and_the_source(tmp_path, setting):
    with pytest.raises(WeightsMissing) as unset:
        resolve_weights(tmp_path, setting, "")
    assert f"eval.{setting} is not set in curate.toml" in str(unset.value)
    assert SOURCES[setting] in str(unset.value)
    with pytest.raises(WeightsMissing) as absent:
        resolve_weights(tmp_path, setting, "weights/nothing.pt")
    assert f"eval.{setting} = 'weights/nothing.pt': no such file" in str(absent.value)
    assert SOURCES[setting] in str(absent.value)


def test_missing_weights_skip_only_their_metric(tmp_path):
    models, skips = load_models(
        EvalConfig(), tmp_path, ("psnr", "sync", "fid", "fvd", "lpips", "ssim", "hands")
    )
    assert models == {}
    assert [s.metric for s in skips] == ["sync", "fid", "fvd", "lpips", "hands"]
    assert [s.reason.split(" ")[0] for s in skips] == [
        "eval.syncnet",
        "eval.inception",
        "eval.i3d",
        "eval.lpips_backbone",
        "eval.dwpose",
    ]


def test_weights_hash_is_checked(tmp_path):
    f = tmp_path / "syncnet_v2.model"
    f.write_bytes(b"weights")
    good = hashlib.sha256(b"weights").hexdigest()
    assert resolve_weights(tmp_path, "syncnet", "syncnet_v2.model", good) == f
    with pytest.raises(CurateError, match="differs from eval.sha256.syncnet"):
        resolve_weights(tmp_path, "syncnet", "syncnet_v2.model", "0" * 64)
    # torchvision names files after their hash: a wrong file under that name is caught without a setting
    tv = tmp_path / "alexnet-owt-7be5be79.pth"
    tv.write_bytes(b"not alexnet")
    with pytest.raises(CurateError, match="promises a SHA-256 starting 7be5be79"):
        resolve_weights(tmp_path, "lpips_backbone", tv.name)


def test_ingest_stores_the_optional_ground_truth_video(workspace, tmp_path):
    from sqlalchemy import select

    from curation.ingest import ingest_manifest
    from storage import Clip
    from tests.fixtures.media import make_png, make_video, make_wav

    d = workspace.path("media", "gt")
    d.mkdir(parents=True)
    make_png(d / "a.png"), make_wav(d / "a.wav", seconds=0.4), make_png(d / "b.png", seed=1)
    make_wav(d / "b.wav", seconds=0.4, seed=1)
    make_video(d / "a.mp4", seconds=0.4, size=(32, 32))
    (d / "broken.mp4").write_bytes(b"no video")
    rows = [("a", "a.png", "a.wav", "a.mp4"), ("b", "b.png", "b.wav", None)]
    pd.DataFrame(rows, columns=["clip_id", "image", "audio", "video"]).to_csv(d / "m.csv", index=False)
    assert ingest_manifest(workspace, d / "m.csv").added == 2
    store = workspace.open_store()
    with store.session() as s:
        clips = {c.clip_id: c for c in s.scalars(select(Clip))}
    store.dispose()
    assert clips["a"].video_path == str(d / "a.mp4") and len(clips["a"].video_sha256) == 64
    assert clips["b"].video_path is None and clips["b"].video_sha256 is None
    bad = [("c", "a.png", "a.wav", "broken.mp4")]
    pd.DataFrame(bad, columns=["clip_id", "image", "audio", "video"]).to_csv(d / "bad.csv", index=False)
    with pytest.raises(CurateError, match=r"bad.csv.*row 1.*video.*does not decode"):
        ingest_manifest(workspace, d / "bad.csv")
    other = [("a", "a.png", "a.wav", None)]  # same clip_id, ground truth dropped: different content
    pd.DataFrame(other, columns=["clip_id", "image", "audio", "video"]).to_csv(d / "o.csv", index=False)
    with pytest.raises(CurateError, match="already in the store with different content"):
        ingest_manifest(workspace, d / "o.csv")


def test_protocol_settings_are_validated_and_s3fd_is_refused(tmp_path):
    from curation.evaluate.run import check_detector

    cfg = EvalConfig()
    assert (cfg.sync_min_track, cfg.sync_min_face, cfg.sync_scene_cuts, cfg.fvd_clips) == (100, 100.0, True, "first")
    for bad, match in [
        ({"sync_min_track": -1}, "eval.sync_min_track must be an integer >= 0"),
        ({"sync_min_track": True}, "eval.sync_min_track must be an integer >= 0"),
        ({"sync_min_face": "big"}, "eval.sync_min_face must be a number >= 0"),
        ({"sync_scene_cuts": "yes"}, "eval.sync_scene_cuts must be true or false"),
        ({"fvd_clips": "some"}, "eval.fvd_clips must be 'first' or 'all'"),
        ({"s3fd": 1}, "eval.s3fd must be a path string"),
    ]:
        with pytest.raises(WorkspaceError, match=match):
            EvalConfig(**bad)
    with pytest.raises(CurateError, match="eval.s3fd = 'w/sfd_face.pth': S3FD face detection is not supported"):
        check_detector(EvalConfig(s3fd="w/sfd_face.pth"))
    check_detector(EvalConfig(s3fd="w/sfd_face.pth", face_crop="full"))  # no detection: nothing to refuse
