"""Sample clips made by the project itself (so they are redistributable): a drawn portrait and speech-like audio.

The audio is a vowel-like buzz (a few harmonics shaped by formant peaks) switched
on and off in syllable-length bursts, so audio-driven generators have a real
envelope to follow and annotators can hear whether the mouth matches it.
"""

from __future__ import annotations

import csv
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
_PALETTE = [
    ((236, 200, 170), (60, 40, 30), (40, 90, 160)),
    ((200, 150, 110), (20, 20, 20), (160, 60, 60)),
    ((245, 215, 190), (150, 90, 40), (60, 140, 90)),
    ((170, 120, 90), (40, 30, 30), (120, 80, 160)),
    ((225, 185, 150), (90, 60, 40), (180, 150, 60)),
]


def draw_portrait(path: Path, seed: int, size: int = 512) -> Path:
    """A simple frontal cartoon face on a coloured background (PNG)."""
    from PIL import Image, ImageDraw

    skin, hair, bg = _PALETTE[seed % len(_PALETTE)]
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(im)
    s = size / 512
    cx, cy = size // 2, int(size * 0.52)
    fw, fh = int(150 * s + rng.integers(-10, 10)), int(190 * s)
    d.rectangle([cx - 110 * s, cy + fh - 30 * s, cx + 110 * s, size], fill=tuple(int(c * 0.6) for c in bg))
    d.ellipse([cx - fw - 12 * s, cy - fh - 20 * s, cx + fw + 12 * s, cy + 20 * s], fill=hair)
    d.ellipse([cx - fw, cy - fh, cx + fw, cy + fh], fill=skin)
    for ex in (-55, 55):
        x = cx + ex * s
        d.ellipse([x - 22 * s, cy - 50 * s, x + 22 * s, cy - 28 * s], fill=(255, 255, 255))
        d.ellipse([x - 9 * s, cy - 48 * s, x + 9 * s, cy - 30 * s], fill=(40, 30, 20))
        d.line([x - 26 * s, cy - 70 * s, x + 26 * s, cy - 74 * s], fill=hair, width=max(1, int(6 * s)))
    d.line([cx, cy - 20 * s, cx - 10 * s, cy + 30 * s, cx + 8 * s, cy + 32 * s], fill=tuple(int(c * 0.8) for c in skin), width=max(1, int(4 * s)))
    d.ellipse([cx - 45 * s, cy + 70 * s, cx + 45 * s, cy + 92 * s], fill=(170, 60, 70))  # closed mouth
    im.save(path)
    return path


def speech_like(seconds: float, seed: int, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 in [-1, 1]: voiced syllables of 120-300 ms separated by short pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    f0 = 110 + 40 * (seed % 3) + 10 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voice = sum(np.sin(k * phase) / k for k in range(1, 9))
    env = np.zeros(n)
    pos = int(0.15 * sr)
    while pos < n:
        syl = int(rng.uniform(0.12, 0.30) * sr)
        seg = np.sin(np.linspace(0, np.pi, min(syl, n - pos))) ** 0.7
        env[pos : pos + len(seg)] = rng.uniform(0.5, 1.0) * seg
        pos += syl + int(rng.uniform(0.04, 0.20) * sr)
    x = voice * env
    x /= max(1e-6, np.abs(x).max())
    return (0.8 * x).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, sr: int = SAMPLE_RATE) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return path


def make_sample_clips(folder: str | Path, n: int = 3, seconds: float = 2.0, size: int = 256,
                      prefix: str = "sample", first_seed: int = 0) -> Path:
    """Write ``n`` sample clips (``<prefix>-001``...) and a ``clips.csv`` manifest into ``folder``; returns
    the manifest path. ``first_seed`` gives another batch different faces and voices."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "clips.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["clip_id", "image", "audio", "prompt"])
        for i in range(n):
            cid = f"{prefix}-{i + 1:03d}"
            draw_portrait(folder / f"{cid}.png", seed=first_seed + i, size=size)
            write_wav(folder / f"{cid}.wav", speech_like(seconds, seed=first_seed + i))
            w.writerow([cid, f"{cid}.png", f"{cid}.wav", "A person talking to the camera."])
    return manifest
