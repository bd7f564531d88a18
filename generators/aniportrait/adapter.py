"""AniPortrait through ``scripts.audio2vid`` with a YAML case list: models loaded once per batch.

Upstream facts (reference/baselines.md §2): ``test_cases: {ref_image: [audio, ...]}``; output
``output/{YYYYMMDD}/{HHMM}--seed_{seed}-{W}x{H}/{ref}_{audio}_{H}x{W}_{cfg}_{HHMM}.mp4``,
a **3-panel grid** ``[ref | pose | generated]`` from ``make_grid`` with padding 2, so the
file is (H+4) x (3W+8) and the generated panel sits at x = 2W+6, y = 2.

Read at Zejun-Yang/AniPortrait 7f6593f. Without ``pose_temp`` a clip of <= 5 s gives a single
audio chunk and ``audio_chunks[-2]`` raises IndexError (scripts/audio2vid.py:176-186), killing
the batch: the checkout's head-pose template is the default, and with none such clips are
refused before the batch runs.

Quirks handled: the generated panel is cropped out (a raw file of any other size is an
error, not a guess); inputs are linked as ``j<job>`` so the output is found by name
despite the minute-resolution folders; the working directory is the batch's own folder
(with ``configs`` and ``pretrained_model`` linked in) so batches never share ``output/``.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Any

from generators._proc import UpstreamError, batch_results, python_command, python_path_env, run_logged
from generators._settings import (
    build_config,
    missing_files,
    missing_paths,
    missing_python,
    stage,
    unique_files,
    yaml_weight_files,
)
from generators.aniportrait.config import UPSTREAM_FPS, AniPortraitConfig
from generators.base import GenerationRequest, GenerationResult
from generators.staging import InputContract, StagingError, stage_inputs

GRID_PAD = 2
# librosa loads at 16 kHz (src/utils/audio_util.py:15); the reference is resized to a square W = H,
# so it is cropped square first rather than stretched.
CONTRACT = InputContract(audio_rate=16000, image_aspect=(1, 1), frame_rate=UPSTREAM_FPS)
WEIGHTS_PREFIX = "./pretrained_model/"  # the template's paths, relative to the cwd where weights are linked
# Audio of at most this many seconds makes one 5 s chunk: the IndexError without a template.
CHUNK_SECONDS = 5.0


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
            if c.weights and Path(c.weights).exists() and not missing:
                missing += missing_files(self.weight_files())
            if c.pose_temp is not None:
                missing += missing_files([("head-pose template pose_temp (clips <= 5 s crash without it)",
                                           Path(c.pose_temp), "file")])
        return missing + missing_python(c.python, c.conda_env)

    def weight_files(self) -> list[tuple[str, Path, str]]:
        """Each ``./pretrained_model/...`` the config template and its ``audio_inference_config`` name
        (scripts/audio2vid.py:57-115 loads them all: SD-1.5 UNet, VAE, image encoder, the four
        AniPortrait nets, wav2vec2, audio2mesh and audio2pose)."""
        import yaml

        c = self.config
        template = Path(c.checkout) / c.config_template
        files = yaml_weight_files(template, WEIGHTS_PREFIX, Path(c.weights), "AniPortrait")
        audio_cfg = (yaml.safe_load(template.read_text()) or {}).get("audio_inference_config")
        if audio_cfg:
            path = Path(c.checkout) / str(audio_cfg)
            if path.is_file():
                files += yaml_weight_files(path, WEIGHTS_PREFIX, Path(c.weights), "AniPortrait")
            else:
                files.append((f"audio_inference_config of {c.config_template}", path, "file"))
        return unique_files(files)

    def refusal(self, r: GenerationRequest) -> str | None:
        """Why upstream would crash on this clip (and take the batch with it), or None."""
        if self.config.pose_temp is None and r.audio_duration <= CHUNK_SECONDS:
            return (f"aniportrait without pose_temp crashes on audio <= {CHUNK_SECONDS:g} s (IndexError, "
                    f"scripts/audio2vid.py:184); clip {r.clip_id} has {r.audio_duration:.2f} s: set pose_temp")
        return None

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        results = [GenerationResult(r.job_id, error=self.refusal(r)) for r in requests if self.refusal(r)]
        runnable = [r for r in requests if not self.refusal(r)]
        for seed, group in groupby(sorted(runnable, key=lambda r: r.seed), key=lambda r: r.seed):
            results += self._batch(list(group), seed, workdir / f"seed{seed}")
        return results

    def _batch(self, reqs: list[GenerationRequest], seed: int, wd: Path) -> list[GenerationResult]:
        import yaml

        c = self.config
        wd.mkdir(parents=True, exist_ok=True)
        stage(Path(c.checkout) / "configs", wd / "configs")
        stage(Path(c.weights), wd / "pretrained_model")
        cfg = yaml.safe_load((Path(c.checkout) / c.config_template).read_text()) or {}
        cases, refused = {}, []
        for r in reqs:
            try:
                staged = stage_inputs(r, wd / "inputs", CONTRACT, wd.parent / "upstream.log")
            except StagingError as e:
                refused.append(GenerationResult(r.job_id, error=str(e)))
                continue
            cases[str(staged.image)] = [str(staged.audio)]
        if not cases:
            return refused
        reqs = [r for r in reqs if r.job_id not in {x.job_id for x in refused}]
        cfg["test_cases"] = cases
        if c.pose_temp is not None:
            cfg["pose_temp"] = str(c.pose_temp)
        (wd / "animation_audio.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        cmd = [*python_command(c.python, c.conda_env), "-m", "scripts.audio2vid", "--config", str(wd / "animation_audio.yaml"),
               "-W", str(c.width), "-H", str(c.height), "--seed", str(seed), "--fps", str(c.fps)]
        cmd += (["-acc"] if c.accelerate else []) + c.extra_args
        error = None
        try:
            run_logged(cmd, cwd=wd, log_path=wd.parent / "upstream.log", env=python_path_env(c.checkout, c.env),
                       timeout=c.timeout_s)
        except UpstreamError as e:
            error = e
        return refused + batch_results(reqs, lambda r: self._collect(r, wd), error)

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
