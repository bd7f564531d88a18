"""Bounded inputs: every limit of ``[limits]`` refuses with one line naming the file, the row and the limit, and the
store's rows are unchanged (SQLite and PostgreSQL). Oversized files are crafted from headers, so the tests never
allocate what the limits protect against."""

from __future__ import annotations

import struct
import zlib

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tomli_w

from storage.errors import CurateError
from storage.limits import Limits
from storage.media import audio_duration, check_image
from storage.tables import read_table
from storage.workspace import load
from tests.fixtures.fuzz_inputs import store_counts
from tests.fixtures.media import make_video, make_wav


def png_header(path, width: int, height: int):
    """A PNG whose header claims ``width`` x ``height`` (one grey row of data: Pillow reads only the header first)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x80" * width)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def wav_header(path, seconds: float, rate: int = 16000):
    """A 16-bit mono WAV whose header claims ``seconds`` (the data chunk holds a tenth of a second)."""
    n = int(seconds * rate)
    data = b"\x00\x00" * (rate // 10)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", n * 2) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 24 + 8 + n * 2) + body)
    return path


def set_limits(ws, **limits):
    data = ws.config.to_toml()
    data["limits"] = {**data.get("limits", {}), **limits}
    (ws.root / "curate.toml").write_text(tomli_w.dumps(data))
    return load(ws.root, db=ws.database_url)


def one_line(r, *parts):
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    for p in parts:
        assert p in lines[0], (p, lines[0])
    return lines[0]


def test_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path):
    big = png_header(tmp_path / "big.png", 10_000, 10_000)  # 270 MB decoded; the header alone is refused
    with pytest.raises(CurateError, match=r"big.png is 10000 x 10000 = 100000000 pixels, more than "
                                          r"limits.max_image_pixels = 16777216"):
        check_image(big, "m.csv row 1, image")


def test_a_decompression_bomb_is_one_line(tmp_path):
    bomb = png_header(tmp_path / "bomb.png", 20_000, 20_000)  # Pillow's own guard fires at open
    with pytest.raises(CurateError) as e:
        check_image(bomb, "m.csv row 1, image")
    assert "limits.max_image_pixels = 16777216" in str(e.value) and "400000000 pixels" in str(e.value)
    assert "\n" not in str(e.value)


def test_two_hour_wav_is_refused_from_its_header(tmp_path):
    long = wav_header(tmp_path / "long.wav", 7200)
    with pytest.raises(CurateError, match=r"lasts 7200.0 s, more than limits.max_audio_seconds = 600"):
        audio_duration(long, "m.csv row 1, audio")
    assert audio_duration(make_wav(tmp_path / "ok.wav", 1.5), "ok") == pytest.approx(1.5, abs=0.01)


def test_limits_are_validated_like_any_setting():
    with pytest.raises(CurateError, match="limits.max_manifest_rows must be an integer >= 1"):
        Limits(max_manifest_rows=0)
    with pytest.raises(CurateError, match="limits.max_audio_seconds must be a number >= 0"):
        Limits(max_audio_seconds=float("nan"))
    assert Limits().max_video_seconds(2.0) == 5.0  # 2 x 2 s + 1 s


def test_ingest_refuses_each_limit_with_the_store_unchanged(workspace, sample_manifest, cli):
    media = sample_manifest.parent
    ws = set_limits(workspace, max_image_pixels=64 * 64 - 1, max_audio_seconds=0.5)
    before = store_counts(ws)
    pd.DataFrame([{"clip_id": "n1", "image": "sample-001.png", "audio": "sample-001.wav"}]).to_csv(
        media / "new.csv", index=False)
    one_line(cli("ingest", media / "new.csv", "-w", ws.root, "--no-progress"),
             "new.csv", "row 1", "image", "64 x 64 = 4096 pixels", "limits.max_image_pixels = 4095")
    ws = set_limits(ws, max_image_pixels=4096)
    one_line(cli("ingest", media / "new.csv", "-w", ws.root, "--no-progress"),
             "row 1", "audio", "lasts 1.0 s", "limits.max_audio_seconds = 0.5")
    assert store_counts(ws) == before


def test_import_refuses_a_candidate_far_longer_than_its_clip(workspace, sample_manifest, cli):
    d = workspace.path("media", "cands")
    make_video(d / "long.mp4", seconds=3.2, fps=10, size=(32, 32))  # clip audio 1 s: at most 2 x 1 + 1 = 3 s
    make_video(d / "ok.mp4", seconds=2.8, fps=10, size=(32, 32))
    before = store_counts(workspace)
    pd.DataFrame([{"clip_id": "sample-001", "method": "m", "video": "ok.mp4"},
                  {"clip_id": "sample-002", "method": "m", "video": "long.mp4"}]).to_csv(d / "c.csv", index=False)
    one_line(cli("import", "candidates", d / "c.csv", "-w", workspace.root, "--no-progress"),
             "c.csv", "row 2", "video lasts 3.2 s", "limit of 3.0 s", "audio lasts 1.0 s",
             "limits.max_video_ratio = 2")
    assert store_counts(workspace) == before
    pd.DataFrame([{"clip_id": "sample-001", "method": "m", "video": "ok.mp4"}]).to_csv(d / "c.csv", index=False)
    assert cli("import", "candidates", d / "c.csv", "-w", workspace.root, "--no-progress").exit_code == 0
    assert store_counts(workspace)[1] == before[1] + 1


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_rows_per_manifest_counted_before_loading(tmp_path, fmt):
    rows = [{"clip_id": f"c{i}", "image": "x.png", "audio": "x.wav"} for i in range(6)]
    path = tmp_path / f"m.{fmt}"
    if fmt == "csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    elif fmt == "jsonl":
        pd.DataFrame(rows).to_json(path, orient="records", lines=True)
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    assert len(read_table(path, ["clip_id"], max_rows=6)) == 6
    with pytest.raises(CurateError, match=r"m\.\w+: 6 rows, more than limits.max_manifest_rows = 5"):
        read_table(path, ["clip_id"], max_rows=5)


def test_a_small_parquet_with_many_rows_is_refused_by_its_footer(tmp_path, monkeypatch):
    """3 M rows of one repeated value compress to a few kB; the footer's count refuses it before any row loads."""
    path = tmp_path / "many.parquet"
    pq.write_table(pa.table({"clip_id": pa.array(["c"] * 3_000_000)}), path, compression="zstd")
    assert path.stat().st_size < 200_000
    monkeypatch.setattr(pd, "read_parquet", lambda *a, **k: pytest.fail("loaded the file"))
    with pytest.raises(CurateError, match="3000000 rows, more than limits.max_manifest_rows = 1000000"):
        read_table(path, ["clip_id"])


def test_ingest_cli_refuses_too_many_rows(workspace, sample_manifest, cli):
    ws = set_limits(workspace, max_manifest_rows=2)
    before = store_counts(ws)
    one_line(cli("ingest", sample_manifest, "-w", ws.root, "--no-progress"),
             sample_manifest.name, "3 rows", "limits.max_manifest_rows = 2")
    assert store_counts(ws) == before


def test_eval_decode_stops_at_the_frame_cap(tmp_path):
    from curation.evaluate.decode import decode

    video = make_video(tmp_path / "v.mp4", seconds=1.2, fps=10, size=(32, 32), audio=False)  # 12 frames
    assert len(decode(video, "cand", audio=False, max_frames=12).frames) == 12
    with pytest.raises(CurateError, match=r"cand: .*v.mp4 has more than 11 frames, the most decoded at once "
                                          r"\(limits.max_decoded_frames\)"):
        decode(video, "cand", audio=False, max_frames=11)


def test_eval_takes_the_frame_cap_from_the_workspace(sqlite_workspace, tmp_path, cli):
    from tests.fixtures.media import make_png

    ws = sqlite_workspace
    d = ws.path("media", "ev")
    d.mkdir(parents=True)
    make_png(d / "c1.png")
    make_wav(d / "c1.wav", seconds=0.4)
    make_video(d / "c1-a.mp4", seconds=0.4, fps=25, size=(32, 32))  # 10 frames
    pd.DataFrame([("c1", "c1.png", "c1.wav")], columns=["clip_id", "image", "audio"]).to_csv(d / "m.csv", index=False)
    assert cli("ingest", d / "m.csv", "-w", ws.root, "--no-progress").exit_code == 0
    pd.DataFrame([("c1", "a", "c1-a.mp4")], columns=["clip_id", "method", "video"]).to_csv(d / "c.csv", index=False)
    assert cli("import", "candidates", d / "c.csv", "-w", ws.root, "--no-progress").exit_code == 0
    args = ("eval", "-w", ws.root, "--methods", "a", "--metrics", "ssim", "--out", tmp_path / "e")
    ws = set_limits(ws, max_decoded_frames=9)
    one_line(cli(*args), "a/c1", "c1-a.mp4 has more than 9 frames", "(limits.max_decoded_frames)")
    set_limits(ws, max_decoded_frames=10)
    assert cli(*args).exit_code == 0
