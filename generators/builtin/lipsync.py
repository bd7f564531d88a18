"""``lipsync`` and its degraded variants: the mouth region opened by the audio's loudness, plus a head bob.

Not pretty, but audio-driven: a louder frame opens the mouth wider, silence closes it.
It works on any image: the mouth is assumed at a fixed fraction of the frame
(lower-middle, where a centred portrait's mouth is; the sample portraits of
``curation.demo.media.draw_portrait`` put it at x = 0.5, y = 0.68).

Variants used as known-bad candidates and gold items:
    lipsync_offset: the mouth follows the audio 0.4 s late (bad alignment, good fidelity).
    lipsync_blur: heavy blur and noise (good alignment, bad fidelity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from generators._settings import build_config
from generators.base import GenerationRequest, GenerationResult
from generators.builtin._render import frame_count, load_rgb, loudness_envelope, write_frames


@dataclass
class LipsyncConfig:
    """Settings of ``[generators.lipsync]`` (and ``lipsync_offset``, ``lipsync_blur``).

    Timing:
        fps: frame rate of the raw video.
        offset_seconds: delay of the mouth behind the audio (0 = in sync).
    Geometry (fractions of the frame):
        mouth_x, mouth_y: centre of the mouth.
        mouth_width: mouth width; the open height is up to ``mouth_open`` of the frame height.
        bob_pixels: amplitude of the head bob, in pixels at 256 px of frame height.
    Degradation:
        blur_radius: Gaussian blur radius in pixels (0 = sharp).
        noise: standard deviation of added pixel noise (0 = none).
    """

    fps: float = field(default=25.0, metadata={"help": "frame rate of the raw video"})
    offset_seconds: float = field(default=0.0, metadata={"help": "mouth delay behind the audio, seconds"})
    mouth_x: float = field(default=0.5, metadata={"help": "mouth centre x, fraction of width"})
    mouth_y: float = field(default=0.68, metadata={"help": "mouth centre y, fraction of height"})
    mouth_width: float = field(default=0.17, metadata={"help": "mouth width, fraction of width"})
    mouth_open: float = field(default=0.08, metadata={"help": "widest opening, fraction of height"})
    bob_pixels: float = field(default=3.0, metadata={"help": "head-bob amplitude at 256 px height"})
    blur_radius: float = field(default=0.0, metadata={"help": "Gaussian blur radius, pixels"})
    noise: float = field(default=0.0, metadata={"help": "pixel noise standard deviation (0-255 scale)"})
    seed: int = field(default=0, metadata={"help": "noise seed"})

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise ValueError(f"`fps` must be > 0. Got {self.fps}.")
        for f in ("mouth_x", "mouth_y", "mouth_width", "mouth_open"):
            if not 0 < getattr(self, f) < 1:
                raise ValueError(f"`{f}` must be a fraction in (0, 1). Got {getattr(self, f)}.")
        for f in ("offset_seconds", "bob_pixels", "blur_radius", "noise"):
            if getattr(self, f) < 0:
                raise ValueError(f"`{f}` must be >= 0. Got {getattr(self, f)}.")


VARIANTS = {
    "lipsync": LipsyncConfig(),
    "lipsync_offset": LipsyncConfig(offset_seconds=0.4),
    "lipsync_blur": LipsyncConfig(blur_radius=6.0, noise=18.0),
}


class LipsyncGenerator:
    kind = "builtin"

    def __init__(self, name: str, config: LipsyncConfig):
        self.name = name
        self.config = config

    def check(self) -> list[str]:
        return []

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        results = []
        for r in requests:
            try:
                out = self._render(r, workdir / f"{r.safe_id}.mp4")
                results.append(GenerationResult(r.job_id, raw_path=out))
            except Exception as e:  # noqa: BLE001 - one bad clip must not sink the batch
                results.append(GenerationResult(r.job_id, error=f"{type(e).__name__}: {e}"))
        return results

    def _render(self, r: GenerationRequest, out: Path) -> Path:
        c = self.config
        img = load_rgb(r.image_path)
        n = frame_count(r.audio_duration, c.fps)
        env = loudness_envelope(r.audio_path, c.fps, n, c.offset_seconds)
        rng = np.random.default_rng(c.seed + r.job_id)
        h, w = img.shape[:2]
        frames = (self._frame(img, float(env[i]), i / c.fps, rng) for i in range(n))
        return write_frames(out, frames, (w, h), c.fps)

    def _frame(self, img: np.ndarray, loud: float, t: float, rng: np.random.Generator) -> np.ndarray:
        from PIL import Image, ImageDraw, ImageFilter

        c = self.config
        h, w = img.shape[:2]
        im = Image.fromarray(img)
        d = ImageDraw.Draw(im)
        cx, cy = c.mouth_x * w, c.mouth_y * h
        half_w = 0.5 * c.mouth_width * w * (0.85 + 0.15 * loud)
        half_h = 0.5 * max(1.0, c.mouth_open * h * loud)
        d.ellipse([cx - half_w, cy - half_h, cx + half_w, cy + half_h], fill=(70, 20, 30))
        if loud > 0.3:  # teeth show when the mouth is wide open
            d.rectangle([cx - 0.6 * half_w, cy - half_h, cx + 0.6 * half_w, cy - 0.55 * half_h], fill=(235, 235, 225))
        # The head nods slowly and dips a little on loud syllables.
        dy = round(c.bob_pixels * h / 256 * (math.sin(2 * math.pi * 0.5 * t) + 0.5 * loud))
        frame = np.asarray(im)
        if dy:
            frame = np.roll(frame, dy, axis=0)
        if c.blur_radius:
            frame = np.asarray(Image.fromarray(frame).filter(ImageFilter.GaussianBlur(c.blur_radius)))
        if c.noise:
            frame = np.clip(frame + rng.normal(0, c.noise, frame.shape), 0, 255).astype(np.uint8)
        return frame


def make(name: str, settings: dict[str, Any], root: Path, variant: str = "lipsync") -> LipsyncGenerator:
    """Build ``variant``'s defaults, overridden by the method's ``curate.toml`` table."""
    base = VARIANTS[variant]
    overrides = build_config(LipsyncConfig, name, settings, root)
    given = {k: getattr(overrides, k) for k in settings if hasattr(overrides, k)}
    return LipsyncGenerator(name, replace(base, **given))


def make_offset(name: str, settings: dict[str, Any], root: Path) -> LipsyncGenerator:
    return make(name, settings, root, variant="lipsync_offset")


def make_blur(name: str, settings: dict[str, Any], root: Path) -> LipsyncGenerator:
    return make(name, settings, root, variant="lipsync_blur")
