"""``curate convert hallo4``: a tiny random checkpoint in Hallo4's key layout onto the tiny Wan's motion module."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from safetensors.torch import save_file

from tests.fixtures.trainer_loop_models import save_tiny_wan
from trainer.models import load_denoiser, load_trained, make_denoiser

DIM, BLOCKS, WINDOW, D_A, HIDDEN, TOKENS = 24, 2, 5, 8, 16, 3


def hallo4_state(seed: int = 0, old_names: bool = False, pose: bool = False) -> dict[str, torch.Tensor]:
    """Random tensors under Hallo4's names and shapes (AudioProjModel + per-block audio_cross_attn/_norm; with
    ``pose`` its PoseProjector on 16-channel latents, patch 2, and per-block condition_cross_attn/_norm)."""
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
        if pose:
            s.update(_attention(r, f"blocks.{i}.condition_cross_attn", f"blocks.{i}.condition_cross_norm"))
    if pose:
        s.update({"pose_proj.proj.weight": r(DIM // 4, 16, 2, 2), "pose_proj.proj.bias": r(DIM // 4),
                  "pose_proj.norm.weight": 1 + r(DIM // 4), "pose_proj.norm.bias": r(DIM // 4)})
    return s


def _attention(r, attn: str, norm: str) -> dict[str, torch.Tensor]:
    s = {f"{attn}.{layer}.{w}": r(DIM, DIM) if w == "weight" else r(DIM) for layer in "qkvo" for w in ("weight", "bias")}
    s.update({f"{attn}.norm_q.weight": 1 + r(DIM), f"{attn}.norm_k.weight": 1 + r(DIM), f"{norm}.weight": 1 + r(DIM),
              f"{norm}.bias": r(DIM)})
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
    assert "audio cross-attention (2 blocks x 12 tensors); no skeleton branch in the checkpoint" in result.output
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


OURS = {"q": "to_q", "k": "to_k", "v": "to_v", "o": "to_out", "norm_q": "norm_q", "norm_k": "norm_k"}


def _our_name(key: str) -> str:
    """Hallo4 key -> our key, written out independently of trainer.motion.hallo4."""
    if key.startswith("audio_proj."):
        return "motion." + key
    if key.startswith("pose_proj."):
        return "motion.skeleton_proj." + key.removeprefix("pose_proj.")
    _, i, group, *rest = key.split(".")
    sub = "motion" if group.startswith("audio") else "condition"
    if group.endswith("_norm"):
        return f"blocks.{i}.attn2.processor.{sub}.norm_in.{rest[0]}"
    return f"blocks.{i}.attn2.processor.{sub}.{OURS[rest[0]]}.{rest[1]}"


def _hand_attention(state, attn, norm, y, skel):
    """Hallo4's condition_cross_attn from its tensors: Q from the skeleton, K/V from LayerNorm(y), 2 heads of 12."""
    w = lambda n: state[f"{attn}.{n}"]
    rms = lambda x, g: x / torch.sqrt(x.square().mean(-1, keepdim=True) + 1e-6) * g
    ctx = torch.nn.functional.layer_norm(y, (DIM,), state[f"{norm}.weight"], state[f"{norm}.bias"], eps=1e-6)
    q = rms(skel @ w("q.weight").T + w("q.bias"), w("norm_q.weight")).unflatten(-1, (2, 12))
    k = rms(ctx @ w("k.weight").T + w("k.bias"), w("norm_k.weight")).unflatten(-1, (2, 12))
    v = (ctx @ w("v.weight").T + w("v.bias")).unflatten(-1, (2, 12))
    p = torch.softmax(torch.einsum("...phd,...lhd->...hpl", q, k) / 12 ** 0.5, dim=-1)
    out = torch.einsum("...hpl,...lhd->...phd", p, v).flatten(-2)
    return y + out @ w("o.weight").T + w("o.bias")


def test_pose_branch_maps_every_tensor_and_computes_hallo4s_projection_and_attention(cli, wan_path, tmp_path):
    state = hallo4_state(pose=True)
    ckpt = tmp_path / "hallo4.safetensors"
    save_file(state, str(ckpt))
    result = cli("convert", "hallo4", ckpt, tmp_path / "h4")
    assert result.exit_code == 0, result.output
    assert ("mapped: audio_proj (8 tensors), audio cross-attention (2 blocks x 12 tensors), pose_proj (4 tensors), "
            "condition_cross_attn (2 blocks x 12 tensors); not mapped (the base transformer, from --transformer): "
            "blocks.N.self_attn (2)") in result.output
    model = load_trained("wan", wan_path, tmp_path / "h4" / "final").eval()
    ours = model.state_dict()
    mapped = [k for k in state if ".self_attn." not in k]
    assert len(mapped) == 8 + 2 * 12 + 4 + 2 * 12
    for key in mapped:
        assert torch.equal(ours[_our_name(key)], state[key]), key
    # pose_proj by hand: 9 frames -> frame 0 three more times -> 3 latent frames of 4; token (r, c) of latent frame
    # j = per frame f = 4j + i - 3: LayerNorm_6(W * patch(2r..2r+1, 2c..2c+1) + b), in channels 6i .. 6i+5
    skel = torch.randn(1, 9, 16, 8, 8, generator=torch.Generator().manual_seed(4))
    tokens, n_audio, n_skel = model.motion.tokens(torch.zeros(1, 9, WINDOW, D_A), skel, (8, 8))
    assert (n_audio, n_skel) == (4 * TOKENS, 16) and tokens.shape == (1, 3, 12 + 16, DIM)
    w, b = state["pose_proj.proj.weight"], state["pose_proj.proj.bias"]
    for j, r, c in ((0, 0, 0), (1, 2, 3), (2, 3, 1)):
        for i in range(4):
            f = max(4 * j + i - 3, 0)
            v = (w * skel[0, f, :, 2 * r:2 * r + 2, 2 * c:2 * c + 2]).sum((1, 2, 3)) + b
            v = torch.nn.functional.layer_norm(v, (6,), state["pose_proj.norm.weight"], state["pose_proj.norm.bias"])
            torch.testing.assert_close(tokens[0, j, 12 + 4 * r + c, 6 * i:6 * i + 6], v, rtol=1e-5, atol=1e-5)
    # condition_cross_attn by hand, where Hallo4 puts it: on the feed-forward's input, per latent frame
    seen = {}
    block = model.blocks[1]
    block.ffn.register_forward_pre_hook(lambda m, a: seen.update(before=a[0].clone()), prepend=True)
    block.ffn.register_forward_hook(lambda m, a, out: seen.update(after=a[0].clone()))
    g = torch.Generator().manual_seed(5)
    cond = {"encoder_hidden_states": torch.randn(1, 6, 32, generator=g), "skeleton": skel,
            "audio_embeds": torch.randn(1, 9, WINDOW, D_A, generator=g)}
    with torch.no_grad():
        make_denoiser("wan")(model, torch.randn(1, 16, 3, 8, 8, generator=g), torch.tensor([500.0]), cond)
        hand = _hand_attention(state, "blocks.1.condition_cross_attn", "blocks.1.condition_cross_norm",
                               seen["before"].reshape(3, 16, DIM), model.motion.tokens(
                                   cond["audio_embeds"], skel, (8, 8))[0][0, :, 12:])
    torch.testing.assert_close(seen["after"].reshape(3, 16, DIM), hand, rtol=1e-5, atol=1e-5)
    assert (seen["after"] - seen["before"]).abs().max() > 1e-2


@pytest.mark.parametrize("change, message", [
    ({"pose_proj.norm.weight": torch.ones(7)}, "pose_proj.norm.weight has shape (7,), expected (6,)"),
    ({"pose_proj.proj.weight": torch.ones(6, 16, 2, 3)}, "pose_proj.proj.weight is of shape (6, 16, 2, 3)"),
    ({"blocks.1.condition_cross_attn.q.weight": torch.ones(DIM, 8)},
     "blocks.1.condition_cross_attn.q.weight has shape (24, 8), expected (24, 24)"),
    ({"blocks.0.condition_cross_norm.bias": None}, "no blocks.0.condition_cross_norm.bias"),
    ({f"blocks.{i}.condition_cross_{k}": None for i in range(BLOCKS) for k in ("attn", "norm")},
     "a skeleton branch without blocks.N.condition_cross_attn"),
])
def test_bad_pose_tensors_are_refused_naming_the_file_and_key(cli, tmp_path, change, message):
    state = hallo4_state(pose=True)
    for key, value in change.items():
        if value is None:
            state = {k: v for k, v in state.items() if not k.startswith(key)}
        else:
            state[key] = value
    save_file(state, str(tmp_path / "bad.safetensors"))
    result = cli("convert", "hallo4", tmp_path / "bad.safetensors", tmp_path / "o")
    assert result.exit_code == 1 and f"bad.safetensors: {message}" in result.output, result.output
    assert not (tmp_path / "o" / "final" / "motion" / "motion.safetensors").exists()
