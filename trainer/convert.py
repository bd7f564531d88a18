"""Hallo4's released audio module mapped onto ``trainer.portrait``'s (``curate convert hallo4 CKPT OUT``).

Hallo4's VACE-Wan keeps (key layout read from fudan-generative-vision/hallo4 @1ccca54, ``audio_proj.py``,
``wan_model.py``, ``model.py``; its ``from_ckpt`` also accepts the older ``audio_attn`` / ``audio_norm`` names):

    audio_proj.proj1/proj2/proj3.{weight,bias}, audio_proj.norm.{weight,bias}   the window MLP (5 x 12 x 768 ->
                                                                                 512 -> 512 -> 32 x dim, LayerNorm)
    blocks.{i}.audio_cross_norm.{weight,bias}                                    LayerNorm before the attention
    blocks.{i}.audio_cross_attn.{q,k,v,o}.{weight,bias}, .norm_q/.norm_k.weight  per-frame cross-attention

which become ``motion.audio_proj.*`` (``audio_projection="mlp"``) and ``blocks.{i}.attn2.processor.motion.
{norm_in, to_q, to_k, to_v, to_out, norm_q, norm_k}.*``. The skeleton branch (``pose_proj``,
``condition_cross_attn``) queries from the skeleton tokens, a different design from eq. 8's: it is not mapped.

The output folder is laid out like a finished run (``OUT/final/motion``), so ``curate train-dpo --init OUT`` starts
from it; the transformer underneath is still ``--transformer`` (Hallo4's own base weights are a VACE-Wan, which
diffusers loads as ``WanVACETransformer3DModel``, not handled here).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from storage.errors import CurateError

BLOCK_NAMES = {"q": "to_q", "k": "to_k", "v": "to_v", "o": "to_out", "norm_q": "norm_q", "norm_k": "norm_k"}
PREFIXES = ("model.", "module.", "transformer.")
_BLOCK = re.compile(r"^blocks\.(\d+)\.audio_cross_(attn|norm)\.(.+)$")


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file, or a torch checkpoint read with ``weights_only=True`` (its ``state_dict`` if nested)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        raw = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - safetensors and torch raise many kinds; all mean "not a checkpoint"
        raise CurateError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e}).") from None
    return raw.get("state_dict", raw) if isinstance(raw, dict) else {}


def map_hallo4(state: dict[str, torch.Tensor], path: Path, window: int = 5) -> tuple[dict, dict]:
    """(our motion config as a dict, our motion state dict) from Hallo4's keys."""
    clean = {}
    for key, value in state.items():
        for p in PREFIXES:
            key = key.removeprefix(p)
        clean[key.replace("audio_attn", "audio_cross_attn").replace("audio_norm", "audio_cross_norm")] = value
    ours = {}
    for part in ("proj1", "proj2", "proj3", "norm"):
        for w in ("weight", "bias"):
            if f"audio_proj.{part}.{w}" not in clean:
                raise CurateError(f"{path}: no audio_proj.{part}.{w}: not a Hallo4 checkpoint with its audio module.")
            ours[f"motion.audio_proj.{part}.{w}"] = clean[f"audio_proj.{part}.{w}"]
    blocks = set()
    for key, value in clean.items():
        m = _BLOCK.match(key)
        if not m:
            continue
        i, kind, rest = m.groups()
        blocks.add(int(i))
        if kind == "norm":
            name = f"norm_in.{rest}"
        else:
            layer, _, w = rest.partition(".")
            if layer not in BLOCK_NAMES:
                raise CurateError(f"{path}: unexpected key {key} in the audio cross-attention.")
            name = f"{BLOCK_NAMES[layer]}.{w}"
        ours[f"blocks.{i}.attn2.processor.motion.{name}"] = value
    if not blocks:
        raise CurateError(f"{path}: no blocks.N.audio_cross_attn weights.")
    dim = clean["audio_proj.norm.weight"].shape[0]
    in_features = clean["audio_proj.proj1.weight"].shape[1]
    if in_features % window:
        raise CurateError(f"{path}: the audio projection takes {in_features} features, not a multiple of the "
                          f"window of {window} frames (--window).")
    config = {"kind": "wan", "audio_dim": in_features // window, "audio_projection": "mlp",
              "audio_window_tokens": window, "audio_hidden": clean["audio_proj.proj1.weight"].shape[0],
              "audio_context_tokens": clean["audio_proj.proj3.weight"].shape[0] // dim}
    return config, ours


def convert_hallo4(ckpt: str | Path, out: str | Path, window: int = 5) -> Path:
    """Write ``out/final/motion`` (``motion_config.json`` + ``motion.safetensors``) from a Hallo4 checkpoint."""
    from safetensors.torch import save_file

    from trainer.portrait import MOTION_CONFIG, MOTION_WEIGHTS, MotionConfig

    ckpt = Path(ckpt)
    if not ckpt.is_file():
        raise CurateError(f"{ckpt}: no such checkpoint file.")
    config, state = map_hallo4(read_checkpoint(ckpt), ckpt, window)
    MotionConfig(**{k: v for k, v in config.items() if k != "kind"})  # validates
    target = Path(out) / "final" / "motion"
    target.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().float().contiguous() for k, v in state.items()}, str(target / MOTION_WEIGHTS))
    (target / MOTION_CONFIG).write_text(json.dumps(config, indent=1))
    return target
