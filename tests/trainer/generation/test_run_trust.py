"""A run folder is untrusted input: its config.json is validated before anything loads, every path must be a local
model folder (nothing is downloaded), tensors of the wrong shape are one line naming the file and the key, and
`curate generators check` says why a policy run will not load."""

from __future__ import annotations

import json
import shutil
import socket

import pytest
from safetensors.torch import load_file, save_file

from storage.errors import CurateError
from tests.fixtures.generators_ws import configure
from tests.fixtures.sample_run import make_tiny_run
from trainer.generation.run_check import check_run
from trainer.generation.run_loader import load_run
from trainer.models import LORA_WEIGHTS


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return make_tiny_run(tmp_path_factory.mktemp("trust"))


def variant(tiny_run, tmp_path, **config):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    cfg = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**cfg, **config}))
    return run


def test_the_tiny_run_loads_and_checks_clean(tiny_run):
    assert check_run(tiny_run) == [] and check_run(tiny_run, 2) == []
    assert load_run(tiny_run).cfg.width == json.loads((tiny_run / "config.json").read_text())["width"]


def test_a_huge_size_is_refused_before_any_allocation(tiny_run, tmp_path):
    run = variant(tiny_run, tmp_path, width=100000)  # a multiple of 16: the training config alone accepts it
    with pytest.raises(CurateError, match=r"config.json: width = 100000 is more than 2048"):
        load_run(run)


@pytest.mark.parametrize("key,value", [("vae_path", "/etc"), ("audio_encoder_path", "missing/folder"),
                                       ("text_encoder_path", "google/umt5-xxl")])
def test_a_model_path_that_is_not_a_local_folder_is_one_line(tiny_run, tmp_path, key, value):
    run = variant(tiny_run, tmp_path, **{key: value})
    with pytest.raises(CurateError) as e:
        load_run(run)
    assert str(e.value) == (f"{run / 'config.json'}: {key} = {value!r} is not a local model folder (no config.json "
                            "in it); nothing is downloaded.")


def test_the_prompt_encoder_never_reaches_the_network(monkeypatch):
    from trainer.encoders import PromptEncoder

    tried = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, addr: tried.append(addr) or (_ for _ in ()).throw(
        OSError("network used")))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(OSError):
        PromptEncoder.from_pretrained("google/umt5-small")
    assert tried == []


def test_an_unknown_key_or_a_bad_value_names_config_json(tiny_run, tmp_path):
    run = variant(tiny_run, tmp_path, num_frames="many")
    with pytest.raises(CurateError, match=r"config.json: config.json is not a run config: `num_frames` must be int"):
        load_run(run)
    (run / "config.json").write_text("[1, 2]")
    with pytest.raises(CurateError, match=r"config.json: holds a list, not a run config"):
        load_run(run)


def test_a_lora_tensor_of_the_wrong_shape_is_one_line(tiny_run, tmp_path):
    run = variant(tiny_run, tmp_path)
    file = run / "final" / "lora" / LORA_WEIGHTS
    state = load_file(str(file))
    key = min(k for k in state if "lora_A" in k)
    state[key] = state[key][:, :-1].contiguous()
    save_file(state, str(file))
    with pytest.raises(CurateError) as e:
        load_run(run)
    msg = str(e.value)
    assert msg.startswith(f"{file} does not load:") and "size mismatch" in msg and "\n" not in msg, msg


def test_a_checkpoint_tensor_of_the_wrong_shape_names_file_and_key(tiny_run, tmp_path):
    run = variant(tiny_run, tmp_path)
    file = run / "checkpoints" / "step-000002" / "model.safetensors"
    state = load_file(str(file))
    key = min(state)
    want = tuple(state[key].shape)
    state[key] = state[key].reshape(-1)[:-1].contiguous() if state[key].numel() > 1 else state[key].repeat(2)
    save_file(state, str(file))
    with pytest.raises(CurateError) as e:
        load_run(run, step=2)
    assert str(e.value) == f"{file}: {key} has shape {tuple(state[key].shape)}, the model's is {want}."


def test_generators_check_reports_a_policy_run_that_will_not_load(tiny_run, tmp_path, sqlite_workspace, cli):
    run = variant(tiny_run, tmp_path, vae_path="/etc")
    ws = configure(sqlite_workspace, generators={"policy-r1": {"adapter": "policy", "run": str(run)}})
    r = cli("generators", "check", "policy-r1", "-w", ws.root)
    assert r.exit_code == 1, r.output
    assert "vae_path = '/etc' is not a local model folder" in r.output, r.output
