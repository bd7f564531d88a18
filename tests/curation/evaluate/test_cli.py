"""`curate eval` end to end on real mp4 files with audio: folders, the store, outputs, bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.fixtures.media import make_video

CLIPS = ["c1", "c2", "c3"]


@pytest.fixture
def folders(tmp_path):
    """Ground truth per clip; method 'same' has identical files, 'other' unrelated noise."""
    for i, c in enumerate(CLIPS):
        make_video(tmp_path / "ref" / f"{c}.mp4", seconds=0.4, size=(32, 32), seed=i)
        make_video(tmp_path / "gen" / "same" / f"{c}.mp4", seconds=0.4, size=(32, 32), seed=i)
        make_video(tmp_path / "gen" / "other" / f"{c}.mp4", seconds=0.4, size=(48, 32), seed=10 + i)
    return tmp_path


def test_eval_folders_table_json_and_parquet(cli, folders, monkeypatch):
    monkeypatch.chdir(folders)  # no curate.toml here: default [eval], so weighted metrics are skipped
    r = cli("eval", "--videos", "gen", "--reference", "ref", "--out", "out")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    header = next(ln for ln in lines if ln.startswith("method"))
    assert "PSNR \u2191" in header and "SSIM \u2191" in header and "Sync-C" not in header
    same = next(ln for ln in lines if ln.startswith("same "))
    assert "inf" in same and "1.000 \u00b1 0.000" in same  # identical files: PSNR inf, SSIM 1
    for setting in ("syncnet", "inception", "i3d", "lpips_backbone", "dwpose"):
        assert f"eval.{setting} is not set in curate.toml" in r.output
    df = pd.read_parquet(folders / "out" / "per_clip.parquet")
    assert sorted(df["candidate_id"]) == sorted(f"{c}:{m}" for c in CLIPS for m in ("same", "other"))
    assert (df.loc[df["method"] == "same", "ssim"] > 0.999).all()
    other = df[df["method"] == "other"].sort_values("clip_id")
    assert other["frames"].tolist() == [10, 10, 10] and other["sync_c"].isna().all()

    r = cli("eval", "--videos", "gen", "--reference", "ref", "--out", "out", "--json", "--metrics", "psnr")
    summary = json.loads(r.output)
    psnr = summary["methods"]["other"]["psnr"]
    vals = other["psnr"].to_numpy()
    assert psnr["n"] == 3 and psnr["mean"] == pytest.approx(vals.mean())
    # Student t, 2 degrees of freedom: t(0.975) = 4.302653
    half = 4.302653 * vals.std(ddof=1) / 3**0.5
    assert psnr["ci_high"] - psnr["mean"] == pytest.approx(half, rel=1e-5)
    assert summary["methods"]["same"]["psnr"]["mean"] is None  # inf is not JSON: null
    assert summary["skipped"] == [] and "ssim" not in summary["methods"]["other"]


def test_eval_without_reference_notes_why(cli, folders, monkeypatch):
    monkeypatch.chdir(folders)
    r = cli("eval", "--videos", "gen/other", "--out", "o2", "--metrics", "psnr,ssim")
    assert r.exit_code == 0, r.output
    df = pd.read_parquet(folders / "o2" / "per_clip.parquet")
    assert set(df["method"]) == {"other"} and df["psnr"].isna().all()
    assert df["note"].str.contains("no ground truth").all()


def test_eval_bad_input_is_one_line(cli, folders, monkeypatch):
    monkeypatch.chdir(folders)
    r = cli("eval", "--videos", "gen", "--metrics", "psnr,bogus")
    assert r.exit_code == 2 and "--metrics: unknown ['bogus']" in r.output and "Traceback" not in r.output
    r = cli("eval", "--videos", "gen", "--device", "tpu")
    assert r.exit_code == 2 and "--device" in r.output and "Traceback" not in r.output
    r = cli("eval", "--videos", "nowhere")
    assert r.exit_code == 1 and "--videos nowhere: not a folder." in r.output
    (folders / "gen" / "same" / "c1.mp4").write_bytes(b"not a video")
    r = cli("eval", "--videos", "gen", "--reference", "ref", "--out", "o3")
    assert r.exit_code == 1 and "same/c1" in r.output and "does not decode" in r.output
    assert not (folders / "o3").exists()  # nothing half-written


def test_eval_store_mode_uses_the_ingested_ground_truth(cli, sqlite_workspace, tmp_path):
    from curation.file_import import import_candidates
    from curation.ingest import ingest_manifest
    from tests.fixtures.media import make_png, make_wav

    ws = sqlite_workspace
    d = ws.path("media", "ev")
    d.mkdir(parents=True)
    rows = []
    for i, c in enumerate(CLIPS[:2]):
        make_png(d / f"{c}.png", seed=i)
        make_wav(d / f"{c}.wav", seconds=0.4, seed=i)
        make_video(d / f"{c}-gt.mp4", seconds=0.4, size=(32, 32), seed=i)
        rows.append((c, f"{c}.png", f"{c}.wav", f"{c}-gt.mp4"))
    pd.DataFrame(rows, columns=["clip_id", "image", "audio", "video"]).to_csv(d / "clips.csv", index=False)
    ingest_manifest(ws, d / "clips.csv")
    cands = []
    for i, c in enumerate(CLIPS[:2]):
        make_video(d / f"{c}-a.mp4", seconds=0.4, size=(32, 32), seed=i)
        make_video(d / f"{c}-b.mp4", seconds=0.4, size=(32, 32), seed=20 + i)
        cands += [(c, "a", f"{c}-a.mp4"), (c, "b", f"{c}-b.mp4")]
    pd.DataFrame(cands, columns=["clip_id", "method", "video"]).to_csv(d / "cands.csv", index=False)
    import_candidates(ws, d / "cands.csv")

    r = cli("eval", "-w", ws.root, "--methods", "b", "--metrics", "ssim", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert list(summary["methods"]) == ["b"] and summary["methods"]["b"]["ssim"]["n"] == 2
    df = pd.read_parquet(ws.path("exports", "eval", "per_clip.parquet"))
    assert sorted(df["candidate_id"]) == ["c1:b", "c2:b"] and df["reference"].str.endswith("-gt.mp4").all()
    assert (ws.path("exports", "eval", "plot.png")).read_bytes()[:4] == b"\x89PNG"
    # --rounds: both clips are in round 1 (a workspace never told about rounds)
    r = cli("eval", "-w", ws.root, "--methods", "b", "--metrics", "ssim", "--rounds", "1", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["methods"]["b"]["ssim"]["n"] == 2, r.output
    r = cli("eval", "-w", ws.root, "--methods", "b", "--metrics", "ssim", "--rounds", "2", "--json")
    assert r.exit_code == 1 and "no ready candidates of ['b']" in r.output, r.output
    # Sync-C/D in store mode read the clip's driving audio (the wav), not the candidate's track
    import tomli_w

    from tests.fixtures.eval_models import save_syncnet

    save_syncnet(ws.path("w", "syncnet_v2.model"))
    data = ws.config.to_toml()
    data["eval"].update(syncnet="w/syncnet_v2.model", face_crop="full", sync_min_track=0)
    ws.config_path.write_text(tomli_w.dumps(data))
    r = cli("eval", "-w", ws.root, "--methods", "a", "--metrics", "sync", "--out", tmp_path / "s")
    assert r.exit_code == 0, r.output
    df = pd.read_parquet(tmp_path / "s" / "per_clip.parquet")
    assert df["sync_c"].notna().all() and df["note"].isna().all()
    ws.path("media", "ev", "c1.wav").write_bytes(b"gone")
    r = cli("eval", "-w", ws.root, "--methods", "a", "--metrics", "sync", "--out", tmp_path / "s2")
    assert r.exit_code == 1 and "a/c1: driving audio does not decode" in r.output
    r = cli("eval", "-w", ws.root, "--methods", "zzz")
    assert r.exit_code == 1 and "no ready candidates of ['zzz']" in r.output


def test_eval_every_metric_with_local_weights(cli, folders, tmp_path):
    """A workspace whose [eval] names stand-in weights in the real formats: every metric runs."""
    import tomli_w

    from storage.workspace import init
    from tests.fixtures.eval_models import (
        TinyI3D,
        TinyInception,
        save_alexnet,
        save_dwpose_standin,
        save_syncnet,
        save_torchscript,
    )

    ws = init(tmp_path / "ws")
    save_syncnet(ws.path("w", "syncnet_v2.model"))
    save_alexnet(ws.path("w", "alexnet.pth"))
    save_torchscript(TinyInception(), ws.path("w", "inception.pt"))
    save_torchscript(TinyI3D(), ws.path("w", "i3d.pt"))
    save_dwpose_standin(ws.path("w", "dw.onnx"))
    data = ws.config.to_toml()
    data["eval"].update(
        syncnet="w/syncnet_v2.model",
        lpips_backbone="w/alexnet.pth",
        inception="w/inception.pt",
        i3d="w/i3d.pt",
        dwpose="w/dw.onnx",
        face_crop="full",
        sync_min_track=0,  # 0.4 s clips: syncnet_python's 100-frame rule relaxed
    )
    ws.config_path.write_text(tomli_w.dumps(data))
    # 0.4 s clips are too short for FVD's 16-frame windows: that is a per-method skip, not a failure
    r = cli("eval", "-w", ws.root, "--videos", folders / "gen", "--reference", folders / "ref", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    same, other = summary["methods"]["same"], summary["methods"]["other"]
    assert {"sync_c", "sync_d", "psnr", "ssim", "lpips", "fid", "hkc", "hkv"} <= set(same)
    assert same["hkc"]["mean"] == pytest.approx(0.8)  # the stand-in's constant score
    assert same["lpips"]["mean"] == pytest.approx(0.0, abs=1e-6) and other["lpips"]["mean"] > 0
    assert (
        same["fid"]["value"] == pytest.approx(0.0, abs=1e-3) and other["fid"]["value"] > same["fid"]["value"]
    )
    assert [s["metric"] for s in summary["skipped"]] == ["fvd", "fvd"]
    assert "need at least 2 samples" in summary["skipped"][0]["reason"]
    df = pd.read_parquet(ws.path("exports", "eval", "per_clip.parquet"))
    assert df["sync_c"].notna().all() and df["sync_offset"].between(-15, 15).all()
