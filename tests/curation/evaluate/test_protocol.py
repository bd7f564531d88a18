"""The protocol block (summary.json, Parquet metadata, --protocol) and the torchvision guard."""

from __future__ import annotations

import hashlib
import json
import sys

import pyarrow.parquet as pq

from tests.fixtures.media import make_video


def test_protocol_is_printed_with_weight_hashes(cli, tmp_path):
    import tomli_w

    from storage.workspace import init

    ws = init(tmp_path / "ws")
    ws.path("w").mkdir()
    ws.path("w", "i3d.pt").write_bytes(b"i3d weights")
    data = ws.config.to_toml()
    data["eval"].update(i3d="w/i3d.pt", fvd_clips="all")
    ws.config_path.write_text(tomli_w.dumps(data))
    r = cli("eval", "-w", ws.root, "--protocol")
    assert r.exit_code == 0, r.output
    block = json.loads(r.output)
    assert list(block) == ["sync", "fid", "fvd", "psnr", "ssim", "lpips", "hands"]
    assert block["fvd"]["weights"][0]["sha256"] == hashlib.sha256(b"i3d weights").hexdigest()
    assert "every non-overlapping" in block["fvd"]["preprocessing"]
    assert block["fid"]["weights"][0]["sha256"] is None  # not set
    assert "FALLBACK" in block["sync"]["detector"] and block["sync"]["preprocessing"]["tracks"]["standard"]
    assert "ffmpeg -ac 1 -ar 16000" in block["sync"]["preprocessing"]["audio"]
    assert "5-px border" in block["ssim"]["preprocessing"]
    r = cli("eval", "-w", ws.root, "--protocol", "--metrics", "ssim")
    assert list(json.loads(r.output)) == ["ssim"]


def test_protocol_is_in_summary_and_parquet_metadata(cli, tmp_path, monkeypatch):
    make_video(tmp_path / "ref" / "c1.mp4", seconds=0.4, size=(32, 32), seed=1)
    make_video(tmp_path / "gen" / "m" / "c1.mp4", seconds=0.4, size=(32, 32), seed=2)
    monkeypatch.chdir(tmp_path)
    r = cli("eval", "--videos", "gen", "--reference", "ref", "--out", "out", "--metrics", "psnr,ssim", "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary["protocol"]) == {"psnr", "ssim"}
    meta = pq.read_schema(tmp_path / "out" / "per_clip.parquet").metadata
    stored = json.loads(meta[b"portrait_curate"])["curate_eval"]
    assert stored["protocol"] == summary["protocol"]


def test_a_broken_torchvision_fails_in_one_line(cli, tmp_path, monkeypatch):
    fake = tmp_path / "site" / "torchvision"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise RuntimeError("operator torchvision::nms does not exist")\n')
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "torchvision", raising=False)
    monkeypatch.chdir(tmp_path)
    r = cli("eval", "--videos", ".", "--metrics", "psnr")
    assert r.exit_code == 1 and "Traceback" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "torchvision is installed but does not import" in lines[0]
    assert "torchvision::nms does not exist" in lines[0]


def test_the_eval_extra_never_pulls_torchvision():
    """Neither the [eval] extra nor anything its installed packages require names torchvision."""
    import re
    from importlib.metadata import PackageNotFoundError, requires
    from pathlib import Path

    import tomllib

    extra = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["eval"]
    name = lambda req: re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-")
    seen, todo = set(), [name(r) for r in extra]
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        try:
            reqs = requires(dist) or []
        except PackageNotFoundError:
            continue
        todo += [name(r) for r in reqs if "extra ==" not in r]  # only what installs by default
    assert "torchmetrics" in seen and "torch" in seen
    assert "torchvision" not in seen
