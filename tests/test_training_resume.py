"""An interrupted run resumed from its last checkpoint gives the same per-epoch losses as an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from _training_tiny import TINY_PRETRAIN
from microgesture.cli.main import main

# the schedule horizon is the planned 4 epochs in both runs: the first run is "killed" after epoch 2
COMMON = ["--config", "pretrain_stb_demo", "--quiet", *TINY_PRETRAIN, "optim.total_epochs=4",
          "moco.balance=scheduled", "moco.lam=0.2", "moco.lam_end=0.8", "augment.spec=mg"]


def _epoch_losses(run_dir: Path) -> list[float]:
    m = pd.read_csv(run_dir / "csv" / "metrics.csv").dropna(subset=["train/loss"])
    return m.sort_values("epoch")["train/loss"].tolist()


def _run(args: list[str]) -> None:
    assert main(args) == 0


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    _run(["pretrain", *COMMON, "--out", str(full), "--max-epochs", "4"])
    _run(["pretrain", *COMMON, "--out", str(part), "--max-epochs", "2"])
    _run(["pretrain", "--out", str(part), "--resume", "--max-epochs", "4", "--quiet"])
    a, b = _epoch_losses(full), _epoch_losses(part)
    assert len(a) == len(b) == 4
    assert b == pytest.approx(a, rel=1e-5, abs=1e-6)
    sa = torch.load(full / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    sb = torch.load(part / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    for k in sa:
        torch.testing.assert_close(sb[k], sa[k], rtol=1e-5, atol=1e-6, msg=k)
