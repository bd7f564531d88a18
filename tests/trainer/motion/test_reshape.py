"""Temporal motion modulation (eq. 6): element order of the reshape, the first-frame rule and the ablations."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from trainer.motion.reshape import (
    first_frame_rule,
    latent_frame_count,
    modulate,
    temporal_reshape,
    tokens_per_latent_frame,
)


def _coded(b: int, t: int, d_m: int, d: int = 2) -> torch.Tensor:
    """Element [b, f, m, c] = 1000*b + 100*f + 10*m + c, so every value says where it came from."""
    idx = torch.meshgrid(*(torch.arange(n) for n in (b, t, d_m, d)), indexing="ij")
    return (1000 * idx[0] + 100 * idx[1] + 10 * idx[2] + idx[3]).float()


def test_reshape_lays_rho_frames_side_by_side():
    c = _coded(2, 8, 3)  # 8 video frames, 3 tokens each
    out = temporal_reshape(c, 4)
    assert out.shape == (2, 2, 12, 2)
    # latent frame 1 of sample 1: video frames 4,5,6,7, each with tokens 0,1,2, channel 0
    assert out[1, 1, :, 0].tolist() == [1000 + 100 * f + 10 * m for f in (4, 5, 6, 7) for m in (0, 1, 2)]
    assert out[0, 0, 5].tolist() == [100 + 20, 100 + 20 + 1]  # token 5 = frame 1, token 2


def test_reshape_refuses_t_not_a_multiple_of_rho():
    with pytest.raises(ValueError, match="T = 9 frames is not a multiple of rho = 4"):
        temporal_reshape(_coded(1, 9, 1), 4)


def test_first_frame_rule_matches_the_causal_vae_grouping():
    """9 frames (k = 2) -> 12: latent 0 = [f0 f0 f0 f0], latent 1 = f1..f4, latent 2 = f5..f8 (the VAE's groups)."""
    c = _coded(1, 9, 1, 1)
    out = modulate(c, 4)
    assert out.shape == (1, 3, 4, 1) and latent_frame_count(9, 4) == 3
    assert out[0, :, :, 0].tolist() == [[0, 0, 0, 0], [100, 200, 300, 400], [500, 600, 700, 800]]
    assert first_frame_rule(_coded(1, 8, 1), 4).shape[1] == 8  # a multiple of rho is left alone
    with pytest.raises(ValueError, match="rho\\*k \\+ 1 frames"):
        first_frame_rule(_coded(1, 10, 1), 4)


def test_ablations_select_frames_inside_each_group():
    c = _coded(1, 9, 2, 1)
    half = modulate(c, 4, "/2")  # frames 0,2 of each padded group [f0 f0 f0 f0], [f1..f4], [f5..f8]
    assert half.shape == (1, 3, 4, 1) and tokens_per_latent_frame(2, 4, "/2") == 4
    assert half[0, 1, :, 0].tolist() == [100, 110, 300, 310]
    quarter = modulate(c, 4, "/4")  # the first frame of each group, D tokens
    assert quarter[0, :, :, 0].tolist() == [[0, 10], [100, 110], [500, 510]]
    assert tokens_per_latent_frame(2, 4, "full") == 8
    with pytest.raises(ValueError, match="Unknown ablation 'audio/3'"):
        modulate(c, 4, "audio/3")
