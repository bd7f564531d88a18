"""Sampling from a trained run (``trainer.generation``): the guidance and window maths by hand, a tiny conditioned run
writing a playable mp4 with audio, checkpoints by step, and the errors for runs that cannot be sampled."""

from __future__ import annotations

import json

import pytest
import torch

from storage.errors import CurateError
from trainer.generation.settings import SampleConfig
from trainer.generation.windows import guided, latent_frames, video_frames, window_starts


def test_guidance_combines_branches_as_documented():
    full, text, null = torch.tensor([3.0]), torch.tensor([2.0]), torch.tensor([1.0])
    # 1 + 5 * (2 - 1) + 3.5 * (3 - 2) = 9.5
    assert guided(full, text, null, 5.0, 3.5).item() == pytest.approx(9.5)
    # no text branch (scale 1): 1 + 5 * (3 - 1) = 11
    assert guided(full, None, null, 5.0, 1.0).item() == pytest.approx(11.0)
    # no null branch: 2 + 3.5 * (3 - 2) = 5.5
    assert guided(full, text, None, 1.0, 3.5).item() == pytest.approx(5.5)
    assert guided(full, None, None, 1.0, 1.0).item() == 3.0


def test_window_plan_by_hand():
    # Wan, 81 frames, 1 latent frame of overlap = 1 video frame: stride 80
    assert video_frames("wan", 1) == 1 and video_frames("wan", 2) == 5 and latent_frames("wan", 81) == 21
    assert window_starts(81, 81, 1) == [0]
    assert window_starts(82, 81, 1) == [0, 80]
    assert window_starts(200, 81, 5) == [0, 76, 152]  # 152 + 81 = 233 >= 200; 76 + 81 = 157 < 200
    assert window_starts(10, 9, 1) == [0, 8]
    with pytest.raises(ValueError, match="shorter than a window"):
        window_starts(10, 9, 9)


@pytest.mark.parametrize("kwargs, field", [({"steps": 0}, "steps"), ({"guidance_audio": 0.5}, "guidance_audio"),
                                           ({"scheduler": "heun"}, "scheduler"), ({"overlap": 0}, "overlap"),
                                           ({"guidance_text": 25}, "guidance_text"), ({"seed": -1}, "seed")])
def test_settings_out_of_range_name_the_setting(kwargs, field):
    with pytest.raises(ValueError, match=f"`{field}`"):
        SampleConfig(**kwargs)


def test_scheduler_must_fit_the_run_kind():
    assert SampleConfig().solver("wan") == "unipc" and SampleConfig().solver("unet") == "ddim"
    with pytest.raises(ValueError, match="does not fit a unet run"):
        SampleConfig(scheduler="euler").solver("unet")
    with pytest.raises(ValueError, match="unknown sampling setting"):
        SampleConfig.from_dict({"stepz": 3})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tests.fixtures.media import make_png, make_wav
    from tests.fixtures.sample_run import make_tiny_run

    root = tmp_path_factory.mktemp("sample")
    run = make_tiny_run(root)
    make_png(root / "c.png", size=48)
    make_wav(root / "c.wav", seconds=0.6)
    return {"run": run, "image": root / "c.png", "audio": root / "c.wav", "root": root}


def test_tiny_run_writes_a_playable_mp4_with_audio(tiny, tmp_path):
    """0.6 s of audio at the run's 16 fps = round(9.6) = 10 frames: two 9-frame windows (starts 0 and 8), 32x32."""
    from storage.media import probe_video
    from trainer.generation.clip import sample_clip
    from trainer.generation.run_loader import load_run
    from trainer.generation.video_io import read_sample_record

    run = load_run(tiny["run"])
    assert run.has_audio and run.step is None
    out = tmp_path / "c.mp4"
    meta = sample_clip(run, SampleConfig(steps=3), tiny["image"], tiny["audio"], "a person talking", out)
    probe = probe_video(out, "sample")
    assert (probe.frame_count, probe.width, probe.height, probe.fps) == (10, 32, 32, 16.0)
    assert probe.has_audio and probe.audio_duration == pytest.approx(0.6, abs=0.05)
    assert meta["windows"] == 2 and meta["window_seeds"] == [42, 43]
    assert read_sample_record(out) == json.loads(json.dumps(meta))
    assert not list(tmp_path.glob("*.tmp*"))
    # same seed, same video; another seed, another one
    again = sample_clip(run, SampleConfig(steps=3), tiny["image"], tiny["audio"], "a person talking",
                        tmp_path / "again.mp4")
    assert again == meta and (tmp_path / "again.mp4").read_bytes() == out.read_bytes()


def test_audio_changes_the_sample(tiny):
    """The run's motion module is live: the first window's latents differ between the clip's audio and silence."""
    from trainer.generation.clip import _conditions, _latent_shape
    from trainer.generation.run_loader import load_run
    from trainer.generation.windows import make_scheduler, sample_window
    from trainer.models import make_denoiser

    run = load_run(tiny["run"])
    conds = _conditions(run, SampleConfig(guidance_audio=1.0), tiny["image"], tiny["audio"], None, 9)
    silent = {"full": {**conds["full"], "audio_embeds": torch.zeros_like(conds["full"]["audio_embeds"])}}
    outs = [sample_window(run.model, make_denoiser("wan"), make_scheduler("euler", 5.0, 1000), steps=2, flow=True,
                          shape=(1, *_latent_shape(run)), branches=b, g_text=1.0, g_audio=1.0,
                          generator=torch.Generator().manual_seed(0)) for b in (conds, silent)]
    assert (outs[0] - outs[1]).abs().max() > 1e-4


def test_checkpoint_step_loads_the_same_weights(tiny):
    from trainer.generation.run_loader import load_run

    final, step = load_run(tiny["run"]), load_run(tiny["run"], step=2)
    a, b = final.model.state_dict(), step.model.state_dict()
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert step.step == 2


def test_runs_that_cannot_be_sampled(tiny, tmp_path):
    import shutil

    from trainer.generation.run_loader import load_run

    with pytest.raises(CurateError, match="not a run folder"):
        load_run(tmp_path)
    with pytest.raises(CurateError, match=r"step 7 was not saved; saved steps: \[2\]"):
        load_run(tiny["run"], step=7)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(tiny["run"], unfinished, ignore=shutil.ignore_patterns("final"))
    with pytest.raises(CurateError, match=r"is not a finished run \(no final/\); saved steps: \[2\]"):
        load_run(unfinished)


def test_clip_without_audio_is_named(tiny, tmp_path):
    from tests.fixtures.media import make_video
    from trainer.generation.clip import sample_clip
    from trainer.generation.run_loader import load_run

    silent = make_video(tmp_path / "silent.mp4", seconds=0.5, audio=False)
    with pytest.raises(CurateError, match="silent.mp4"):
        sample_clip(load_run(tiny["run"]), SampleConfig(steps=1), tiny["image"], silent, None, tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()


def test_unet_run_samples_with_ddim(tmp_path):
    """A UNet run (frames folded, epsilon, DDIM): 1.0 s at 8 fps = 8 frames in windows of 5 with 1 carried frame
    (starts 0 and 4: 9 frames covered, cut to 8), 32x32, audio muxed; a flow solver is refused."""
    from storage.media import probe_video
    from tests.fixtures.media import make_png, make_wav
    from tests.fixtures.sample_run import make_tiny_unet_run
    from trainer.generation.clip import sample_clip
    from trainer.generation.run_loader import load_run

    run = load_run(make_tiny_unet_run(tmp_path))
    assert not run.has_audio
    make_png(tmp_path / "c.png")
    make_wav(tmp_path / "c.wav", seconds=1.0)
    meta = sample_clip(run, SampleConfig(steps=2), tmp_path / "c.png", tmp_path / "c.wav", None, tmp_path / "u.mp4")
    p = probe_video(tmp_path / "u.mp4", "unet sample")
    assert (p.frame_count, p.width, p.height, p.has_audio) == (8, 32, 32, True)
    assert meta["windows"] == 2
    with pytest.raises(ValueError, match="does not fit a unet run"):
        sample_clip(run, SampleConfig(scheduler="unipc"), tmp_path / "c.png", tmp_path / "c.wav", None,
                    tmp_path / "x.mp4")


def test_carried_frames_are_kept_exactly(tiny):
    """The first k latent frames of a window come out as the previous window's clean latents, bit for bit, and the
    rest still moves (they are sampled in that context)."""
    from trainer.generation.clip import _conditions, _latent_shape
    from trainer.generation.run_loader import load_run
    from trainer.generation.windows import make_scheduler, sample_window
    from trainer.models import make_denoiser

    run = load_run(tiny["run"])
    conds = _conditions(run, SampleConfig(guidance_text=1.0), tiny["image"], tiny["audio"], None, 9)
    shape = (1, *_latent_shape(run))
    known = torch.randn(1, shape[1], 1, *shape[3:], generator=torch.Generator().manual_seed(3))
    for solver in ("unipc", "euler"):
        x = sample_window(run.model, make_denoiser("wan"), make_scheduler(solver, 5.0, 1000), steps=3, flow=True,
                          shape=shape, branches=conds, g_text=1.0, g_audio=3.5,
                          generator=torch.Generator().manual_seed(0), known=known)
        assert torch.equal(x[:, :, :1], known) and not torch.equal(x[:, :, 1:2], known)
