"""Hallo4's audio features (``audio_features: hallo4``) equal upstream's for the same wav: the fixture holds a tiny
random wav2vec2, a wav, and the features upstream's ``Wav2VecModel`` made of it at 25 fps
(scripts/regen_hallo4_fixtures.py)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from safetensors.torch import load_file

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "hallo4_parity"


def _model():
    from transformers import Wav2Vec2Model

    return Wav2Vec2Model.from_pretrained(str(FIX / "wav2vec2"), local_files_only=True).eval()


def test_features_equal_upstreams():
    from trainer.motion.audio_features import hallo4_features

    fix = load_file(str(FIX / "audio.safetensors"))
    frames = math.ceil(fix["wave"].numel() / 16000 * float(fix["fps"]))  # upstream's seq_len: 15
    ours = hallo4_features(_model(), fix["wave"], frames)
    assert ours.shape == fix["features"].shape == (15, 2, 8)
    torch.testing.assert_close(ours, fix["features"], atol=1e-5, rtol=1e-4)


def test_the_default_path_is_not_hallo4s():
    """The default (transformer at 50 Hz, its outputs resampled) gives other numbers: the option matters."""
    from trainer.motion.audio_features import frame_align

    fix = load_file(str(FIX / "audio.safetensors"))
    model = _model()
    x = fix["wave"]
    x = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)
    with torch.no_grad():
        out = model(x[None], output_hidden_states=True)
    default = frame_align(torch.stack(out.hidden_states[1:], dim=2)[0], 15)  # (15, layers, D)
    assert (default - fix["features"]).abs().max() > 1e-2
