"""bench/real_shape.py's GPU mode, run on the CPU with the tiny config, and its FLOP count worked by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

ROOT = Path(__file__).resolve().parents[2]


def test_step_flops_by_hand():
    sys.path.insert(0, str(ROOT / "bench"))
    from real_shape import TINY, TINY_VACE, step_flops

    # latents (16, 3, 8, 8), patch 2x2: S = 3 x 4 x 4 = 48 tokens; L = 8, d = 24, f = 32
    s, L, d, f = 48, 8, 24, 32
    block = 8 * s * d * d + 4 * s * s * d + 4 * s * d * d + 4 * L * d * d + 4 * s * L * d + 4 * s * d * f
    assert block == 221184 + 221184 + 110592 + 18432 + 36864 + 147456
    assert step_flops(TINY, (16, 3, 8, 8), (8, 32), vace=False) == 2 * block * 2 * 4  # 2 blocks, 2 videos, 4 passes
    assert step_flops({**TINY, **TINY_VACE}, (16, 3, 8, 8), (8, 32), vace=True) == 3 * block * 2 * 4


@pytest.mark.parametrize("vace", [False, True])
def test_gpu_mode_runs_tiny_on_cpu(tmp_path, vace):
    out = tmp_path / "r.json"
    cmd = [sys.executable, str(ROOT / "bench" / "real_shape.py"), "--gpu", "--tiny", "--steps", "1", "--out", str(out)]
    proc = subprocess.run([*cmd, *(["--vace"] if vace else [])], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "LoRA DPO step 16x3x8x8" in proc.stdout and "wall s" in proc.stdout
    row = json.loads(out.read_text())["rows"][0]
    assert row["wall_s"] > 0 and row["tflops_per_step"] > 0 and row["trainable"] < row["params"]
    assert abs(row["loss"] - 0.6931) < 1e-3  # a fresh LoRA: policy == reference, the DPO loss is ln 2
