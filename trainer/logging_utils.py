"""Training metrics to TensorBoard, the console and ``metrics.jsonl`` (main process only).

Names follow TRL's DPOTrainer mapped to diffusion (see ``trainer.losses``): ``rewards/chosen``,
``rewards/rejected``, ``rewards/accuracies``, ``rewards/margins``, ``err/model_chosen``, ``err/model_rejected``,
``err/ref_chosen``, ``err/ref_rejected``, ``loss``, plus ``lr``, ``grad_norm`` and ``step_seconds``.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

log = logging.getLogger("trainer")

CONSOLE_KEYS = ("loss", "rewards/accuracies", "rewards/margins", "err/model_chosen", "lr")


class MetricWindow:
    """Averages per-micro-step metrics over a logging window."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, metrics: dict[str, float]) -> None:
        for k, v in metrics.items():
            self.sums[k] += float(v)
            self.counts[k] += 1

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in sorted(self.sums)}

    def clear(self) -> None:
        self.sums.clear()
        self.counts.clear()


class MetricLogger:
    """Writes one row per logging step; a no-op on processes other than the main one."""

    def __init__(self, log_dir: Path, enabled: bool) -> None:
        self.enabled = enabled
        self.writer = None
        self.jsonl = Path(log_dir) / "metrics.jsonl"
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            Path(log_dir).mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(log_dir=str(log_dir))

    def log(self, step: int, metrics: dict[str, float], write=print) -> None:
        if not self.enabled:
            return
        for k, v in metrics.items():
            self.writer.add_scalar(k, v, step)
        with self.jsonl.open("a") as fh:
            fh.write(json.dumps({"step": step, **metrics}) + "\n")
        shown = " ".join(f"{k.split('/')[-1]}={metrics[k]:.4g}" for k in CONSOLE_KEYS if k in metrics)
        write(f"step {step}: {shown}")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()


def read_metrics(log_dir: Path) -> list[dict]:
    """The rows of ``metrics.jsonl`` (for tests and reports)."""
    path = Path(log_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
