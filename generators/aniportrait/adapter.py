"""AniPortrait through ``scripts.audio2vid`` with a YAML case list: models loaded once per batch.

Upstream facts (reference/baselines.md §2): ``test_cases: {ref_image: [audio, ...]}``; output
``output/{YYYYMMDD}/{HHMM}--seed_{seed}-{W}x{H}/{ref}_{audio}_{H}x{W}_{cfg}_{HHMM}.mp4``,
a **3-panel grid** ``[ref | pose | generated]`` from ``make_grid`` with padding 2, so the
file is (H+4) x (3W+8) and the generated panel sits at x = 2W+6, y = 2.

Quirks handled: the generated panel is cropped out (a raw file of any other size is an
error, not a guess); inputs are linked as ``j<job>`` so the output is found by name
despite the minute-resolution folders; the working directory is the batch's own folder
(with ``configs`` and ``pretrained_model`` linked in) so batches never share ``output/``.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Any

from generators._proc import UpstreamError, python_command, run_logged
from generators._settings import build_config, missing_paths, missing_python, stage
from generators.aniportrait.config import AniPortraitConfig
from generators.base import GenerationRequest, GenerationResult

GRID_PAD = 2


def panel_box(width: int, height: int) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) of the generated panel in the (H+4) x (3W+8) grid."""
    x1 = 2 * width + 3 * GRID_PAD
    return x1, GRID_PAD, x1 + width, GRID_PAD + height


class AniPortraitGenerator:
    kind = "upstream"

    def __init__(self, name: str, config: AniPortraitConfig):
        self.name, self.config = name, config

    def check(self) -> list[str]:
        c = self.config
        missing = missing_paths([("checkout", c.checkout)])
        if not missing:
            missing += missing_paths([("entry script", c.entry), ("config template", Path(c.checkout) / c.config_template),
                                      ("weights folder", c.weights)])
            if c.weights and Path(c.weights).exists():
                missing += missing_paths([("AniPortrait weights", Path(c.weights) / name)
                                          for name in ("denoising_unet.pth", "audio2mesh.pt")])
        return missing + missing_python(c.python, c.conda_env)

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        results = []
        for seed, group in groupby(sorted(requests, key=lambda r: r.seed), key=lambda r: r.seed):
            results += self._batch(list(group), seed, workdir / f"seed{seed}")
        return results

    def _batch(self, reqs: list[GenerationRequest], seed: int, wd: Path) -> list[GenerationResult]:
        import yaml

        c = self.config
        wd.mkdir(parents=True, exist_ok=True)
        stage(Path(c.checkout) / "configs", wd / "configs")
        stage(Path(c.weights), wd / "pretrained_model")
        cfg = yaml.safe_load((Path(c.checkout) / c.config_template).read_text()) or {}
        cases = {}
        for r in reqs:
            img = stage(r.image_path, wd / "inputs" / f"{r.safe_id}{r.image_path.suffix}")
            wav = stage(r.audio_path, wd / "inputs" / f"{r.safe_id}{r.audio_path.suffix}")
            cases[str(img)] = [str(wav)]
        cfg["test_cases"] = cases
        if c.pose_temp is not None:
            cfg["pose_temp"] = str(c.pose_temp)
        (wd / "animation_audio.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        cmd = [*python_command(c.python, c.conda_env), "-m", "scripts.audio2vid", "--config", str(wd / "animation_audio.yaml"),
               "-W", str(c.width), "-H", str(c.height), "--seed", str(seed), "--fps", str(c.fps)]
        cmd += (["-acc"] if c.accelerate else []) + c.extra_args
        try:
            run_logged(cmd, cwd=wd, log_path=wd.parent / "upstream.log", env={"PYTHONPATH": str(c.checkout), **c.env},
                       timeout=c.timeout_s)
        except UpstreamError as e:
            return [GenerationResult(r.job_id, error=str(e)) for r in reqs]
        return [self._collect(r, wd) for r in reqs]

    def _collect(self, r: GenerationRequest, wd: Path) -> GenerationResult:
        found = sorted((wd / "output").glob(f"*/*/{r.safe_id}_{r.safe_id}_*.mp4"))
        if not found:
            return GenerationResult(r.job_id, error=f"aniportrait wrote no output/*/*/{r.safe_id}_{r.safe_id}_*.mp4")
        try:
            return GenerationResult(r.job_id, raw_path=self._crop_panel(found[-1], wd / f"{r.safe_id}_panel.mp4"))
        except ValueError as e:
            return GenerationResult(r.job_id, error=str(e))

    def _crop_panel(self, grid: Path, out: Path) -> Path:
        from moviepy import VideoFileClip

        c = self.config
        clip = VideoFileClip(str(grid), audio=False)
        try:
            want = (3 * c.width + 4 * GRID_PAD, c.height + 2 * GRID_PAD)
            if tuple(clip.size) != want:
                raise ValueError(f"aniportrait output {grid.name} is {clip.size[0]}x{clip.size[1]}, expected the "
                                 f"3-panel grid {want[0]}x{want[1]}")
            x1, y1, x2, y2 = panel_box(c.width, c.height)
            clip.cropped(x1=x1, y1=y1, x2=x2, y2=y2).write_videofile(
                str(out), codec="libx264", audio=False, preset="veryfast", logger=None)
        finally:
            clip.close()
        return out


def make(name: str, settings: dict[str, Any], root: Path) -> AniPortraitGenerator:
    return AniPortraitGenerator(name, build_config(AniPortraitConfig, name, settings, root))
