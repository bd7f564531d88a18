"""Hallo4's released motion modules mapped onto ``trainer.motion.attach``'s (``curate convert hallo4 CKPT OUT``).

Hallo4's VACE-Wan keeps (key layout read from fudan-generative-vision/hallo4 @1ccca54, ``audio_proj.py``,
``pose_proj.py``, ``wan_model.py``, ``model.py``, ``wan_vace.py``; its ``from_ckpt`` also accepts the older
``audio_attn`` / ``audio_norm`` names), with dim the model width:

    audio_proj.proj1/proj2/proj3.{weight,bias}, audio_proj.norm.{weight,bias}   the window MLP (5 x 12 x 768 ->
                                                                                 512 -> 512 -> 32 x dim, LayerNorm)
    blocks.{i}.audio_cross_norm.{weight,bias}                                    LayerNorm before the attention
    blocks.{i}.audio_cross_attn.{q,k,v,o}.{weight,bias}, .norm_q/.norm_k.weight  per-frame cross-attention
    pose_proj.proj.{weight,bias}      (dim/4, 16, 2, 2), (dim/4)   Conv2d on each frame's VAE latent, kernel = stride
                                                                   = the spatial patch 2
    pose_proj.norm.{weight,bias}      (dim/4)                      LayerNorm; 4 frames -> channels of one token
    blocks.{i}.condition_cross_norm.{weight,bias}                  LayerNorm on the feed-forward's input (keys/values)
    blocks.{i}.condition_cross_attn.{q,k,v,o}.{weight,bias}, .norm_q/.norm_k.weight   queries from the skeleton

which become ``motion.audio_proj.*`` (``audio_projection="mlp"``), ``blocks.{i}.attn2.processor.motion.{norm_in,
to_q, to_k, to_v, to_out, norm_q, norm_k}.*``, ``motion.skeleton_proj.{proj,norm}.*`` (``skeleton_projection=
"hallo4"``) and ``blocks.{i}.attn2.processor.condition.{norm_in, to_q, ...}.*`` (``skeleton_fusion="hallo4"``): the
same computation, written out in :mod:`trainer.motion.skeleton_condition` (queries from the skeleton tokens, keys and values from
the video tokens, added to the feed-forward's input; the skeleton frames VAE-encoded one by one). Every tensor's
shape is checked; a block must have all 12 of a group's tensors.

The output folder is laid out like a finished run (``OUT/final/motion``), so ``curate train-dpo --init OUT`` starts
from it; the transformer underneath is still ``--transformer`` (Hallo4's own base weights are a VACE-Wan, which
diffusers loads as ``WanVACETransformer3DModel``, not handled here): those keys are listed as not mapped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from storage.errors import CurateError
from trainer.motion.config import MOTION_CONFIG, MOTION_WEIGHTS, MotionConfig
from trainer.motion.hallo4_reader import checked_state_dict

BLOCK_NAMES = {"q": "to_q", "k": "to_k", "v": "to_v", "o": "to_out", "norm_q": "norm_q", "norm_k": "norm_k"}
PREFIXES = ("model.", "module.", "transformer.")
_BLOCK = re.compile(r"^blocks\.(\d+)\.(audio|condition)_cross_(attn|norm)\.(.+)$")
# Hallo4 block group -> (our submodule of blocks.{i}.attn2.processor, name in messages)
GROUPS = {"audio": ("motion", "audio cross-attention"), "condition": ("condition", "condition_cross_attn")}
# every block of a group has these 12 tensors (attention q/k/v/o + its RMSNorms, then the LayerNorm before it)
BLOCK_PARTS = tuple(f"attn.{layer}.{w}" for layer in "qkvo" for w in ("weight", "bias")) + \
    ("attn.norm_q.weight", "attn.norm_k.weight", "norm.weight", "norm.bias")


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:  # kept for callers that want a plain dict
    """A safetensors file, or a torch checkpoint read with ``weights_only=True`` (its ``state_dict`` if nested)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        raw = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - safetensors and torch raise many kinds; all mean "not a checkpoint"
        raise CurateError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e}).") from None
    state = raw.get("state_dict", raw) if isinstance(raw, dict) else raw
    return checked_state_dict(state, path)


def _clean(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Wrapper prefixes off; Hallo4's older audio_attn / audio_norm names onto the current ones."""
    clean = {}
    for key, value in state.items():
        for p in PREFIXES:
            key = key.removeprefix(p)
        clean[key.replace("audio_attn", "audio_cross_attn").replace("audio_norm", "audio_cross_norm")] = value
    return clean


def _need(clean: dict, key: str, shape: tuple, path: Path, what: str) -> torch.Tensor:
    """The tensor under ``key`` with ``shape``, or a CurateError naming the file and the key."""
    if key not in clean:
        raise CurateError(f"{path}: no {key}: not a Hallo4 checkpoint with its {what}.")
    if tuple(clean[key].shape) != tuple(shape):
        raise CurateError(f"{path}: {key} has shape {tuple(clean[key].shape)}, expected {tuple(shape)} ({what}).")
    return clean[key]


def _rank(clean: dict, key: str, ndim: int, path: Path) -> torch.Tensor:
    """An audio_proj tensor that fixes the sizes of the others: present and with ``ndim`` dimensions."""
    if key not in clean:
        raise CurateError(f"{path}: no {key}: not a Hallo4 checkpoint with its audio module.")
    if clean[key].dim() != ndim:
        raise CurateError(f"{path}: {key} has shape {tuple(clean[key].shape)}, expected {ndim} dimensions.")
    return clean[key]


def _blocks(clean: dict, path: Path, group: str, dim: int, ours: dict) -> list[int]:
    """Map ``blocks.{i}.{group}_cross_{attn,norm}.*`` (every block complete, every shape checked); the block ids."""
    found = set()
    for key in clean:
        m = _BLOCK.match(key)
        if m and m.group(2) == group:
            if f"{m.group(3)}.{m.group(4)}" not in BLOCK_PARTS:
                raise CurateError(f"{path}: unexpected key {key} in the {GROUPS[group][1]}.")
            found.add(int(m.group(1)))
    sub, what = GROUPS[group]  # every part of every block found is required, shape-checked
    for i in sorted(found):
        for part in BLOCK_PARTS:
            kind, _, rest = part.partition(".")
            key = f"blocks.{i}.{group}_cross_{kind}.{rest}"
            layer, _, w = rest.partition(".")
            name = f"norm_in.{rest}" if kind == "norm" else f"{BLOCK_NAMES[layer]}.{w}"
            shape = (dim, dim) if kind == "attn" and layer in "qkvo" and w == "weight" else (dim,)
            ours[f"blocks.{i}.attn2.processor.{sub}.{name}"] = _need(clean, key, shape, path, what)
    return sorted(found)


def _pose(clean: dict, path: Path, dim: int, ours: dict) -> dict:
    """``pose_proj.{proj,norm}.*`` onto ``motion.skeleton_proj`` (:class:`trainer.motion.skeleton_condition.Hallo4PoseProjection`);
    the skeleton part of our config."""
    w = clean.get("pose_proj.proj.weight")
    if w is None or w.dim() != 4 or w.shape[2] != w.shape[3] or w.shape[0] * 4 != dim:
        got = "missing" if w is None else f"of shape {tuple(w.shape)}"
        raise CurateError(f"{path}: pose_proj.proj.weight is {got}, expected ({dim // 4}, C, p, p) (the pose "
                          "projection's patch convolution to a quarter of the model width).")
    for key in ("pose_proj.proj.bias", "pose_proj.norm.weight", "pose_proj.norm.bias"):
        ours[f"motion.skeleton_proj.{key.removeprefix('pose_proj.')}"] = _need(clean, key, (dim // 4,), path,
                                                                              "pose projection")
    ours["motion.skeleton_proj.proj.weight"] = w
    return {"skeleton_joints": w.shape[1], "skeleton_stride": w.shape[2], "skeleton_projection": "hallo4",
            "skeleton_fusion": "hallo4"}


def _left(clean: dict, used: set) -> str:
    """The keys not mapped, by module (block numbers folded), e.g. ``blocks.N.self_attn (120), head (3)``."""
    groups: dict[str, int] = {}
    for key in clean:
        if key not in used:
            name = ".".join(re.sub(r"(?<=\.)\d+(?=\.|$)", "N", key).split(".")[:-1][:3]) or key
            groups[name] = groups.get(name, 0) + 1
    shown = [f"{k} ({n})" for k, n in sorted(groups.items())[:8]]
    return ", ".join(shown) + (f", ... {len(groups) - 8} more" if len(groups) > 8 else "")


def map_hallo4(state: dict[str, torch.Tensor], path: Path, window: int = 5) -> tuple[dict, dict, str]:
    """(our motion config as a dict, our motion state dict, a one-line summary: what was mapped, what was left)."""
    clean, ours = (_clean(state) if isinstance(state, dict) else state), {}
    hidden, in_features = _rank(clean, "audio_proj.proj1.weight", 2, path).shape
    dim = _rank(clean, "audio_proj.norm.weight", 1, path).shape[0]
    out3 = _rank(clean, "audio_proj.proj3.weight", 2, path).shape[0]
    if out3 % dim:
        raise CurateError(f"{path}: audio_proj.proj3.weight has {out3} outputs, not tokens x {dim} (the width of "
                          "audio_proj.norm).")
    shapes = {"proj1": ((hidden, in_features), (hidden,)), "proj2": ((hidden, hidden), (hidden,)),
              "proj3": ((out3, hidden), (out3,)), "norm": ((dim,), (dim,))}
    for part, (w_shape, b_shape) in shapes.items():
        for w, shape in (("weight", w_shape), ("bias", b_shape)):
            key = f"audio_proj.{part}.{w}"
            ours[f"motion.{key}"] = _need(clean, key, shape, path, "audio module")
    blocks = _blocks(clean, path, "audio", dim, ours)
    if not blocks:
        raise CurateError(f"{path}: no blocks.N.audio_cross_attn weights.")
    if in_features % window:
        raise CurateError(f"{path}: the audio projection takes {in_features} features, not a multiple of the "
                          f"window of {window} frames (--window).")
    config = {"kind": "wan", "audio_dim": in_features // window, "audio_projection": "mlp",
              "audio_window_tokens": window, "audio_hidden": hidden, "audio_context_tokens": out3 // dim}
    mapped = ["audio_proj (8 tensors)", f"audio cross-attention ({len(blocks)} blocks x 12 tensors)"]
    cond = _blocks(clean, path, "condition", dim, ours)
    has_pose = any(k.startswith("pose_proj.") for k in clean)
    if has_pose or cond:
        if not (has_pose and cond):
            missing = "pose_proj" if cond else "blocks.N.condition_cross_attn"
            raise CurateError(f"{path}: a skeleton branch without {missing}: both are needed to map it.")
        if cond != blocks:
            raise CurateError(f"{path}: condition_cross_attn in blocks {cond}, audio_cross_attn in {blocks}: the "
                              "skeleton and audio attention must cover the same blocks.")
        config.update(_pose(clean, path, dim, ours))
        mapped += ["pose_proj (4 tensors)", f"condition_cross_attn ({len(cond)} blocks x 12 tensors)"]
    used = {k for k in clean if k.startswith(("audio_proj.", "pose_proj.")) or _BLOCK.match(k)}
    left = _left(clean, used)
    summary = "mapped: " + ", ".join(mapped) + ("; no skeleton branch in the checkpoint" if len(mapped) == 2 else "")
    return config, ours, summary + (f"; not mapped (the base transformer, from --transformer): {left}" if left else "")


def convert_hallo4(ckpt: str | Path, out: str | Path, window: int = 5, config: str | Path | None = None,
                   paths: dict | None = None) -> tuple[Path, str]:
    """Convert a Hallo4 checkpoint into the run folder ``out``; the folder and a one-line summary.

    A whole checkpoint (the VACE-Wan DiT with it) becomes a complete run: ``out/final/denoiser`` (a diffusers
    ``WanVACETransformer3DModel`` folder with the motion module beside it, reference-frame tokens on) and
    ``out/config.json`` naming it and ``paths`` (``vae_path``, ``text_encoder_path``, ``audio_encoder_path``).
    A checkpoint with the motion modules only gives ``out/final/motion``, for a base named by ``--transformer``.
    Everything is written in a temporary folder beside ``out`` and renamed at the end: nothing half-written.
    """
    import shutil
    import tempfile

    from trainer.motion.hallo4_reader import CheckpointReader

    ckpt, out = Path(ckpt), Path(out).resolve()
    if not ckpt.is_file():
        raise CurateError(f"{ckpt}: no such checkpoint file.")
    if out.exists() and any(out.iterdir()):
        raise CurateError(f"{out}: exists and is not empty; name a new folder for the converted run.")
    reader = CheckpointReader(ckpt)
    whole = "patch_embedding.weight" in reader
    motion_cfg, state, summary = map_hallo4(reader, ckpt, window)
    if whole:
        motion_cfg["reference_tokens"] = True
    try:
        MotionConfig(**{k: v for k, v in motion_cfg.items() if k != "kind"})
    except ValueError as e:
        raise CurateError(f"{ckpt}: {e}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        if whole:
            summary = _write_whole(reader, ckpt, config, tmp, out, motion_cfg, state, summary, paths or {})
        else:
            _write_motion(tmp / "final" / "motion", motion_cfg, state)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "final" / ("denoiser" if whole else "motion"), summary


def _write_motion(folder: Path, motion_cfg: dict, state: dict) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().float().contiguous() for k, v in state.items()}, str(folder / MOTION_WEIGHTS))
    (folder / MOTION_CONFIG).write_text(json.dumps(motion_cfg, indent=1))


def _write_whole(reader, ckpt: Path, config, tmp: Path, out: Path, motion_cfg: dict, state: dict, summary: str,
                 paths: dict) -> str:
    """The DiT + VACE blocks (streamed) and the motion module in ``tmp/final/denoiser``, the run's config.json."""
    from trainer.dpo_config import DiffusionDPOConfig
    from trainer.motion.hallo4_dit import dit_config, read_upstream_config, write_dit

    dcfg = dit_config(reader, ckpt, read_upstream_config(config))
    folder = tmp / "final" / "denoiser"
    n, used = write_dit(reader, ckpt, dcfg, folder)
    _write_motion(folder, motion_cfg, state)
    run = DiffusionDPOConfig(**HALLO4_RUN, denoiser_path=str(out / "final" / "denoiser"), output_dir=str(out),
                             **{k: str(v) for k, v in paths.items() if v})
    import dataclasses

    (tmp / "config.json").write_text(json.dumps(dataclasses.asdict(run), indent=1))
    left = {k for k in reader if k not in used and not k.startswith(("audio_proj.", "pose_proj."))
            and not _BLOCK.match(k)}
    summary = summary.split("; not mapped")[0]
    return (f"{summary}, DiT + VACE ({n} tensors, {dcfg['num_layers']} blocks, VACE on {dcfg['vace_layers']})"
            + (f"; not mapped: {_left({k: None for k in left}, set())}" if left else ""))


# the run settings of a converted Hallo4 (upstream's inference defaults: 25 fps, 81 frames at 480 x 832)
HALLO4_RUN = {"model_kind": "wan", "reference_image": "vace", "audio_layers": "all", "audio_projection": "mlp",
              "audio_features": "hallo4", "skeleton_input": "vae", "skeleton_framing": "fit_height", "fps": 25.0,
              "num_frames": 81, "height": 480, "width": 832}
