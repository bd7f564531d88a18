"""EchoMimic-v2 through ``infer_acc.py`` with a YAML case list: models loaded once per batch.

Upstream facts (reference/baselines.md §3): ``test_cases: {ref_image: [audio, pose_dir]}``;
each pose folder holds per-frame DWPose ``{i}.npy`` (0-based, contiguous); a case's length
is min(-L, audio x fps, pose files); the output is ``.../{ref}-a-{audio}-i0_sig.mp4`` under
``output/``.

Quirks handled:
* ``args.L`` is overwritten with each case's length inside upstream's loop, so the budget
  only shrinks: cases are listed longest first, so each one's own length is <= the budget left.
* Pose folders: each request gets ``poses/j<job>/`` with exactly as many ``{i}.npy`` links as
  its audio needs, looping the source sequence (maintainers: looping poses is fine, EchoMimicV2 upstream issue #75).
* Square sizes: the reference image is centre-cropped to a square before upstream resizes it.
* Audio: upstream tells the audio from the pose folder by ``".wav" in path`` (infer_acc.py:160-164),
  so audio is staged as ``.wav`` and a pose folder whose path contains ``.wav`` is refused.
* ``check()`` lists every ``*_path`` of the config template that points into the weights.

Read at antgroup/echomimic_v2 a312dec.
"""

from __future__ import annotations

import math
from itertools import groupby
from pathlib import Path
from typing import Any

from generators._proc import UpstreamError, batch_results, python_command, run_logged
from generators._settings import build_config, missing_files, missing_paths, missing_python, stage
from generators.base import GenerationRequest, GenerationResult
from generators.echomimic_v2.config import EchoMimicV2Config
from generators.staging import InputContract, StagingError, stage_inputs

# Whisper features at 16 kHz; the reference is resized to the square -W x -H, so it is cropped square first.
CONTRACT = InputContract(audio_rate=16000, image_aspect=(1, 1), frame_rate=24)
WEIGHTS_PREFIX = "./pretrained_weights/"
# What infer_acc.py loads from configs/prompts/infer_acc.yaml (infer_acc.py:89-134): folder or file.
WEIGHT_KEYS = {"pretrained_base_model_path": "dir", "pretrained_vae_path": "dir", "denoising_unet_path": "file",
               "reference_unet_path": "file", "pose_encoder_path": "file", "motion_module_path": "file",
               "audio_model_path": "file"}


def pose_files(folder: Path) -> list[Path]:
    """The ``0.npy, 1.npy, ...`` files of a pose folder, in frame order (contiguous from 0)."""
    n = 0
    while (folder / f"{n}.npy").is_file():
        n += 1
    return [folder / f"{i}.npy" for i in range(n)]


class EchoMimicV2Generator:
    kind = "upstream"

    def __init__(self, name: str, config: EchoMimicV2Config):
        self.name, self.config = name, config

    def check(self) -> list[str]:
        c = self.config
        missing = missing_paths([("checkout", c.checkout)])
        if not missing:
            missing += missing_paths([("entry script", c.entry), ("config template", Path(c.checkout) / c.config_template),
                                      ("weights folder", c.weights), ("default pose folder", c.default_pose_dir)])
            if c.weights and Path(c.weights).exists() and not missing:
                missing += self.weight_problems()
        return missing + missing_python(c.python, c.conda_env)

    def weight_problems(self) -> list[str]:
        """What is wrong with each weight the config template makes upstream load (or a key it lacks)."""
        import yaml

        c = self.config
        cfg = yaml.safe_load((Path(c.checkout) / c.config_template).read_text()) or {}
        unset = [f"{c.config_template}: `{key}` is not set (infer_acc.py loads it)" for key in WEIGHT_KEYS if not cfg.get(key)]
        items = [(f"EchoMimic-v2 {key}", Path(c.weights) / str(cfg[key])[len(WEIGHTS_PREFIX):], kind)
                 for key, kind in WEIGHT_KEYS.items() if str(cfg.get(key, "")).startswith(WEIGHTS_PREFIX)]
        return unset + missing_files(items)

    def frames_needed(self, r: GenerationRequest) -> int:
        return max(1, min(self.config.max_frames, math.ceil(r.audio_duration * self.config.fps)))

    def generate(self, requests: list[GenerationRequest], workdir: Path) -> list[GenerationResult]:
        results = []
        for seed, group in groupby(sorted(requests, key=lambda r: r.seed), key=lambda r: r.seed):
            results += self._batch(list(group), seed, workdir / f"seed{seed}")
        return results

    def _poses(self, r: GenerationRequest, wd: Path) -> Path:
        src = r.skeleton_path if r.skeleton_path is not None and Path(r.skeleton_path).is_dir() else self.config.default_pose_dir
        if ".wav" in str(src) or ".wav" in str(wd):
            # infer_acc.py:160-164 would take this folder for the audio file.
            raise ValueError(f"pose folder {wd / 'poses' / r.safe_id} (from {src}): its path contains '.wav', which "
                             "EchoMimic-v2 takes for the audio (infer_acc.py:160-164); rename it")
        files = pose_files(Path(src))
        if not files:
            raise ValueError(f"no per-frame pose files 0.npy, 1.npy, ... in {src}")
        out = wd / "poses" / r.safe_id
        for i in range(self.frames_needed(r)):
            stage(files[i % len(files)], out / f"{i}.npy")
        return out

    def _batch(self, reqs: list[GenerationRequest], seed: int, wd: Path) -> list[GenerationResult]:
        import yaml

        c = self.config
        wd.mkdir(parents=True, exist_ok=True)
        stage(Path(c.checkout) / "configs", wd / "configs")
        stage(Path(c.weights), wd / "pretrained_weights")
        cfg = yaml.safe_load((Path(c.checkout) / c.config_template).read_text()) or {}
        cases, errors = {}, []
        for r in sorted(reqs, key=self.frames_needed, reverse=True):  # longest first: -L only shrinks upstream
            try:
                pose = self._poses(r, wd)
                staged = stage_inputs(r, wd / "inputs", CONTRACT, wd.parent / "upstream.log")
            except (ValueError, StagingError) as e:
                errors.append(GenerationResult(r.job_id, error=str(e)))
                continue
            cases[str(staged.image)] = [str(staged.audio), str(pose)]
        if not cases:
            return errors
        cfg["test_cases"] = cases
        (wd / "infer_acc.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        cmd = [*python_command(c.python, c.conda_env), str(c.entry), "--config", str(wd / "infer_acc.yaml"),
               "-W", str(c.size), "-H", str(c.size), "-L", str(c.max_frames), "--seed", str(seed), "--fps", str(c.fps),
               *c.extra_args]
        ok = [r for r in reqs if r.job_id not in {e.job_id for e in errors}]
        error = None
        try:
            run_logged(cmd, cwd=wd, log_path=wd.parent / "upstream.log", env=c.env, timeout=c.timeout_s)
        except UpstreamError as e:
            error = e
        return errors + batch_results(ok, lambda r: self._collect(r, wd), error)

    def _collect(self, r: GenerationRequest, wd: Path) -> GenerationResult:
        found = sorted((wd / "output").glob(f"**/{r.safe_id}-a-{r.safe_id}*.mp4"))
        if not found:
            return GenerationResult(r.job_id, error=f"echomimic_v2 wrote no output/**/{r.safe_id}-a-{r.safe_id}*.mp4")
        return GenerationResult(r.job_id, raw_path=found[-1])


def make(name: str, settings: dict[str, Any], root: Path) -> EchoMimicV2Generator:
    return EchoMimicV2Generator(name, build_config(EchoMimicV2Config, name, settings, root))
