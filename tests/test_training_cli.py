"""End to end through the command line: pretrain and supervised runs on a tiny synthetic set."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from _training_tiny import TINY_PRETRAIN, TINY_SUPERVISED
from microgesture.cli.main import main
from microgesture.errors import CheckpointError
from microgesture.training import load_classifier, load_encoder


def _run_cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_pretrain_cli_writes_checkpoint_metrics_and_tensorboard(tmp_path, capsys):
    out = tmp_path / "run"
    doc = _run_cli(["pretrain", "--config", "pretrain_stb_demo", "--out", str(out), "--max-epochs", "2",
                    "--json", *TINY_PRETRAIN], capsys)
    assert doc["epochs"] == 2 and Path(doc["checkpoint"]).is_file()
    assert {"epoch0000.ckpt", "epoch0001.ckpt", "last.ckpt", "best.ckpt"} <= {p.name for p in
                                                                               (out / "checkpoints").iterdir()}
    metrics = pd.read_csv(out / "csv" / "metrics.csv")
    per_epoch = metrics.dropna(subset=["train/loss"])
    assert list(per_epoch["epoch"]) == [0, 1] and per_epoch["train/loss"].notna().all()
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert (out / "config.yaml").is_file() and (out / "metrics.json").is_file()

    # the checkpoint is plain data: weights_only loading works and the metadata is complete
    ckpt = torch.load(doc["checkpoint"], weights_only=True)
    meta = ckpt["microgesture"]
    assert meta["task"] == "pretrain" and meta["epoch"] == 1
    assert meta["encoder_config"]["name"] == "dual_stream" and meta["encoder_config"]["layout"] == "imigue22"
    assert meta["config"]["trainer"]["max_epochs"] == 2
    assert set(meta["versions"]) >= {"torch", "lightning", "numpy", "microgesture", "python"}
    assert len(meta["data"]["fingerprint"]) == 64 and meta["data"]["input"]["num_frames"] == 16

    encoder, meta2 = load_encoder(doc["checkpoint"])
    x = torch.zeros(3, 1, 16, 22, meta2["data"]["num_coords"])
    assert encoder.embed(x).shape == (3, encoder.out_dim)
    with pytest.raises(CheckpointError, match="not a supervised classifier"):
        load_classifier(doc["checkpoint"])

    # a second run into the same directory without --resume is refused (nothing is overwritten)
    assert main(["pretrain", "--config", "pretrain_stb_demo", "--out", str(out), *TINY_PRETRAIN]) == 1
    assert "--resume" in capsys.readouterr().err


def test_single_stream_moco_baseline_cli(tmp_path, capsys):
    doc = _run_cli(["pretrain", "--config", "pretrain_moco", "--data", "synthetic", "--out", str(tmp_path / "m"),
                    "--max-epochs", "1", "--json", "data.synthetic.clips_per_class=4", "data.num_frames=16",
                    "data.batch_size=8", "moco.queue_size=32", "model.channels=[8,16]", "trainer.progress_bar=false",
                    "trainer.log_every_n_steps=1"],
                   capsys)
    assert doc["metrics"]["train/acc_instance"] >= 0
    encoder, _ = load_encoder(doc["checkpoint"])
    assert encoder.config["name"] == "stgcn_quarter"
    # a single-stream encoder has one embedding: asking evaluation for another is an error naming the file
    code = main(["evaluate", "-c", doc["checkpoint"], "-d", "synthetic", "-p", "knn", "--embed", "backbone"])
    err = capsys.readouterr().err
    assert code == 1 and "--embed applies to dual-stream encoders" in err and "last.ckpt" in err


def test_supervised_cli_reports_top1_and_loads_classifier(tmp_path, capsys):
    out = tmp_path / "sup"
    doc = _run_cli(["train", "--config", "train_supervised_demo", "--out", str(out), "--max-epochs", "2",
                    "--json", *TINY_SUPERVISED], capsys)
    assert 0.0 <= doc["metrics"]["val/top1"] <= 1.0 and "val/mean_class" in doc["metrics"]
    per_epoch = pd.read_csv(out / "csv" / "metrics.csv").dropna(subset=["val/top1"])
    assert list(per_epoch["epoch"]) == [0, 1]
    model, meta = load_classifier(doc["checkpoint"])
    assert model.num_classes == len(meta["data"]["class_names"]) == 9
    logits = model(torch.zeros(2, 1, 16, 22, 2))
    assert logits.shape == (2, 9)
    encoder, _ = load_encoder(doc["checkpoint"])  # the classifier's encoder alone
    assert encoder.config["name"] == "dual_stream"


def test_cli_config_errors_are_one_line(capsys):
    assert main(["pretrain", "--config", "pretrain_stb_demo", "trainer.max_epoch=2"]) == 1
    err = capsys.readouterr().err
    assert "max_epoch" in err and "Traceback" not in err
    assert main(["pretrain", "--resume"]) == 1
    assert "--out" in capsys.readouterr().err
