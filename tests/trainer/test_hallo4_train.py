"""A converted Hallo4 run trains end to end: the cache writes the VACE context latents as upstream builds them (an
all-zero source video under an all-ones mask, so one entry shared by every clip) and ``train-dpo --init`` takes a
step on them."""

from __future__ import annotations

import json
import math

import torch
from safetensors.torch import load_file

from tests.trainer.hallo4_run import FRAMES, HEIGHT, WIDTH, converted_run, hallo4_cfg, skeleton_manifest


def _vae_of_zeros(vae_path) -> torch.Tensor:
    """VAE(zeros) normalised by hand: diffusers' encoder mean, then (z - latents_mean) / latents_std per channel."""
    from diffusers import AutoencoderKLWan

    vae = AutoencoderKLWan.from_pretrained(vae_path).eval()
    with torch.no_grad():
        z = vae.encode(torch.zeros(1, 3, FRAMES, HEIGHT, WIDTH)).latent_dist.mean[0]
    mean = torch.tensor(vae.config.latents_mean).view(-1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(-1, 1, 1, 1)
    return (z - mean) / std


def test_dpo_with_init_on_a_converted_hallo4_run_caches_vace_latents_and_steps(tmp_path, capsys):
    from trainer.run import run

    h4 = converted_run(tmp_path)
    manifest = skeleton_manifest(tmp_path / "data")
    cfg = hallo4_cfg(h4, tmp_path)
    line = run(cfg, manifest, None, resume=False, prepare_only=False, progress=False)
    assert line.startswith("Trained 1 steps")
    assert "vocal separation skipped: `vocal_separator` is not set" in capsys.readouterr().out

    cache = tmp_path / "cache"
    entries = sorted((cache / "vace").glob("*.safetensors"))
    assert len(entries) == 1  # clip-independent: one entry for both clips
    index = json.loads((cache / "index.json").read_text())
    assert {p["vace"] for p in index["pairs"].values()} == {f"vace/{entries[0].stem}"}
    got = load_file(str(entries[0]))["vace_latents"]
    zeros = _vae_of_zeros(tmp_path / "vae4")
    assert got.shape == (8, 3, HEIGHT // 8, WIDTH // 8)  # [inactive ; reactive], 2 x 4 channels, 3 latent frames
    torch.testing.assert_close(got, torch.cat([zeros, zeros]), rtol=1e-5, atol=1e-5)
    # the skeleton goes to pose_proj: each of its frames VAE-encoded alone
    skel = load_file(str(cache / f"{index['pairs']['p0']['skeleton']}.safetensors"))["latents"]
    assert skel.shape == (FRAMES, 4, HEIGHT // 8, WIDTH // 8)

    rows = [json.loads(line) for line in (tmp_path / "dpo" / "logs" / "metrics.jsonl").read_text().splitlines()]
    # --init: policy == reference at step 0 (the LoRA starts at zero), so the sigmoid loss is ln 2
    assert math.isclose(rows[0]["loss"], math.log(2), rel_tol=1e-4)
    assert (tmp_path / "dpo" / "final" / "lora").is_dir()

    # the DPO run samples: its --init model (VACE + motion) with its LoRA, a skeleton per clip
    from trainer.generation.clip import sample_clip
    from trainer.generation.run_loader import load_run
    from trainer.generation.settings import SampleConfig

    trained = load_run(tmp_path / "dpo")
    assert trained.vace and trained.has_skeleton and getattr(trained.model, "peft_config", None)
    media = tmp_path / "data" / "media"
    meta = sample_clip(trained, SampleConfig(steps=1, guidance_text=1.0, guidance_audio=1.0), media / "c0.png",
                       media / "c0.wav", None, tmp_path / "s.mp4", skeleton=media / "c0_pose.mp4")
    assert (tmp_path / "s.mp4").is_file() and meta["frames"] == 15


def test_a_vace_run_without_the_cache_entry_is_named(tmp_path):
    """The adapter refuses a VACE model's batch without vace_latents in one line (not a shape error deep inside)."""
    import pytest

    from trainer.models import load_trained, make_denoiser

    h4 = converted_run(tmp_path)
    model = load_trained("wan", "", h4 / "final").eval()
    x = torch.zeros(1, 4, 3, 4, 6)
    cond = {"encoder_hidden_states": torch.zeros(1, 8, 16), "ref_latents": torch.zeros(1, 4, 1, 4, 6)}
    with pytest.raises(ValueError, match="needs vace_latents"):
        make_denoiser("wan", "vace")(model, x, torch.tensor([500.0]), cond)


def test_a_missing_vocal_separator_is_named_before_the_cache_fills(tmp_path):
    import pytest

    from storage.errors import CurateError
    from trainer.run import run

    h4 = converted_run(tmp_path)
    manifest = skeleton_manifest(tmp_path / "data", n_pairs=1)
    cfg = hallo4_cfg(h4, tmp_path, vocal_separator=str(tmp_path / "Kim_Vocal_2.onnx"))
    with pytest.raises(CurateError, match="Kim_Vocal_2.onnx: no such file"):
        run(cfg, manifest, None, resume=False, prepare_only=True, progress=False)
    assert not (tmp_path / "cache" / "index.json").exists()


def test_a_skeleton_that_does_not_fit_its_audio_is_named_before_anything_is_encoded(tmp_path):
    import pandas as pd
    import pytest

    from storage.errors import CurateError
    from tests.fixtures.media import make_video
    from tests.fixtures.trainer_data_media import write_manifest
    from trainer.run import run

    h4 = converted_run(tmp_path)
    manifest = skeleton_manifest(tmp_path / "data", n_pairs=2)
    short = make_video(tmp_path / "data" / "media" / "short.mp4", seconds=0.4, fps=25, size=(96, 64), audio=False)
    rows = pd.read_parquet(manifest).to_dict("records")
    rows[1]["skeleton"] = "media/short.mp4"
    write_manifest(manifest, rows)
    with pytest.raises(CurateError) as e:
        run(hallo4_cfg(h4, tmp_path), manifest, None, resume=False, prepare_only=True, progress=False)
    msg = str(e.value)
    assert "\n" not in msg and "row 2" in msg and str(short) in msg and "0.40 s" in msg
    assert not list((tmp_path / "cache").rglob("*.safetensors"))  # nothing encoded


def test_a_set_vocal_separator_feeds_wav2vec2_the_separated_vocals(tmp_path, capsys):
    """A stand-in MDX-Net model of Kim_Vocal_2's signature that outputs zeros: the cached audio features are
    wav2vec2's of silence, under other cache keys than the unseparated audio's."""
    from transformers import Wav2Vec2Model

    from tests.fixtures.vocal_models import mdx_model
    from tests.trainer.hallo4_run import FIX
    from trainer.cache import CacheSettings
    from trainer.encoders import clip_audio_condition
    from trainer.run import run

    h4 = converted_run(tmp_path)
    manifest = skeleton_manifest(tmp_path / "data", n_pairs=1)
    silent = mdx_model(tmp_path / "Kim_Vocal_2.onnx", gain=0.0)
    cache = tmp_path / "cache"

    def audio_entry(**overrides):
        run(hallo4_cfg(h4, tmp_path, **overrides), manifest, None, resume=False, prepare_only=True, progress=False)
        index = json.loads((cache / "index.json").read_text())
        key = index["pairs"]["p0"]["audio"]
        return key, load_file(str(cache / f"{key}.safetensors"))["audio_embeds"], index["settings"]

    key, got, settings = audio_entry(vocal_separator=str(silent))
    assert f"vocal separation: the vocals of each audio by {silent}" in capsys.readouterr().out
    encoder = Wav2Vec2Model.from_pretrained(FIX / "wav2vec2").eval()
    s = CacheSettings(**settings)
    silence = clip_audio_condition(encoder, torch.zeros(round(s.num_frames / s.fps * 16000)), s)
    torch.testing.assert_close(got, silence, rtol=1e-5, atol=1e-5)
    plain_key, plain, _ = audio_entry()
    assert plain_key != key and not torch.allclose(plain, silence, atol=1e-3)
