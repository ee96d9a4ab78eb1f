"""An interrupted run resumed from its last checkpoint gives the same per-epoch losses as an uninterrupted one."""

from __future__ import annotations

import logging
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


def test_resume_with_a_longer_run_stretches_the_cosine_schedule_and_says_so(tmp_path, caplog):
    run = tmp_path / "run"
    args = ["--config", "pretrain_stb_demo", "--quiet", *TINY_PRETRAIN, "--out", str(run)]
    _run(["pretrain", *args, "--max-epochs", "2"])
    logger = logging.getLogger("microgesture.training.base")
    logger.addHandler(caplog.handler)  # the CLI's log setup does not propagate to the root logger
    try:
        _run(["pretrain", "--out", str(run), "--resume", "--max-epochs", "4", "--quiet"])
    finally:
        logger.removeHandler(caplog.handler)
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "schedule horizon (2 -> 4 epochs)" in text and "optim.total_epochs" in text
    lrs = pd.read_csv(run / "csv" / "metrics.csv").dropna(subset=["lr-SGD/pg1"])["lr-SGD/pg1"].tolist()
    assert lrs[2] == pytest.approx(lrs[1])  # epoch 3 of 4 starts at the stretched curve's 0.5, not at 0
