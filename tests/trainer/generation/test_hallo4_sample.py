"""Sampling a converted Hallo4 run: one (and two) solver steps of our sampler equal upstream's sampling loop, and
``sample_clip`` draws a video from a converted run given a skeleton video per clip.

The reference steps (``tests/fixtures/hallo4_parity/step.safetensors``) come from running upstream's loop body
(``WanVace.generate`` at fudan-generative-vision/hallo4 1ccca54) on the fixture's tiny model with Wan2.1's own
``FlowUniPCMultistepScheduler`` (Wan-Video/Wan2.1 9737cba): 25 steps, shift 8, guidance 6 with the negative prompt
and zero audio as the unconditional branch, noise from seed 2025 on a CPU generator (upstream's generator is on the
GPU: the same seed there draws other numbers). See scripts/regen_hallo4_fixtures.py.

Tolerance: the forward agrees to ~4e-6 (test_hallo4_parity); a step moves the latents by sigma differences of
~0.005 times the guided velocity, so the step error stays at the forward's; atol 2e-5 as there.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from tests.trainer.hallo4_run import FIX, FRAMES, HEIGHT, WIDTH, converted_run, skeleton_manifest, tiny_vae4

ATOL, RTOL = 2e-5, 1e-4


@pytest.fixture(scope="module")
def h4(tmp_path_factory):
    return converted_run(tmp_path_factory.mktemp("h4"))


def _branches(inp):
    c = inp["x"].shape[0]
    full = {"encoder_hidden_states": inp["context"][None], "audio_embeds": inp["audio_emb"].flatten(3),
            "skeleton": inp["skeleton_latents"].permute(0, 2, 1, 3, 4), "ref_latents": inp["x"][None, :, :1],
            "vace_latents": inp["vace_context"][None, :2 * c, 1:]}
    null = {**full, "encoder_hidden_states": inp["context_null"][None],
            "audio_embeds": torch.zeros_like(full["audio_embeds"])}
    return {"full": full, "null": null}


@pytest.mark.parametrize("n", [1, 2])
def test_solver_steps_equal_upstreams_sampling_loop(h4, n):
    from trainer.generation.windows import make_scheduler, sample_window
    from trainer.models import load_trained, make_denoiser

    inp, ref = load_file(str(FIX / "forward.safetensors")), load_file(str(FIX / "step.safetensors"))
    model = load_trained("wan", "", h4 / "final").eval()
    scheduler = make_scheduler("unipc_wan", 8.0, 1000)
    scheduler.set_timesteps(25)
    assert scheduler.timesteps[:2].tolist() == ref["timesteps"].tolist() == [999, 994]
    shape = (1, *ref["noise"][:, 1:].shape)
    x = sample_window(model, make_denoiser("wan", "vace"), scheduler, steps=25, flow=True, shape=shape,
                      branches=_branches(inp), g_text=6.0, g_audio=6.0, generator=torch.Generator().manual_seed(2025),
                      lead=1, stop_after=n)
    want = ref[f"x_step{n}"][None, :, 1:]  # frame 0 is the reference latent, written back each step upstream
    assert (want - ref["noise"][None, :, 1:]).abs().max() > 1e-3  # the step moved the latents
    torch.testing.assert_close(x, want, atol=ATOL, rtol=RTOL)


def test_equal_text_and_audio_scales_run_upstreams_two_branches(h4, tmp_path):
    """g_text == g_audio: v_null + g (v_full - v_null) with a zero-audio null branch, no third forward."""
    from trainer.generation.clip import _conditions
    from trainer.generation.settings import SampleConfig

    run = _run(h4, tmp_path, text=True)
    data = tmp_path / "data"
    skeleton_manifest(data, n_pairs=1)
    media = data / "media"
    conds = _conditions(run, SampleConfig(guidance_text=6.0, guidance_audio=6.0), media / "c0.png", media / "c0.wav",
                        "hi", FRAMES, media / "c0_pose.mp4")
    assert set(conds) == {"full", "null"}
    assert conds["null"]["audio_embeds"].abs().max() == 0 and conds["full"]["audio_embeds"].abs().max() > 0
    assert conds["full"]["skeleton"].shape == (1, FRAMES, 4, HEIGHT // 8, WIDTH // 8)
    assert conds["full"]["vace_latents"].shape == (1, 8, 3, HEIGHT // 8, WIDTH // 8)
    three = _conditions(run, SampleConfig(guidance_text=6.0, guidance_audio=3.0), media / "c0.png",
                        media / "c0.wav", "hi", FRAMES, media / "c0_pose.mp4")
    assert set(three) == {"full", "text", "null"}


def _run(h4, tmp_path, text: bool = False):
    """The converted run with the tiny 4-channel VAE and the fixture's wav2vec2 named, at the fixture's size."""
    from trainer.generation.run_loader import load_run

    cfg = json.loads((h4 / "config.json").read_text())
    cfg.update(vae_path=str(tiny_vae4(tmp_path / "vae4")), audio_encoder_path=str(FIX / "wav2vec2"),
               num_frames=FRAMES, height=HEIGHT, width=WIDTH, text_length=8, text_encoder_path="")
    if text:
        from tests.fixtures.trainer_data_models import tiny_t5_encoder

        cfg["text_encoder_path"] = str(tiny_t5_encoder(tmp_path / "t5"))
    (h4 / "config.json").write_text(json.dumps(cfg, indent=1))
    return load_run(h4)


def test_sample_clip_draws_a_video_from_a_converted_run_with_a_skeleton(h4, tmp_path):
    from storage.errors import CurateError
    from trainer.generation.clip import sample_clip
    from trainer.generation.settings import SampleConfig

    run = _run(h4, tmp_path)
    data = tmp_path / "data"
    skeleton_manifest(data, n_pairs=1)
    media = data / "media"
    scfg = SampleConfig(steps=2, guidance_text=1.0, guidance_audio=6.0, shift=8.0)
    with pytest.raises(CurateError, match="skeleton branch"):
        sample_clip(run, scfg, media / "c0.png", media / "c0.wav", None, tmp_path / "x.mp4")
    meta = sample_clip(run, scfg, media / "c0.png", media / "c0.wav", None, tmp_path / "s.mp4",
                       skeleton=media / "c0_pose.mp4")
    assert (tmp_path / "s.mp4").is_file() and meta["settings"]["shift"] == 8.0
    assert meta["windows"] == 2 and meta["frames"] == 15  # 0.6 s at 25 fps in two 9-frame windows


def test_curate_sample_refuses_a_skeleton_that_does_not_fit_the_audio_before_loading(h4, tmp_path, monkeypatch):
    """One line naming the clip and the file; the run is never loaded and nothing is written."""
    from curation.run_videos import SampleClip, sample_clips
    from storage.errors import CurateError
    from tests.fixtures.media import make_video
    from trainer.generation import run_loader

    data = tmp_path / "data"
    skeleton_manifest(data, n_pairs=1)
    media = data / "media"
    short = make_video(media / "short.mp4", seconds=0.4, fps=25, size=(96, 64), audio=False)
    monkeypatch.setattr(run_loader, "load_run", lambda *a, **k: pytest.fail("the run was loaded"))
    clips = [SampleClip("ok", str(media / "c0.png"), str(media / "c0.wav"), None, str(media / "c0_pose.mp4")),
             SampleClip("bad", str(media / "c0.png"), str(media / "c0.wav"), None, str(short))]
    with pytest.raises(CurateError) as e:
        sample_clips(h4, clips, tmp_path / "out", {}, progress=False)
    assert "\n" not in str(e.value) and "'bad'" in str(e.value) and str(short) in str(e.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_jobs_file_carries_each_clips_skeleton(tmp_path):
    """``curate sample --gpus`` hands the skeleton to each process through the jobs file."""
    from trainer.generation.settings import SampleConfig, SampleJob, SampleJobs

    jobs = SampleJobs("run", None, SampleConfig(shift=8.0), [SampleJob("i.png", "a.wav", None, 3, "o.mp4",
                                                                       skeleton="pose.mp4")])
    back = SampleJobs.read(jobs.write(tmp_path / "jobs.json"))
    assert back.jobs[0].skeleton == "pose.mp4" and back.settings.shift == 8.0


def test_curate_sample_takes_the_clip_manifests_skeleton_column(h4, tmp_path, cli):
    data = tmp_path / "data"
    skeleton_manifest(data, n_pairs=1)
    _run(h4, tmp_path)
    clips = data / "clips.csv"
    clips.write_text("clip_id,image,audio,skeleton\nc0,media/c0.png,media/c0.wav,media/c0_pose.mp4\n")
    res = cli("sample", "--run", h4, "--clips", clips, "--out", tmp_path / "out", "--steps", 1, "--shift", 8,
              "--no-progress")
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "out" / "c0.json").read_text())
    assert record["settings"]["shift"] == 8.0 and record["windows"] == 2
    assert record["skeleton"] == str(data / "media" / "c0_pose.mp4")
    assert (tmp_path / "out" / "c0.mp4").is_file()
