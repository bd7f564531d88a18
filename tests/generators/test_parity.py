"""Each finding of reference/upstream-parity.md "Baseline adapters", against fakes that behave like the upstreams.

Every test here failed on the adapters before they staged their inputs (they crashed, mis-fed or distorted) and
passes now; the upstream file and line each fake mirrors is named in the fake itself.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.generators_ws import FAKES, fake_settings, requests_for


def _build(method: str, root: Path, **extra):
    from generators.registry import build

    return build(method, fake_settings(method, **extra), root)


def _probe(path: Path):
    from storage.media import probe_video

    return probe_video(path, "raw")


def _ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


def _weights_without(tmp_path: Path, method: str, *names: str) -> Path:
    """A copy of the fake weights folder with ``names`` removed."""
    dst = tmp_path / f"{method}_weights"
    shutil.copytree(FAKES / f"{method}_weights", dst)
    for name in names:
        p = dst / name
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return dst


def _with(r, **kw):
    return r.__class__(**{**r.__dict__, **kw})


# --- SadTalker ------------------------------------------------------------------------------


@pytest.mark.parametrize("preprocess, name", [("crop", "mapping_00229-model.pth.tar"), ("full", "mapping_00109-model.pth.tar")])
def test_sadtalker_check_names_the_mapping_net(tmp_path, preprocess, name):
    weights = _weights_without(tmp_path, "sadtalker", name)
    missing = _build("sadtalker", tmp_path, weights=str(weights), preprocess=preprocess).check()
    assert any(name in m and f"--preprocess {preprocess}" in m for m in missing)


# --- AniPortrait ----------------------------------------------------------------------------


def test_aniportrait_default_config_survives_short_clips(tmp_path):
    """No pose_temp set: the checkout's template is used, so <= 5 s clips do not IndexError the batch."""
    gen = _build("aniportrait", tmp_path, width=64, height=64)
    assert gen.config.pose_temp == FAKES / "aniportrait" / "configs" / "inference" / "head_pose_temp" / "pose_temp.npy"
    results = gen.generate(requests_for(tmp_path / "in", seconds=(1.0, 2.0)), tmp_path / "work")
    assert [r.error for r in results] == [None, None]
    assert [_probe(r.raw_path).frame_count for r in results] == [30, 60]  # 30 fps, as upstream renders


def test_aniportrait_check_names_a_missing_template(tmp_path):
    missing = _build("aniportrait", tmp_path, width=64, height=64, pose_temp=str(tmp_path / "none.npy")).check()
    assert any("pose_temp" in m and "none.npy" in m for m in missing)


@pytest.mark.parametrize("settings, words", [({"fps": 25}, "30 fps"), ({"width": 512, "height": 768}, "distorted")])
def test_aniportrait_settings_upstream_cannot_honour_are_refused(tmp_path, settings, words):
    from storage.errors import CurateError

    with pytest.raises(CurateError, match=words):
        _build("aniportrait", tmp_path, **settings)


def test_aniportrait_non_square_portrait_is_cropped_not_stretched(tmp_path):
    from PIL import Image

    reqs = requests_for(tmp_path / "in", seconds=(1.0,))
    Image.new("RGB", (80, 100), (10, 20, 30)).save(reqs[0].image_path)
    (res,) = _build("aniportrait", tmp_path, width=64, height=64).generate(reqs, tmp_path / "work")
    assert res.ok
    with Image.open(tmp_path / "work" / "seed42" / "inputs" / "j10.png") as im:
        assert im.size == (80, 80)


# --- EchoMimic-v2 ---------------------------------------------------------------------------


def test_echomimic_non_wav_audio_is_staged_as_wav(tmp_path):
    """Upstream finds audio by '.wav' in its path: an m4a first clip was a NameError for the batch."""
    import yaml

    reqs = requests_for(tmp_path / "in", seconds=(1.0, 1.0))
    m4a = tmp_path / "in" / "voice0.m4a"
    _ffmpeg("-i", str(reqs[0].audio_path), "-c:a", "aac", str(m4a))
    reqs[0] = _with(reqs[0], audio_path=m4a)
    results = _build("echomimic_v2", tmp_path).generate(reqs, tmp_path / "work")
    assert [r.error for r in results] == [None, None]
    cases = yaml.safe_load((tmp_path / "work" / "seed42" / "infer_acc.yaml").read_text())["test_cases"]
    assert sorted(Path(audio).name for audio, _ in cases.values()) == ["j10.wav", "j11.wav"]
    import wave

    with wave.open(str(tmp_path / "work" / "seed42" / "inputs" / "j10.wav")) as w:
        assert (w.getsampwidth(), w.getframerate()) == (2, 16000)


@pytest.mark.parametrize("size", [512, 1024])
def test_echomimic_size_other_than_the_pose_canvas_is_refused(tmp_path, size):
    from storage.errors import CurateError

    with pytest.raises(CurateError, match="768"):
        _build("echomimic_v2", tmp_path, size=size)


def test_echomimic_check_names_every_weight_infer_acc_loads(tmp_path):
    names = ("denoising_unet_acc.pth", "motion_module_acc.pth", "pose_encoder.pth", "sd-image-variations-diffusers",
             "audio_processor/tiny.pt")
    weights = _weights_without(tmp_path, "echomimic_v2", *names)
    missing = "\n".join(_build("echomimic_v2", tmp_path, weights=str(weights)).check())
    for name in names:
        assert name in missing


# --- Hallo3 ---------------------------------------------------------------------------------


def test_hallo3_portrait_is_staged_square_so_the_face_is_not_cut(tmp_path):
    """A 4:5 portrait was centre-cropped by upstream to 480x720 landscape; staged square it stays whole."""
    from PIL import Image

    reqs = requests_for(tmp_path / "in", seconds=(1.0,))
    Image.new("RGB", (80, 100), (10, 20, 30)).save(reqs[0].image_path)
    (res,) = _build("hallo3", tmp_path).generate(reqs, tmp_path / "work")
    assert res.ok and (_probe(res.raw_path).width, _probe(res.raw_path).height) == (480, 480)


def test_a_crash_inside_the_batch_fails_only_clips_without_an_output(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_CRASH_AFTER", "1")
    results = _build("hallo3", tmp_path).generate(requests_for(tmp_path / "in", seconds=(1.0, 1.0)), tmp_path / "work")
    results.sort(key=lambda r: r.job_id)
    assert results[0].ok
    assert not results[1].ok and results[1].error.endswith("RuntimeError: CUDA error: an illegal memory access was encountered")
    assert "\n" not in results[1].error


# --- Hallo4 ---------------------------------------------------------------------------------


def _skeleton(path: Path, seconds: float, fps: int) -> Path:
    from tests.fixtures.media import make_video

    return make_video(path, seconds=seconds, fps=fps, size=(32, 32), audio=False)


def test_hallo4_webm_skeleton_is_staged_as_mp4(tmp_path):
    """Upstream's key is basename[:-4]: 'j10.webm' gave 'j10.', and the output was 'missing'."""
    src = _skeleton(tmp_path / "pose.mp4", 1.2, 25)
    webm = tmp_path / "pose.webm"
    _ffmpeg("-i", str(src), "-c:v", "libvpx-vp9", "-deadline", "realtime", str(webm))
    reqs = [_with(r, skeleton_path=webm) for r in requests_for(tmp_path / "in", seconds=(1.0,))]
    (res,) = _build("hallo4", tmp_path).generate(reqs, tmp_path / "work")
    assert res.ok and res.raw_path.name == "j10_out_video.mp4"


def test_hallo4_skeleton_is_retimed_to_25_fps(tmp_path):
    """Upstream reads skeleton frames as they are: 2 s at 10 fps (20 frames) made a 0.8 s video."""
    skel = _skeleton(tmp_path / "pose.mp4", 2.0, 10)
    reqs = [_with(r, skeleton_path=skel) for r in requests_for(tmp_path / "in", seconds=(2.0,))]
    (res,) = _build("hallo4", tmp_path).generate(reqs, tmp_path / "work")
    assert res.ok and abs(_probe(res.raw_path).frame_count - 50) <= 1


def test_hallo4_check_names_encoder_files(tmp_path):
    names = ("Wan2.1_Encoders/config.json", "Wan2.1_Encoders/google/umt5-xxl", "Wan2.1_Encoders/Wan2.1_VAE.pth",
             "Wan2.1_Encoders/models_t5_umt5-xxl-enc-bf16.pth")
    weights = _weights_without(tmp_path, "hallo4", *names)
    missing = "\n".join(_build("hallo4", tmp_path, weights=str(weights)).check())
    for name in names:
        assert name in missing


def test_hallo4_extends_pythonpath(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/opt/extra-packages")
    skel = _skeleton(tmp_path / "pose.mp4", 1.0, 25)
    reqs = [_with(r, skeleton_path=skel) for r in requests_for(tmp_path / "in", seconds=(1.0,))]
    (res,) = _build("hallo4", tmp_path).generate(reqs, tmp_path / "work")
    assert res.ok
    log = (tmp_path / "work" / "upstream.log").read_text()
    assert f"PYTHONPATH={FAKES / 'hallo4'}:/opt/extra-packages" in log


def test_hallo4_portrait_canvas_is_refused(tmp_path):
    from storage.errors import CurateError

    with pytest.raises(CurateError, match="832\\*480"):
        _build("hallo4", tmp_path, size="832*480")


# --- staging, shared ------------------------------------------------------------------------


def test_staged_files_are_in_the_log_and_a_bad_input_refuses_only_its_clip(tmp_path):
    reqs = requests_for(tmp_path / "in", seconds=(1.0, 1.0))
    broken = tmp_path / "in" / "broken.mp3"
    broken.write_bytes(b"not audio at all")
    reqs[1] = _with(reqs[1], audio_path=broken)
    by_job = {r.job_id: r for r in _build("hallo3", tmp_path).generate(reqs, tmp_path / "work")}
    assert by_job[10].ok
    assert not by_job[11].ok and str(broken) in by_job[11].error and "\n" not in by_job[11].error
    log = (tmp_path / "work" / "upstream.log").read_text()
    assert "staged j10" in log and str(reqs[0].image_path) in log


def test_skeleton_that_cannot_be_decoded_is_refused(tmp_path):
    bad = tmp_path / "pose.mp4"
    bad.write_bytes(b"nope")
    reqs = [_with(r, skeleton_path=bad) for r in requests_for(tmp_path / "in", seconds=(1.0,))]
    (res,) = _build("hallo4", tmp_path).generate(reqs, tmp_path / "work")
    assert not res.ok and "skeleton" in res.error and str(bad) in res.error



# --- normalisation: one framing rule for every method ---------------------------------------


@pytest.mark.parametrize("width, height", [(720, 480), (832, 480), (480, 480), (384, 480)])
def test_every_aspect_is_centre_cropped_the_same_way(tmp_path, width, height):
    """Hallo3's 720x480, Hallo4's 832x480 or any other raw aspect: centre crop to the target, no bars.

    The raw frame is red outside the centred box of the target's aspect and blue inside; the
    normalised candidate must be all blue: nothing of the upstream's own framing survives.
    """
    import decord

    from curation.demo.media import speech_like, write_wav
    from generators.normalize import crop_box, normalize_video
    from generators.normalize_config import NormalizeConfig
    from tests.fixtures.fake_upstreams._fake_video import write_mp4

    cfg = NormalizeConfig(fps=25, width=64, height=64, max_seconds=10)
    x1, y1, x2, y2 = crop_box(width, height, cfg.width, cfg.height)
    raw = tmp_path / "raw.mp4"
    write_mp4(raw, width, height, 25, 25, panels=[(0, 0, width, height, (220, 30, 30)),
                                                  (x1, y1, x2 - x1, y2 - y1, (30, 30, 220))])
    wav = write_wav(tmp_path / "a.wav", speech_like(1.0, seed=0))
    norm = normalize_video(raw, wav, tmp_path / "out.mp4", cfg, 1.0)
    frame = decord.VideoReader(str(norm.path))[5].asnumpy().astype(int)
    assert (frame.shape[1], frame.shape[0]) == (64, 64)
    r, _g, b = frame[:, 2:-2].reshape(-1, 3).mean(axis=0)  # edges included: bars or side remnants would show
    assert b > 170 and r < 70
