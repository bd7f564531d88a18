"""Hallo4 through its list-file batch mode (``--prompt list.txt``), model built once per call.

Upstream facts (reference/baselines.md §6): lines ``prompt@@ref@@skeleton@@audio``; each
case is keyed by the skeleton file's name (``case = basename(skeleton)[:-4]``), writing
``{save_dir}/{case}_out_video.mp4`` and skipping cases whose output exists.

Quirks handled: every request gets its own uniquely named skeleton link
(``skeletons/j<job>.mp4``), so one pose video reused by several clips cannot make outputs
collide or be skipped; a fresh ``save_dir`` per batch; the working directory is the
batch's folder with ``pretrained_models`` linked in (upstream reads
``pretrained_models/Wan2.1_Encoders/config.json`` relative to it); all paths are passed
explicitly, because without ``--prompt`` upstream falls back to the authors' own files.

Read at fudan-generative-vision/hallo4 d8274e5. The case key is ``basename(skeleton)[:-4]``
(vace/vace_wan_inference.py:78, 430), so skeletons are staged as ``j<job>.mp4`` whatever
their container; they are read frame by frame with no fps resampling (wan_vace.py:260-270)
and the output is written at 25 fps, so they are re-timed to 25 fps. The output length is
min(skeleton, audio) frames; a square reference comes back as 480 x 480 (center_crop_width,
vace_wan_inference.py:546). PYTHONPATH is extended with the checkout, never replaced.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Any

from generators._proc import UpstreamError, batch_results, python_command, python_path_env, run_logged
from generators._settings import (
    build_config,
    clean_prompt,
    missing_files,
    missing_paths,
    missing_python,
    stage,
)
from generators.base import GenerationRequest, GenerationResult
from generators.hallo4.config import Hallo4Config
from generators.staging import InputContract, StagingError, stage_inputs

# 16 kHz wav (preprocessor.py AudioProcessor(16000, ...)); square reference (README: between 1:1 and
# 480:832; a portrait taller than 1:1 is cropped to 1:1); skeleton .mp4 at sample_fps 25
# (configs/shared_config.py), the rate the output is written at.
CONTRACT = InputContract(audio_rate=16000, image_aspect=(1, 1), skeleton_suffix=".mp4", skeleton_fps=25, frame_rate=25)
# Names inside ckpt_dir that WanVace opens (configs/wan_t2v_1_3B.py:13-17; wan_vace.py:93-105).
ENCODER_FILES = (("umT5 tokenizer", "google/umt5-xxl", "dir"), ("Wan VAE", "Wan2.1_VAE.pth", "file"),
                 ("T5 encoder", "models_t5_umt5-xxl-enc-bf16.pth", "file"))


class Hallo4Generator:
    kind = "upstream"

    def __init__(self, name: str, config: Hallo4Config):
        self.name, self.config = name, config

    def check(self) -> list[str]:
        c = self.config
        missing = missing_paths([("checkout", c.checkout)])
        if not missing:
            missing += missing_paths([("entry script", c.entry), ("weights folder", c.weights)])
        if not missing:
            missing += missing_files(self.weight_files())
        if c.model_path and Path(c.model_path).suffix not in (".ckpt", ".safetensors"):
            missing.append(f"checkpoint {c.model_path} must be .ckpt or .safetensors (upstream refuses .pth; rename it)")
        return missing + missing_python(c.python, c.conda_env)

    def weight_files(self) -> list[tuple[str, Path, str]]:
        """(what, path, kind) of each file upstream opens with these settings."""
        c = self.config
        # from_ckpt reads this relative to the cwd, where the weights folder is linked as pretrained_models
        # (vace/models/wan/modules/model.py:337).
        files = [("Hallo4 checkpoint", Path(c.model_path), "file"),
                 ("Wan2.1 encoder config (pretrained_models/Wan2.1_Encoders/config.json, read from the cwd)",
                  Path(c.weights) / "Wan2.1_Encoders" / "config.json", "file")]
        files += [(what, Path(c.ckpt_dir) / name, kind) for what, name, kind in ENCODER_FILES]
        return files + [("wav2vec2", Path(c.wav2vec_model_path), "dir"),
                        ("vocal separator", Path(c.audio_separator_model_path), "file")]

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        results, runnable = [], []
        for r in requests:
            if (r.skeleton_path or self.config.default_skeleton) is None:
                results.append(GenerationResult(r.job_id, error="hallo4 needs a skeleton (pose) video: give the clip a "
                                                "`skeleton` in its manifest or set default_skeleton"))
            elif r.skeleton_path is not None and not Path(r.skeleton_path).is_file():
                results.append(GenerationResult(r.job_id, error=f"hallo4 needs a skeleton video file, got {r.skeleton_path}"))
            else:
                runnable.append(r)
        for seed, group in groupby(sorted(runnable, key=lambda r: r.seed), key=lambda r: r.seed):
            results += self._batch(list(group), seed, workdir / f"seed{seed}")
        return results

    def _batch(self, reqs: list[GenerationRequest], seed: int, wd: Path) -> list[GenerationResult]:
        c = self.config
        wd.mkdir(parents=True, exist_ok=True)
        stage(Path(c.weights), wd / "pretrained_models")
        lines, refused = [], []
        for r in reqs:
            try:
                # One uniquely named j<job>.mp4 per request, even when clips share a skeleton file.
                s = stage_inputs(r, wd / "inputs", CONTRACT, wd.parent / "upstream.log",
                                 skeleton=Path(r.skeleton_path or c.default_skeleton))
            except StagingError as e:
                refused.append(GenerationResult(r.job_id, error=str(e)))
                continue
            lines.append(f"{clean_prompt(r.prompt, c.default_prompt)}@@{s.image}@@{s.skeleton}@@{s.audio}")
        if not lines:
            return refused
        reqs = [r for r in reqs if r.job_id not in {x.job_id for x in refused}]
        (wd / "list.txt").write_text("\n".join(lines) + "\n")
        out = wd / "output"
        cmd = [*python_command(c.python, c.conda_env), "-m", "vace.vace_wan_inference",
               "--prompt", str(wd / "list.txt"), "--save_dir", str(out), "--model_path", str(c.model_path),
               "--ckpt_dir", str(c.ckpt_dir), "--wav2vec_model_path", str(c.wav2vec_model_path),
               "--audio_separator_model_path", str(c.audio_separator_model_path),
               "--size", c.size, "--base_seed", str(seed), *c.extra_args]
        error = None
        try:
            run_logged(cmd, cwd=wd, log_path=wd.parent / "upstream.log", env=python_path_env(c.checkout, c.env),
                       timeout=c.timeout_s)
        except UpstreamError as e:
            error = e
        return refused + batch_results(reqs, lambda r: self._collect(r, out), error)

    @staticmethod
    def _collect(r: GenerationRequest, out: Path) -> GenerationResult:
        video = out / f"{r.safe_id}_out_video.mp4"  # case key = basename(skeleton)[:-4] = j<job>
        if video.is_file():
            return GenerationResult(r.job_id, raw_path=video)
        return GenerationResult(r.job_id, error=f"hallo4 wrote no {video.name}")


def make(name: str, settings: dict[str, Any], root: Path) -> Hallo4Generator:
    return Hallo4Generator(name, build_config(Hallo4Config, name, settings, root))
