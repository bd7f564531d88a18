"""SadTalker, one ``inference.py`` call per clip (upstream has no batch mode; models reload each call).

Upstream facts (reference/baselines.md §1): the result is ``{result_dir}/{YYYY_MM_DD_HH.MM.SS}.mp4``
(``_full``/``_enhanced`` variants with ``--preprocess full``/an enhancer), named by a
one-second timestamp; 25 fps with the audio already muxed in.

Quirks handled: every call gets its own folder and ``--result_dir``, so timestamp names
cannot clash; the inputs are *copies* inside that folder (SadTalker's Python entry points
move their inputs away); the output is the one mp4 that appears in the result folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generators._proc import UpstreamError, python_command, run_logged
from generators._settings import build_config, missing_paths, missing_python, stage
from generators.base import GenerationRequest, GenerationResult
from generators.sadtalker.config import SadTalkerConfig

# Best first: the enhanced render, then the full-frame paste-back, then the plain crop.
_PREFERENCE = ("_enhanced.mp4", "_full.mp4", ".mp4")


class SadTalkerGenerator:
    kind = "upstream"

    def __init__(self, name: str, config: SadTalkerConfig):
        self.name, self.config = name, config

    def check(self) -> list[str]:
        c = self.config
        missing = missing_paths([("checkout", c.checkout)])
        if not missing:
            missing += missing_paths([("entry script", c.entry), ("weights folder", c.weights)])
            if c.weights and Path(c.weights).exists():
                missing += missing_paths([("SadTalker weights", Path(c.weights) / f"SadTalker_V0.0.2_{c.size}.safetensors")])
        return missing + missing_python(c.python, c.conda_env)

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        return [self._one(r, workdir / r.safe_id) for r in requests]

    def _one(self, r: GenerationRequest, wd: Path) -> GenerationResult:
        c = self.config
        img = stage(r.image_path, wd / "inputs" / f"image{r.image_path.suffix}", copy=True)
        wav = stage(r.audio_path, wd / "inputs" / f"audio{r.audio_path.suffix}", copy=True)
        results = wd / "results"
        results.mkdir(parents=True, exist_ok=True)
        cmd = [*python_command(c.python, c.conda_env), str(c.entry), "--driven_audio", str(wav),
               "--source_image", str(img), "--result_dir", str(results), "--checkpoint_dir", str(c.weights),
               "--size", str(c.size), "--preprocess", c.preprocess]
        if c.still:
            cmd.append("--still")
        if c.enhancer:
            cmd += ["--enhancer", c.enhancer]
        cmd += c.extra_args
        try:
            # cwd = the checkout: SadTalker resolves its src/config files relative to it.
            run_logged(cmd, cwd=Path(c.checkout), log_path=wd.parent / "upstream.log", env=c.env, timeout=c.timeout_s)
        except UpstreamError as e:
            return GenerationResult(r.job_id, error=str(e))
        videos = sorted(results.glob("*.mp4"))
        for suffix in _PREFERENCE:
            picked = [v for v in videos if v.name.endswith(suffix)]
            if picked:
                return GenerationResult(r.job_id, raw_path=picked[-1])
        return GenerationResult(r.job_id, error=f"sadtalker wrote no mp4 in {results}")


def make(name: str, settings: dict[str, Any], root: Path) -> SadTalkerGenerator:
    return SadTalkerGenerator(name, build_config(SadTalkerConfig, name, settings, root))
