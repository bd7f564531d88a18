"""Hallo4's released model converted whole equals upstream's own forward (fixtures: scripts/regen_hallo4_fixtures.py,
upstream commit 1ccca54, seed 0, run tiny with random weights on CPU).

Tolerance: float32, atol 2e-5 + rtol 1e-4 on outputs of size ~1. The two computations differ only in where they
round: upstream builds the timestep sinusoid and RoPE in float64 (diffusers: float32 sinusoid, float64 RoPE tables
applied in float32) and uses its own attention kernel; measured differences are ~1e-6, well under the bound, while a
wrong key or a wrong wiring moves outputs by O(0.1).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "hallo4_parity"
ATOL, RTOL = 2e-5, 1e-4


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from trainer.models import load_trained
    from trainer.motion.hallo4 import convert_hallo4

    out = tmp_path_factory.mktemp("h4") / "run"
    _, summary = convert_hallo4(FIX / "hallo4_tiny.safetensors", out, config=FIX / "config.json")
    model = load_trained("wan", "", out / "final").eval()
    return out, model, summary


@pytest.fixture(scope="module")
def inputs():
    return load_file(str(FIX / "forward.safetensors"))


def _motion(inp, audio=None):
    audio = inp["audio_emb"] if audio is None else audio
    return {"audio": audio.flatten(3), "skeleton": inp["skeleton_latents"].permute(0, 2, 1, 3, 4)}


def _cond(inp, context, audio=None):
    c = inp["x"].shape[0]
    m = _motion(inp, audio)
    return {"encoder_hidden_states": context[None], "audio_embeds": m["audio"], "skeleton": m["skeleton"],
            "ref_latents": inp["x"][None, :, :1], "vace_latents": inp["vace_context"][None, :2 * c, 1:]}


def test_the_run_folder_is_complete_and_the_model_is_a_vace_wan(converted):
    out, model, summary = converted
    from diffusers import WanVACETransformer3DModel

    assert isinstance(model, WanVACETransformer3DModel)
    assert model.config.vace_layers == [0, 2] and model.config.vace_in_channels == 72
    assert model.motion.cfg.reference_tokens
    assert (out / "config.json").is_file() and "DiT + VACE" in summary
    assert "not mapped" not in summary  # every tensor of the checkpoint found a place


def test_whole_forward_equals_upstream_including_the_reference_frame(converted, inputs):
    _, model, _ = converted
    inp = inputs
    c = inp["x"].shape[0]
    from trainer.motion.vace import vace_context

    ctx = vace_context(inp["vace_context"][None, :2 * c, 1:], inp["x"][None, :, :1], 72)
    assert torch.equal(ctx[0], inp["vace_context"])  # our VACE context is the one upstream built
    with torch.no_grad():
        out = model(hidden_states=inp["x"][None], timestep=inp["t"], encoder_hidden_states=inp["context"][None],
                    control_hidden_states=ctx, attention_kwargs={"motion": _motion(inp)}, return_dict=False)[0][0]
    torch.testing.assert_close(out, inp["out_cond"], atol=ATOL, rtol=RTOL)


def test_the_denoiser_guided_output_equals_upstreams(converted, inputs):
    """Through the trainer's Wan adapter (reference latent prepended and cut off), both guidance branches."""
    from trainer.models import make_denoiser

    _, model, _ = converted
    inp = inputs
    den = make_denoiser("wan", "vace")
    x_t = inp["x"][None, :, 1:]
    with torch.no_grad():
        cond = den(model, x_t, inp["t"], _cond(inp, inp["context"]))
        null = den(model, x_t, inp["t"], _cond(inp, inp["context_null"], torch.zeros_like(inp["audio_emb"])))
    torch.testing.assert_close(cond[0], inp["out_cond"][:, 1:], atol=ATOL, rtol=RTOL)
    guided = null + 6.0 * (cond - null)
    torch.testing.assert_close(guided[0], inp["out_guided"][:, 1:], atol=10 * ATOL, rtol=RTOL)


def test_without_reference_tokens_the_output_differs(converted, inputs):
    """The reference-frame tokens matter: turned off, the reference frame gets no motion attention and the whole
    output moves (self-attention spreads it)."""
    _, model, _ = converted
    inp = inputs
    from trainer.motion.vace import vace_context

    c = inp["x"].shape[0]
    ctx = vace_context(inp["vace_context"][None, :2 * c, 1:], inp["x"][None, :, :1], 72)
    model.motion.cfg.reference_tokens = False
    try:
        with torch.no_grad():
            out = model(hidden_states=inp["x"][None], timestep=inp["t"], encoder_hidden_states=inp["context"][None],
                        control_hidden_states=ctx, attention_kwargs={"motion": _motion(inp)}, return_dict=False)[0][0]
    finally:
        model.motion.cfg.reference_tokens = True
    assert (out[:, 0] - inp["out_cond"][:, 0]).abs().max() > 1e-2
    assert (out[:, 1:] - inp["out_cond"][:, 1:]).abs().max() > 1e-3
