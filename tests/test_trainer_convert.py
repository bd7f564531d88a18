"""``curate convert hallo4``: a tiny random checkpoint in Hallo4's key layout onto the tiny Wan's motion module."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from safetensors.torch import save_file

from tests.fixtures.trainer_loop_models import save_tiny_wan
from trainer.models import load_denoiser, load_trained, make_denoiser

DIM, BLOCKS, WINDOW, D_A, HIDDEN, TOKENS = 24, 2, 5, 8, 16, 3


def hallo4_state(seed: int = 0, old_names: bool = False) -> dict[str, torch.Tensor]:
    """Random tensors under Hallo4's names and shapes (AudioProjModel + per-block audio_cross_attn/_norm)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g) * 0.2
    s = {"audio_proj.proj1.weight": r(HIDDEN, WINDOW * D_A), "audio_proj.proj1.bias": r(HIDDEN),
         "audio_proj.proj2.weight": r(HIDDEN, HIDDEN), "audio_proj.proj2.bias": r(HIDDEN),
         "audio_proj.proj3.weight": r(TOKENS * DIM, HIDDEN), "audio_proj.proj3.bias": r(TOKENS * DIM),
         "audio_proj.norm.weight": 1 + r(DIM), "audio_proj.norm.bias": r(DIM)}
    attn, norm = ("audio_attn", "audio_norm") if old_names else ("audio_cross_attn", "audio_cross_norm")
    for i in range(BLOCKS):
        for layer in "qkvo":
            s[f"blocks.{i}.{attn}.{layer}.weight"] = r(DIM, DIM)
            s[f"blocks.{i}.{attn}.{layer}.bias"] = r(DIM)
        s[f"blocks.{i}.{attn}.norm_q.weight"] = 1 + r(DIM)
        s[f"blocks.{i}.{attn}.norm_k.weight"] = 1 + r(DIM)
        s[f"blocks.{i}.{norm}.weight"] = 1 + r(DIM)
        s[f"blocks.{i}.{norm}.bias"] = r(DIM)
        s[f"blocks.{i}.self_attn.q.weight"] = r(DIM, DIM)  # base weights in the same file are left alone
    return s


@pytest.fixture(scope="module")
def wan_path(tmp_path_factory):
    return save_tiny_wan(tmp_path_factory.mktemp("models") / "wan")


def test_convert_maps_every_tensor_and_the_projection_is_hallo4s(cli, wan_path, tmp_path):
    state = hallo4_state()
    ckpt = tmp_path / "hallo4.safetensors"
    save_file(state, str(ckpt))
    result = cli("convert", "hallo4", ckpt, tmp_path / "h4")
    assert result.exit_code == 0, result.output
    model = load_trained("wan", wan_path, tmp_path / "h4" / "final").eval()
    proc = model.blocks[1].attn2.processor.motion
    assert torch.equal(proc.to_out.weight, state["blocks.1.audio_cross_attn.o.weight"])
    assert torch.equal(proc.norm_in.bias, state["blocks.1.audio_cross_norm.bias"])
    assert torch.equal(proc.norm_k.weight, state["blocks.1.audio_cross_attn.norm_k.weight"])
    # the projection by hand: relu(relu(x W1 + b1) W2 + b2) W3 + b3 -> (3 tokens, 24) -> LayerNorm
    audio = torch.randn(1, 9, WINDOW, D_A, generator=torch.Generator().manual_seed(1))
    x = audio[0, 4].reshape(-1)  # video frame 4 = the last frame of latent frame 1
    h = torch.relu(torch.relu(x @ state["audio_proj.proj1.weight"].T + state["audio_proj.proj1.bias"])
                   @ state["audio_proj.proj2.weight"].T + state["audio_proj.proj2.bias"])
    t = (h @ state["audio_proj.proj3.weight"].T + state["audio_proj.proj3.bias"]).reshape(TOKENS, DIM)
    t = torch.nn.functional.layer_norm(t, (DIM,), state["audio_proj.norm.weight"], state["audio_proj.norm.bias"])
    tokens, n_audio, _ = model.motion.tokens(audio, None, (4, 4))
    assert tokens.shape == (1, 3, 4 * TOKENS, DIM) and n_audio == 12  # 9 frames -> 3 latent frames x 4 x 3 tokens
    torch.testing.assert_close(tokens[0, 1, 3 * TOKENS:], t, rtol=1e-5, atol=1e-5)
    g = torch.Generator().manual_seed(2)
    cond = {"encoder_hidden_states": torch.randn(1, 6, 32, generator=g), "audio_embeds": audio}
    x_t, ts = torch.randn(1, 16, 3, 8, 8, generator=g), torch.tensor([500.0])
    with torch.no_grad():
        plain = make_denoiser("wan")(load_denoiser("wan", wan_path), x_t, ts, cond)
        assert (make_denoiser("wan")(model, x_t, ts, cond) - plain).abs().max() > 1e-3


def test_old_key_names_and_torch_checkpoints(cli, wan_path, tmp_path):
    ckpt = tmp_path / "audio.ckpt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in hallo4_state(old_names=True).items()}}, ckpt)
    assert cli("convert", "hallo4", ckpt, tmp_path / "out").exit_code == 0
    load_trained("wan", wan_path, tmp_path / "out" / "final")


def test_bad_checkpoints_are_named(cli, tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"blocks.0.self_attn.q.weight": torch.zeros(2, 2)}, str(plain))
    result = cli("convert", "hallo4", plain, tmp_path / "o")
    assert result.exit_code == 1 and "plain.safetensors: no audio_proj.proj1.weight" in result.output
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    result = cli("convert", "hallo4", junk, tmp_path / "o")
    assert result.exit_code == 1 and "junk.ckpt: not a readable checkpoint" in result.output


def test_a_checkpoint_for_another_width_does_not_load(cli, tmp_path):
    from diffusers import WanTransformer3DModel

    from tests.fixtures.trainer_loop_models import TINY_WAN

    ckpt = tmp_path / "h.safetensors"
    save_file(hallo4_state(), str(ckpt))
    assert cli("convert", "hallo4", ckpt, tmp_path / "h4").exit_code == 0
    wide = tmp_path / "wide"
    WanTransformer3DModel(**{**TINY_WAN, "attention_head_dim": 16}).save_pretrained(wide)  # width 32, not 24
    with pytest.raises(ValueError, match="motion.safetensors does not fit this model"):
        load_trained("wan", wide, tmp_path / "h4" / "final")
