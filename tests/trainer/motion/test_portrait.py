"""The motion module on tiny diffusers models: exact equality at step 0, save/load, phases, learning from audio."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("peft")

from tests.fixtures.trainer_loop_models import TINY_WAN, collate, save_tiny_unet, save_tiny_wan
from tests.fixtures.trainer_portrait import AudioClips
from trainer.dpo_config import load_config
from trainer.dpo_trainer import train
from trainer.losses import per_sample_mse
from trainer.models import load_denoiser, load_trained, make_denoiser, save_trained
from trainer.motion.attach import attach_motion
from trainer.motion.config import MotionConfig
from trainer.motion.phases import phase_parameters
from trainer.step import compute_loss, make_objective
from trainer.trainable import build_policy


@pytest.fixture(scope="module")
def wan_path(tmp_path_factory):
    return save_tiny_wan(tmp_path_factory.mktemp("models") / "wan")


def _wan(path, **motion):
    model = load_denoiser("wan", path).eval()
    if motion:
        torch.manual_seed(1)
        attach_motion(model, MotionConfig(**motion), "wan")
    return model


def _inputs(b=2, frames=3, ref=False):
    g = torch.Generator().manual_seed(0)
    cond = {"encoder_hidden_states": torch.randn(b, 6, 32, generator=g),
            "audio_embeds": torch.randn(b, 4 * frames - 3, 5, 8, generator=g)}
    if ref:
        cond["ref_latents"] = torch.randn(b, 16, 1, 8, 8, generator=g)
    return torch.randn(b, 16, frames, 8, 8, generator=g), torch.tensor([900.0, 40.0][:b]), cond


def _perturb(model, std=0.2):
    """Give the zero-initialised output projections weights, as training would."""
    torch.manual_seed(2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".motion.to_out." in name:
                p.normal_(0, std)


@pytest.mark.parametrize("reference_image", ["none", "vace"])
def test_wrapped_wan_equals_plain_wan_to_the_last_bit(wan_path, reference_image):
    x, t, cond = _inputs(ref=reference_image == "vace")
    den = make_denoiser("wan", reference_image)
    with torch.no_grad():
        plain = den(_wan(wan_path), x, t, cond)
        wrapped = den(_wan(wan_path, audio_dim=8), x, t, cond)
    assert plain.shape == x.shape  # the vace reference frame is cut off the output
    assert torch.equal(plain, wrapped)


def test_audio_changes_the_output_once_trained(wan_path):
    model = _wan(wan_path, audio_dim=8)
    _perturb(model)
    x, t, cond = _inputs()
    den = make_denoiser("wan")
    with torch.no_grad():
        a = den(model, x, t, cond)
        b = den(model, x, t, {**cond, "audio_embeds": cond["audio_embeds"].flip(0)})
        zero = den(model, x, t, {**cond, "audio_embeds": torch.zeros_like(cond["audio_embeds"])})
    assert (a - b).abs().max() > 1e-3 and (a - zero).abs().max() > 1e-3


def test_gradient_checkpointing_gives_the_same_gradients(wan_path):
    x, t, cond = _inputs()
    grads = []
    for ckpt in (False, True):
        model = _wan(wan_path, audio_dim=8)
        _perturb(model)
        if ckpt:
            model.enable_gradient_checkpointing()
        model.train()
        make_denoiser("wan")(model, x, t, cond).square().mean().backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if "motion" in n})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 0
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-5, atol=1e-6)


def test_unet_audio_cross_attention_frames_folded(tmp_path):
    path = save_tiny_unet(tmp_path / "unet")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 3, 16, 16, generator=g)
    cond = {"encoder_hidden_states": torch.randn(2, 4, 8, generator=g),
            "audio_embeds": torch.randn(2, 3, 5, 6, generator=g)}  # one C_audio per latent frame (no rho)
    t = torch.tensor([10, 700])
    den = make_denoiser("unet")
    plain = load_denoiser("unet", path).eval()
    model = load_denoiser("unet", path).eval()
    attach_motion(model, MotionConfig(audio_dim=6), "unet")
    with torch.no_grad():
        assert torch.equal(den(plain, x, t, cond), den(model, x, t, cond))
        _perturb(model)
        a = den(model, x, t, cond)
        frame_swapped = {**cond, "audio_embeds": cond["audio_embeds"].flip(1)}
        b = den(model, x, t, frame_swapped)
    # frame 1 is the middle frame: flipping the frame order leaves its audio, and only its audio, in place
    assert torch.equal(a[:, :, 1], b[:, :, 1]) and (a[:, :, 0] - b[:, :, 0]).abs().max() > 1e-4


def test_phase_parameter_sets_by_name_and_count(wan_path):
    """Tiny Wan: width 24, 2 blocks; audio d_a 8; skeleton J 5, d_k 4, stride 2.

    audio: audio_proj 8*24+24 = 216; per block to_q, to_k, to_v, to_out 4 x (24*24+24) = 2400 + norm_q, norm_k
    2 x 24 + norm_in (LayerNorm) 2 x 24 = 2496; total 216 + 2 x 2496 = 5208. skeleton: conv 5->4 3x3 (180+4) + conv 4->4 3x3 stride 2 (144+4)
    = 332, skeleton_proj 4*24+24 = 120, per block to_k_skel + to_v_skel 2 x 600; total 332 + 120 + 2400 = 2852."""
    model = _wan(wan_path, audio_dim=8, skeleton_joints=5, skeleton_channels=4, skeleton_stride=2)
    audio, skel = phase_parameters(model, "audio"), phase_parameters(model, "skeleton")
    assert sum(p.numel() for p in audio.values()) == 5208
    assert sum(p.numel() for p in skel.values()) == 2852
    assert not set(audio) & set(skel)
    assert sorted(n for n in audio if n.startswith("blocks.0.")) == [
        f"blocks.0.attn2.processor.motion.{m}.{w}" for m, w in
        [("norm_in", "bias"), ("norm_in", "weight"), ("norm_k", "weight"), ("norm_q", "weight"), ("to_k", "bias"), ("to_k", "weight"), ("to_out", "bias"),
         ("to_out", "weight"), ("to_q", "bias"), ("to_q", "weight"), ("to_v", "bias"), ("to_v", "weight")]]
    assert sorted(n for n in skel if not n.startswith("blocks.")) == [
        "motion.skeleton.net.0.bias", "motion.skeleton.net.0.weight", "motion.skeleton.net.2.bias",
        "motion.skeleton.net.2.weight", "motion.skeleton_proj.bias", "motion.skeleton_proj.weight"]
    with pytest.raises(ValueError, match="no skeleton branch"):
        phase_parameters(_wan(wan_path, audio_dim=8), "skeleton")


def test_full_model_saves_and_reloads_with_its_motion_module(wan_path, tmp_path):
    from diffusers import WanTransformer3DModel

    model = _wan(wan_path, audio_dim=8)
    _perturb(model)
    save_trained(model, tmp_path, lora=False)
    stock = WanTransformer3DModel.from_pretrained(tmp_path / "denoiser")
    assert not hasattr(stock, "motion")  # what the stock loader does with the extra weights
    back = load_trained("wan", wan_path, tmp_path)
    x, t, cond = _inputs()
    den = make_denoiser("wan")
    with torch.no_grad():
        assert torch.equal(den(model, x, t, cond), den(back, x, t, cond))


def _cfg(wan_path, tmp_path, name, **kw):
    base = dict(denoiser_path=str(wan_path), output_dir=str(tmp_path / name), batch_size=2, warmup_steps=0,
                checkpoint_every=0, log_every=1000, shift=5.0, audio_dropout=0.0)
    return load_config("tiny", overrides={**base, **kw})


def _errors(model, data, cfg, audio):
    """Per-sample velocity errors of 32 fixed draws (16 per clip) with the given audio per clip."""
    g = torch.Generator().manual_seed(123)
    x0 = data.latents.repeat(16, 1, 1, 1, 1)
    noised = make_objective(cfg).noise(x0, generator=g)
    cond = {"encoder_hidden_states": torch.zeros(32, 6, 32), "audio_embeds": audio.repeat(16, 1, 1, 1)}
    with torch.no_grad():
        return per_sample_mse(make_denoiser("wan")(model.eval(), noised.x_t, noised.timesteps, cond), noised.target)


def test_conditioned_wan_learns_to_tell_two_audio_inputs_apart(wan_path, tmp_path):
    """Phase 'audio' SFT (only the motion module trains) on 2 clips for 200 steps: afterwards the velocity error
    with each clip's own audio is below the error with the other clip's audio, on every one of 32 draws. Saved
    and reloaded (motion/ beside the untouched base), the model gives the same errors."""
    data = AudioClips(2)
    cfg = _cfg(wan_path, tmp_path, "sft", mode="sft", phase="audio", max_steps=200, learning_rate=1e-3)
    result = train(cfg, data, collate, progress=False)
    matched = _errors(result.model, data, cfg, data.audio)
    mismatched = _errors(result.model, data, cfg, data.audio.flip(0))
    assert bool((matched < mismatched).all()) and matched.mean() < 0.9 * mismatched.mean()
    assert sorted(p.name for p in (tmp_path / "sft" / "final").iterdir()) == ["dpo_config.json", "motion"]
    back = load_trained("wan", wan_path, tmp_path / "sft" / "final")
    assert torch.equal(_errors(back, data, cfg, data.audio), matched)


def test_init_chain_sft_then_lora_dpo_keeps_the_sft_modules_in_the_reference(wan_path, tmp_path):
    """SFT (phase audio) -> DPO with --init and a LoRA: at step 0 the loss is ln 2, and the reference (adapter off)
    predicts what the SFT model predicts, so the SFT modules are on in it. The DPO run saves lora/ + motion/ and
    reloads to the trained policy exactly."""
    data = AudioClips(2, losers=True)
    sft = _cfg(wan_path, tmp_path, "sft", mode="sft", phase="audio", max_steps=20, learning_rate=1e-3)
    train(sft, data, collate, progress=False)
    dpo = _cfg(wan_path, tmp_path, "dpo", mode="dpo", init_from=str(tmp_path / "sft"), max_steps=3,
               learning_rate=1e-3, beta=50.0)
    sft_model = load_trained("wan", wan_path, tmp_path / "sft" / "final")
    from trainer.dpo_trainer import _load_model

    torch.manual_seed(dpo.seed)
    policy_model = _load_model(dpo, data)
    policy = build_policy(policy_model, dpo)
    batch = collate([data[0], data[1]])
    loss, _ = compute_loss(dpo, policy, policy_model, policy_model, make_denoiser("wan"), make_objective(dpo), batch,
                           torch.Generator().manual_seed(1))
    assert loss.item() == pytest.approx(math.log(2), abs=1e-7)
    x, t, cond = _inputs()
    den = make_denoiser("wan")
    with torch.no_grad(), policy.reference_model(policy_model) as ref:
        assert torch.equal(den(ref, x, t, cond), den(sft_model.eval(), x, t, cond))
    result = train(dpo, data, collate, progress=False)
    final = tmp_path / "dpo" / "final"
    assert (final / "lora").is_dir() and (final / "motion").is_dir()
    back = load_trained("wan", wan_path, final)
    with torch.no_grad():
        assert torch.equal(den(back.eval(), x, t, cond), den(result.model.eval(), x, t, cond))


def test_skeleton_phase_trains_only_the_skeleton_branch(wan_path, tmp_path):
    """Audio + skeleton module, zero-initialised: still the plain model exactly. Phase 'skeleton' straight away is
    refused (the shared output projections are zero, no gradient would reach the skeleton); after the audio phase,
    3 skeleton steps (no weight decay) move every skeleton parameter and nothing else."""
    data = AudioClips(2, skeleton_joints=5)
    x, t, cond = _inputs()
    cond["skeleton"] = torch.rand(2, 9, 5, 3, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        plain = make_denoiser("wan")(_wan(wan_path), x, t, cond)
        both = make_denoiser("wan")(_wan(wan_path, audio_dim=8, skeleton_joints=5), x, t, cond)
    assert torch.equal(plain, both)
    skel = dict(mode="sft", phase="skeleton", max_steps=3, learning_rate=1e-2, weight_decay=0.0,
                skeleton_channels=4, skeleton_stride=2)
    with pytest.raises(ValueError, match="train --phase audio first"):
        train(_cfg(wan_path, tmp_path, "too-early", **skel), data, collate, progress=False)
    audio = _cfg(wan_path, tmp_path, "audio", **{**skel, "phase": "audio", "max_steps": 5})
    train(audio, data, collate, progress=False)
    cfg = _cfg(wan_path, tmp_path, "skel", **skel, init_from=str(tmp_path / "audio"))
    from trainer.dpo_trainer import _load_model

    start = {n: p.detach().clone() for n, p in _load_model(cfg, data).named_parameters()}
    model = train(cfg, data, collate, progress=False).model
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, start[n])}
    assert moved == set(phase_parameters(model, "skeleton")) and len(moved) == 14  # 4 + 2 + 2 blocks x 4


def test_i2v_input_is_latents_mask_and_image_condition(tmp_path):
    """A 36-channel Wan (I2V): the adapter feeds [x_t (16), mask (4: ones on latent frame 0), condition (16)] and
    gets 16 channels back; a DPO step on it starts at ln 2. check_latents takes 36 = 2 x 16 + 4 only with i2v."""
    from diffusers import WanTransformer3DModel

    from trainer.models import check_latents, i2v_condition

    path = tmp_path / "i2v"
    torch.manual_seed(0)
    WanTransformer3DModel(**{**TINY_WAN, "in_channels": 36}).save_pretrained(path)
    x, t, cond = _inputs()
    cond["i2v_latents"] = torch.randn(2, 16, 3, 8, 8)
    mask, y = i2v_condition(cond, x)
    assert mask[:, :, 0].eq(1).all() and mask[:, :, 1:].eq(0).all() and torch.equal(y, cond["i2v_latents"])
    model = load_denoiser("wan", path)
    with torch.no_grad():
        assert make_denoiser("wan", "i2v")(model, x, t, cond).shape == x.shape
    check_latents("wan", path, x[0], 32, "i2v")
    with pytest.raises(ValueError, match="a Wan I2V model. Set reference_image: i2v"):
        check_latents("wan", path, x[0], 32)
    cfg = load_config("tiny", overrides=dict(denoiser_path=str(path), output_dir=str(tmp_path / "run"),
                                             reference="frozen_copy", reference_image="i2v", shift=5.0))
    torch.manual_seed(0)
    policy = build_policy(model, cfg)
    batch = {"latents_w": x, "latents_l": x.flip(0), "cond": cond, "index": torch.arange(2)}
    loss, _ = compute_loss(cfg, policy, model, model, make_denoiser("wan", "i2v"), make_objective(cfg), batch,
                           torch.Generator().manual_seed(1))
    assert loss.item() == pytest.approx(math.log(2), abs=1e-7)


def test_audio_dropout_zeroes_whole_samples():
    """rate 0.5 with a seeded generator: sample b is zeroed exactly when its uniform draw is < 0.5; the rest and
    the other cond keys are untouched. Rate 0 or no audio: the cond comes back as it was."""
    from trainer.step import _drop_audio

    audio = torch.ones(6, 9, 5, 8)
    cond = {"audio_embeds": audio, "encoder_hidden_states": torch.ones(6, 2, 3)}
    out = _drop_audio(cond, 0.5, torch.Generator().manual_seed(4))
    draws = torch.rand(6, generator=torch.Generator().manual_seed(4))
    kept = out["audio_embeds"].flatten(1).amax(dim=1)
    assert kept.tolist() == [0.0 if d < 0.5 else 1.0 for d in draws.tolist()]
    assert 0 < kept.sum() < 6 and out["encoder_hidden_states"] is cond["encoder_hidden_states"]
    assert _drop_audio(cond, 0.0, None) is cond and _drop_audio({"x": audio}, 0.5, None) == {"x": audio}


def test_init_from_a_lora_run_fuses_its_adapter(wan_path, tmp_path):
    """A LoRA SFT run (adapter + motion module) as --init: its LoRA is fused into the starting weights, so the DPO
    run's own adapter is the only one (and the only one switched off for the reference); ln 2 at step 0."""
    data = AudioClips(2, losers=True)
    sft = _cfg(wan_path, tmp_path, "sft-lora", mode="sft", max_steps=3, learning_rate=1e-2, reference="lora")
    train(sft, data, collate, progress=False)
    assert (tmp_path / "sft-lora" / "final" / "lora").is_dir()
    trained = load_trained("wan", wan_path, tmp_path / "sft-lora" / "final").eval()
    from trainer.dpo_trainer import _load_model

    dpo = _cfg(wan_path, tmp_path, "dpo", mode="dpo", init_from=str(tmp_path / "sft-lora"))
    start = _load_model(dpo, data).eval()
    assert not getattr(start, "peft_config", None)
    x, t, cond = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(make_denoiser("wan")(start, x, t, cond), make_denoiser("wan")(trained, x, t, cond),
                                   rtol=1e-5, atol=1e-5)
    torch.manual_seed(0)
    policy = build_policy(start, dpo)
    loss, _ = compute_loss(dpo, policy, start, start, make_denoiser("wan"), make_objective(dpo),
                           collate([data[0], data[1]]), torch.Generator().manual_seed(1))
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)


def _skeleton_video_manifest(folder):
    """A one-pair manifest whose skeleton column names a rendered skeleton video (0.6 s, 40x32, no audio)."""
    import pandas as pd

    from tests.fixtures.media import make_video
    from tests.fixtures.trainer_data_media import make_pair_manifest

    manifest = make_pair_manifest(folder, n_pairs=1)
    make_video(folder / "media" / "skel.mp4", seconds=0.6, size=(40, 32), audio=False, seed=9)
    df = pd.read_parquet(manifest)
    df["skeleton"] = ["media/skel.mp4"]
    df.to_parquet(manifest)
    return manifest


def test_rendered_skeleton_video_goes_through_the_cache_and_the_model(wan_path, tmp_path):
    """A rendered skeleton video in the skeleton column: cached as (9, 3, 4, 4) frames in [0, 1] on the 32x32 clip's
    latent grid; its 3 colour maps feed the encoder (skeleton_joints 3), and the module's output equals the plain
    model at step 0."""
    from tests.fixtures.trainer_loop_models import save_tiny_wan_vae
    from trainer.cache import prepare_cache
    from trainer.data import PairDataset, collate_pairs, validate_manifest

    folder = tmp_path / "data"
    manifest = _skeleton_video_manifest(folder)
    checked = validate_manifest(manifest, roots=[])
    from diffusers import AutoencoderKLWan

    vae = AutoencoderKLWan.from_pretrained(save_tiny_wan_vae(tmp_path / "vae"))
    prepare_cache(checked, vae, tmp_path / "cache", num_frames=9, height=32, width=32, fps=16.0,
                  text_shape=(6, 32), progress=False)
    batch = collate_pairs([PairDataset(checked, tmp_path / "cache")[0]])
    skel = batch["cond"]["skeleton"]
    assert skel.shape == (1, 9, 3, 4, 4) and 0 <= skel.min() and skel.max() <= 1 and skel.std() > 0
    model = _wan(wan_path, skeleton_joints=3, skeleton_channels=4, skeleton_stride=2)
    x, t, cond = _inputs(b=1)
    cond = {"encoder_hidden_states": cond["encoder_hidden_states"], "skeleton": skel}
    tokens, n_audio, n_skel = model.motion.tokens(None, skel, (8, 8))
    assert tokens.shape == (1, 3, 4 * 16, 24) and (n_audio, n_skel) == (0, 64)  # 8x8 grid / stride 2 = 16 tokens
    with torch.no_grad():
        assert torch.equal(make_denoiser("wan")(model, x, t, cond), make_denoiser("wan")(_wan(wan_path), x, t, cond))


def test_i2v_model_with_clip_image_embeddings(tmp_path):
    """A Wan I2V-shaped model (36 input channels, image_dim 16, added K/V): the batch's image_embeds reach it (the
    stock processor takes the tokens before the last 512 as the image's), also with a motion module attached, whose
    tokens are split off first."""
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    model = WanTransformer3DModel(**{**TINY_WAN, "in_channels": 36, "image_dim": 16, "added_kv_proj_dim": 24}).eval()
    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(1, 16, 3, 8, 8, generator=g), torch.tensor([300.0])
    cond = {"encoder_hidden_states": torch.randn(1, 512, 32, generator=g),  # Wan's processor assumes 512 text tokens
            "i2v_latents": torch.randn(1, 16, 3, 8, 8, generator=g), "image_embeds": torch.randn(1, 17, 16, generator=g),
            "audio_embeds": torch.randn(1, 9, 5, 8, generator=g)}
    den = make_denoiser("wan", "i2v")
    with torch.no_grad():
        a = den(model, x, t, cond)
        b = den(model, x, t, {**cond, "image_embeds": torch.randn(1, 17, 16, generator=g)})  # (scale is normed away)
        attach_motion(model, MotionConfig(audio_dim=8), "wan")
        c = den(model, x, t, cond)
    assert (a - b).abs().max() > 1e-4 and torch.equal(a, c)


HALLO4_SKELETON = dict(skeleton_joints=16, skeleton_stride=2, skeleton_projection="hallo4", skeleton_fusion="hallo4")


@pytest.mark.parametrize("audio_dim", [8, 0])
def test_hallo4_skeleton_branch_zero_init_phase_and_checkpointing(wan_path, audio_dim):
    """Hallo4's pose projection + condition attention (trainer.motion.skeleton_condition), with a vace reference frame prepended:
    the wrapped model equals the plain one to the last bit; once its output projections are nonzero the skeleton
    moves the output; gradient checkpointing gives the same gradients. Phase 'skeleton': pose_proj conv
    16*6*2*2 + 6 = 390, LayerNorm 12; per block q, k, v, o 4 x (24*24 + 24) + norm_q, norm_k, norm_in 4 x 24 = 2496;
    402 + 2 x 2496 = 5394, and nothing of the audio branch."""
    x, t, cond = _inputs(ref=True)
    cond["skeleton"] = torch.randn(2, 9, 16, 8, 8, generator=torch.Generator().manual_seed(3))
    if not audio_dim:
        del cond["audio_embeds"]
    den = make_denoiser("wan", "vace")
    motion = dict(audio_dim=audio_dim, **HALLO4_SKELETON)
    with torch.no_grad():
        assert torch.equal(den(_wan(wan_path), x, t, cond), den(_wan(wan_path, **motion), x, t, cond))
    skel = phase_parameters(_wan(wan_path, **motion), "skeleton")
    assert sum(p.numel() for p in skel.values()) == 5394
    assert all(".processor.condition." in n or n.startswith("motion.skeleton_proj.") for n in skel)
    grads = []
    for ckpt in (False, True):
        model = _wan(wan_path, **motion)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if ".to_out." in name:
                    p.normal_(0, 0.2, generator=torch.Generator().manual_seed(len(name)))
        if ckpt:
            model.enable_gradient_checkpointing()
        else:
            with torch.no_grad():
                a = den(model, x, t, cond)
                b = den(model, x, t, {**cond, "skeleton": cond["skeleton"].flip(0)})
            assert (a - b).abs().max() > 1e-3
        model.train()
        den(model, x, t, cond).square().mean().backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if "motion" in n or "processor" in n})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) == (2 + 4 + 2 * 24 if audio_dim else 4 + 2 * 12)
    assert all(g is not None and g.abs().max() > 0 for g in grads[1].values())  # every weight is reached
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-5, atol=1e-6)


def test_hallo4_skeleton_options_are_checked(wan_path):
    with pytest.raises(ValueError, match="`skeleton_fusion` 'hallo4' needs `skeleton_projection` 'hallo4'"):
        MotionConfig(skeleton_joints=16, skeleton_fusion="hallo4")
    with pytest.raises(ValueError, match="no table 7 ablation"):
        MotionConfig(skeleton_joints=16, skeleton_projection="hallo4", skeleton_ablation="/2")
    with pytest.raises(ValueError, match="`skeleton_projection` must be 'conv' or 'hallo4'"):
        MotionConfig(skeleton_joints=16, skeleton_projection="mlp")
    with pytest.raises(ValueError, match=r"skeleton_stride = the transformer's spatial patch \(2\), got 4"):
        _wan(wan_path, **{**HALLO4_SKELETON, "skeleton_stride": 4})
    model = _wan(wan_path, **HALLO4_SKELETON)
    with pytest.raises(ValueError, match=r"takes skeleton latents \(B, T, 16, 8, 8\).*got \(1, 9, 5, 3\)"):
        model.motion.tokens(None, torch.rand(1, 9, 5, 3), (8, 8))  # keypoints are not its input


def test_skeleton_vae_cache_feeds_the_hallo4_pose_projection(wan_path, tmp_path):
    """skeleton_vae: the rendered skeleton video is cached as each frame's VAE latents, (9, 16, 4, 4) for the 32x32
    clip, frame t equal to encoding frame t alone; the hallo4 pose projection takes them (4 tokens per latent frame:
    4x4 grid, patch 2) and the wrapped model still equals the plain one at step 0. A keypoint file is refused."""
    import numpy as np
    import pandas as pd
    from diffusers import AutoencoderKLWan

    from storage.errors import CurateError
    from tests.fixtures.trainer_loop_models import save_tiny_wan_vae
    from trainer.cache import CacheSettings, prepare_cache
    from trainer.data import PairDataset, collate_pairs, validate_manifest
    from trainer.encoders import encode_pixels
    from trainer.media_decode import decode_clip_frames

    folder = tmp_path / "data"
    manifest = _skeleton_video_manifest(folder)
    vae = AutoencoderKLWan.from_pretrained(save_tiny_wan_vae(tmp_path / "vae"))
    settings = {"num_frames": 9, "height": 32, "width": 32, "fps": 16.0, "text_shape": (6, 32), "progress": False,
                "skeleton_vae": True}
    prepare_cache(validate_manifest(manifest, roots=[]), vae, tmp_path / "cache", **settings)
    batch = collate_pairs([PairDataset(validate_manifest(manifest, roots=[]), tmp_path / "cache")[0]])
    skel = batch["cond"]["skeleton"]
    assert skel.shape == (1, 9, 16, 4, 4)
    pixels = decode_clip_frames(str(folder / "media" / "skel.mp4"), CacheSettings(num_frames=9, height=32, width=32))
    with torch.no_grad():
        torch.testing.assert_close(skel[0, 5], encode_pixels(vae, pixels[:, 5:6])[:, 0], rtol=1e-5, atol=1e-5)
    model = _wan(wan_path, **HALLO4_SKELETON)
    tokens, _, n_skel = model.motion.tokens(None, skel, (4, 4))
    assert tokens.shape == (1, 3, 4, 24) and n_skel == 4
    x = torch.randn(1, 16, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    cond = {"encoder_hidden_states": torch.zeros(1, 6, 32), "skeleton": skel}
    with torch.no_grad():
        assert torch.equal(make_denoiser("wan")(model, x, torch.tensor([500.0]), cond),
                           make_denoiser("wan")(_wan(wan_path), x, torch.tensor([500.0]), cond))
    np.save(folder / "media" / "kp.npy", np.zeros((9, 5, 3), dtype=np.float32))
    df = pd.read_parquet(manifest)
    df["skeleton"] = ["media/kp.npy"]
    df.to_parquet(manifest)
    with pytest.raises(CurateError, match=r"kp.npy: skeleton_input 'vae' VAE-encodes a rendered skeleton video"):
        prepare_cache(validate_manifest(manifest, roots=[]), vae, tmp_path / "cache", **settings)
