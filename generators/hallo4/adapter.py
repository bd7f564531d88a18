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
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Any

from generators._proc import UpstreamError, python_command, run_logged
from generators._settings import build_config, clean_prompt, missing_paths, missing_python, stage
from generators.base import GenerationRequest, GenerationResult
from generators.hallo4.config import Hallo4Config


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
            missing += missing_paths([("Hallo4 checkpoint", c.model_path), ("Wan2.1 encoders", c.ckpt_dir),
                                      ("wav2vec2", c.wav2vec_model_path), ("vocal separator", c.audio_separator_model_path)])
        if c.model_path and Path(c.model_path).suffix not in (".ckpt", ".safetensors"):
            missing.append(f"checkpoint {c.model_path} must be .ckpt or .safetensors (upstream refuses .pth; rename it)")
        return missing + missing_python(c.python, c.conda_env)

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
        lines = []
        for r in reqs:
            skel_src = r.skeleton_path or c.default_skeleton
            skel = stage(skel_src, wd / "skeletons" / f"{r.safe_id}{Path(skel_src).suffix or '.mp4'}")
            img = stage(r.image_path, wd / "inputs" / f"{r.safe_id}{r.image_path.suffix}")
            wav = stage(r.audio_path, wd / "inputs" / f"{r.safe_id}{r.audio_path.suffix}")
            lines.append(f"{clean_prompt(r.prompt, c.default_prompt)}@@{img}@@{skel}@@{wav}")
        (wd / "list.txt").write_text("\n".join(lines) + "\n")
        out = wd / "output"
        cmd = [*python_command(c.python, c.conda_env), "-m", "vace.vace_wan_inference",
               "--prompt", str(wd / "list.txt"), "--save_dir", str(out), "--model_path", str(c.model_path),
               "--ckpt_dir", str(c.ckpt_dir), "--wav2vec_model_path", str(c.wav2vec_model_path),
               "--audio_separator_model_path", str(c.audio_separator_model_path),
               "--size", c.size, "--base_seed", str(seed), *c.extra_args]
        env = {"PYTHONPATH": str(c.checkout), **c.env}
        try:
            run_logged(cmd, cwd=wd, log_path=wd.parent / "upstream.log", env=env, timeout=c.timeout_s)
        except UpstreamError as e:
            return [GenerationResult(r.job_id, error=str(e)) for r in reqs]
        results = []
        for r in reqs:
            video = out / f"{r.safe_id}_out_video.mp4"
            results.append(GenerationResult(r.job_id, raw_path=video) if video.is_file()
                           else GenerationResult(r.job_id, error=f"hallo4 wrote no {video.name}"))
        return results


def make(name: str, settings: dict[str, Any], root: Path) -> Hallo4Generator:
    return Hallo4Generator(name, build_config(Hallo4Config, name, settings, root))
