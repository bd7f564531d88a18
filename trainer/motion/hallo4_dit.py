"""Hallo4's fine-tuned VACE-Wan DiT onto diffusers' ``WanVACETransformer3DModel``, streamed (``curate convert hallo4``).

Upstream's ``VaceWanModel`` (fudan-generative-vision/hallo4 @1ccca54, ``vace/models/wan/modules/model.py`` and
``wan_model.py``) names its weights as the original Wan2.1 code does; diffusers' VACE transformer computes the same
thing under other names (checked numerically against upstream's code: ``tests/trainer/motion/test_hallo4_parity.py``):

    patch_embedding, vace_patch_embedding            -> same names
    text_embedding.{0,2}                             -> condition_embedder.text_embedder.linear_{1,2}
    time_embedding.{0,2}, time_projection.1          -> condition_embedder.time_embedder.linear_{1,2}, .time_proj
    head.head, head.modulation                       -> proj_out, scale_shift_table
    {blocks,vace_blocks}.i.self_attn / cross_attn .{q,k,v,o,norm_q,norm_k}
                                                     -> .attn1 / .attn2 .{to_q,to_k,to_v,to_out.0,norm_q,norm_k}
    .norm3 (the cross-attention LayerNorm)           -> .norm2        (upstream's norm2 has no weights)
    .ffn.{0,2}, .modulation                          -> .ffn.net.0.proj, .ffn.net.2, .scale_shift_table
    vace_blocks.i.before_proj / after_proj           -> vace_blocks.i.proj_in / proj_out

The per-block hint goes to main block ``vace_layers[i]`` in both. Neither the heads nor ``vace_layers`` are in the
weights: they come from upstream's ``config.json`` (``--config``) or, without it, Wan's 128-wide heads and
VACE-1.3B's every-second-block layout (checked against the number of VACE blocks).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from storage.errors import CurateError

_TOP = {"text_embedding.0": "condition_embedder.text_embedder.linear_1",
        "text_embedding.2": "condition_embedder.text_embedder.linear_2",
        "time_embedding.0": "condition_embedder.time_embedder.linear_1",
        "time_embedding.2": "condition_embedder.time_embedder.linear_2",
        "time_projection.1": "condition_embedder.time_proj", "head.head": "proj_out",
        "patch_embedding": "patch_embedding", "vace_patch_embedding": "vace_patch_embedding"}
_ATTN = {"self_attn": "attn1", "cross_attn": "attn2"}
_LAYER = {"q": "to_q", "k": "to_k", "v": "to_v", "o": "to_out.0", "norm_q": "norm_q", "norm_k": "norm_k"}
_BLOCK = {"norm3": "norm2", "ffn.0": "ffn.net.0.proj", "ffn.2": "ffn.net.2", "before_proj": "proj_in",
          "after_proj": "proj_out"}
_KEY = re.compile(r"^(blocks|vace_blocks)\.(\d+)\.(.+)\.(weight|bias)$")
_ATTN_KEY = re.compile(r"^(self_attn|cross_attn)\.(q|k|v|o|norm_q|norm_k)$")
SHARD_BYTES = 2 << 30  # a shard is written when this much is pending: peak memory stays near one shard


def dit_key(key: str) -> str | None:
    """The diffusers name of an upstream DiT / VACE key, or None for a key that is not part of them."""
    if key == "head.modulation":
        return "scale_shift_table"
    stem, _, leaf = key.rpartition(".")
    if stem in _TOP and leaf in ("weight", "bias"):
        return f"{_TOP[stem]}.{leaf}"
    if key.endswith(".modulation") and key.startswith(("blocks.", "vace_blocks.")):
        return key.removesuffix("modulation") + "scale_shift_table"
    m = _KEY.match(key)
    if not m:
        return None
    group, i, inner, leaf = m.groups()
    a = _ATTN_KEY.match(inner)
    if a:
        return f"{group}.{i}.{_ATTN[a.group(1)]}.{_LAYER[a.group(2)]}.{leaf}"
    if inner in _BLOCK:
        return f"{group}.{i}.{_BLOCK[inner]}.{leaf}"
    return None


def _count(reader, prefix: str) -> int:
    ids = {int(k.split(".")[1]) for k in reader if k.startswith(prefix) and k.split(".")[1].isdigit()}
    return max(ids) + 1 if ids else 0


def dit_config(reader, path: Path, upstream: dict | None = None) -> dict:
    """The ``WanVACETransformer3DModel`` config of the checkpoint's DiT, from its shapes (and upstream's config)."""
    upstream = upstream or {}
    for key in ("patch_embedding.weight", "vace_patch_embedding.weight", "blocks.0.ffn.0.weight",
                "text_embedding.0.weight", "time_embedding.0.weight"):
        if key not in reader:
            raise CurateError(f"{path}: no {key}: not a Hallo4 (VACE-Wan) checkpoint.")
    dim, in_ch, *patch = reader.shape("patch_embedding.weight")
    layers, n_vace = _count(reader, "blocks."), _count(reader, "vace_blocks.")
    heads = int(upstream.get("num_heads", max(1, dim // 128)))
    vace_layers = list(upstream.get("vace_layers") or range(0, layers, 2))
    if len(vace_layers) != n_vace:
        raise CurateError(f"{path}: {n_vace} VACE blocks (vace_blocks.N), but the VACE layout {vace_layers} needs "
                          f"{len(vace_layers)}: a VACE block is missing, or pass upstream's config.json (--config).")
    if dim % heads:
        raise CurateError(f"{path}: model width {dim} is not a multiple of {heads} heads (--config num_heads).")
    cells = patch[0] * patch[1] * patch[2]
    out = reader.shape("head.head.weight")[0] // cells if "head.head.weight" in reader else in_ch
    return {"patch_size": list(patch), "num_attention_heads": heads, "attention_head_dim": dim // heads,
            "in_channels": in_ch, "out_channels": out, "text_dim": reader.shape("text_embedding.0.weight")[1],
            "freq_dim": reader.shape("time_embedding.0.weight")[1], "ffn_dim": reader.shape("blocks.0.ffn.0.weight")[0],
            "num_layers": layers, "cross_attn_norm": True, "qk_norm": "rms_norm_across_heads",
            "eps": float(upstream.get("eps", 1e-6)), "vace_layers": vace_layers,
            "vace_in_channels": reader.shape("vace_patch_embedding.weight")[1]}


def expected_keys(config: dict) -> dict[str, tuple]:
    """Every weight of the diffusers model with ``config`` and its shape (built on the meta device: no memory)."""
    from diffusers import WanVACETransformer3DModel

    with torch.device("meta"):
        model = WanVACETransformer3DModel(**config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def write_dit(reader, path: Path, config: dict, folder: Path) -> tuple[int, set]:
    """Stream the DiT weights into ``folder`` (diffusers layout, sharded, stored dtype); (tensors, upstream keys used).
    Every weight the model needs must be there with its shape, else one line naming the file and the key."""
    from safetensors.torch import save_file

    want = expected_keys(config)
    ours = {}
    for key in reader:
        name = dit_key(key)
        if name is not None and name in want:
            ours[name] = key
    missing = sorted(set(want) - set(ours), key=_natural)
    if missing:
        upstream = {dit_key(k): k for k in _guess_upstream(missing[0])}
        raise CurateError(f"{path}: no {upstream.get(missing[0], missing[0])} (needed for {missing[0]}"
                          f"{f' and {len(missing) - 1} more' if len(missing) > 1 else ''}): not a complete Hallo4 "
                          "checkpoint.")
    for name, key in ours.items():
        if reader.shape(key) != want[name]:
            raise CurateError(f"{path}: {key} has shape {reader.shape(key)}, expected {want[name]} ({name}).")
    folder.mkdir(parents=True, exist_ok=True)
    shards, pending, size, weight_map = [], {}, 0, {}
    for name in sorted(ours, key=_natural):
        t = reader[ours[name]].contiguous()
        pending[name], size = t, size + t.numel() * t.element_size()
        if size >= SHARD_BYTES:
            shards.append(pending)
            _flush(shards, folder, weight_map, save_file)
            pending, size = {}, 0
    if pending:
        shards.append(pending)
        _flush(shards, folder, weight_map, save_file)
    _finish_shards(folder, weight_map)
    (folder / "config.json").write_text(json.dumps({"_class_name": "WanVACETransformer3DModel", **config}, indent=1))
    return len(ours), set(ours.values())


def _flush(shards: list, folder: Path, weight_map: dict, save_file) -> None:
    """Write the last shard under a provisional name (renamed once the count is known) and free its tensors."""
    name = f"part-{len(shards):05d}.safetensors"
    save_file(shards[-1], str(folder / name))
    weight_map.update({k: name for k in shards[-1]})
    shards[-1] = None


def _finish_shards(folder: Path, weight_map: dict) -> None:
    """One shard: diffusers' single-file name; several: ``-0000i-of-0000n`` names and the index file."""
    parts = sorted(set(weight_map.values()))
    if len(parts) == 1:
        (folder / parts[0]).rename(folder / "diffusion_pytorch_model.safetensors")
        return
    names = {p: f"diffusion_pytorch_model-{i + 1:05d}-of-{len(parts):05d}.safetensors" for i, p in enumerate(parts)}
    for old, new in names.items():
        (folder / old).rename(folder / new)
    total = sum((folder / n).stat().st_size for n in names.values())
    index = {"metadata": {"total_size": total}, "weight_map": {k: names[v] for k, v in sorted(weight_map.items())}}
    (folder / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps(index, indent=1))


def _guess_upstream(name: str) -> list[str]:
    """Upstream keys that could map to diffusers ``name`` (to name the missing one in the message)."""
    m = re.match(r"^(blocks|vace_blocks)\.(\d+)\.", name)
    prefix = f"{m.group(1)}.{m.group(2)}." if m else ""
    parts = ["self_attn", "cross_attn"]
    cands = [f"{prefix}{p}.{layer}.{w}" for p in parts for layer in _LAYER for w in ("weight", "bias")]
    cands += [f"{prefix}{b}.{w}" for b in _BLOCK for w in ("weight", "bias")] + [f"{prefix}modulation"]
    cands += [f"{s}.{w}" for s in _TOP for w in ("weight", "bias")] + ["head.modulation"]
    return cands


def _natural(key: str):
    return [int(p) if p.isdigit() else p for p in key.split(".")]


def read_upstream_config(path: str | Path | None) -> dict | None:
    """Upstream's model ``config.json`` (num_heads, vace_layers, ...) or None."""
    if not path:
        return None
    p = Path(path)
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise CurateError(f"{p}: not a readable config.json ({type(e).__name__}: {e}).") from None
