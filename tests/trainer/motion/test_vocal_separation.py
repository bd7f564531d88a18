"""The MDX-Net vocal separation (``vocal_separator``) checked with stand-in ONNX models of Kim_Vocal_2's signature
(input and output (batch, 4, 3072, 256), n_fft 7680, hop 1024) whose output is known by hand: an identity model must
give the input back up to the STFT round trip (the band it drops, bins 0-2 below 17 Hz and from 3072 = 17.6 kHz up,
holds nothing of a faded two-tone signal), a gain model the scaled input."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures.vocal_models import mdx_model, write_wav44

RATE = 44100


def _faded(seconds: float, freq: float, amp: float, phase: float = 0.0, rate: int = RATE) -> np.ndarray:
    """A tone faded in and out over 0.1 s (no step: a step has content in the dropped bins below 17 Hz)."""
    n = int(seconds * rate)
    env = np.ones(n)
    ramp = np.sin(np.linspace(0, np.pi / 2, rate // 10)) ** 2
    env[: ramp.size], env[-ramp.size:] = ramp, ramp[::-1]
    return env * amp * np.sin(2 * np.pi * freq * np.arange(n) / rate + phase)


def _tones(seconds: float = 1.5, with_3k: bool = True, rate: int = RATE) -> np.ndarray:
    """(2, n): 440 Hz (+ 3 kHz) on the left, 440 Hz on the right."""
    left = _faded(seconds, 440, 0.3, rate=rate) + (_faded(seconds, 3000, 0.1, rate=rate) if with_3k else 0)
    return np.stack([left, _faded(seconds, 440, 0.2, 1.0, rate=rate)]).astype(np.float32)


def test_an_identity_model_returns_the_input_up_to_the_stft_round_trip(tmp_path):
    from trainer.motion.vocal_separation import VocalSeparator

    sep = VocalSeparator(str(mdx_model(tmp_path / "id.onnx")))
    assert (sep.dim_f, sep.dim_t, sep.n_fft) == (3072, 256, 7680)
    for seconds in (1.5, 7.0):  # one chunk of 255 * 1024 samples and its overlap; several chunks
        x = _tones(seconds)
        y = sep.demix(x)
        assert y.shape == x.shape
        # float32 STFT / ISTFT round trip: measured 3e-7 on a 0.4 peak
        np.testing.assert_allclose(y, x, atol=1e-5, rtol=0)


def test_a_gain_model_scales_and_a_band_mask_keeps_its_band(tmp_path):
    from trainer.motion.vocal_separation import VocalSeparator

    x = _tones()
    half = VocalSeparator(str(mdx_model(tmp_path / "half.onnx", gain=0.5)))
    np.testing.assert_allclose(half.demix(x), 0.5 * x, atol=1e-5, rtol=0)
    # bins below 200 (200 * 44100 / 7680 = 1148 Hz) kept: the 3 kHz tone goes, the 440 Hz stays
    mask = (np.arange(3072) < 200).astype(np.float32)[:, None]
    low = VocalSeparator(str(mdx_model(tmp_path / "low.onnx", gain=mask)))
    np.testing.assert_allclose(low.demix(x), _tones(with_3k=False), atol=1e-4, rtol=0)


def test_the_stem_gets_audio_separators_gains(tmp_path):
    """The mix is scaled to a 0.9 peak when louder, the stem multiplied by the input's peak, then scaled to 0.9 when
    louder: identity on a 0.5-peak input gives 0.5 x; on a 2-peak input demix(0.45 x) * 2 = 0.9 x, peak 1.8 -> 0.45 x."""
    from trainer.motion.vocal_separation import VocalSeparator

    sep = VocalSeparator(str(mdx_model(tmp_path / "id.onnx")))
    x = _tones()
    x = x / np.abs(x).max()
    np.testing.assert_allclose(sep.vocals(0.5 * x), 0.25 * x, atol=1e-5, rtol=0)
    np.testing.assert_allclose(sep.vocals(2 * x), 0.9 * x, atol=1e-5, rtol=0)
    right = x[1] / np.abs(x[1]).max()
    mono = sep.vocals(0.5 * right)  # a mono mix is separated as two equal channels
    np.testing.assert_allclose(mono, 0.25 * np.stack([right, right]), atol=1e-5, rtol=0)


def test_the_16k_vocals_of_a_file_are_its_tones_at_16k_times_the_stem_gain(tmp_path):
    """An identity model on a stereo 44.1 kHz file: the vocals at 16 kHz mono are the same tones evaluated at 16 kHz,
    downmixed as decord downmixes ((L + R) / sqrt 2) and times the stem gain (the mono mix's peak p < 0.9: p x).
    Measured 3e-4 (scipy's polyphase filter near the band edge of the fades)."""
    from trainer.motion.vocal_separation import VocalSeparator

    x = _tones(2.0)
    g = 0.5 / np.abs(x).max()
    wav = write_wav44(tmp_path / "a.wav", (g * x).T)
    mono44 = g * x.sum(0) / np.sqrt(2)
    expected = np.abs(mono44).max() * g * _tones(2.0, rate=16000).sum(0) / np.sqrt(2)
    sep = VocalSeparator(str(mdx_model(tmp_path / "id.onnx")))
    got = sep.read_16k(str(wav), 1.5).numpy()
    assert got.shape == (24000,)
    np.testing.assert_allclose(got, expected[:24000], atol=1e-3, rtol=0)  # on a peak of ~0.16
    from storage.errors import CurateError

    with pytest.raises(CurateError, match="shorter than"):
        sep.read_16k(str(wav), 3.0, strict=True)


def test_a_wrong_signature_or_a_non_model_is_refused_in_one_line(tmp_path):
    from storage.errors import CurateError
    from trainer.motion.vocal_separation import VocalSeparator, load_vocal_separator

    for shape in ([1, 2, 3072, 256], [1, 4, 3072], ["b", 4, "f", 256], [1, 4, 4000, 256]):
        bad = mdx_model(tmp_path / "bad.onnx", in_shape=shape)
        with pytest.raises(CurateError) as e:
            VocalSeparator(str(bad))
        msg = str(e.value)
        assert "\n" not in msg and str(bad) in msg and "(batch, 4, dim_f, dim_t)" in msg and "(1, 4, 3072, 256)" in msg
    junk = tmp_path / "Kim_Vocal_2.onnx"
    junk.write_bytes(b"onnx")
    with pytest.raises(CurateError, match="Kim_Vocal_2.onnx: not an ONNX model") as e:
        VocalSeparator(str(junk))
    assert "\n" not in str(e.value)
    with pytest.raises(CurateError, match="missing.onnx: no such file"):
        load_vocal_separator(str(tmp_path / "missing.onnx"))
    sep, note = load_vocal_separator("")
    assert sep is None and "`vocal_separator` is not set" in note
    sep, note = load_vocal_separator(str(mdx_model(tmp_path / "id.onnx")))
    assert sep.dim_f == 3072 and "dim_f 3072, dim_t 256, n_fft 7680, hop 1024" in note
