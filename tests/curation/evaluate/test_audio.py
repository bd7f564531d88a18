"""Sync-C/D audio: the 16-bit samples `ffmpeg -ac 1 -ar 16000` writes, as syncnet_python reads its wav."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from curation.evaluate.decode import decode, read_audio
from storage.errors import CurateError
from tests.fixtures.media import make_video


def _ffmpeg(*args) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


def _stereo_wav(path, rate: int, seconds: float = 1.0):
    """Different left and right channels (a downmix that is not a plain copy), int16."""
    from scipy.io import wavfile

    t = np.arange(int(rate * seconds)) / rate
    left = 0.4 * np.sin(2 * np.pi * 440 * t)
    right = 0.3 * np.sin(2 * np.pi * 660 * t + 1.0)
    wavfile.write(path, rate, (np.stack([left, right], 1) * 32767).astype(np.int16))
    return path


def _reference_decode(src, tmp_path) -> np.ndarray:
    """The syncnet_python step: ffmpeg to a 16 kHz mono pcm_s16le wav, read back with scipy as int16."""
    from scipy.io import wavfile

    out = tmp_path / "ref.wav"
    _ffmpeg("-i", src, "-ac", "1", "-vn", "-acodec", "pcm_s16le", "-ar", "16000", out)
    rate, samples = wavfile.read(out)
    assert rate == 16000 and samples.dtype == np.int16
    return samples


@pytest.mark.parametrize(
    "rate,codec", [(44100, "aac"), (48000, "aac"), (48000, "pcm_s16le")], ids=["44k-aac", "48k-aac", "48k-wav"]
)
def test_audio_equals_the_16_bit_ffmpeg_decode(tmp_path, rate, codec):
    wav = _stereo_wav(tmp_path / "src.wav", rate)
    src = tmp_path / ("src.m4a" if codec == "aac" else "src2.wav")
    _ffmpeg("-i", wav, "-c:a", codec, "-ac", "2", src)
    got = read_audio(src, "x", required=True)
    ref = _reference_decode(src, tmp_path)
    assert got.dtype == np.int16 and len(got) == len(ref) and np.array_equal(got, ref)
    assert abs(len(got) - 16000) < 1100  # one second (AAC adds its priming frames)


def test_audio_of_an_mp4_track_and_silence_is_exact_zero(tmp_path):
    from scipy.io import wavfile

    v = make_video(tmp_path / "v.mp4", seconds=0.4, size=(32, 32))
    assert np.array_equal(decode(v, "v").audio, _reference_decode(v, tmp_path))
    wavfile.write(tmp_path / "silent.wav", 48000, np.zeros(48000, np.int16))
    silent = read_audio(tmp_path / "silent.wav", "s", required=True)
    assert silent.dtype == np.int16 and not silent.any()


def test_no_audio_stream_is_none_or_one_line(tmp_path):
    v = make_video(tmp_path / "mute.mp4", seconds=0.4, size=(32, 32), audio=False)
    assert read_audio(v, "m") is None
    with pytest.raises(CurateError, match=r"^m/c: driving audio does not decode \(.*mute.mp4\): ") as e:
        read_audio(v, "m/c", required=True)
    assert "\n" not in str(e.value)
