"""``microgesture evaluate`` — linear probe, kNN, fine-tune, semi-supervised or supervised evaluation."""

from __future__ import annotations

from pathlib import Path

import torch
import typer

from ..evaluation.finetune import FinetuneConfig
from ..evaluation.knn import KNNConfig
from ..evaluation.linear import LinearProbeConfig
from ..evaluation.protocols import ProtocolConfig
from ..evaluation.runner import EvaluateRequest
from ..evaluation.runner import evaluate as run
from .common import JSON_HELP, emit


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)


def evaluate(
    checkpoint: Path = typer.Option(None, "--checkpoint", "-c", help="Pretrained microgesture checkpoint."),
    data: str = typer.Option(..., "--data", "-d", help="Dataset path (or 'synthetic')."),
    kind: str = typer.Option(None, "--kind", help="Reader kind (default: detected from the path)."),
    protocol: str = typer.Option("linear", "--protocol", "-p",
                                 help="linear | knn | finetune | semi | supervised."),
    split: str = typer.Option(None, "--split", help="Official split (xsub, xview, xset), a NAME with NAME_train/"
                                                    "NAME_test, or 'TRAIN,TEST' split names. Default: official."),
    label_fraction: float = typer.Option(0.01, "--label-fraction", help="Semi-supervised label fraction."),
    val_fraction: float = typer.Option(None, "--val-fraction",
                                       help="Carve a seeded stratified validation split from the training data."),
    epochs: int = typer.Option(None, "--epochs", help="Epochs (default: 100 linear, 80 fine-tune)."),
    batch_size: int = typer.Option(None, "--batch-size", help="Batch size (lr scales linearly with it)."),
    lr: float = typer.Option(None, "--lr", help="Learning rate at batch 128 (default 3.0 linear, 0.1 fine-tune)."),
    feature_norm: str = typer.Option("l2", "--feature-norm",
                                     help="Linear probe input: l2 (unit length, chosen on validation) | "
                                          "standardize (BN without affine, MAMP) | none (SkeletonCLR literal)."),
    k: int = typer.Option(20, "--k", help="kNN neighbours."),
    temperature: float = typer.Option(0.1, "--temperature", help="kNN temperature."),
    augment: str = typer.Option(None, "--augment", help="Fine-tune augmentation preset (default none)."),
    model: str = typer.Option(None, "--model", help="Supervised baseline without a checkpoint: encoder name."),
    frames: int = typer.Option(None, "--frames", help="Override the checkpoint's clip length."),
    embed: str = typer.Option(None, "--embed", help="Dual-stream embedding to evaluate instead of the "
                                                    "checkpoint's: backbone | balanced | streams | fused | all."),
    seed: int = typer.Option(0, "--seed", help="Seed (sampling, initialisation, batch order)."),
    device: str = typer.Option("cpu", "--device", help="torch device (cpu, cuda, cuda:1)."),
    threads: int = typer.Option(None, "--threads", help="torch CPU threads (1 on a CPU shared with other jobs)."),
    limit: int = typer.Option(None, "--limit", help="Use only the first N train and test clips (smoke tests)."),
    out: Path = typer.Option(None, "--out", "-o", help="Write metrics.json, confusion.csv/png, history here."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Evaluate a checkpoint's encoder on a dataset's official split; report the last epoch's numbers."""

    if threads:
        torch.set_num_threads(threads)
    lin = LinearProbeConfig(feature_norm=feature_norm)
    ft = FinetuneConfig(augment=augment)
    for c in (lin, ft):
        if epochs is not None:
            c.epochs = epochs
        if batch_size is not None:
            c.batch_size = batch_size
        if lr is not None:
            c.lr = lr
    cfg = ProtocolConfig(linear=lin, knn=KNNConfig(k=k, temperature=temperature), finetune=ft,
                         label_fraction=label_fraction, val_fraction=val_fraction, seed=seed, device=device,
                         progress=not as_json)
    req = EvaluateRequest(protocol=protocol, data=data, checkpoint=checkpoint, kind=kind, split=split, model=model,
                          num_frames=frames, out=out, limit=limit, embed=embed)
    doc = run(req, cfg)
    if as_json:
        emit(doc, True)
        return
    shown = {key: doc.get(key) for key in ("protocol", "dataset", "top1", "top5", "mean_class_accuracy", "macro_f1",
                                            "num_train", "num_test", "seconds", "out")}
    for key in ("knn_k1", "val_selected"):
        if key in doc:
            shown[f"{key} top1"] = doc[key]["top1"]
    emit(shown, False, title="microgesture evaluate (last epoch)")
