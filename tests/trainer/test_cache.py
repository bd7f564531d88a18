"""The latent cache (trainer/cache.py) with tiny real models and real media: shapes, normalisation, reuse
across runs (counted VAE calls), interruption, and the dataset built on top of it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from torch.testing import assert_close

from tests.fixtures.trainer_data_media import make_pair_manifest
from tests.fixtures.trainer_data_models import CountingEncode, tiny_image_vae, tiny_wan_vae, tiny_wav2vec2
from trainer.cache import CacheSettings, entry_path, load_entry, prepare_cache
from trainer.data import PairDataset, collate_pairs, validate_manifest
from trainer.encoders import encode_pixels
from trainer.media_decode import _fit, decode_clip_frames, frame_indices, read_audio

WAN = {"frames_rule": "4k+1", "num_frames": 9, "height": 32, "width": 32, "fps": 16.0, "text_shape": (6, 32),
       "progress": False}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache_media")
    return validate_manifest(make_pair_manifest(folder, n_pairs=2), roots=[])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"wan": tiny_wan_vae(root / "wan"), "kl": tiny_image_vae(root / "kl"), "w2v": tiny_wav2vec2(root / "w2v")}


def test_frame_indices_by_hand():
    """10 source frames at 25 fps, 9 output frames at 16 fps: times i/16 -> source floor(i * 25/16) =
    0, 1, 3, 4, 6, 7, 9, 10 -> 9 (past the end: last frame), 12 -> 9."""
    assert frame_indices(10, 25.0, 9, 16.0) == [0, 1, 3, 4, 6, 7, 9, 9, 9]
    assert frame_indices(50, 25.0, 5, 25.0) == [0, 1, 2, 3, 4]


def test_fit_scales_to_cover_and_crops_the_centre():
    """A 32 (h) x 40 (w) frame whose pixel value is its column, fitted to 32 x 32: no scaling (32/32 = 1 covers),
    crop columns 4..35, so the first output column holds 4 -> 4/127.5 - 1."""
    col = torch.arange(40, dtype=torch.uint8).repeat(32, 1)
    frames = col.expand(1, 3, 32, 40)
    out = _fit(frames, CacheSettings(num_frames=1, frames_rule="n", height=32, width=32))
    assert out.shape == (1, 3, 32, 32)
    assert_close(out[0, 0, 0, :3], torch.tensor([4, 5, 6]) / 127.5 - 1)
    # 16 x 16 target from 32 x 40: scale max(0.5, 0.4) = 0.5 -> 16 x 20, crop 2 columns each side
    assert _fit(frames, CacheSettings(num_frames=1, frames_rule="n", height=16, width=16)).shape == (1, 3, 16, 16)


def test_wan_prepare_shapes_normalisation_and_reuse(manifest, models, tmp_path):
    vae, w2v = models["wan"], models["w2v"]
    counter = CountingEncode(vae)
    audio_calls = CountingEncode(w2v, "forward")
    pairs = prepare_cache(manifest, vae, tmp_path, audio_encoder=w2v, **WAN)
    # 4 videos + 2 reference images through the VAE, 2 audio tracks through wav2vec2
    assert (counter.calls, audio_calls.calls) == (6, 2)
    keys = pairs["p0"]
    assert keys["winner"] != keys["loser"] and keys["text"] is None
    z = load_entry(tmp_path, keys["winner"])["latents"]
    assert z.shape == (16, 3, 4, 4)  # T' = 1 + (9 - 1) / 4, 32 / 8
    assert load_entry(tmp_path, keys["image"])["latents"].shape == (16, 1, 4, 4)
    # frame-aligned: one feature per video frame, +-2 neighbours, wav2vec2's width (trainer.motion.audio_features)
    assert load_entry(tmp_path, keys["audio"])["audio_embeds"].shape == (9, 5, 16)
    # normalisation: (posterior mean - latents_mean) / latents_std, per channel
    s = CacheSettings(num_frames=9, height=32, width=32, fps=16.0)
    with torch.no_grad():
        raw = vae.encode(decode_clip_frames(manifest.at[0, "winner_video"], s)[None]).latent_dist.mean[0]
    mean = torch.tensor(vae.config.latents_mean).view(16, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(16, 1, 1, 1)
    assert_close(z, (raw - mean) / std, atol=1e-5, rtol=1e-5)
    # a second prepare with the same settings encodes nothing and returns the same keys
    counter.calls = audio_calls.calls = 0
    assert prepare_cache(manifest, vae, tmp_path, audio_encoder=w2v, **WAN) == pairs
    assert (counter.calls, audio_calls.calls) == (0, 0)
    # another frame count is another entry: the 4 videos are encoded again, and the audio (its window is
    # num_frames / fps seconds); the reference images do not depend on it and are reused
    prepare_cache(manifest, vae, tmp_path, audio_encoder=w2v, **{**WAN, "num_frames": 5})
    assert (counter.calls, audio_calls.calls) == (4, 2)


def test_dataset_over_a_real_cache(manifest, models, tmp_path):
    pairs = prepare_cache(manifest, models["wan"], tmp_path, audio_encoder=models["w2v"], **WAN)
    ds = PairDataset(manifest, tmp_path)  # reads index.json
    batch = collate_pairs([ds[0], ds[1]])
    assert batch["latents_w"].shape == batch["latents_l"].shape == (2, 16, 3, 4, 4)
    assert batch["cond"]["encoder_hidden_states"].shape == (2, 6, 32)
    assert batch["cond"]["ref_latents"].shape == (2, 16, 1, 4, 4)
    assert batch["cond"]["audio_embeds"].shape[0] == 2
    assert_close(batch["latents_l"][1], load_entry(tmp_path, pairs["p1"]["loser"])["latents"])
    assert json.loads((tmp_path / "index.json").read_text())["settings"]["num_frames"] == 9


def test_interrupted_prepare_resumes(manifest, models, tmp_path):
    """The VAE fails on its 3rd call: two entries are whole, nothing else is written; a stale temp file of a dead
    process is removed by the next prepare, which encodes only the 4 missing items."""
    vae = models["wan"]
    real = vae.encode
    calls = {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    vae.encode = flaky
    try:
        with pytest.raises(KeyboardInterrupt):
            prepare_cache(manifest, vae, tmp_path, **WAN)
    finally:
        del vae.encode  # back to the class method
    done = sorted(p.name for p in tmp_path.rglob("*.safetensors"))
    assert len(done) == 2 and not list(tmp_path.rglob("*.tmp")) and not (tmp_path / "index.json").exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          check=True, capture_output=True, text=True)
    stale = tmp_path / "video" / f"deadbeef.safetensors.{dead.stdout.strip()}.tmp"
    stale.write_bytes(b"half a file")
    counter = CountingEncode(vae)
    pairs = prepare_cache(manifest, vae, tmp_path, **WAN)
    assert counter.calls == 4 and not stale.exists()
    assert all(entry_path(tmp_path, pairs[p][r]).is_file() for p in pairs for r in ("winner", "loser", "image"))
    del vae.encode


def test_image_vae_frames_and_scaling(manifest, models, tmp_path):
    """AutoencoderKL: frames encoded one by one (rule "n", 3 frames), latents (z - shift_factor) * scaling_factor."""
    vae = models["kl"]
    pairs = prepare_cache(manifest, vae, tmp_path, **{**WAN, "frames_rule": "n", "num_frames": 3})
    z = load_entry(tmp_path, pairs["p1"]["winner"])["latents"]
    assert z.shape == (4, 3, 16, 16)
    frames = decode_clip_frames(manifest.at[1, "winner_video"], CacheSettings("n", 3, 32, 32, 16.0))
    with torch.no_grad():
        raw = vae.encode(frames.permute(1, 0, 2, 3)).latent_dist.mean  # (T, C, h, w)
    assert_close(z, ((raw - 0.1) * 0.5).permute(1, 0, 2, 3), atol=1e-5, rtol=1e-5)
    assert load_entry(tmp_path, pairs["p1"]["image"])["latents"].shape == (4, 1, 16, 16)
    assert encode_pixels(vae, frames).shape == (4, 3, 16, 16)


def test_text_encoder_once_per_prompt(manifest, models, tmp_path):
    """A callable text encoder (the PromptEncoder protocol) runs once per distinct prompt and is cached."""
    seen = []

    def encoder(prompts):
        seen.extend(prompts)
        return torch.full((len(prompts), 3, 8), float(len(prompts[0])))

    encoder.fingerprint = "fake-v1"
    df = manifest.copy()
    df["prompt"] = ["same words", "same words"]
    pairs = prepare_cache(df, models["wan"], tmp_path, text_encoder=encoder, **WAN)
    assert seen == ["same words"] and pairs["p0"]["text"] == pairs["p1"]["text"]
    ds = PairDataset(df, tmp_path)
    assert_close(ds[1]["cond"]["encoder_hidden_states"], torch.full((3, 8), 10.0))
    prepare_cache(df, models["wan"], tmp_path, text_encoder=encoder, **WAN)
    assert seen == ["same words"]


def test_audio_is_16k_mono_window(manifest):
    """0.6 s wav: a 0.5 s window is 8000 samples; a 1 s window zero-pads past 0.6 s."""
    x = read_audio(manifest.at[0, "audio"], 0.5)
    assert x.shape == (8000,) and x.abs().max() > 0
    y = read_audio(manifest.at[0, "audio"], 1.0)
    assert y.shape == (16000,) and y[9700:].abs().max() == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_frames": 8}, "4k\\+1"),
        ({"height": 30}, "multiples of 8"),
        ({"frames_rule": "8k"}, "frames_rule must be one of"),
        ({"text_shape": None}, "text_shape=\\(L, D\\) is needed"),
    ],
)
def test_bad_settings(manifest, models, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        prepare_cache(manifest, models["wan"], tmp_path, **{**WAN, **kwargs})


def test_prompt_encoder_from_a_local_t5(tmp_path):
    """PromptEncoder loads a local T5 encoder + tokenizer; "person 1 talking" is 3 tokens, so of max_length 6
    rows 0-2 equal the encoder's output and rows 3-5 (padding) are zero."""
    from transformers import AutoTokenizer, T5EncoderModel

    from tests.fixtures.trainer_data_models import tiny_t5_encoder
    from trainer.encoders import PromptEncoder, fingerprint

    path = tiny_t5_encoder(tmp_path / "t5")
    enc = PromptEncoder.from_pretrained(path, max_length=6)
    out = enc(["person 1 talking"])
    assert out.shape == (1, 6, 8)
    assert out[0, 3:].abs().max() == 0 and out[0, :3].abs().min() > 0
    model, tok = T5EncoderModel.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    ids = tok(["person 1 talking"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        ref = model(input_ids=ids).last_hidden_state
    assert_close(out[0, :3], ref[0, :3], atol=1e-5, rtol=1e-5)
    assert enc.fingerprint.startswith(fingerprint(model))


def test_i2v_condition_is_the_image_then_grey_frames(manifest, models, tmp_path):
    """i2v=True adds the VAE latent of [image, 8 grey frames] per clip: (16, 3, 4, 4), and because the Wan VAE is
    causal its first latent frame is the image's own latent."""
    vae = models["wan"]
    pairs = prepare_cache(manifest, vae, tmp_path, i2v=True, **WAN)
    y = load_entry(tmp_path, pairs["p0"]["i2v"])["latents"]
    image = load_entry(tmp_path, pairs["p0"]["image"])["latents"]
    assert y.shape == (16, 3, 4, 4)
    assert_close(y[:, :1], image, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(y[:, 1:], image.expand(-1, 2, -1, -1), atol=1e-3)
    assert prepare_cache(manifest, vae, tmp_path, **WAN)["p0"]["i2v"] is None


def test_clip_image_embeddings_for_i2v_models(manifest, models, tmp_path):
    """A tiny CLIPVisionModel (32 px, patch 8: 16 patches + CLS): each reference image's penultimate hidden states,
    (17, 16), equal to running the model on the image resized and normalised by hand."""
    import torch.nn.functional as F
    from transformers import CLIPVisionConfig, CLIPVisionModel

    from trainer.encoders import CLIP_MEAN, CLIP_STD
    from trainer.media_decode import read_image

    torch.manual_seed(0)
    clip = CLIPVisionModel(CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=16, intermediate_size=32,
                                            num_hidden_layers=2, num_attention_heads=2)).eval()
    pairs = prepare_cache(manifest, models["wan"], tmp_path, image_encoder=clip, **WAN)
    emb = load_entry(tmp_path, pairs["p1"]["clip"])["image_embeds"]
    assert emb.shape == (17, 16)
    x = (read_image(manifest.at[1, "image"], CacheSettings(num_frames=1, frames_rule="n", height=32, width=32))[:, 0]
         + 1) / 2
    x = F.interpolate(x[None], size=(32, 32), mode="bilinear", antialias=True, align_corners=False)
    x = (x - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        want = clip(pixel_values=x, output_hidden_states=True).hidden_states[-2][0]
    assert_close(emb, want)
    ds = PairDataset(manifest, tmp_path)
    assert ds[0]["cond"]["image_embeds"].shape == (17, 16)
