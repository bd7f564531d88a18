"""Hallo4's optional vocal separation: an MDX-Net ONNX model (upstream: ``Kim_Vocal_2.onnx``) run on the audio before
wav2vec2, the way python-audio-separator's MDX separator runs it (Hallo4 @1ccca54, ``vace/models/utils/
preprocessor.py`` ~370-381: ``Separator(output_single_stem="vocals")`` with its defaults, the vocals wav resampled to
16 kHz by ffmpeg and loaded mono).

What runs, at 44.1 kHz on a stereo signal (a mono one duplicated, as audio-separator does):

* the mix is scaled down to a peak of 0.9 when louder (audio-separator's ``normalization_threshold``);
* it is cut into chunks of ``hop * (dim_t - 1)`` samples (hop 1024), the stream padded with ``n_fft // 2`` zeros in
  front and enough behind, chunks starting every ``int(0.75 * chunk)`` samples (overlap 0.25), each weighted by a
  symmetric Hann window of its length, the sum divided by the summed windows;
* a chunk's spectrogram: ``torch.stft`` (Hann window of n_fft, periodic; hop 1024; ``center=True``), real and imaginary
  parts as channels [L re, L im, R re, R im], the first ``dim_f`` bins kept and bins 0-2 zeroed -> (1, 4, dim_f, dim_t);
  the model's output goes back by zero-padding the bins to ``n_fft // 2 + 1`` and ``torch.istft``;
* the result is multiplied by the input's peak and scaled to a peak of 0.9 when louder (as the stem is written), then
  averaged to mono and resampled to 16 kHz.

``dim_f`` and ``dim_t`` are read from the model's input; ``n_fft`` is Kim_Vocal_2's 7680 (UVR's model data; it is
not stored in the file). The vocals stem is the model's output itself: the compensation factor of the model data
only scales the vocals subtracted from the mix to make the instrumental stem, which Hallo4 does not use. Not
reproduced: the 16-bit write between the steps (< 3e-5 per sample) and the resampler (ffmpeg's there, scipy's
polyphase filter here). A stereo file is read mono (decord's stereo + resample path is unreliable), so its two
channels are separated as one; upstream separates them apart and averages after.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from storage.errors import CurateError

RATE = 44100
N_FFT = 7680  # Kim_Vocal_2
HOP = 1024
OVERLAP = 0.25
PEAK = 0.9
LOW_BINS = 3
SKIPPED = ("vocal separation skipped: `vocal_separator` is not set (Hallo4's preprocessor separates the vocals with "
           "Kim_Vocal_2.onnx first; the audio is used as it is).")


class VocalSeparator:
    """An MDX-Net vocal model with Kim_Vocal_2's signature: input (batch, 4, dim_f, dim_t) -> output of that shape."""

    def __init__(self, path: str, n_fft: int = N_FFT):
        import onnxruntime as ort
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

        if not Path(path).is_file():
            raise CurateError(f"vocal_separator {path}: no such file (the Kim_Vocal_2.onnx vocal model).")
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except (ort_errors.InvalidProtobuf, ort_errors.InvalidGraph, ort_errors.Fail, ort_errors.NotImplemented) as e:
            raise CurateError(f"vocal_separator {path}: not an ONNX model ({type(e).__name__}).") from None
        ins, outs = self.session.get_inputs(), self.session.get_outputs()
        shape = ins[0].shape if len(ins) == 1 else []
        if not (_signature_ok(shape, outs[0].shape if outs else []) and shape[2] <= n_fft // 2 + 1):
            raise CurateError(f"vocal_separator {path}: input {[i.shape for i in ins]} / output "
                              f"{[o.shape for o in outs]}; an MDX-Net vocal model takes and returns (batch, 4, dim_f, "
                              f"dim_t) with dim_f <= n_fft/2+1 = {n_fft // 2 + 1} (Kim_Vocal_2: (1, 4, 3072, 256)).")
        self.path, self.n_fft, self.input = str(path), n_fft, ins[0].name
        self.dim_f, self.dim_t = int(shape[2]), int(shape[3])
        self.window = torch.hann_window(n_fft, periodic=True)
        with open(path, "rb") as f:
            self.fingerprint = f"{hashlib.sha256(f.read()).hexdigest()[:16]}:{n_fft}"

    def _run_chunk(self, x: np.ndarray) -> np.ndarray:
        """(2, chunk) samples -> (2, chunk): STFT, the model, inverse STFT."""
        spec = torch.stft(torch.from_numpy(x).float(), self.n_fft, HOP, window=self.window, center=True,
                          return_complex=True)  # (2, bins, dim_t)
        spec = torch.view_as_real(spec).permute(0, 3, 1, 2).reshape(4, -1, spec.shape[-1])[:, : self.dim_f]
        spec[:, :LOW_BINS] = 0
        out = self.session.run(None, {self.input: spec[None].numpy()})[0]
        pred = torch.from_numpy(np.ascontiguousarray(out[0], dtype=np.float32)).reshape(2, 2, self.dim_f, -1)
        pred = torch.nn.functional.pad(pred, (0, 0, 0, self.n_fft // 2 + 1 - self.dim_f))
        full = torch.complex(pred[:, 0], pred[:, 1])
        return torch.istft(full, self.n_fft, HOP, window=self.window, center=True).numpy()

    def demix(self, mix: np.ndarray) -> np.ndarray:
        """(2, n) at 44.1 kHz -> the model's stem (2, n): overlapping chunks, Hann-weighted."""
        trim, n = self.n_fft // 2, mix.shape[1]
        chunk = HOP * (self.dim_t - 1)
        gen = chunk - 2 * trim
        if gen <= 0:
            raise CurateError(f"vocal_separator {self.path}: dim_t {self.dim_t} is too short for n_fft {self.n_fft} "
                              f"(a chunk of {chunk} samples leaves nothing between its two {trim}-sample margins).")
        pad = gen + trim - n % gen
        mixture = np.concatenate([np.zeros((2, trim)), mix, np.zeros((2, pad))], axis=1).astype(np.float32)
        total, step = mixture.shape[1], int((1 - OVERLAP) * chunk)
        result = np.zeros((2, total), np.float64)
        weight = np.zeros(total, np.float64)
        for start in range(0, total, step):
            end = min(start + chunk, total)
            part = np.zeros((2, chunk), np.float32)
            part[:, : end - start] = mixture[:, start:end]
            w = np.hanning(end - start)
            result[:, start:end] += self._run_chunk(part)[:, : end - start] * w
            weight[start:end] += w
        # where no window weighs (the stream's first sample), the output is cut off below anyway
        out = np.divide(result, weight, out=np.zeros_like(result), where=weight > 0)
        return out[:, trim: total - trim][:, :n].astype(np.float32)

    def vocals(self, mix: np.ndarray) -> np.ndarray:
        """(n,) or (2, n) at 44.1 kHz -> the vocals stem (2, n), at the gains audio-separator gives it."""
        mix = np.asarray(mix, np.float32)
        mix = np.stack([mix, mix]) if mix.ndim == 1 else mix
        peak = float(np.abs(mix).max())
        if peak == 0:
            return np.zeros_like(mix)
        stem = self.demix(mix * min(1.0, PEAK / peak)) * peak
        top = float(np.abs(stem).max())
        return stem * min(1.0, PEAK / top) if top > 0 else stem

    def read_16k(self, path: str, seconds: float, strict: bool = False) -> torch.Tensor:
        """The separated vocals of an audio file as 16 kHz mono samples, the first ``seconds`` (as ``read_audio``).
        The whole file is separated, as upstream does, then cut."""
        import decord
        from scipy.signal import resample_poly

        from trainer.media_decode import read_audio

        ar = decord.AudioReader(str(path), sample_rate=RATE, mono=True)
        stem = self.vocals(ar[:].asnumpy()[0]).mean(axis=0)
        samples = torch.from_numpy(resample_poly(stem, 160, 441).astype(np.float32))  # 44100 * 160 / 441 = 16000
        return read_audio(path, seconds, strict, samples=samples)


def _signature_ok(shape: list, out: list) -> bool:
    """(batch, 4, dim_f, dim_t) in with fixed dim_f, dim_t; the output the same where its dims are known."""
    if len(shape) != 4 or shape[1] != 4 or not all(isinstance(d, int) and d > 1 for d in shape[2:]):
        return False
    return len(out) == 4 and all(not isinstance(o, int) or o == d for o, d in zip(out[1:], shape[1:]))


def load_vocal_separator(path: str) -> tuple[VocalSeparator | None, str]:
    """(the separator or None, the line to print): empty -> skipped with a note naming the setting."""
    if not path:
        return None, SKIPPED
    sep = VocalSeparator(path)
    return sep, (f"vocal separation: the vocals of each audio by {path} (MDX-Net, dim_f {sep.dim_f}, dim_t "
                 f"{sep.dim_t}, n_fft {sep.n_fft}, hop {HOP}, overlap {OVERLAP}).")
