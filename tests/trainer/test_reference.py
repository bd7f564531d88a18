"""Precomputed reference errors: same numbers as the live reference, ln 2 at step 0, one table for a beta sweep."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("peft")

from tests.fixtures.trainer_loop_models import SyntheticPairs, collate, save_tiny_wan
from trainer.dpo_config import load_config
from trainer.dpo_trainer import train
from trainer.losses import per_sample_mse
from trainer.models import load_denoiser, make_denoiser
from trainer.reference_errors import compute_table, draw, draw_seed, noised_draws
from trainer.step import compute_loss, make_objective
from trainer.trainable import build_policy


@pytest.fixture(scope="module")
def wan_path(tmp_path_factory):
    return save_tiny_wan(tmp_path_factory.mktemp("models") / "wan")


def _cfg(path, tmp_path, name="run", **kw):
    base = dict(denoiser_path=str(path), output_dir=str(tmp_path / name), cache_dir=str(tmp_path / "cache"),
                max_steps=3, checkpoint_every=0, batch_size=2, shift=5.0, precompute_reference=True,
                reference_draws=3)
    return load_config("tiny", overrides={**base, **kw})


def test_draws_are_fixed_per_pair_and_index():
    obj = make_objective(load_config("tiny"))
    a, b = draw(obj, (2, 3), 5, 1, 0), draw(obj, (2, 3), 5, 1, 0)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert len({draw_seed(0, i, k) for i in range(20) for k in range(5)}) == 100
    assert not torch.equal(draw(obj, (2, 3), 5, 2, 0)[0], a[0])


def test_table_matches_a_live_reference_forward(wan_path, tmp_path):
    """The stored error of (pair i, draw k) is the reference's error on that draw, computed live in a batch."""
    cfg = _cfg(wan_path, tmp_path)
    data = SyntheticPairs(4)
    model, den, obj = load_denoiser("wan", wan_path), make_denoiser("wan"), make_objective(cfg)
    table = compute_table(model, den, obj, data, collate, draws=3, seed=cfg.seed, device="cpu")
    assert table.shape == (4, 3, 2) and bool((table > 0).all())
    batch = collate([data[2], data[0]])
    ks = torch.tensor([1, 2])
    noised = noised_draws(obj, batch, ks, cfg.seed)
    cond = {k: torch.cat([v, v]) for k, v in batch["cond"].items()}
    with torch.no_grad():
        err = per_sample_mse(den(model, noised.x_t, noised.timesteps, cond), noised.target)
    torch.testing.assert_close(err, torch.stack([table[2, 1, 0], table[0, 2, 0], table[2, 1, 1], table[0, 2, 1]]),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("reference", ["lora", "frozen_copy"])
def test_step0_loss_is_ln2_without_a_reference_model(wan_path, tmp_path, reference):
    cfg = _cfg(wan_path, tmp_path, reference=reference)
    data = SyntheticPairs(2)
    torch.manual_seed(cfg.seed)
    model = load_denoiser("wan", wan_path)
    table = compute_table(model, make_denoiser("wan"), make_objective(cfg), data, collate, 3, cfg.seed, "cpu")
    policy = build_policy(model, cfg)
    assert policy.reference is None  # no frozen copy in memory
    loss, metrics = compute_loss(cfg, policy, model, model, make_denoiser("wan"), make_objective(cfg),
                                 collate([data[0], data[1]]), torch.Generator().manual_seed(1), table)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)
    assert metrics["err/model_chosen"] == pytest.approx(metrics["err/ref_chosen"], rel=1e-5)


def test_a_beta_sweep_shares_one_table(wan_path, tmp_path):
    data = SyntheticPairs(4)
    first = train(_cfg(wan_path, tmp_path, "b500", beta=500.0), data, collate, progress=False)
    tables = list((tmp_path / "cache" / "reference").glob("*.safetensors"))
    assert len(tables) == 1
    stamp = tables[0].stat().st_mtime_ns
    second = train(_cfg(wan_path, tmp_path, "b2000", beta=2000.0), data, collate, progress=False)
    assert [p.stat().st_mtime_ns for p in (tmp_path / "cache" / "reference").glob("*.safetensors")] == [stamp]
    assert first.history[0]["loss"] == pytest.approx(math.log(2), abs=1e-6)
    assert second.history[-1]["rewards/margins"] != first.history[-1]["rewards/margins"]
    train(_cfg(wan_path, tmp_path, "draws", reference_draws=2), data, collate, progress=False)
    assert len(list((tmp_path / "cache" / "reference").glob("*.safetensors"))) == 2  # other draws: new table
