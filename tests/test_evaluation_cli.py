"""``microgesture evaluate`` end to end on a tiny checkpoint pretrained by ``microgesture pretrain``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from microgesture.cli.main import main

TINY = [
    "data.synthetic.clips_per_class=4", "data.num_frames=16", "data.batch_size=8", "moco.queue_size=32",
    "model.spatial.name=stgcn", "model.spatial.channels=[8,16]", "model.spatial.strides=[1,2]",
    "model.temporal.hidden_size=8", "model.dim=16", "moco.dim=16", "knn.enabled=false",
]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("pretrain")
    rc = main(["pretrain", "--config", "pretrain_stb_demo", "--out", str(run_dir), "--max-epochs", "1", "--quiet",
               "--json", *TINY])
    assert rc == 0
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    return ckpt


def _run_json(capsys, argv):
    capsys.readouterr()
    rc = main(argv)
    out = capsys.readouterr().out
    assert rc == 0, out
    return json.loads(out)


def test_evaluate_knn_json_writes_artifacts(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "knn"
    doc = _run_json(capsys, ["evaluate", "--checkpoint", str(tiny_checkpoint), "--data", "synthetic",
                             "--protocol", "knn", "--k", "5", "--out", str(out), "--json"])
    assert doc["protocol"] == "knn" and doc["dataset"] == "synthetic-mg"
    assert doc["input"]["num_frames"] == 16  # taken from the checkpoint, not a default
    assert doc["split"]["num_test"] == doc["num_test"] > 0
    for name in ("metrics.json", "confusion.csv", "confusion.png", "predictions.csv"):
        assert (out / name).is_file(), name
    pred = pd.read_csv(out / "predictions.csv")
    assert len(pred) == doc["num_test"]
    assert doc["top1"] == pytest.approx((pred["label"] == pred["pred"]).mean())  # the number is the run's
    assert 0.0 <= doc["knn_k1"]["top1"] <= 1.0
    assert json.loads((out / "metrics.json").read_text())["top1"] == doc["top1"]


def test_evaluate_linear_and_semi(tiny_checkpoint, tmp_path, capsys):
    doc = _run_json(capsys, ["evaluate", "-c", str(tiny_checkpoint), "-d", "synthetic", "-p", "linear",
                             "--epochs", "5", "--val-fraction", "0.25", "--out", str(tmp_path / "lin"), "--json"])
    assert doc["num_val"] > 0 and "val_selected" in doc and doc["val_selected_epoch"] >= 1
    hist = pd.read_csv(tmp_path / "lin" / "history.csv")
    assert len(hist) == 5 and "val_top1" in hist.columns
    conf = pd.read_csv(tmp_path / "lin" / "confusion.csv", index_col=0).to_numpy()
    assert conf.sum() == doc["num_test"] and np.trace(conf) / conf.sum() == pytest.approx(doc["top1"])
    semi = _run_json(capsys, ["evaluate", "-c", str(tiny_checkpoint), "-d", "synthetic", "-p", "semi",
                              "--label-fraction", "0.1", "--epochs", "1", "--batch-size", "8", "--json"])
    assert semi["label_fraction"] == 0.1 and semi["num_train"] == 9  # one clip of each of the 9 classes


def test_evaluate_errors_are_one_line(tiny_checkpoint, tmp_path, capsys):
    rc = main(["evaluate", "--data", "synthetic", "--protocol", "linear"])
    assert rc == 1 and "pass --checkpoint" in capsys.readouterr().err
    rc = main(["evaluate", "-c", str(tiny_checkpoint), "--data", "synthetic", "--split", "xview"])
    assert rc == 1 and "no split" in capsys.readouterr().err


def test_evaluate_embed_override(tiny_checkpoint, capsys):
    """``--embed`` re-reads the same weights through another embedding; unknown modes are refused."""
    from microgesture.evaluation.runner import load_pretrained

    encoder, _ = load_pretrained(tiny_checkpoint)
    assert encoder.embed_mode == "backbone"  # what pretrain_stb hands to evaluation
    docs = {mode: _run_json(capsys, ["evaluate", "-c", str(tiny_checkpoint), "-d", "synthetic", "-p", "knn",
                                     "--k", "5", "--embed", mode, "--json"])
            for mode in ("backbone", "fused")}
    assert all(0.0 <= d["top1"] <= 1.0 for d in docs.values())
    rc = main(["evaluate", "-c", str(tiny_checkpoint), "-d", "synthetic", "-p", "knn", "--embed", "middle"])
    assert rc == 1 and "unknown embed 'middle'" in capsys.readouterr().err
