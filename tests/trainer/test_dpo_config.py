"""``DiffusionDPOConfig``: every shipped YAML loads, precedence (defaults < preset < YAML < CLI), validation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from trainer.dpo_config import PRESETS, DiffusionDPOConfig, field_help, load_config, parse_overrides

CONFIGS = sorted((Path(__file__).parents[2] / "trainer" / "configs").glob("*.yaml"))


def test_configs_are_shipped():
    assert {p.stem for p in CONFIGS} >= {"paper", "sft", "wan_lora", "unet_sd15", "tiny"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_shipped_yaml_loads_and_says_how_to_launch(path):
    cfg = load_config(config_file=path)
    assert isinstance(cfg, DiffusionDPOConfig)
    first = path.read_text().splitlines()[0]
    command = "train-sft --phase audio --config" if cfg.phase else "train-dpo --config trainer/configs/"
    assert first.startswith(f"# curate {command}") and path.stem in first


def test_shipped_configs_load_by_name():
    assert load_config(config_file="wan_lora").reference == "lora"
    with pytest.raises(ValueError, match="not found .shipped configs: hallo4, hallo4_lora, paper, sft, sft_audio, tiny, unet_sd15, wan_lora"):
        load_config(config_file="nope")


def test_paper_preset_is_the_paper():
    """Hallo4 sec. 4.1: AdamW lr 1e-8, 2,500 warm-up steps, beta 2500, batch 8, 12k iterations."""
    cfg = load_config(config_file=next(p for p in CONFIGS if p.stem == "paper"))
    assert (cfg.learning_rate, cfg.warmup_steps, cfg.beta, cfg.batch_size, cfg.max_steps) == (1e-8, 2500, 2500.0, 8,
                                                                                                12000)
    assert cfg.mode == "dpo" and cfg.loss_type == "sigmoid" and cfg.model_kind == "wan"
    assert cfg.weighting == "eps_equivalent" and cfg.weight_cap == 100.0
    assert load_config("paper") == cfg


def test_sft_yaml_is_the_paper_schedule_on_winners():
    sft = load_config(config_file=next(p for p in CONFIGS if p.stem == "sft"))
    paper = load_config("paper")
    assert sft.mode == "sft" and sft.weighting == "none"  # eps_equivalent is there for DPO's beta only
    assert dataclasses.replace(sft, mode="dpo", weighting="eps_equivalent") == paper


def test_precedence_defaults_preset_yaml_cli(tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("preset: tiny\nbeta: 700\nlora_rank: 8\n")
    cfg = load_config(config_file=f, overrides={"lora_rank": 2})
    assert cfg.beta == 700.0  # YAML over the tiny preset's 500
    assert cfg.lora_rank == 2  # CLI over YAML
    assert cfg.learning_rate == PRESETS["tiny"]["learning_rate"]  # preset over the default
    assert cfg.adam_beta2 == 0.999  # untouched default
    assert load_config("paper", config_file=f).beta == 700.0  # a --preset sits under the YAML too


def test_overrides_parse_like_yaml_scalars():
    values = parse_overrides(["beta=5000", "gradient_checkpointing=true", "lora_targets=to_q,to_v", "seed=3",
                              "cache_dir="])
    cfg = load_config(overrides=values)
    assert cfg.beta == 5000.0 and isinstance(cfg.beta, float)
    assert cfg.gradient_checkpointing is True
    assert cfg.lora_targets == ["to_q", "to_v"]
    assert cfg.seed == 3 and cfg.cache_dir == ""
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["beta"])


def test_unknown_keys_are_errors(tmp_path):
    f = tmp_path / "typo.yaml"
    f.write_text("betta: 1\n")
    with pytest.raises(ValueError, match=r"Unknown config key\(s\) \['betta'\] in .*typo.yaml"):
        load_config(config_file=f)
    with pytest.raises(ValueError, match=r"\['lr'\] in the command-line overrides"):
        load_config(overrides={"lr": 1})
    with pytest.raises(ValueError, match="Unknown preset 'huge'"):
        load_config("huge")


@pytest.mark.parametrize("key,value,message", [
    ("mode", "rlhf", "`mode` must be one of ['dpo', 'sft', 'plain']. Got 'rlhf'."),
    ("beta", 0, "`beta` must be > 0. Got 0.0."),
    ("label_smoothing", 0.5, "`label_smoothing` must be in [0, 0.5). Got 0.5."),
    ("num_frames", 80, "`num_frames` must be 4k+1 for Wan. Got 80."),
    ("height", 100, "`height` must be a multiple of 16. Got 100."),
    ("gradient_accumulation_steps", 3, "`batch_size` must be a multiple of `gradient_accumulation_steps`. Got 8 and 3."),
    ("mixed_precision", "fp16", "`mixed_precision` must be one of ['no', 'bf16']. Got 'fp16'."),
    ("max_steps", "many", "`max_steps` must be int. Got 'many'."),
    ("gradient_checkpointing", "maybe", "`gradient_checkpointing` must be bool. Got 'maybe'."),
    ("skeleton_input", "pixels", "`skeleton_input` must be one of ['maps', 'vae']. Got 'pixels'."),
])
def test_bad_values_name_the_key_and_the_value(key, value, message):
    with pytest.raises(ValueError) as e:
        DiffusionDPOConfig(**{key: value})
    assert str(e.value) == message


def test_label_smoothing_only_for_sigmoid_and_robust():
    DiffusionDPOConfig(loss_type="robust", label_smoothing=0.1)
    with pytest.raises(ValueError, match="'hinge'"):
        DiffusionDPOConfig(loss_type="hinge", label_smoothing=0.1)


def test_every_field_has_help_and_a_default():
    helps = field_help()
    assert all(len(h) > 10 for h in helps.values())
    assert set(helps) == set(DiffusionDPOConfig().to_dict())


def test_hallo4_configs_are_the_paper_schedule_fed_as_hallo4():
    """Sec. 4.1 (beta 2500, 2,500 warm-up, batch 8, 12k steps) with Hallo4's feeding; full at lr 1e-8, LoRA at 1e-5."""
    full, lora = load_config(config_file="hallo4"), load_config(config_file="hallo4_lora")
    for cfg in (full, lora):
        assert (cfg.beta, cfg.warmup_steps, cfg.batch_size, cfg.max_steps) == (2500.0, 2500, 8, 12000)
        assert (cfg.fps, cfg.audio_features, cfg.audio_layers, cfg.reference_image) == (25.0, "hallo4", "all", "vace")
    assert (full.reference, full.learning_rate) == ("frozen_copy", 1e-8)
    assert (lora.reference, lora.learning_rate) == ("lora", 1e-5)
