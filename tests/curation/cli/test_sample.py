"""``curate sample`` end to end on a tiny conditioned run: a clip manifest or the workspace's clips in, playable
mp4s with audio out, resumable, and one clean line for each kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from tests.fixtures.sample_run import make_tiny_run

    return make_tiny_run(tmp_path_factory.mktemp("sample-cli"))


def test_help_stays_light():
    code = ("import sys; from curation.cli import main\n"
            "try:\n main(['sample', '--help'])\nexcept SystemExit: pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'LIGHT')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False).stdout
    assert out.strip().endswith("LIGHT") and "--guidance-audio" in out and "overlapping windows" in out


def test_sample_a_manifest_then_resume(cli, tiny_run, tmp_path):
    """Two sample clips of 0.7 s at 16 fps = round(11.2) = 11 frames each, 32x32 (the run's size), audio muxed."""
    from curation.demo.media import make_sample_clips
    from storage.media import probe_video

    manifest = make_sample_clips(tmp_path / "clips", n=2, seconds=0.7, size=48)
    out = tmp_path / "samples"
    result = cli("sample", "--run", tiny_run, "--clips", manifest, "--out", out, "--steps", "2", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "Sampled 2 clip(s), skipped 0" in result.output
    for clip in ("sample-001", "sample-002"):
        p = probe_video(out / f"{clip}.mp4", clip)
        assert (p.frame_count, p.width, p.height, p.has_audio) == (11, 32, 32, True)
        record = json.loads((out / f"{clip}.json").read_text())
        assert record["clip_id"] == clip and record["step"] == "final" and record["settings"]["steps"] == 2
        assert record["run"] == str(tiny_run) and record["window_seeds"] == [42, 43]
    before = (out / "sample-001.mp4").stat().st_mtime_ns
    (out / "sample-002.mp4").unlink()
    result = cli("sample", "--run", tiny_run, "--clips", manifest, "--out", out, "--steps", "2", "--no-progress")
    assert "Sampled 1 clip(s), skipped 1" in result.output
    assert (out / "sample-001.mp4").stat().st_mtime_ns == before and (out / "sample-002.mp4").is_file()


def test_sample_all_clips_of_a_workspace_at_a_step(cli, tiny_run, sqlite_workspace, tmp_path):
    from tests.fixtures.generators_ws import sample_clips

    ids = sample_clips(sqlite_workspace, n=1, seconds=0.5)
    result = cli("sample", "--run", tiny_run, "--step", "2", "--all", "-w", sqlite_workspace.root,
                 "--out", tmp_path / "s", "--steps", "1", "--guidance-text", "1", "--no-progress")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "s" / f"{ids[0]}.json").read_text())["step"] == 2


@pytest.mark.parametrize("extra, message, code", [
    (["--steps", "0"], "`steps` must be an integer in 1..1000. Got 0.", 2),  # a bad setting: usage error
    (["--guidance-audio", "30"], "`guidance_audio` must be a number in [1, 20]. Got 30.0.", 2),
    (["--step", "9"], "step 9 was not saved; saved steps: [2]", 1),  # a run that lacks it: bad input
    (["--scheduler", "ddim"], "`scheduler` 'ddim' does not fit a wan run", 2),
])
def test_bad_input_is_one_line(cli, tiny_run, tmp_path, extra, message, code):
    from tests.fixtures.media import make_png, make_wav

    make_png(tmp_path / "c.png")
    make_wav(tmp_path / "c.wav", seconds=0.5)
    (tmp_path / "clips.csv").write_text("clip_id,image,audio\nc1,c.png,c.wav\n")
    result = cli("sample", "--run", tiny_run, "--clips", tmp_path / "clips.csv", "--out", tmp_path / "o",
                 "--no-progress", *extra)
    assert result.exit_code == code and message in result.output, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_not_a_run_and_a_clip_without_audio(cli, tmp_path, tiny_run):
    from tests.fixtures.media import make_png, make_wav

    make_png(tmp_path / "c.png")
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    make_wav(tmp_path / "c.wav", seconds=0.5)
    (tmp_path / "bad.csv").write_text("clip_id,image,audio\nc1,c.png,bad.wav\n")
    result = cli("sample", "--run", tiny_run, "--clips", tmp_path / "bad.csv", "--out", tmp_path / "o")
    assert result.exit_code == 1 and "bad.csv, row 1, column 'audio': audio does not decode" in result.output
    (tmp_path / "clips.csv").write_text("clip_id,image,audio\nc1,c.png,c.wav\n")
    result = cli("sample", "--run", tmp_path, "--clips", tmp_path / "clips.csv", "--out", tmp_path / "o")
    assert result.exit_code == 1 and f"run {tmp_path}: not a run folder (no config.json" in result.output
    assert not (tmp_path / "o").exists()
    result = cli("sample", "--run", tiny_run, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "exactly one of --clips FILE or --all" in result.output


def test_gpus_deal_clips_to_one_process_each(cli, tiny_run, tmp_path):
    """--gpus 0,1 on a CPU machine: two `python -m trainer.generation` processes (CUDA_VISIBLE_DEVICES 0 and 1, torch
    falls back to the CPU), one clip each; the same files as the in-process path."""
    from curation.demo.media import make_sample_clips
    from storage.media import probe_video

    manifest = make_sample_clips(tmp_path / "clips", n=2, seconds=0.5, size=48)
    out = tmp_path / "samples"
    result = cli("sample", "--run", tiny_run, "--clips", manifest, "--out", out, "--steps", "1", "--gpus", "0,1",
                 "--no-progress")
    assert result.exit_code == 0, result.output
    assert "Sampled 2 clip(s), skipped 0" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["sample-001.json", "sample-001.mp4", "sample-002.json",
                                                     "sample-002.mp4"]
    assert probe_video(out / "sample-002.mp4", "s").frame_count == 8  # round(0.5 * 16)
    assert json.loads((out / "sample-001.json").read_text())["settings"]["steps"] == 1
    result = cli("sample", "--run", tmp_path, "--clips", manifest, "--out", tmp_path / "o2", "--gpus", "0")
    assert result.exit_code == 1 and f"run {tmp_path}: not a run folder" in result.output
    assert not (tmp_path / "o2").exists()
