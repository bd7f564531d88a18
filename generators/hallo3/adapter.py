"""Hallo3 through its list-file batch mode: one ``sample_video.py`` call per batch, model loaded once.

Upstream facts (reference/baselines.md §5): lines ``prompt@@image@@audio``; outputs
``{out}/{image_stem}-{audio_stem}-seed_{seed}/000000_with_audio.mp4``; the shipped shell
script seeds with ``$RANDOM``, so we call ``sample_video.py`` directly with a fixed
``--seed``; SAT needs ``WORLD_SIZE/RANK/LOCAL_RANK/LOCAL_WORLD_SIZE``.

Read at fudan-generative-vision/hallo3 e342dce. Only an exactly square image is padded and
cropped back to 480 x 480; any other is centre-cropped to a 480 x 720 landscape
(hallo3/sample_video.py:131-158, 284-293), which cuts the face out of a 4:5 portrait. So the
portrait is staged square (centre crop) and the output is always 480 x 480.

Quirks handled: inputs are linked under unique names (``j<job>.png``/``.wav``) so two clips
whose files share a stem cannot collide; the working directory is the job's own folder
(with ``configs`` and ``pretrained_models`` linked in) so the vocal separator's
``.cache/`` is not shared between concurrent batches.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Any

from generators._proc import UpstreamError, batch_results, python_command, run_logged
from generators._settings import (
    build_config,
    clean_prompt,
    missing_files,
    missing_paths,
    missing_python,
    stage,
    unique_files,
    yaml_weight_files,
)
from generators.base import GenerationRequest, GenerationResult
from generators.hallo3.config import Hallo3Config
from generators.staging import InputContract, StagingError, stage_inputs

# configs/inference.yaml: sample_rate 16000, sampling_fps 25; WAV input (README); square image (see above).
CONTRACT = InputContract(audio_rate=16000, image_aspect=(1, 1), frame_rate=25)

SAT_ENV = {"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "1"}


class Hallo3Generator:
    kind = "upstream"

    def __init__(self, name: str, config: Hallo3Config):
        self.name, self.config = name, config

    def check(self) -> list[str]:
        c = self.config
        missing = missing_paths([("checkout", c.checkout)])
        if not missing:
            missing += missing_paths([("entry script", c.entry), ("weights folder", c.weights)])
            if c.weights and Path(c.weights).exists() and not missing:
                missing += missing_files(self.weight_files())
        return missing + missing_python(c.python, c.conda_env)

    def weight_files(self) -> list[tuple[str, Path, str]]:
        """The SAT checkpoint and every ``./pretrained_models/...`` of the base configs (T5, 3D VAE,
        wav2vec2, vocal separator, face analysis: configs/inference.yaml, cogvideox_5b_i2v_s2.yaml)."""
        c = self.config
        w = Path(c.weights)
        files = [("Hallo3 checkpoint", w / "hallo3" / "1" / "mp_rank_00_model_states.pt", "file"),
                 ("Hallo3 checkpoint iteration (SAT reads `latest`)", w / "hallo3" / "latest", "file")]
        for base in c.base_configs:
            path = Path(c.checkout) / base
            if path.is_file():
                files += yaml_weight_files(path, "./pretrained_models/", w, "Hallo3")
            else:
                files.append((f"base config {base}", path, "file"))
        # the insightface models FaceAnalysis loads from face_analysis_model_path (README's layout)
        files += [("Hallo3 face analysis model", w / "face_analysis" / "models" / name, "file")
                  for name in ("scrfd_10g_bnkps.onnx", "2d106det.onnx", "1k3d68.onnx", "genderage.onnx",
                               "glintr100.onnx")]
        return unique_files(files)

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        results = []
        for seed, group in groupby(sorted(requests, key=lambda r: r.seed), key=lambda r: r.seed):
            results += self._batch(list(group), seed, workdir / f"seed{seed}")
        return results

    def _batch(self, reqs: list[GenerationRequest], seed: int, wd: Path) -> list[GenerationResult]:
        c = self.config
        wd.mkdir(parents=True, exist_ok=True)
        stage(Path(c.checkout) / "configs", wd / "configs")
        stage(Path(c.weights), wd / "pretrained_models")
        lines, refused = [], []
        for r in reqs:
            try:
                staged = stage_inputs(r, wd / "inputs", CONTRACT, wd.parent / "upstream.log")
            except StagingError as e:
                refused.append(GenerationResult(r.job_id, error=str(e)))
                continue
            lines.append(f"{clean_prompt(r.prompt, c.default_prompt)}@@{staged.image}@@{staged.audio}")
        if not lines:
            return refused
        reqs = [r for r in reqs if r.job_id not in {x.job_id for x in refused}]
        (wd / "input.txt").write_text("\n".join(lines) + "\n")
        out = wd / "output"
        cmd = [*python_command(c.python, c.conda_env), str(c.entry), "--base", *c.base_configs,
               "--seed", str(seed), "--input-file", str(wd / "input.txt"), "--output-dir", str(out), *c.extra_args]
        error = None
        try:
            run_logged(cmd, cwd=wd, log_path=wd.parent / "upstream.log", env={**SAT_ENV, **c.env}, timeout=c.timeout_s)
        except UpstreamError as e:
            error = e
        return refused + batch_results(reqs, lambda r: self._collect(r, out, seed), error)

    @staticmethod
    def _collect(r: GenerationRequest, out: Path, seed: int) -> GenerationResult:
        video = out / f"{r.safe_id}-{r.safe_id}-seed_{seed}" / "000000_with_audio.mp4"
        if video.is_file():
            return GenerationResult(r.job_id, raw_path=video)
        return GenerationResult(r.job_id, error=f"hallo3 wrote no {video.relative_to(out.parent)}")


def make(name: str, settings: dict[str, Any], root: Path) -> Hallo3Generator:
    return Hallo3Generator(name, build_config(Hallo3Config, name, settings, root))
