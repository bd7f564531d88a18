"""``curate convert hallo4`` on a whole checkpoint: key mapping, stored dtype, bad input named in one line, nothing
half-written. The checkpoint is upstream's tiny model (tests/fixtures/hallo4_parity, see its regeneration script)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "hallo4_parity"


@pytest.fixture(scope="module")
def state():
    return load_file(str(FIX / "hallo4_tiny.safetensors"))


def _convert(cli, tmp_path, state, name="ck.safetensors", *extra):
    ck = tmp_path / name
    if name.endswith(".safetensors"):
        save_file(state, str(ck))
    else:
        torch.save({"state_dict": state}, str(ck))
    return cli("convert", "hallo4", ck, tmp_path / "out", "--config", FIX / "config.json", *extra)


def _no_leftovers(tmp_path):
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no temporary folder left


def test_every_key_maps_by_hand_checked_names():
    from trainer.motion.hallo4_dit import dit_key

    assert dit_key("blocks.3.self_attn.o.weight") == "blocks.3.attn1.to_out.0.weight"
    assert dit_key("vace_blocks.0.cross_attn.norm_k.weight") == "vace_blocks.0.attn2.norm_k.weight"
    assert dit_key("blocks.1.norm3.bias") == "blocks.1.norm2.bias"  # upstream's cross-attention norm
    assert dit_key("blocks.1.ffn.2.weight") == "blocks.1.ffn.net.2.weight"
    assert dit_key("vace_blocks.0.before_proj.bias") == "vace_blocks.0.proj_in.bias"
    assert dit_key("vace_blocks.1.after_proj.weight") == "vace_blocks.1.proj_out.weight"
    assert dit_key("blocks.2.modulation") == "blocks.2.scale_shift_table"
    assert dit_key("head.modulation") == "scale_shift_table"
    assert dit_key("time_projection.1.weight") == "condition_embedder.time_proj.weight"
    assert dit_key("text_embedding.2.bias") == "condition_embedder.text_embedder.linear_2.bias"
    assert dit_key("blocks.0.audio_cross_attn.q.weight") is None  # the motion module's, mapped elsewhere


def test_a_bf16_torch_checkpoint_stays_bf16_and_every_tensor_is_carried(cli, tmp_path, state):
    bf16 = {k: v.to(torch.bfloat16) for k, v in state.items()}
    result = _convert(cli, tmp_path, bf16, "ck.ckpt", "--vae", "/models/vae")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "out" / "final" / "denoiser"
    with safe_open(str(folder / "diffusion_pytorch_model.safetensors"), "pt") as f:
        keys = list(f.keys())
        assert {f.get_tensor(k).dtype for k in keys} == {torch.bfloat16}
        # a tensor read back is the checkpoint's own, bit for bit
        assert torch.equal(f.get_tensor("blocks.1.attn2.to_out.0.weight"), bf16["blocks.1.cross_attn.o.weight"])
    motion = load_file(str(folder / "motion.safetensors"))
    dit = sum(1 for k in state if not k.startswith(("audio_proj", "pose_proj")) and "_cross_" not in k)
    assert len(keys) == dit == 185 and len(motion) == len(state) - dit
    run = json.loads((tmp_path / "out" / "config.json").read_text())
    assert run["vae_path"] == "/models/vae" and run["denoiser_path"] == str(folder.resolve())
    assert run["reference_image"] == "vace" and run["fps"] == 25.0


def test_a_checkpoint_not_in_hallo4s_layout_is_named(cli, tmp_path):
    wan = {"blocks.0.attn1.to_q.weight": torch.zeros(2, 2), "patch_embedding.weight": torch.zeros(4, 4, 1, 2, 2)}
    result = _convert(cli, tmp_path, wan)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [result.output.strip()]  # one line
    assert "ck.safetensors: no audio_proj.proj1.weight" in result.output
    _no_leftovers(tmp_path)


def test_a_missing_vace_block_is_named(cli, tmp_path, state):
    result = _convert(cli, tmp_path, {k: v for k, v in state.items() if not k.startswith("vace_blocks.1.")})
    assert result.exit_code == 1 and "1 VACE blocks (vace_blocks.N), but the VACE layout [0, 2] needs 2" \
        in result.output
    _no_leftovers(tmp_path)


def test_a_missing_vace_tensor_is_named_and_nothing_is_written(cli, tmp_path, state):
    result = _convert(cli, tmp_path, {k: v for k, v in state.items() if k != "vace_blocks.1.ffn.0.weight"})
    assert result.exit_code == 1
    assert "ck.safetensors: no vace_blocks.1.ffn.0.weight (needed for vace_blocks.1.ffn.net.0.proj.weight)" \
        in result.output
    _no_leftovers(tmp_path)


def test_a_wrong_shape_and_an_existing_output_are_refused(cli, tmp_path, state):
    bad = dict(state, **{"blocks.2.ffn.2.bias": torch.zeros(3)})
    result = _convert(cli, tmp_path, bad)
    assert result.exit_code == 1 and "blocks.2.ffn.2.bias has shape (3,), expected (16,)" in result.output
    _no_leftovers(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    result = _convert(cli, tmp_path, state)
    assert result.exit_code == 1 and "exists and is not empty" in result.output
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_the_reader_does_not_load_tensors_it_is_not_asked_for(tmp_path, state, monkeypatch):
    """Streaming: listing keys and shapes reads no tensor; each tensor is read when asked, once."""
    from trainer.motion.hallo4_reader import CheckpointReader

    save_file(state, str(tmp_path / "c.safetensors"))
    reader = CheckpointReader(tmp_path / "c.safetensors")
    calls = []
    real = reader._safe
    monkeypatch.setattr(reader, "_safe", type("Spy", (), {
        "get_tensor": lambda self, k: calls.append(k) or real.get_tensor(k),
        "get_slice": lambda self, k: real.get_slice(k)})())
    assert reader.shape("patch_embedding.weight") == (16, 4, 1, 2, 2) and len(reader) == len(state)
    assert calls == []
    assert torch.equal(reader["head.head.weight"], state["head.head.weight"]) and calls == ["head.head.weight"]
