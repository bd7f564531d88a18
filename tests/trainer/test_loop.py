"""The training loop on tiny diffusers models built in code: ln 2 at step 0, overfitting, resume, save/reload, modes."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("peft")

from safetensors.torch import load_file

from tests.fixtures.trainer_loop_models import (
    SyntheticPairs,
    collate,
    save_tiny_unet,
    save_tiny_wan,
)
from trainer.dpo_config import load_config
from trainer.dpo_trainer import train, warmup_factor
from trainer.models import load_denoiser, load_trained, make_denoiser
from trainer.step import compute_loss, make_objective
from trainer.trainable import Policy, build_policy

LN2 = math.log(2)


@pytest.fixture(scope="module")
def wan_path(tmp_path_factory):
    return save_tiny_wan(tmp_path_factory.mktemp("models") / "wan")


@pytest.fixture(scope="module")
def unet_path(tmp_path_factory):
    return save_tiny_unet(tmp_path_factory.mktemp("models") / "unet")


def _cfg(path, tmp_path, **kw):
    base = dict(denoiser_path=str(path), output_dir=str(tmp_path / "run"), max_steps=4, checkpoint_every=0,
                batch_size=2, shift=5.0)
    return load_config("tiny", overrides={**base, **kw})


def _unet_data(n=4):
    return SyntheticPairs(n, shape=(4, 2, 16, 16), text=(4, 8))


def _first_loss(cfg, data):
    torch.manual_seed(cfg.seed)
    model = load_denoiser(cfg.model_kind, cfg.denoiser_path)
    policy = build_policy(model, cfg)
    batch = collate([data[0], data[1]])
    gen = torch.Generator().manual_seed(1)
    return compute_loss(cfg, policy, model, model, make_denoiser(cfg.model_kind), make_objective(cfg), batch, gen)


@pytest.mark.parametrize("reference", ["lora", "frozen_copy"])
def test_step0_dpo_loss_is_exactly_ln2(wan_path, tmp_path, reference):
    """Fresh LoRA (B = 0) or an untouched copy: policy == reference, logits = 0, loss = -log sigmoid(0) = ln 2."""
    loss, metrics = _first_loss(_cfg(wan_path, tmp_path, reference=reference), SyntheticPairs(2))
    assert loss.item() == pytest.approx(LN2, abs=1e-7)
    assert metrics["rewards/margins"] == 0.0 and metrics["rewards/accuracies"] == 0.5
    assert metrics["err/model_chosen"] == metrics["err/ref_chosen"] > 0


def test_step0_ln2_unet_frames_folded(unet_path, tmp_path):
    """The UNet2D path (frames folded into the batch) gives the same invariant, with epsilon targets."""
    loss, metrics = _first_loss(_cfg(unet_path, tmp_path, model_kind="unet"), _unet_data(2))
    assert loss.item() == pytest.approx(LN2, abs=1e-7)
    assert metrics["err/model_rejected"] == metrics["err/ref_rejected"]


def test_warmup_is_linear_and_starts_above_zero():
    """warm-up 4: steps 0..5 use 1/4, 2/4, 3/4, 1, 1, 1 of the peak LR."""
    f = warmup_factor(4)
    assert [f(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0)(0) == 1.0


def test_one_step_changes_lora_only(wan_path, tmp_path):
    cfg = _cfg(wan_path, tmp_path, max_steps=1)
    result = train(cfg, SyntheticPairs(2), collate, progress=False)
    lora = load_file(str(result.final_dir / "lora" / "pytorch_lora_weights.safetensors"))
    b_weights = [v for k, v in lora.items() if "lora_B" in k]
    assert b_weights and all(v.abs().max() > 0 for v in b_weights)  # B started at exactly zero
    base, trained = load_denoiser("wan", wan_path), load_trained("wan", wan_path, result.final_dir)
    trained_base = {k.replace(".base_layer", ""): v for k, v in trained.state_dict().items() if "lora_" not in k}
    for name, value in base.state_dict().items():
        assert torch.equal(value, trained_base[name]), name  # LoRA training leaves the base weights alone


def test_full_finetune_changes_weights_and_reloads(wan_path, tmp_path):
    cfg = _cfg(wan_path, tmp_path, max_steps=2, reference="frozen_copy", max_grad_norm=0.0)  # no clipping
    result = train(cfg, SyntheticPairs(2), collate, progress=False)
    assert result.history[0]["grad_norm"] > 0
    base = load_denoiser("wan", wan_path)
    reloaded = load_trained("wan", wan_path, result.final_dir)
    changed = [n for n, p in reloaded.named_parameters() if not torch.equal(p, base.get_parameter(n))]
    assert len(changed) > 10
    assert result.history[0]["loss"] == pytest.approx(LN2, abs=1e-6)


def test_saved_lora_reloads_to_the_same_predictions(wan_path, tmp_path):
    cfg = _cfg(wan_path, tmp_path, max_steps=3)
    data = SyntheticPairs(2)
    result = train(cfg, data, collate, progress=False)
    # the last checkpoint holds the trained LoRA weights by parameter name; load them into a fresh policy
    torch.manual_seed(cfg.seed)
    live = build_policy(load_denoiser("wan", wan_path), cfg).model
    ckpt = load_file(str(result.output_dir / "checkpoints" / "step-000003" / "model.safetensors"))
    live.load_state_dict(ckpt, strict=False)
    reloaded = load_trained("wan", wan_path, result.final_dir)
    x = torch.randn(1, 16, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    t, ehs = torch.tensor([400.0]), data[0]["cond"]["encoder_hidden_states"][None]
    with torch.no_grad():
        a = reloaded(x, t, ehs, return_dict=False)[0]
        b = live(x, t, ehs, return_dict=False)[0]
        reloaded.disable_adapters()
        base = reloaded(x, t, ehs, return_dict=False)[0]
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert (a - base).abs().max() > 1e-6  # the adapter is really applied


def test_overfits_a_few_pairs(wan_path, tmp_path):
    """Full fine-tune, 2 pairs: the implicit accuracy reaches 1 and the loss falls far below ln 2."""
    cfg = _cfg(wan_path, tmp_path, reference="frozen_copy", max_steps=40, learning_rate=2e-3, warmup_steps=0,
               beta=500.0, log_every=1)
    history = train(cfg, SyntheticPairs(2), collate, progress=False).history
    assert history[0]["loss"] == pytest.approx(LN2, abs=1e-6)
    last = history[-10:]
    assert all(row["rewards/accuracies"] == 1.0 for row in last)
    assert max(row["loss"] for row in last) < 0.1
    assert last[-1]["rewards/margins"] > 0 and last[-1]["rewards/chosen"] > last[-1]["rewards/rejected"]


def test_resume_ends_with_the_same_weights(wan_path, tmp_path):
    """6 steps straight vs. stopped at step 5 (last checkpoint: 3) and resumed: bit-identical weights and AdamW state.

    5 pairs, micro-batch 1, accumulation 2: the checkpoint at step 3 sits mid-epoch (micro-batch 6 = epoch 1,
    batch 1), so the data position, the noise generator and the scheduler must all be restored.
    """
    kw = dict(max_steps=6, checkpoint_every=3, gradient_accumulation_steps=2, keep_checkpoints=0)
    data = SyntheticPairs(5)
    a = train(_cfg(wan_path, tmp_path / "a", **kw), data, collate, progress=False)
    cfg_b = _cfg(wan_path, tmp_path / "b", **kw)
    stopped = train(cfg_b, data, collate, stop_after=5, progress=False)
    assert stopped.global_step == 5 and stopped.final_dir is None
    b = train(cfg_b, data, collate, resume=True, progress=False)
    assert b.global_step == 6
    for name in ("model", "optimizer"):
        wa = load_file(str(a.output_dir / "checkpoints" / "step-000006" / f"{name}.safetensors"))
        wb = load_file(str(b.output_dir / "checkpoints" / "step-000006" / f"{name}.safetensors"))
        assert wa.keys() == wb.keys()
        for k in wa:
            assert torch.equal(wa[k], wb[k]), (name, k)
    la = load_file(str(a.final_dir / "lora" / "pytorch_lora_weights.safetensors"))
    lb = load_file(str(b.final_dir / "lora" / "pytorch_lora_weights.safetensors"))
    assert all(torch.equal(la[k], lb[k]) for k in la)
    # the resumed run's log covers steps 4-6 exactly once
    rows = [r["step"] for r in _rows(b.output_dir)]
    assert rows == [1, 2, 3, 4, 5, 6]


def test_resume_refuses_a_changed_config(wan_path, tmp_path):
    cfg = _cfg(wan_path, tmp_path, max_steps=2, checkpoint_every=1)
    train(cfg, SyntheticPairs(2), collate, stop_after=1, progress=False)
    with pytest.raises(ValueError, match=r"beta: 500.0 -> 100.0"):
        train(_cfg(wan_path, tmp_path, max_steps=2, beta=100.0), SyntheticPairs(2), collate, resume=True)
    with pytest.raises(ValueError, match="already holds checkpoints"):
        train(cfg, SyntheticPairs(2), collate, progress=False)


def test_sft_trains_on_winners_only(unet_path, tmp_path):
    """Losers full of NaN: SFT never looks at them (finite loss); plain training does (NaN)."""
    data = _unet_data(2)
    data.l[:] = float("nan")
    cfg = _cfg(unet_path, tmp_path / "sft", model_kind="unet", mode="sft", max_steps=2, reference="frozen_copy")
    sft = train(cfg, data, collate, progress=False)
    assert all(math.isfinite(r["loss"]) for r in sft.history)
    assert "rewards/margins" not in sft.history[0] and "err/ref_chosen" not in sft.history[0]
    assert (sft.final_dir / "denoiser" / "config.json").exists()
    plain = _cfg(unet_path, tmp_path / "plain", model_kind="unet", mode="plain", max_steps=1)
    loss, _ = _first_loss(plain, data)
    assert math.isnan(loss.item())


def test_sft_loss_is_the_winner_mse(unet_path, tmp_path):
    """SFT's loss equals per-sample MSE of the prediction against the epsilon target on winners, averaged."""
    cfg = _cfg(unet_path, tmp_path, model_kind="unet", mode="sft")
    data = _unet_data(2)
    loss, metrics = _first_loss(cfg, data)
    assert loss.item() == pytest.approx(metrics["err/model_chosen"], rel=1e-6)
    assert 0.5 < loss.item() < 2.0  # a random UNet's epsilon error is about the noise variance


def _rows(out):
    from trainer.logging_utils import read_metrics

    return read_metrics(out / "logs")


def test_lora_reference_is_the_base_model_exactly(wan_path, tmp_path):
    """After training, the adapter-off forward equals a freshly loaded base model bit for bit; on again after."""
    cfg = _cfg(wan_path, tmp_path, max_steps=2)
    data = SyntheticPairs(2)
    result = train(cfg, data, collate, progress=False)
    model = result.model
    policy = Policy(model=model, reference=None, lora=True, lora_layers=_lora_layers(model))
    base = load_denoiser("wan", wan_path)
    x = torch.randn(2, 16, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    t, ehs = torch.tensor([300.0, 700.0]), torch.cat([data[0]["cond"]["encoder_hidden_states"][None]] * 2)
    with torch.no_grad():
        with policy.reference_model(model) as ref:
            off = ref(x, t, ehs, return_dict=False)[0]
        on = model(x, t, ehs, return_dict=False)[0]
        want = base(x, t, ehs, return_dict=False)[0]
    assert torch.equal(off, want)
    assert (on - want).abs().max() > 1e-6
    assert all(p.requires_grad for n, p in model.named_parameters() if "lora_" in n)


def test_gradient_checkpointing_gives_the_same_gradients(wan_path, tmp_path):
    grads = []
    for ckpt in (False, True):
        cfg = _cfg(wan_path, tmp_path, reference="frozen_copy", gradient_checkpointing=ckpt)
        torch.manual_seed(0)
        model = load_denoiser("wan", wan_path)
        policy = build_policy(model, cfg)
        assert model.is_gradient_checkpointing == ckpt
        batch = collate([SyntheticPairs(2)[0]])
        loss, _ = compute_loss(cfg, policy, model, model, make_denoiser("wan"), make_objective(cfg), batch,
                               torch.Generator().manual_seed(2))
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1], atol=1e-6, rtol=1e-5)


@pytest.mark.filterwarnings("ignore:Mismatch dtype between input and weight")  # the forced CPU autocast below
def test_bf16_autocast_stays_off_on_cpu(wan_path, tmp_path):
    """mixed_precision=bf16 autocasts on GPU only: on CPU the numbers are the float32 ones exactly."""
    data = SyntheticPairs(2)
    _, plain = _first_loss(_cfg(wan_path, tmp_path, mixed_precision="no", max_steps=1), data)
    _, bf16 = _first_loss(_cfg(wan_path, tmp_path, mixed_precision="bf16", max_steps=1), data)
    # a bf16 forward would round the prediction and move the error in the 3rd digit
    assert bf16["err/model_chosen"] == plain["err/model_chosen"]
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the check above can tell: CPU autocast does change it
        _, forced = _first_loss(_cfg(wan_path, tmp_path, mixed_precision="no", max_steps=1), data)
    assert forced["err/model_chosen"] != plain["err/model_chosen"]


def _lora_layers(model):
    from peft.tuners.tuners_utils import BaseTunerLayer

    return [m for m in model.modules() if isinstance(m, BaseTunerLayer)]
