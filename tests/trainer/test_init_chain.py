"""The documented chain with tiny models: train-sft --phase audio --config sft_audio, then train-dpo --init; the
checks that refuse a bad run before any work (encoder folders, --init conflicts, short videos), the reference
images that are not cached when not fed, and the progress bar's name."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from tests.fixtures.trainer_data_media import make_pair_manifest
from tests.fixtures.trainer_loop_models import save_tiny_wan, save_tiny_wan_vae


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """Tiny Wan + Wan VAE + wav2vec2 (4 layers of 16) folders, a 2-pair manifest of real mp4s, and the clips as a
    video manifest."""
    import pandas as pd

    from tests.fixtures.trainer_data_models import tiny_wav2vec2

    root = tmp_path_factory.mktemp("chain")
    manifest = make_pair_manifest(root / "data", n_pairs=2, size=(40, 32))
    rows = pd.read_parquet(manifest)
    videos = root / "data" / "videos.parquet"
    pd.DataFrame({"clip_id": rows["clip_id"], "video": rows["winner_video"], "image": rows["image"],
                  "audio": rows["audio"]}).to_parquet(videos)
    w2v = root / "w2v"
    tiny_wav2vec2(w2v)
    return {"manifest": manifest, "videos": videos, "wan": save_tiny_wan(root / "wan"),
            "vae": save_tiny_wan_vae(root / "vae"), "w2v": w2v, "root": root}


def _models(c, audio=True):
    return ["--model-kind", "wan", "--transformer", c["wan"], "--vae", c["vae"],
            *(["--audio-encoder", c["w2v"]] if audio else []), "--no-progress"]


# sft_audio names preset paper (81 frames at 480 x 832); --preset tiny comes after it, the --set keys last
TINY_SFT = ["--config", "sft_audio", "--preset", "tiny", "--set", "fps=16", "--set", "batch_size=2",
            "--set", "warmup_steps=1", "--set", "max_steps=1"]


@pytest.fixture(scope="module")
def sft_run(chain, tmp_path_factory):
    from click.testing import CliRunner

    from curation.cli import cli as group

    out = tmp_path_factory.mktemp("sft") / "sft"
    args = ["train-sft", "--phase", "audio", "--videos", chain["videos"], *_models(chain), *TINY_SFT,
            "--cache-dir", chain["root"] / "cache", "--output", out]
    result = CliRunner().invoke(group, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["audio_layers"] == "all"
    return out


def test_dpo_from_an_all_layers_sft_run_inherits_audio_layers(cli, chain, sft_run, tmp_path):
    """The documented chain: the DPO run names no audio_layers (default 'last'), takes 'all' from the SFT run and
    trains (it used to stop at its first step on 200x768 @ 9216x1536)."""
    out = tmp_path / "dpo"
    result = cli("train-dpo", "--init", sft_run, "--manifest", chain["manifest"], *_models(chain), "--preset", "tiny",
                 "--set", "fps=16", "--set", "max_steps=1", "--cache-dir", chain["root"] / "cache", "--output", out)
    assert result.exit_code == 0, result.output
    assert "step 1: loss=0.6931" in result.output
    saved = json.loads((out / "config.json").read_text())
    assert saved["audio_layers"] == "all" and saved["audio_window"] == 2


def test_init_conflict_is_refused_before_the_cache(cli, chain, sft_run, tmp_path):
    cache = tmp_path / "cache"
    result = cli("train-dpo", "--init", sft_run, "--manifest", chain["manifest"], *_models(chain), "--preset", "tiny",
                 "--set", "audio_layers=last", "--cache-dir", cache, "--output", tmp_path / "dpo")
    assert result.exit_code == 2
    line = [x for x in result.output.splitlines() if "audio_layers" in x]
    assert len(line) == 1 and "audio_layers 'all'" in line[0] and "audio_layers 'last'" in line[0]
    assert "command line" in line[0] and "Traceback" not in result.output
    assert not cache.exists() and not (tmp_path / "dpo").exists()


def test_init_without_the_audio_encoder_takes_the_runs_and_checks_its_width(cli, chain, sft_run, tmp_path):
    """No --audio-encoder: the SFT run's is used. Another wav2vec2 (width 8 x 4 layers) is refused by width."""
    from trainer.dpo_config import load_config

    cfg = load_config(preset="tiny", overrides={"init_from": str(sft_run), "model_kind": "wan"})
    assert cfg.audio_encoder_path == str(chain["w2v"]) and cfg.audio_layers == "all"
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    other = tmp_path / "w2v8"
    Wav2Vec2Model(Wav2Vec2Config(hidden_size=8, num_hidden_layers=4, num_attention_heads=2, intermediate_size=8,
                                 conv_dim=(8, 8), conv_stride=(5, 2), conv_kernel=(10, 3),
                                 num_conv_pos_embeddings=4, num_conv_pos_embedding_groups=2)).save_pretrained(other)
    with pytest.raises(ValueError, match=r"width 64, but --audio-encoder .* gives 8 \(last layer\) or 4 x 8 = 32"):
        load_config(preset="tiny", overrides={"init_from": str(sft_run), "audio_encoder_path": str(other)})


def test_init_with_an_audio_branch_and_no_encoder_anywhere(cli, chain, sft_run, tmp_path):
    """The init run's config names no encoder (moved machines): the command asks for --audio-encoder."""
    import shutil

    moved = tmp_path / "sft"
    shutil.copytree(sft_run, moved)
    for name in ("config.json", "final/dpo_config.json"):
        saved = json.loads((moved / name).read_text())
        (moved / name).write_text(json.dumps({**saved, "audio_encoder_path": ""}))
    result = cli("train-dpo", "--init", moved, "--manifest", chain["manifest"], *_models(chain, audio=False),
                 "--preset", "tiny", "--cache-dir", tmp_path / "cache", "--output", tmp_path / "dpo")
    assert result.exit_code == 1 and "has an audio branch (audio features of width 64): pass --audio-encoder" \
        in result.output
    assert not (tmp_path / "cache").exists()


def test_a_converted_run_implies_its_settings(tmp_path):
    """A `curate convert hallo4` folder has only motion_config.json: audio_layers follows from the width (12 x 768
    = 9216 with wav2vec2-base), the window from the token count, skeleton_input from the projection."""
    from trainer.init_run import _from_motion, check_audio_width

    motion = {"kind": "wan", "audio_dim": 9216, "audio_projection": "mlp", "audio_window_tokens": 5,
              "audio_ablation": "full", "skeleton_joints": 16, "skeleton_projection": "hallo4",
              "skeleton_fusion": "hallo4", "skeleton_ablation": "full"}
    assert _from_motion(motion) == {"model_kind": "wan", "audio_projection": "mlp", "audio_window": 2,
                                    "audio_ablation": "full", "skeleton_input": "vae", "skeleton_ablation": "full"}
    enc = tmp_path / "w2v"
    enc.mkdir()
    (enc / "config.json").write_text(json.dumps({"model_type": "wav2vec2", "hidden_size": 768,
                                                 "num_hidden_layers": 12}))
    (enc / "model.safetensors").write_bytes(b"")
    assert check_audio_width("run", 9216, str(enc), None) == "all"
    assert check_audio_width("run", 768, str(enc), "all") == "last"


def test_wrong_audio_encoder_is_one_line(cli, chain, tmp_path):
    for bad, expect in ((chain["wan"], "config.json says 'WanTransformer3DModel', but this needs a wav2vec2"),
                        (tmp_path / "wav2vec2-bsae", "no such folder")):
        result = cli("train-sft", "--phase", "audio", "--videos", chain["videos"], *_models(chain, audio=False),
                     "--audio-encoder", bad, "--preset", "tiny", "--output", tmp_path / "r", "--prepare-only")
        assert result.exit_code == 1, result.output
        assert expect in result.output and f"--audio-encoder {bad}" in result.output
        assert "Traceback" not in result.output and "huggingface" not in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_audio_phase_without_encoder_is_an_argument_error(cli, chain, tmp_path):
    result = cli("train-sft", "--phase", "audio", "--videos", chain["videos"], *_models(chain, audio=False),
                 "--preset", "tiny", "--output", tmp_path / "r", "--prepare-only", "--cache-dir", tmp_path / "c")
    assert result.exit_code == 2 and "pass --audio-encoder" in result.output
    assert not (tmp_path / "c").exists()


def test_short_videos_are_counted_or_refused(cli, chain, tmp_path):
    """The clips last 0.4 s at 25 fps = 10 frames; 9 frames at 8 fps reach source frame floor(8 / 8 x 25) = 25, so
    26 are needed: all 4 videos are short."""
    args = ["train-dpo", "--manifest", chain["manifest"], *_models(chain, audio=False), "--preset", "tiny",
            "--output", tmp_path / "r", "--dry-run"]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert "4 of 4 videos are shorter than 9 frames at 8 fps (1.12 s); their last frame repeats" in result.output
    assert "Dry run" in result.output and not (tmp_path / "r").exists()
    result = cli(*args, "--set", "short_videos=refuse")
    assert result.exit_code == 1
    assert "pairs.parquet, row 1, column 'winner_video': the video has 10 frames at 25 fps (0.40 s); 9 frames at " \
           "8 fps need 26 (1.12 s)" in result.output


def test_reference_images_cached_only_when_fed(cli, chain, tmp_path):
    base = ["train-dpo", "--manifest", chain["manifest"], *_models(chain, audio=False), "--preset", "tiny",
            "--output", tmp_path / "r", "--prepare-only"]
    assert cli(*base, "--cache-dir", tmp_path / "none").exit_code == 0
    assert not list((tmp_path / "none" / "image").glob("*.safetensors"))
    assert len(list((tmp_path / "none" / "video").glob("*.safetensors"))) == 4
    assert cli(*base, "--cache-dir", tmp_path / "vace", "--set", "reference_image=vace").exit_code == 0
    assert len(list((tmp_path / "vace" / "image").glob("*.safetensors"))) == 2


def test_progress_bar_names_the_command(cli, chain, tmp_path):
    result = cli("train-sft", "--phase", "audio", "--videos", chain["videos"], *_models(chain)[:-1], "--preset",
                 "tiny", "--set", "fps=16", "--set", "max_steps=1", "--cache-dir", chain["root"] / "cache",
                 "--output", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert "train-sft: 100%" in result.output and "train-dpo" not in result.output


def test_skeleton_message_of_a_converted_branch():
    from trainer.motion.attach import MotionModule
    from trainer.motion.config import MotionConfig

    module = MotionModule(MotionConfig(skeleton_joints=16, skeleton_projection="hallo4", skeleton_fusion="hallo4",
                                       skeleton_stride=2), dim=24, kind="wan")
    with pytest.raises(ValueError, match="needs a rendered skeleton video .* skeleton_input 'vae'"):
        module.tokens(None, None, (4, 4))
