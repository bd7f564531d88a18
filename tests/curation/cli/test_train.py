"""``curate train-dpo`` end to end on a tiny manifest of real mp4s: validate, cache, train, resume, errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from tests.fixtures.trainer_data_media import make_pair_manifest
from tests.fixtures.trainer_loop_models import save_tiny_wan, save_tiny_wan_vae


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 2-pair manifest (real mp4s) and a tiny Wan DiT + Wan VAE saved with save_pretrained."""
    root = tmp_path_factory.mktemp("cli")
    manifest = make_pair_manifest(root / "data", n_pairs=2, size=(40, 32))
    return {"manifest": manifest, "wan": save_tiny_wan(root / "wan"), "vae": save_tiny_wan_vae(root / "vae"),
            "root": root}


def _args(t, out, *extra):
    return ["train-dpo", "--manifest", t["manifest"], "--model-kind", "wan", "--transformer", t["wan"],
            "--vae", t["vae"], "--preset", "tiny", "--output", out, "--no-progress", *extra]


def test_help_teaches_and_stays_light():
    code = ("import sys; from curation.cli import main\n"
            "try:\n main(['train-dpo', '--help'])\nexcept SystemExit: pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'LIGHT')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False).stdout
    assert out.strip().endswith("LIGHT")
    for text in ("--model-kind wan", "--model-kind unet", "beta 2500 equals beta 5000", "--resume", "--prepare-only"):
        assert text in out


def test_help_config_lists_every_key(cli):
    from trainer.dpo_config import field_help

    out = cli("train-dpo", "--help-config").output
    assert all(key in out for key in field_help())


def test_end_to_end_train_then_resume(cli, tiny_run, tmp_path):
    out = tmp_path / "run"
    result = cli(*_args(tiny_run, out, "--set", "max_steps=3", "--set", "checkpoint_every=2"))
    assert result.exit_code == 0, result.output
    assert "Trained 3 steps" in result.output
    assert "step 1: loss=0.6931 accuracies=0.5 margins=0" in result.output  # the console log line
    assert list((out / "logs").glob("events.out.tfevents.*"))  # TensorBoard
    assert (out / "final" / "lora" / "pytorch_lora_weights.safetensors").is_file()
    rows = [json.loads(r) for r in (out / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert rows[0]["loss"] == pytest.approx(math.log(2), abs=1e-6)  # fresh LoRA: policy == reference
    cache = tiny_run["manifest"].parent / "latent-cache"
    videos = sorted((cache / "video").glob("*.safetensors"))
    assert len(videos) == 4  # 2 pairs x (winner, loser), each encoded once
    stamps = [p.stat().st_mtime_ns for p in videos]
    # resume with a longer run: continues from the step-3 checkpoint, reuses the cache
    result = cli(*_args(tiny_run, out, "--set", "max_steps=5", "--set", "checkpoint_every=2", "--resume"))
    assert result.exit_code == 0, result.output
    assert "Trained 5 steps" in result.output
    assert [p.stat().st_mtime_ns for p in videos] == stamps
    rows = [json.loads(r) for r in (out / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]


def test_prepare_only_fills_the_cache_and_trains_nothing(cli, tiny_run, tmp_path):
    out, cache = tmp_path / "run", tmp_path / "cache"
    result = cli(*_args(tiny_run, out, "--prepare-only", "--cache-dir", cache))
    assert result.exit_code == 0, result.output
    # tiny preset: 9 frames at 32x32 -> Wan VAE latents (16, 1 + 8/4, 32/8, 32/8)
    assert "Cache ready: 2 pairs" in result.output and "(16, 3, 4, 4)" in result.output
    assert (cache / "index.json").is_file() and not out.exists()


def test_bad_manifest_fails_before_training(cli, tiny_run, tmp_path):
    import pandas as pd

    bad = tmp_path / "bad.parquet"
    pd.read_parquet(tiny_run["manifest"]).drop(columns=["loser_video"]).to_parquet(bad)
    args = _args(tiny_run, tmp_path / "run")
    args[2] = bad
    result = cli(*args)
    assert result.exit_code == 1 and "loser_video" in result.output and "Error" in result.output
    assert not (tmp_path / "run").exists()


def test_unknown_key_and_bad_value_are_errors(cli, tiny_run, tmp_path):
    result = cli(*_args(tiny_run, tmp_path / "run", "--set", "betta=3"))
    assert result.exit_code == 2 and "Unknown config key(s) ['betta']" in result.output
    result = cli(*_args(tiny_run, tmp_path / "run", "--set", "beta=-1"))
    assert result.exit_code == 2 and "`beta` must be > 0. Got -1.0." in result.output


def test_vae_that_does_not_fit_the_denoiser(cli, tiny_run, tmp_path):
    from diffusers import WanTransformer3DModel

    from tests.fixtures.trainer_loop_models import TINY_WAN

    wan4 = tmp_path / "wan4"  # takes 4 latent channels; the Wan VAE makes 16
    WanTransformer3DModel(**{**TINY_WAN, "in_channels": 4, "out_channels": 4}).save_pretrained(wan4)
    args = _args(tiny_run, tmp_path / "run", "--cache-dir", tmp_path / "cache")
    args[args.index("--transformer") + 1] = wan4
    result = cli(*args)
    assert result.exit_code == 1 and "16 channels but the denoiser takes 4" in result.output


def test_model_folder_of_the_wrong_kind(cli, tiny_run, tmp_path):
    from tests.fixtures.trainer_loop_models import save_tiny_unet

    args = _args(tiny_run, tmp_path / "run")
    args[args.index("--transformer") + 1] = save_tiny_unet(tmp_path / "unet")
    result = cli(*args)
    assert result.exit_code == 1 and "holds a UNet2DConditionModel, but model_kind 'wan'" in result.output


def test_unet_kind_end_to_end(cli, tiny_run, tmp_path):
    """The UNet path: AutoencoderKL latents (frames encoded one by one), epsilon targets, frames folded, SFT mode."""
    from tests.fixtures.trainer_loop_models import save_tiny_sd_vae, save_tiny_unet

    out = tmp_path / "run"
    result = cli("train-dpo", "--manifest", tiny_run["manifest"], "--model-kind", "unet",
                 "--unet", save_tiny_unet(tmp_path / "unet"), "--vae", save_tiny_sd_vae(tmp_path / "vae"),
                 "--preset", "tiny", "--set", "num_frames=2", "--set", "max_steps=2", "--set", "reference=frozen_copy",
                 "--mode", "sft", "--cache-dir", tmp_path / "cache", "--output", out, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "Trained 2 steps" in result.output
    from diffusers import UNet2DConditionModel

    UNet2DConditionModel.from_pretrained(out / "final" / "denoiser")  # a diffusers folder that loads back


@pytest.fixture(scope="module")
def w2v(tmp_path_factory):
    from tests.fixtures.trainer_data_models import tiny_wav2vec2

    folder = tmp_path_factory.mktemp("w2v") / "w2v"
    tiny_wav2vec2(folder)
    return folder


def _video_manifest(t, path, **extra):
    """The real clips as a plain video manifest: each pair's winner with its image and audio."""
    import pandas as pd

    rows = pd.read_parquet(t["manifest"])
    df = pd.DataFrame({"clip_id": rows["clip_id"], "video": rows["winner_video"], "image": rows["image"],
                       "audio": rows["audio"], **extra})
    df.to_parquet(path)
    return path


def test_train_sft_audio_phase_then_dpo_from_it(cli, tiny_run, w2v, tmp_path):
    """train-sft --phase audio on a video manifest (real mp4 + wav), then train-dpo --init from that run: the DPO
    run starts at ln 2 (policy == reference == the SFT model) and saves the LoRA beside the SFT motion module."""
    videos = _video_manifest(tiny_run, tiny_run["manifest"].parent / "videos.parquet")
    common = ["--model-kind", "wan", "--transformer", tiny_run["wan"], "--vae", tiny_run["vae"], "--audio-encoder",
              w2v, "--preset", "tiny", "--set", "fps=16", "--no-progress", "--cache-dir", tmp_path / "cache"]
    sft = tmp_path / "sft"
    result = cli("train-sft", "--phase", "audio", "--videos", videos, *common, "--set", "max_steps=2",
                 "--output", sft)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (sft / "final" / "motion").iterdir()) == ["motion.safetensors",
                                                                            "motion_config.json"]
    assert json.loads((sft / "config.json").read_text())["phase"] == "audio"
    dpo = tmp_path / "dpo"
    result = cli("train-dpo", "--init", sft, "--manifest", tiny_run["manifest"], *common, "--set", "max_steps=2",
                 "--output", dpo)
    assert result.exit_code == 0, result.output
    assert "step 1: loss=0.6931" in result.output
    assert (dpo / "final" / "lora").is_dir() and (dpo / "final" / "motion").is_dir()


def test_train_sft_needs_one_manifest_and_a_known_ablation(cli, tiny_run, tmp_path):
    result = cli("train-sft", "--phase", "audio", "--model-kind", "wan", "--transformer", tiny_run["wan"],
                 "--vae", tiny_run["vae"], "--output", tmp_path / "r")
    assert result.exit_code == 2 and "exactly one of --videos" in result.output
    result = cli(*_args(tiny_run, tmp_path / "run", "--set", "audio_ablation=audio/3"))
    assert result.exit_code == 2 and "`audio_ablation` must be one of ['full', 'audio/2', 'audio/4']" in result.output


def test_skeleton_of_the_wrong_shape_is_refused(cli, tiny_run, tmp_path):
    import numpy as np

    folder = tiny_run["manifest"].parent
    np.save(folder / "media" / "bad_skel.npy", np.zeros((9, 18, 2), dtype=np.float32))  # (x, y) without confidence
    np.save(folder / "media" / "good_skel.npy", np.zeros((9, 18, 3), dtype=np.float32))
    videos = _video_manifest(tiny_run, folder / "skel.parquet", skeleton=["media/good_skel.npy", "media/bad_skel.npy"])
    result = cli("train-sft", "--phase", "skeleton", "--videos", videos, "--model-kind", "wan", "--transformer",
                 tiny_run["wan"], "--vae", tiny_run["vae"], "--preset", "tiny", "--output", tmp_path / "run")
    assert result.exit_code == 1
    assert "skel.parquet, row 2, column 'skeleton': keypoints must have shape (T, J, 3)" in result.output
    assert "got (9, 18, 2)" in result.output and "bad_skel.npy" in result.output
