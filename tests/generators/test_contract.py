"""Each baseline adapter against a fake upstream that mimics its command line, file naming and quirks.

None of this touches the real upstreams (no GPU, no weights here); see docs/generators.md.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.fixtures.generators_ws import FAKES, fake_settings, requests_for


def _build(method: str, tmp_path: Path, **extra):
    from generators.registry import build

    return build(method, fake_settings(method, **extra), tmp_path)


def _probe(path: Path):
    from storage.media import probe_video

    return probe_video(path, "raw")


def _calls(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_hallo3_batch_list_fixed_seed_and_case_folders(tmp_path, monkeypatch):
    """One sample_video.py call for two clips, seed 42 passed, outputs found per case folder."""
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls"))
    reqs = requests_for(tmp_path / "in", seconds=(1.0, 1.6), prompt="Talk @@ about\nit")
    gen = _build("hallo3", tmp_path)
    assert gen.check() == []
    results = gen.generate(reqs, tmp_path / "work")
    assert [r.error for r in results] == [None, None]
    calls = _calls(tmp_path / "calls")
    assert len(calls) == 1 and "--seed 42" in calls[0] and "--input-file" in calls[0]
    listing = (tmp_path / "work" / "seed42" / "input.txt").read_text().splitlines()
    assert listing[0].split("@@")[0] == "Talk about it"  # '@@' and newlines cannot break the list format
    for r, n in zip(results, (25, 40)):
        assert r.raw_path.name == "000000_with_audio.mp4" and r.raw_path.parent.name.endswith("-seed_42")
        assert _probe(r.raw_path).frame_count == n  # 1.0 s and 1.6 s at 25 fps


def test_hallo3_failure_keeps_stderr(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "1")
    reqs = requests_for(tmp_path / "in", seconds=(1.0,))
    (res,) = _build("hallo3", tmp_path).generate(reqs, tmp_path / "work")
    assert not res.ok and "exited with status 1" in res.error and "CUDA out of memory" in res.error


def test_hallo4_unique_skeleton_names_and_skip_logic(tmp_path, monkeypatch):
    """Two clips sharing ONE skeleton file still get two outputs (keyed j<job>), in one call."""
    from tests.fixtures.media import make_video

    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls"))
    skeleton = make_video(tmp_path / "pose.mp4", seconds=1.2, fps=25, size=(32, 32), audio=False)  # 30 frames
    reqs = [r.__class__(**{**r.__dict__, "skeleton_path": skeleton}) for r in requests_for(tmp_path / "in", seconds=(1.0, 2.0))]
    gen = _build("hallo4", tmp_path)
    assert gen.check() == []
    results = gen.generate(reqs, tmp_path / "work")
    assert [r.error for r in results] == [None, None]
    assert len(_calls(tmp_path / "calls")) == 1
    assert [r.raw_path.name for r in results] == ["j10_out_video.mp4", "j11_out_video.mp4"]
    # length = min(skeleton 30 frames, audio): 25 frames for 1 s, 30 for 2 s; a square reference comes
    # back 480x480 (center_crop_width, vace_wan_inference.py:546)
    assert [(p.frame_count, p.width, p.height) for p in map(_probe, (r.raw_path for r in results))] == [(25, 480, 480), (30, 480, 480)]


def test_hallo4_without_skeleton_fails_clearly_and_pth_is_reported(tmp_path):
    reqs = requests_for(tmp_path / "in", seconds=(1.0,))
    (res,) = _build("hallo4", tmp_path).generate(reqs, tmp_path / "work")
    assert "needs a skeleton" in res.error
    gen = _build("hallo4", tmp_path, model_path=str(FAKES / "hallo4_weights" / "hallo4" / "model_weight.pth"))
    assert any(".ckpt or .safetensors" in m for m in gen.check())


def test_sadtalker_one_call_per_clip_isolated_and_inputs_are_copies(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls"))
    reqs = requests_for(tmp_path / "in", seconds=(1.0, 1.0))
    gen = _build("sadtalker", tmp_path, preprocess="full", still=True)
    assert gen.check() == []
    results = gen.generate(reqs, tmp_path / "work")
    assert [r.error for r in results] == [None, None]
    assert len(_calls(tmp_path / "calls")) == 2  # no batch mode upstream
    assert all("--still" in c and "--preprocess full" in c for c in _calls(tmp_path / "calls"))
    # Both clips ran within the same second: separate result dirs keep the timestamp names apart.
    assert results[0].raw_path.parent != results[1].raw_path.parent
    # inference.py:90-91 moves the render to {result_dir}/{YYYY_MM_DD_HH.MM.SS}.mp4, whatever the preprocessing.
    assert all(re.fullmatch(r"\d{4}_\d\d_\d\d_\d\d\.\d\d\.\d\d\.mp4", r.raw_path.name) for r in results)
    # The fake moves its inputs away, as SadTalker does: the clip's own files must survive.
    assert all(r.image_path.is_file() and r.audio_path.is_file() for r in reqs)
    assert _probe(results[0].raw_path).frame_count == 25


def test_aniportrait_yaml_cases_and_generated_panel_cropped(tmp_path, monkeypatch):
    """The grid is (H+4) x (3W+8) = 68 x 200 for 64 px; the blue generated panel is cut out at x = 134."""
    import decord
    import yaml

    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls"))
    reqs = requests_for(tmp_path / "in", seconds=(1.0, 1.0))
    gen = _build("aniportrait", tmp_path, width=64, height=64, fps=30)
    assert gen.check() == []
    results = gen.generate(reqs, tmp_path / "work")
    assert [r.error for r in results] == [None, None]
    assert len(_calls(tmp_path / "calls")) == 1 and "-acc" in _calls(tmp_path / "calls")[0]
    cfg = yaml.safe_load((tmp_path / "work" / "seed42" / "animation_audio.yaml").read_text())
    assert len(cfg["test_cases"]) == 2 and cfg["denoising_unet_path"] == "./pretrained_model/denoising_unet.pth"
    for r in results:
        p = _probe(r.raw_path)
        assert (p.width, p.height, p.frame_count) == (64, 64, 30)
        frame = decord.VideoReader(str(r.raw_path))[0].asnumpy().astype(int)
        r_, g, b = frame[8:56, 8:56].reshape(-1, 3).mean(axis=0)
        assert b > 180 and r_ < 80 and g < 80  # only the generated (blue) panel, no red/green neighbours


def test_echomimic_longest_first_looped_poses_square(tmp_path, monkeypatch):
    """Upstream's -L only shrinks: listed longest first, each case keeps its own length.

    Audio 1.0 s and 2.0 s at 24 fps need 24 and 48 pose files; the demo sequence has 10,
    so the adapter loops it. A non-square image (96x64) is centre-cropped to 64x64 (768 is only
    the generation size: upstream resizes the reference itself).
    """
    import yaml
    from PIL import Image

    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls"))
    reqs = requests_for(tmp_path / "in", seconds=(1.0, 2.0))
    Image.new("RGB", (96, 64), (200, 100, 50)).save(reqs[0].image_path)
    gen = _build("echomimic_v2", tmp_path)
    assert gen.check() == []
    results = gen.generate(reqs, tmp_path / "work")
    assert [r.error for r in results] == [None, None]
    assert len(_calls(tmp_path / "calls")) == 1
    cases = yaml.safe_load((tmp_path / "work" / "seed42" / "infer_acc.yaml").read_text())["test_cases"]
    assert [Path(k).stem for k in cases] == ["j11", "j10"]  # longest first
    assert sorted(p.name for p in (tmp_path / "work" / "seed42" / "poses" / "j11").iterdir()) == sorted(f"{i}.npy" for i in range(48))
    assert (tmp_path / "work" / "seed42" / "poses" / "j11" / "13.npy").read_text() == "pose 3\n"  # 13 % 10
    with Image.open(tmp_path / "work" / "seed42" / "inputs" / "j10.png") as im:
        assert im.size == (64, 64)
    assert [_probe(r.raw_path).frame_count for r in results] == [24, 48]


def test_fantasytalking_driver_loads_once_and_caps_81_frames(tmp_path, monkeypatch):
    """4.0 s at 23 fps would be int(92 // 4) * 4 + 5 = 97 frames; upstream caps it at 81."""
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls"))
    reqs = requests_for(tmp_path / "in", seconds=(1.0, 4.0), size=100)
    gen = _build("fantasytalking", tmp_path)
    assert gen.check() == []
    results = gen.generate(reqs, tmp_path / "work")
    assert [r.error for r in results] == [None, None]
    assert len(_calls(tmp_path / "calls")) == 1  # load_models ran once for both clips
    probes = [_probe(r.raw_path) for r in results]
    # 1.0 s: int(23 // 4) * 4 + 5 = 25 frames; image 100 px -> longest edge 512, a multiple of 16
    assert [(p.frame_count, p.width, p.height) for p in probes] == [(25, 512, 512), (81, 512, 512)]


def test_fantasytalking_one_bad_clip_keeps_the_others(tmp_path):
    reqs = requests_for(tmp_path / "in", seconds=(1.0,))
    bad = reqs[0].__class__(**{**reqs[0].__dict__, "job_id": 99, "prompt": "BROKEN"})
    results = _build("fantasytalking", tmp_path).generate([bad, *reqs], tmp_path / "work")
    assert "fake failure for this clip" in results[0].error and results[1].ok


@pytest.mark.parametrize("method", ["sadtalker", "aniportrait", "echomimic_v2", "fantasytalking", "hallo3", "hallo4"])
def test_check_names_what_is_missing(tmp_path, method):
    from generators.registry import build

    missing = build(method, {"checkout": str(tmp_path / "nope"), "python": str(tmp_path / "nopython")}, tmp_path).check()
    assert any("checkout not found" in m for m in missing)
    assert any("python interpreter not found" in m for m in missing)
    ready = build(method, fake_settings(method), tmp_path).check()
    assert ready == []
    no_python = build(method, {"checkout": str(FAKES / method)}, tmp_path).check()
    assert any("no `python`" in m for m in no_python)


def test_unknown_setting_is_refused(tmp_path):
    from generators.registry import build
    from storage.errors import CurateError

    with pytest.raises(CurateError, match=r"\[generators.hallo3\]: unknown key\(s\) \['chekout'\]"):
        build("hallo3", {"chekout": "/x", "python": sys.executable}, tmp_path)
