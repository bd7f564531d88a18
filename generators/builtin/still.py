"""``still``: the reference image held for the audio's duration. A real lower bound: no motion at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators._settings import build_config
from generators.base import GenerationRequest, GenerationResult
from generators.builtin._render import frame_count, load_rgb, write_frames


@dataclass
class StillConfig:
    """Settings of ``[generators.still]``.

    Output:
        fps: frame rate of the raw video (normalisation resamples anyway).
    """

    fps: float = field(default=25.0, metadata={"help": "frame rate of the raw video"})

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise ValueError(f"`fps` must be > 0. Got {self.fps}.")


class StillGenerator:
    kind = "builtin"

    def __init__(self, name: str, config: StillConfig):
        self.name = name
        self.config = config

    def check(self) -> list[str]:
        return []

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        results = []
        for r in requests:
            try:
                img = load_rgb(r.image_path)
                n = frame_count(r.audio_duration, self.config.fps)
                out = write_frames(workdir / f"{r.safe_id}.mp4", (img for _ in range(n)), (img.shape[1], img.shape[0]), self.config.fps)
                results.append(GenerationResult(r.job_id, raw_path=out))
            except Exception as e:  # noqa: BLE001 - one bad clip must not sink the batch
                results.append(GenerationResult(r.job_id, error=f"{type(e).__name__}: {e}"))
        return results


def make(name: str, settings: dict[str, Any], root: Path) -> StillGenerator:
    return StillGenerator(name, build_config(StillConfig, name, settings, root))
