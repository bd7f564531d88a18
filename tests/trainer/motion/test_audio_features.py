"""Frame-aligned audio features: resampling onto video frames, the +-w window, the cache entry, short audio."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from storage.errors import CurateError
from tests.fixtures.trainer_data_media import make_pair_manifest
from tests.fixtures.trainer_data_models import tiny_wan_vae, tiny_wav2vec2
from trainer.cache import CacheSettings, load_entry, prepare_cache
from trainer.data import validate_manifest
from trainer.encoders import encode_audio
from trainer.media_decode import read_audio
from trainer.motion.audio_features import audio_condition, frame_align, window

WAN = {"num_frames": 9, "height": 32, "width": 32, "fps": 16.0, "text_shape": (6, 32), "progress": False}


def test_frame_align_maps_interval_onto_interval():
    """2 wav2vec2 frames [0, 10] onto 4 video frames: sample points -0.25, 0.25, 0.75, 1.25 (clamped) ->
    0, 2.5, 7.5, 10."""
    out = frame_align(torch.tensor([[0.0], [10.0]]), 4)
    assert out[:, 0].tolist() == [0.0, 2.5, 7.5, 10.0]
    # extra axes (layers, channels) ride along
    assert frame_align(torch.zeros(7, 3, 5), 9).shape == (9, 3, 5)


def test_window_clamps_at_the_clip_edges():
    c = torch.arange(5.0)[:, None]  # frame t holds t
    out = window(c, 2)
    assert out.shape == (5, 5, 1)
    assert out[0, :, 0].tolist() == [0, 0, 0, 1, 2] and out[4, :, 0].tolist() == [2, 3, 4, 4, 4]
    assert window(c, 0)[:, 0, 0].tolist() == [0, 1, 2, 3, 4]


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio_media")
    root = tmp_path_factory.mktemp("audio_models")
    return {"df": validate_manifest(make_pair_manifest(folder, n_pairs=1), roots=[]),
            "w2v": tiny_wav2vec2(root / "w2v"), "vae": tiny_wan_vae(root / "vae")}


def test_all_layers_go_into_channels(media):
    """A tiny Wav2Vec2Model (4 layers, width 16): C_audio (9, 5, 4 x 16), frame t's centre token is the aligned
    frame t and its layers are laid side by side in layer order."""
    s = CacheSettings(num_frames=9, fps=16.0, audio_layers="all")
    samples = read_audio(media["df"].at[0, "audio"], 9 / 16)
    hidden = encode_audio(media["w2v"], samples, s)  # (La, 4, 16)
    assert hidden.shape[1:] == (4, 16)
    c = audio_condition(hidden, 9, w=2)
    assert c.shape == (9, 5, 64)
    aligned = frame_align(hidden, 9)
    assert torch.equal(c[3, 2, 16:32], aligned[3, 1])  # centre token, layer 1
    assert torch.equal(c[0, 0], aligned[0].reshape(-1))  # edge: frame 0's left neighbours are frame 0


def test_cache_keys_on_window_and_layers(media, tmp_path):
    pairs = prepare_cache(media["df"], media["vae"], tmp_path, audio_encoder=media["w2v"], **WAN)
    wide = prepare_cache(media["df"], media["vae"], tmp_path, audio_encoder=media["w2v"], audio_window=1,
                         audio_layers="all", **WAN)
    assert pairs["p0"]["audio"] != wide["p0"]["audio"] and pairs["p0"]["winner"] == wide["p0"]["winner"]
    assert load_entry(tmp_path, pairs["p0"]["audio"])["audio_embeds"].shape == (9, 5, 16)
    assert load_entry(tmp_path, wide["p0"]["audio"])["audio_embeds"].shape == (9, 3, 64)


def test_audio_shorter_than_the_video_is_refused(media, tmp_path):
    """The fixture's wav lasts 0.6 s; 13 frames at 16 fps need 0.8125 s."""
    with pytest.raises(CurateError, match=r"c0\.wav, column 'audio': the audio lasts 0\.600 s, shorter than the "
                                          r"0\.812 s"):
        prepare_cache(media["df"], media["vae"], tmp_path, audio_encoder=media["w2v"], **{**WAN, "num_frames": 13})
