"""`curate ingest`: good manifests in three formats, idempotence, and every kind of bad input."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from sqlalchemy import func, select

from curation.demo.media import make_sample_clips
from curation.ingest import ingest_manifest
from storage import Clip
from storage.errors import CurateError
from storage.media import sha256_file
from tests.fixtures.media import make_png, make_wav


def _count(ws) -> int:
    store = ws.open_store()
    try:
        with store.session() as s:
            return s.scalar(select(func.count()).select_from(Clip))
    finally:
        store.dispose()


def _snapshot(ws) -> list[tuple]:
    store = ws.open_store()
    try:
        with store.session() as s:
            return [(c.clip_id, c.image_sha256, c.audio_sha256, c.prompt) for c in s.scalars(select(Clip).order_by(Clip.clip_id))]
    finally:
        store.dispose()


@pytest.fixture
def media(workspace):
    """Two valid clips' files in the workspace's media folder."""
    d = workspace.path("media", "in")
    d.mkdir(parents=True)
    for i in (1, 2):
        make_png(d / f"c{i}.png", seed=i)
        make_wav(d / f"c{i}.wav", seconds=0.5 + i * 0.25, seed=i)
    return d


def _write_csv(path, rows, header=("clip_id", "image", "audio")):
    lines = [",".join(header)] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ingest_stores_hashes_durations_and_is_idempotent(workspace, media):
    m = _write_csv(media / "clips.csv", [("c1", "c1.png", "c1.wav"), ("c2", "c2.png", "c2.wav")])
    rep = ingest_manifest(workspace, m)
    assert (rep.added, rep.unchanged) == (2, 0)
    store = workspace.open_store()
    with store.session() as s:
        c1 = s.scalar(select(Clip).where(Clip.clip_id == "c1"))
        assert c1.image_sha256 == sha256_file(media / "c1.png")
        assert c1.audio_sha256 == sha256_file(media / "c1.wav")
        # c1.wav is 0.5 + 0.25 = 0.75 s of 16 kHz audio
        assert c1.audio_duration == pytest.approx(0.75, abs=0.01)
        assert (c1.image_width, c1.image_height) == (64, 64)
        assert c1.image_path == str((media / "c1.png").resolve())
    store.dispose()
    before = _snapshot(workspace)
    rep2 = ingest_manifest(workspace, m)
    assert (rep2.added, rep2.unchanged) == (0, 2)
    assert _snapshot(workspace) == before


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_ingest_reads_jsonl_and_parquet_with_optional_columns(workspace, media, fmt):
    rows = [
        {"clip_id": "c1", "image": "c1.png", "audio": "c1.wav", "prompt": "a woman talking", "skeleton": None},
        {"clip_id": "c2", "image": "c2.png", "audio": "c2.wav", "prompt": None, "skeleton": "c2.png"},
    ]
    path = media / f"clips.{fmt}"
    if fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    else:
        pd.DataFrame(rows).to_parquet(path)
    assert ingest_manifest(workspace, path).added == 2
    store = workspace.open_store()
    with store.session() as s:
        got = {c.clip_id: (c.prompt, c.skeleton_sha256) for c in s.scalars(select(Clip))}
    store.dispose()
    assert got == {"c1": ("a woman talking", None), "c2": (None, sha256_file(media / "c2.png"))}


def test_skeleton_may_be_a_folder_of_pose_frames(workspace, media):
    poses = media / "poses"
    poses.mkdir()
    for i in range(3):
        (poses / f"{i:04d}.npy").write_bytes(bytes([i]) * 10)
    m = _write_csv(media / "clips.csv", [("c1", "c1.png", "c1.wav", "poses")], header=("clip_id", "image", "audio", "skeleton"))
    ingest_manifest(workspace, m)
    (poses / "0002.npy").write_bytes(b"changed")
    with pytest.raises(CurateError, match="different content"):
        ingest_manifest(workspace, m)


def _expect_error(ws, manifest, *fragments):
    before = _snapshot(ws)
    with pytest.raises(CurateError) as e:
        ingest_manifest(ws, manifest)
    for frag in fragments:
        assert frag in str(e.value), str(e.value)
    assert _snapshot(ws) == before, "a failed ingest must leave the store exactly as it was"
    return str(e.value)


def test_bad_rows_fail_whole_manifest_and_name_file_row_column(workspace, media):
    (media / "broken.png").write_bytes(b"\x89PNG not really")
    (media / "broken.wav").write_bytes(b"RIFF....WAVEgarbage")
    cases = {
        "missing_file.csv": [("c1", "c1.png", "c1.wav"), ("c2", "nope.png", "c2.wav")],
        "bad_image.csv": [("c1", "c1.png", "c1.wav"), ("c2", "broken.png", "c2.wav")],
        "bad_audio.csv": [("c1", "c1.png", "c1.wav"), ("c2", "c2.png", "broken.wav")],
        "escape.csv": [("c1", "c1.png", "c1.wav"), ("c2", "../../../../../../etc/passwd", "c2.wav")],
        "absolute.csv": [("c1", "c1.png", "c1.wav"), ("c2", "c2.png", "/etc/hostname")],
        "dup.csv": [("c1", "c1.png", "c1.wav"), ("c1", "c2.png", "c2.wav")],
    }
    expected = {
        "missing_file.csv": ("row 2", "'image'", "not found"),
        "bad_image.csv": ("row 2", "'image'", "does not decode"),
        "bad_audio.csv": ("row 2", "'audio'", "does not decode"),
        "escape.csv": ("row 2", "'image'", "outside"),
        "absolute.csv": ("row 2", "'audio'", "outside"),
        "dup.csv": ("row 2", "'clip_id'", "duplicate clip_id 'c1'"),
    }
    for name, rows in cases.items():
        m = _write_csv(media / name, rows)
        msg = _expect_error(workspace, m, str(m), *expected[name])
        assert msg.count("\n") == 0, "one clear line"
    assert _count(workspace) == 0


def test_reingest_with_changed_content_is_refused(workspace, media):
    m = _write_csv(media / "clips.csv", [("c1", "c1.png", "c1.wav")])
    ingest_manifest(workspace, m)
    m2 = _write_csv(media / "clips2.csv", [("c1", "c2.png", "c1.wav")])
    _expect_error(workspace, m2, "row 1", "already in the store with different content")


def test_empty_header_only_and_missing_column(workspace, media):
    (media / "empty.csv").write_text("")
    _expect_error(workspace, media / "empty.csv", "empty")
    (media / "header.csv").write_text("clip_id,image,audio\n")
    _expect_error(workspace, media / "header.csv", "no rows")
    m = _write_csv(media / "nocol.csv", [("c1", "c1.png")], header=("clip_id", "image"))
    _expect_error(workspace, m, "missing required column(s) ['audio']")
    _expect_error(workspace, media / "absent.csv", "file not found")


def test_unreadable_manifest(workspace, media):
    (media / "garbage.parquet").write_bytes(b"PAR1 definitely not parquet")
    _expect_error(workspace, media / "garbage.parquet", "cannot be read as parquet")
    (media / "dir.csv").mkdir()
    _expect_error(workspace, media / "dir.csv", "file not found")
    (media / "latin1.csv").write_bytes("clip_id,image,audio\n\xe9\xff,c1.png,c1.wav\n".encode("latin-1"))
    _expect_error(workspace, media / "latin1.csv", "cannot be read as csv")


def test_media_root_allows_paths_outside_the_manifest_folder(sqlite_workspace, tmp_path):
    """An absolute path is accepted when it lies in a configured media root (here the workspace itself)."""
    src = make_sample_clips(tmp_path / "elsewhere", n=1, seconds=0.5, size=32).parent
    inside = sqlite_workspace.path("media", "lib")
    shutil.copytree(src, inside)
    manifest_dir = tmp_path / "manifests"
    manifest_dir.mkdir()
    m = _write_csv(manifest_dir / "m.csv", [("s1", str(inside / "sample-001.png"), str(inside / "sample-001.wav"))])
    assert ingest_manifest(sqlite_workspace, m).added == 1
    m_out = _write_csv(manifest_dir / "m2.csv", [("s2", str(src / "sample-001.png"), str(src / "sample-001.wav"))])
    with pytest.raises(CurateError, match="outside the manifest's folder and the media roots"):
        ingest_manifest(sqlite_workspace, m_out)
