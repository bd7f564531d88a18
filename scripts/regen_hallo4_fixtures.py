"""Regenerate tests/fixtures/hallo4_parity/ by running Hallo4's own model code, tiny and with random weights, on CPU.

Not part of the package and never imported by it: it runs the public fudan-generative-vision/hallo4 source (commit
1ccca54, the "init commit"; later commits only edit the README) so the parity tests compare our conversion with the
upstream computation rather than with our reading of it. Usage:

    git clone https://github.com/fudan-generative-vision/hallo4 /tmp/h4up/hallo4 && git -C /tmp/h4up/hallo4 checkout 1ccca54
    pip install --target /tmp/h4up/site einops
    PYTHONPATH=/tmp/h4up/site python scripts/regen_hallo4_fixtures.py /tmp/h4up/hallo4 tests/fixtures/hallo4_parity
    # the sampling-step fixture also needs Wan2.1's scheduler (upstream imports it from the wan package):
    git clone https://github.com/Wan-Video/Wan2.1 /tmp/h4up/Wan2.1 && git -C /tmp/h4up/Wan2.1 checkout 9737cba
    PYTHONPATH=/tmp/h4up/site python scripts/regen_hallo4_fixtures.py /tmp/h4up/hallo4 tests/fixtures/hallo4_parity \
        /tmp/h4up/Wan2.1

Seed 0. What is stubbed, and why it does not change the maths:

* ``vace/models/__init__.py`` and ``vace/models/wan/__init__.py`` import the Wan2.1 package, torchvision and decord
  (the inference pipeline); the model modules are imported without running those package files.
* ``icecream`` (a debug print) is a no-op.
* ``flash_attention`` (CUDA only) is replaced by upstream's own ``attention`` function with flash-attn reported absent:
  its ``scaled_dot_product_attention`` branch, asked to compute in float32. No call in the tiny model passes
  lengths that mask anything (``context_lens`` is None, ``seq_lens`` equals the sequence), so the masks flash-attn
  would apply are all-true.

The audio projection is upstream's ``AudioProjModel`` built with small sizes (window 5, 2 "layers" of 8 channels,
hidden 16, 4 tokens per frame); the model is upstream's ``VaceWanModel`` (4 blocks, VACE blocks on 0 and 2, width 32,
2 heads), the wav2vec2 a random 2-layer ``Wav2Vec2Model`` (hidden 8) run through upstream's ``Wav2VecModel``.
"""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

SEED = 0
CONFIG = {"vace_layers": [0, 2], "vace_in_dim": 4 * 2 + 64, "model_type": "t2v", "patch_size": (1, 2, 2),
          "text_len": 8, "in_dim": 4, "dim": 16, "ffn_dim": 32, "freq_dim": 32, "text_dim": 16, "out_dim": 4,
          "num_heads": 2, "num_layers": 4, "window_size": (-1, -1), "qk_norm": True, "cross_attn_norm": True,
          "eps": 1e-6, "enable_audio_cross_attn": True, "enable_skeleton_cross_attn": True,
          "use_gradient_checkpointing": False}
AUDIO = {"seq_len": 5, "blocks": 2, "channels": 8, "intermediate_dim": 16, "context_tokens": 4}
FRAMES, LATENT_HW = 9, (4, 6)  # video frames of the clip (4k + 1) and the latent grid
GUIDE, SHIFT, STEPS = 6.0, 8.0, 25  # upstream's defaults (vace_wan_inference.py)
STEP_SEED = 2025  # upstream's --base_seed default; its generator is on the GPU, here on the CPU


def load_upstream(repo: Path):
    """Upstream's model modules, imported without their package __init__ files (see the module docstring)."""
    sys.modules.setdefault("icecream", types.SimpleNamespace(ic=lambda *a, **k: None))
    for name, sub in (("vace", "vace"), ("vace.models", "vace/models"), ("vace.models.wan", "vace/models/wan"),
                      ("vace.models.utils", "vace/models/utils")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(repo / sub)]
        sys.modules[name] = pkg
    from vace.models.utils import wav2vec
    from vace.models.wan.modules import attention, audio_proj, model, wan_model

    attention.FLASH_ATTN_2_AVAILABLE = attention.FLASH_ATTN_3_AVAILABLE = False

    def sdpa(q, k, v, **kw):
        return attention.attention(q, k, v, dtype=torch.float32)

    wan_model.flash_attention = sdpa
    return model, audio_proj, wav2vec


def randomise(module: torch.nn.Module) -> None:
    """Every weight random (upstream zero-initialises its attention outputs, VACE projections and head)."""
    for name, p in module.named_parameters():
        with torch.no_grad():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))


def build_model(model_mod, audio_mod):
    m = model_mod.VaceWanModel(**CONFIG)
    m.audio_proj = audio_mod.AudioProjModel(output_dim=CONFIG["dim"], **AUDIO)
    randomise(m)
    return m.eval()


def forward_inputs(gen: torch.Generator) -> dict[str, torch.Tensor]:
    c, (h, w) = CONFIG["in_dim"], LATENT_HW
    lat = (FRAMES - 1) // 4 + 1
    r = lambda *s: torch.randn(*s, generator=gen)
    x = r(c, 1 + lat, h, w)  # frame 0: the clean reference latent (WanVace.generate writes it there every step)
    vace = torch.cat([r(2 * c, 1 + lat, h, w), torch.ones(64, 1 + lat, h, w)])
    vace[:c, :1], vace[c:, :1] = x[:, :1], 0  # reference frame: [ref latent, zeros, mask 0], as upstream builds it
    return {"x": x, "t": torch.tensor([937.0]), "context": r(CONFIG["text_len"], CONFIG["text_dim"]),
            "context_null": r(CONFIG["text_len"], CONFIG["text_dim"]), "vace_context": vace,
            "skeleton_latents": r(1, c, FRAMES, h, w),
            "audio_emb": r(1, FRAMES, AUDIO["seq_len"], AUDIO["blocks"], AUDIO["channels"])}


def run_forward(m, inp: dict, context: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
    _, f, h, w = inp["x"].shape
    seq_len = f * h * w // 4
    with torch.no_grad():
        return m([inp["x"]], t=inp["t"], vace_context=[inp["vace_context"]], context=[context], seq_len=seq_len,
                 skeleton_latents=inp["skeleton_latents"], audio_emb=audio)[0]


def audio_fixture(wav2vec_mod, out: Path, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """A tiny random wav2vec2 saved as a local folder, a wav, and upstream's 25 fps features of it."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor

    cfg = Wav2Vec2Config(hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
                         conv_dim=(8,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                         feat_extract_norm="group", do_stable_layer_norm=False, vocab_size=4)
    cfg._attn_implementation = "eager"  # upstream sets output_attentions, which the sdpa path refuses; same maths
    model = wav2vec_mod.Wav2VecModel(cfg).eval()
    randomise(model)
    folder = out / "wav2vec2"
    model.save_pretrained(str(folder), safe_serialization=True)
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                                  return_attention_mask=False)
    fe.save_pretrained(str(folder))
    wave = (0.3 * torch.randn(9600, generator=gen)).numpy().astype(np.float32)  # 0.6 s at 16 kHz
    # upstream AudioProcessor.preprocess without the separator (librosa.load of a 16 kHz file returns it as is)
    values = np.squeeze(fe(wave, sampling_rate=16000).input_values)
    seq_len = math.ceil(len(values) / 16000 * 25)
    # transformers 5 no longer fills hidden_states when the encoder is called as upstream calls it; what
    # transformers 4 put in hidden_states[1:] (each encoder layer's output) is recorded by hooks instead
    layers: list[torch.Tensor] = []
    hooks = [layer.register_forward_hook(lambda m, a, o: layers.append(o[0] if isinstance(o, tuple) else o))
             for layer in model.encoder.layers]
    with torch.no_grad():
        model(torch.from_numpy(values).float()[None], seq_len=seq_len, output_hidden_states=True)
    for h in hooks:
        h.remove()
    feats = torch.stack(layers, dim=1).squeeze(0)  # upstream: stack(hidden_states[1:], dim=1).squeeze(0)
    feats = feats.permute(1, 0, 2)  # upstream: rearrange(audio_emb, "b s d -> s b d") -> (frames, layers, D)
    return {"wave": torch.from_numpy(wave), "features": feats.contiguous(), "fps": torch.tensor(25.0)}


def load_scheduler(wan: Path):
    """Wan2.1's ``FlowUniPCMultistepScheduler`` (``wan/utils/fm_solvers_unipc.py``), imported by file path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fm_solvers_unipc", wan / "wan" / "utils" / "fm_solvers_unipc.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.FlowUniPCMultistepScheduler


def step_fixture(model_mod, audio_mod, scheduler_cls, out: Path) -> dict[str, torch.Tensor]:
    """Two steps of ``WanVace.generate``'s sampling loop on the saved tiny model and forward inputs: UniPC with
    shift 8 over 25 steps, guidance 6 (negative prompt + zero audio as the unconditional branch), seed 2025. The
    loop writes the reference latent into frame 0 of the latents in place before each forward."""
    from safetensors.torch import load_file

    m = model_mod.VaceWanModel(**CONFIG)
    m.audio_proj = audio_mod.AudioProjModel(output_dim=CONFIG["dim"], **AUDIO)
    m.load_state_dict(load_file(str(out / "hallo4_tiny.safetensors")))
    m.eval()
    inp = load_file(str(out / "forward.safetensors"))
    sched = scheduler_cls(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
    sched.set_timesteps(STEPS, device="cpu", shift=SHIFT)
    seed_g = torch.Generator().manual_seed(STEP_SEED)
    noise = torch.randn(*inp["x"].shape, dtype=torch.float32, generator=seed_g)
    latents, result = [noise.clone()], {"noise": noise, "timesteps": sched.timesteps[:2].clone()}
    for i, t in enumerate(sched.timesteps[:2]):
        latents[0][:, :1] = inp["x"][:, :1]
        step_inp = {**inp, "x": latents[0], "t": torch.stack([t])}
        cond = run_forward(m, step_inp, inp["context"], inp["audio_emb"])
        uncond = run_forward(m, step_inp, inp["context_null"], torch.zeros_like(inp["audio_emb"]))
        pred = uncond + GUIDE * (cond - uncond)
        latents = [sched.step(pred.unsqueeze(0), t, latents[0].unsqueeze(0), return_dict=False,
                              generator=seed_g)[0].squeeze(0)]
        result[f"x_step{i + 1}"] = latents[0].clone()
    return result


def main(repo: str, out: str, wan: str | None = None) -> None:
    repo, out = Path(repo), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    model_mod, audio_mod, wav2vec_mod = load_upstream(repo)
    m = build_model(model_mod, audio_mod)
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(out / "hallo4_tiny.safetensors"))
    (out / "config.json").write_text(json.dumps({"_class_name": "VaceWanModel", **CONFIG}, indent=1))
    inp = forward_inputs(gen)
    cond = run_forward(m, inp, inp["context"], inp["audio_emb"])
    uncond = run_forward(m, inp, inp["context_null"], torch.zeros_like(inp["audio_emb"]))
    guided = uncond + GUIDE * (cond - uncond)  # WanVace.generate's guidance
    save_file({**inp, "out_cond": cond, "out_uncond": uncond, "out_guided": guided},
              str(out / "forward.safetensors"))
    save_file(audio_fixture(wav2vec_mod, out, gen), str(out / "audio.safetensors"))
    if wan:
        save_file(step_fixture(model_mod, audio_mod, load_scheduler(Path(wan)), out), str(out / "step.safetensors"))
    print(f"wrote {out}: cond |out| {cond.abs().mean():.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
