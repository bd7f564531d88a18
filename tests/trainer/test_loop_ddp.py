"""Two CPU processes under ``accelerate launch`` (gloo): DDP keeps them in lockstep, one log, one RNG file each.

accelerate's ``--cpu`` flag starts a single process unless MPI is installed, so the test uses the torchrun-based
``--multi_gpu`` launcher; without CUDA the trainer asks accelerate for CPU, which forms a gloo process group.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")

from safetensors.torch import load_file

from tests.fixtures.trainer_loop_models import save_tiny_wan

SCRIPT = Path(__file__).parents[1] / "fixtures" / "trainer_loop_ddp.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_run_stays_in_lockstep(tmp_path):
    model = save_tiny_wan(tmp_path / "wan")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(_free_port()), str(SCRIPT), str(model), str(out), "lora"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    w0, w1 = load_file(str(out / "rank0.safetensors")), load_file(str(out / "rank1.safetensors"))
    assert w0.keys() == w1.keys() and any("lora_B" in k for k in w0)
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k  # gradients were all-reduced: both processes took the same steps
    assert any(w0[k].abs().max() > 0 for k in w0 if "lora_B" in k)
    ckpt = out / "checkpoints" / "step-000003"
    assert (ckpt / "rng-rank0.safetensors").exists() and (ckpt / "rng-rank1.safetensors").exists()
    state = json.loads((ckpt / "trainer_state.json").read_text())
    # 4 pairs, 1 per process: 2 global batches per epoch; 3 steps -> epoch 1, batch 1
    assert state["world_size"] == 2 and state["position"] == {"epoch": 1, "batch": 1}
    rows = [json.loads(line) for line in (out / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]  # the main process alone logs
    assert rows[0]["loss"] == pytest.approx(0.693147, abs=1e-6)


def test_two_process_motion_module_stays_in_lockstep(tmp_path):
    """Phase-audio SFT under DDP: the model's forward pre-hook feeds the audio through the wrapped module, every
    trainable motion parameter gets its gradient all-reduced, and both processes end identical and trained."""
    model = save_tiny_wan(tmp_path / "wan")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(_free_port()), str(SCRIPT), str(model), str(out), "lora", "audio"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    w0, w1 = load_file(str(out / "rank0.safetensors")), load_file(str(out / "rank1.safetensors"))
    assert len(w0) == 2 + 2 * 12 and all("motion" in k for k in w0)  # audio_proj + 12 tensors per block
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    assert all(w0[k].abs().max() > 0 for k in w0 if ".to_out." in k)  # moved off their zero start
    assert (out / "final" / "motion" / "motion.safetensors").is_file()
