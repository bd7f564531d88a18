"""Pair manifest validation, PairDataset and collate_pairs (trainer/data.py), with real mp4/png/wav files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from storage.errors import CurateError
from tests.fixtures.trainer_data_media import make_pair_manifest, read_rows, write_manifest
from trainer.cache import save_entry
from trainer.data import PairDataset, collate_pairs, validate_manifest


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pairs")
    make_pair_manifest(folder, n_pairs=2)
    return folder


@pytest.fixture
def folder(built, tmp_path) -> Path:
    """A private copy, so tests may break files."""
    return Path(shutil.copytree(built, tmp_path / "w"))


def rewrite(folder: Path, row: int, **changes) -> Path:
    rows = read_rows(folder / "pairs.parquet")
    rows[row].update(changes)
    return write_manifest(folder / "pairs.parquet", rows)


def test_valid_manifest_resolves_paths(folder):
    df = validate_manifest(folder / "pairs.parquet", roots=[])
    assert list(df["pair_id"]) == ["p0", "p1"]
    assert df.at[1, "winner_video"] == str((folder / "media/c1_a.mp4").resolve())
    assert df.at[0, "audio"] == str((folder / "media/c0.wav").resolve())
    assert df.attrs["manifest"] == str((folder / "pairs.parquet").resolve())
    assert df.at[0, "margin"] == 3.0  # extra columns pass through


def test_csv_manifest_and_empty_media_columns(folder):
    rows = read_rows(folder / "pairs.parquet")
    for r in rows:
        r["image"] = r["audio"] = ""
    df = validate_manifest(write_manifest(folder / "pairs.csv", rows), roots=[])
    assert df["image"].tolist() == [None, None] and df["audio"].tolist() == [None, None]


def test_missing_column(folder):
    rows = [{k: v for k, v in r.items() if k != "loser_video"} for r in read_rows(folder / "pairs.parquet")]
    with pytest.raises(CurateError, match=r"missing required column\(s\) \['loser_video'\]"):
        validate_manifest(write_manifest(folder / "pairs.parquet", rows))


def test_missing_video_names_row_and_column(folder):
    path = rewrite(folder, 1, loser_video="media/nope.mp4")
    with pytest.raises(CurateError, match=r"pairs.parquet, row 2, column 'loser_video': file not found"):
        validate_manifest(path, roots=[])


def test_undecodable_video(folder):
    (folder / "media/broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 20)
    path = rewrite(folder, 0, winner_video="media/broken.mp4")
    with pytest.raises(CurateError, match=r"row 1, column 'winner_video': video does not decode"):
        validate_manifest(path, roots=[])


def test_undecodable_image_and_audio(folder):
    (folder / "media/bad.png").write_bytes(b"not a png")
    with pytest.raises(CurateError, match=r"row 2, column 'image': image does not decode"):
        validate_manifest(rewrite(folder, 1, image="media/bad.png"), roots=[])
    rewrite(folder, 1, image="media/c1.png")
    (folder / "media/bad.wav").write_bytes(b"RIFF junk")
    with pytest.raises(CurateError, match=r"row 1, column 'audio': audio does not decode"):
        validate_manifest(rewrite(folder, 0, audio="media/bad.wav"), roots=[])


def test_path_escaping_roots(folder, tmp_path):
    outside = tmp_path / "outside.mp4"
    shutil.copy(folder / "media/c0_a.mp4", outside)
    path = rewrite(folder, 0, winner_video="../outside.mp4")
    with pytest.raises(CurateError, match=r"row 1, column 'winner_video': path '../outside.mp4' resolves to .*outside"):
        validate_manifest(path, roots=[])
    # the same path is fine once its folder is a root
    assert validate_manifest(path, roots=[tmp_path]).at[0, "winner_video"] == str(outside.resolve())


def test_symlink_cannot_escape(folder, tmp_path):
    outside = tmp_path / "secret.mp4"
    shutil.copy(folder / "media/c0_a.mp4", outside)
    (folder / "media/link.mp4").symlink_to(outside)
    with pytest.raises(CurateError, match="outside the manifest's folder"):
        validate_manifest(rewrite(folder, 0, winner_video="media/link.mp4"), roots=[])


def test_default_roots_come_from_the_workspace(folder):
    """A manifest in ws/manifests/ may point at ws/media/ (the workspace root is a media root by default);
    without a workspace the same path escapes the manifest's folder."""
    (folder / "manifests").mkdir()
    rows = read_rows(folder / "pairs.parquet")
    for r in rows:
        for col in ("winner_video", "loser_video", "image", "audio"):
            r[col] = "../" + r[col]
    path = write_manifest(folder / "manifests/pairs.parquet", rows)
    with pytest.raises(CurateError, match="outside"):
        validate_manifest(path)
    (folder / "curate.toml").write_text('[media]\nroots = ["."]\n')
    assert validate_manifest(path).at[0, "image"] == str((folder / "media/c0.png").resolve())


def test_duplicate_pair_id_and_same_video_and_mixed_media(folder):
    with pytest.raises(CurateError, match=r"row 2, column 'pair_id': duplicate pair_id 'p0' \(first in row 1\)"):
        validate_manifest(rewrite(folder, 1, pair_id="p0"), roots=[])
    rewrite(folder, 1, pair_id="p1")
    with pytest.raises(CurateError, match=r"row 1, column 'loser_video': the loser is the winner's video"):
        validate_manifest(rewrite(folder, 0, loser_video="media/c0_a.mp4"), roots=[])
    rewrite(folder, 0, loser_video="media/c0_b.mp4")
    with pytest.raises(CurateError, match=r"row 2, column 'audio': empty, but other rows have one"):
        validate_manifest(rewrite(folder, 1, audio=None), roots=[])


def fake_cache(cache: Path, with_audio: bool = True) -> None:
    """Two pairs of (4, 3, 2, 2) latents filled with the pair number, optional (5, 8) audio, zero text (6, 16)."""
    pairs = {}
    for i in range(2):
        save_entry(cache, f"video/w{i}", {"latents": torch.full((4, 3, 2, 2), float(i))})
        save_entry(cache, f"video/l{i}", {"latents": torch.full((4, 3, 2, 2), -float(i))})
        save_entry(cache, f"audio/a{i}", {"audio_embeds": torch.full((5, 8), float(i))})
        save_entry(cache, f"image/r{i}", {"latents": torch.ones(4, 1, 2, 2)})
        pairs[f"p{i}"] = {"winner": f"video/w{i}", "loser": f"video/l{i}", "image": f"image/r{i}",
                          "audio": f"audio/a{i}" if with_audio or i == 0 else None, "text": None}
    (cache / "index.json").write_text(json.dumps({"pairs": pairs, "text_shape": [6, 16]}))


def test_dataset_and_collate_follow_the_batch_layout(tmp_path):
    for kind in ("video", "audio", "image"):
        (tmp_path / kind).mkdir()
    fake_cache(tmp_path)
    import pandas as pd

    ds = PairDataset(pd.DataFrame({"pair_id": ["p0", "p1"]}), tmp_path)
    assert len(ds) == 2
    batch = collate_pairs([ds[1], ds[0]])
    assert batch["latents_w"].shape == (2, 4, 3, 2, 2) and batch["latents_w"].dtype == torch.float32
    assert batch["latents_w"][0].unique().tolist() == [1.0] and batch["latents_l"][0].unique().tolist() == [-1.0]
    assert sorted(batch["cond"]) == ["audio_embeds", "encoder_hidden_states", "ref_latents"]
    assert batch["cond"]["encoder_hidden_states"].shape == (2, 6, 16)
    assert batch["cond"]["encoder_hidden_states"].abs().sum() == 0
    assert batch["cond"]["audio_embeds"].shape == (2, 5, 8)
    assert batch["cond"]["ref_latents"].shape == (2, 4, 1, 2, 2)
    assert batch["pair_id"] == ["p1", "p0"]
    assert batch["index"].tolist() == [1, 0] and batch["index"].dtype == torch.long


def test_dataset_errors(tmp_path):
    import pandas as pd

    with pytest.raises(CurateError, match="no index.json"):
        PairDataset(pd.DataFrame({"pair_id": ["p0"]}), tmp_path)
    for kind in ("video", "audio", "image"):
        (tmp_path / kind).mkdir()
    fake_cache(tmp_path, with_audio=False)
    with pytest.raises(CurateError, match=r"pairs not in the cache: \['p9'\]"):
        PairDataset(pd.DataFrame({"pair_id": ["p0", "p9"]}), tmp_path)
    ds = PairDataset(pd.DataFrame({"pair_id": ["p0", "p1"]}), tmp_path)
    with pytest.raises(ValueError, match="pair 'p1' has cond keys"):
        collate_pairs([ds[0], ds[1]])
