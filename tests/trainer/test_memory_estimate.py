"""The memory estimate (trainer.memory): hand-worked bytes, parameter counts against a real tiny model, the refusal."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from tests.fixtures.trainer_loop_models import SyntheticPairs, save_tiny_wan


def test_parts_by_hand():
    from trainer.memory import MemoryEstimate

    lora = MemoryEstimate(params=1000, trainable=100, lora=100, frozen_copy=False)
    # weights 1000 x 4, LoRA 100 x 4, gradients 100 x 4, AdamW 2 x 100 x 4
    assert lora.parts() == {"weights": 4000, "lora": 400, "frozen_copy": 0, "gradients": 400, "optimizer": 800}
    assert lora.total == 5600
    full = MemoryEstimate(params=1000, trainable=1000, lora=0, frozen_copy=True)
    assert full.total == 4000 + 4000 + 4000 + 8000


def test_counts_match_the_tiny_model(tmp_path):
    """Tiny Wan: width 2 heads x 12 = 24, 2 blocks; a rank-4 LoRA on to_q/to_k/to_v/to_out.0 of both attentions is
    2 blocks x 2 attentions x 4 layers x 4 x (24 + 24) = 3072 weights."""
    import torch

    from trainer.dpo_config import load_config
    from trainer.dpo_trainer import _load_model
    from trainer.memory import estimate
    from trainer.trainable import build_policy

    folder = save_tiny_wan(tmp_path / "wan")
    cfg = load_config(preset="tiny", overrides={"denoiser_path": str(folder), "vae_path": str(folder)})
    est = estimate(cfg)
    assert est.lora == 3072 and est.trainable == 3072 and not est.frozen_copy
    torch.manual_seed(0)
    model = _load_model(cfg, SyntheticPairs(text=(6, 32)))
    assert est.params == sum(p.numel() for p in model.parameters())
    policy = build_policy(model, cfg)
    assert est.lora == sum(p.numel() for p in policy.trainable_parameters())
    full = estimate(load_config(preset="tiny", overrides={"denoiser_path": str(folder), "vae_path": str(folder),
                                                         "reference": "frozen_copy"}))
    assert full.trainable == full.params == est.params and full.frozen_copy
    assert full.total == 20 * est.params  # weights, copy, gradients: 4 bytes each; AdamW 8


def test_audio_phase_counts_the_motion_module(tmp_path):
    """The audio phase trains the motion module the audio encoder calls for: eq. 7's projection (d_a -> 24) and
    each block's motion attention, counted on the meta device as the real module has them."""
    from tests.fixtures.trainer_data_models import tiny_wav2vec2
    from trainer.dpo_config import load_config
    from trainer.memory import estimate
    from trainer.motion.attach import attach_motion
    from trainer.motion.phases import phase_parameters
    from trainer.trainable import build_policy

    folder = save_tiny_wan(tmp_path / "wan")
    tiny_wav2vec2(tmp_path / "w2v")
    cfg = load_config(preset="tiny", overrides={"denoiser_path": str(folder), "vae_path": str(folder), "mode": "sft",
                                                "phase": "audio", "audio_encoder_path": str(tmp_path / "w2v"),
                                                "audio_layers": "all"})
    est = estimate(cfg)
    from diffusers import WanTransformer3DModel

    from trainer.memory import motion_config

    model = WanTransformer3DModel.from_pretrained(folder)
    attach_motion(model, motion_config(cfg), "wan")
    assert motion_config(cfg).audio_dim == 4 * 16  # 4 layers x width 16
    assert est.params == sum(p.numel() for p in model.parameters())
    assert est.trainable == sum(p.numel() for p in phase_parameters(model, "audio").values())
    assert est.trainable == sum(p.numel() for p in build_policy(model, cfg).trainable_parameters())
    assert est.lora == 0 and not est.frozen_copy



def test_a_run_that_cannot_fit_is_refused_before_the_cache(cli, tmp_path, monkeypatch):
    from tests.fixtures.trainer_data_media import make_pair_manifest
    from tests.fixtures.trainer_loop_models import save_tiny_wan_vae
    from trainer import memory

    manifest = make_pair_manifest(tmp_path / "data", n_pairs=2)
    args = ["train-dpo", "--manifest", manifest, "--model-kind", "wan", "--transformer", save_tiny_wan(tmp_path / "w"),
            "--vae", save_tiny_wan_vae(tmp_path / "v"), "--preset", "tiny", "--set", "max_steps=1", "--no-progress",
            "--cache-dir", tmp_path / "cache", "--output", tmp_path / "run"]
    monkeypatch.setattr(memory, "available_bytes", lambda: (1000, "in this test"))
    result = cli(*args)
    assert result.exit_code == 1
    assert "more than the 0.00 GB in this test; see --dry-run for what fits, or pass --ignore-memory" in result.output
    assert not (tmp_path / "cache").exists()
    dry = cli(*args, "--dry-run")
    assert dry.exit_code == 0 and "LoRA r=4 (reference: lora)" in dry.output and "does NOT fit" in dry.output
    assert "full fine-tune, frozen copy" in dry.output
    result = cli(*args, "--ignore-memory")
    assert result.exit_code == 0 and "Trained 1 steps" in result.output
