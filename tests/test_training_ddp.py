"""Lightning DDP end to end: ``microgesture pretrain --devices 2 --strategy ddp`` on the CPU (gloo).

The MoCo-level test (test_moco_ddp.py) proves the objective is exact under DDP; this one proves the command
users run launches two ranks, shards the data, reports once (rank 0), logs epoch metrics reduced over both
ranks, and writes a checkpoint that loads like a single-process one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from _training_tiny import TINY_PRETRAIN
from microgesture.data.synthetic import make_mg_dataset
from microgesture.training import load_encoder

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without distributed")


def test_two_rank_cpu_pretraining_through_the_cli(tmp_path):
    out = tmp_path / "ddp"
    cli = Path(sys.executable).with_name("microgesture")
    cmd = [str(cli), "--verbose", "pretrain", "--config", "pretrain_stb_demo", "--out", str(out), "--max-epochs", "2",
           "--devices", "2", "--strategy", "ddp", "--device", "cpu", "--json", *TINY_PRETRAIN,
           "moco.queue_size=64"]  # a multiple of the global batch (2 ranks x 8)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)  # exactly one JSON document: rank 1 stays silent
    assert doc["epochs"] == 2 and "global_rank" not in doc
    assert "GLOBAL_RANK: 1" in proc.stderr  # there really were two ranks

    # the data is sharded, not duplicated: 27 training clips, global batch 2 ranks x 8 with drop_last gives
    # one step per epoch (a single process with batch 8 would take three)
    n_train = len(make_mg_dataset(seed=0, clips_per_class=4).splits["train"])
    assert doc["global_step"] == 2 * (n_train // 16) == 2
    metrics = pd.read_csv(out / "csv" / "metrics.csv")
    per_epoch = metrics.dropna(subset=["train/loss"])
    assert list(per_epoch["epoch"]) == [0, 1]
    assert per_epoch["train/loss"].round(4).iloc[-1] == round(doc["metrics"]["train/loss"], 4)

    encoder, meta = load_encoder(out / "checkpoints" / "last.ckpt")
    assert meta["task"] == "pretrain" and meta["epoch"] == 1  # the last epoch index, as single-process
    assert all(torch.isfinite(p).all() for p in encoder.parameters())
