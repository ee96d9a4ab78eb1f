"""``microgesture pretrain`` (self-supervised MoCo / STB) and ``microgesture train`` (supervised baseline).

Both take a config (a packaged name such as ``pretrain_stb_demo`` or a YAML path), a few common options,
and any ``key=value`` overrides of the config::
    microgesture pretrain --config pretrain_stb_demo --out runs/demo
    microgesture pretrain --config pretrain_stb_nw_ucla \\
        --data ../shared/datasets/nw_ucla/raw/data/NW-UCLA/all_sqe --kind nw_ucla --out runs/ucla
    microgesture pretrain --out runs/ucla --resume --max-epochs 200        # continue a run
    microgesture pretrain --config pretrain_stb --data synthetic model.fusion=concat moco.balance=uncertainty
    microgesture train --config train_supervised_demo --json

Multi-GPU and multi-node runs go through Lightning DDP. One node with 4 GPUs::
    microgesture pretrain --config pretrain_stb --data DATA --device cuda --devices 4 --strategy ddp

Several nodes: start the same command on every node under ``torchrun`` (which sets the rendezvous
environment Lightning reads), e.g. ``torchrun --nnodes 2 --nproc-per-node 4 --rdzv-endpoint HOST:29500
$(which microgesture) pretrain ... --device cuda --devices 4 --num-nodes 2 --strategy ddp``. The MoCo queue
size must be a multiple of the global batch (batch x devices x nodes); keys are gathered from all ranks.
CPU DDP (gloo) works the same way with ``--device cpu --devices 2``. Mixed precision on CUDA:
``trainer.precision=bf16-mixed`` (or ``16-mixed``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from ..data.recordings import ReadOptions
from ..errors import ConfigError
from ..training.config import load_config
from ..training.detectors import METHODS
from ..training.detectors import train_detector as run_train_detector
from ..training.run import CONFIG_FILE, run
from .common import JSON_HELP, emit

DEFAULT_CONFIG = {"pretrain": "pretrain_stb", "supervised": "train_supervised"}


def register(app: typer.Typer) -> None:
    ctx = {"allow_extra_args": False}
    app.command("pretrain", context_settings=ctx)(pretrain)
    app.command("train", context_settings=ctx)(train)
    app.command("train-detector")(train_detector)


def _overrides(
    *, data: str | None, kind: str | None, out: Path | None, seed: int | None, max_epochs: int | None,
    aug: str | None, fusion: str | None, device: str | None, devices: str | None, num_nodes: int | None,
    strategy: str | None, batch_size: int | None, workers: int | None, task: str,
) -> list[str]:
    """The common options as ``key=value`` config overrides, in a fixed order (explicit overrides come after)."""
    if device is not None and device not in ("cpu", "cuda", "gpu", "auto", "mps"):
        raise ConfigError(f"--device must be cpu, cuda or auto, got {device!r}")
    fusion_key = "model.encoder.fusion" if task == "supervised" else "model.fusion"
    pairs = (("data.path", data), ("data.kind", kind), ("out", out), ("seed", seed),
             ("trainer.max_epochs", max_epochs), ("augment.spec", aug), (fusion_key, fusion),
             ("trainer.accelerator", device), ("trainer.devices", devices), ("trainer.num_nodes", num_nodes),
             ("trainer.strategy", strategy), ("data.batch_size", batch_size), ("data.num_workers", workers))
    return [f"{key}={value}" for key, value in pairs if value is not None]


def _run(task: str, config: str | None, resume: bool, out: Path | None, overrides: list[str],
         as_json: bool, quiet: bool) -> None:
    if resume:
        if out is None:
            raise ConfigError("--resume needs --out RUN_DIR (the run to continue)")
        saved = out / CONFIG_FILE
        if not saved.is_file():
            raise ConfigError(f"{saved}: no saved config; is {out} a microgesture run directory?")
        if config is not None:
            raise ConfigError("--resume continues the run's saved config; drop --config (use overrides instead)")
        config = str(saved)
    cfg = load_config(task, config if config is not None else DEFAULT_CONFIG[task], overrides)
    if as_json or quiet:
        cfg.trainer.progress_bar = False
    result = run(cfg, resume=resume)
    if result.pop("global_rank", 0) != 0:  # DDP: one report, from rank 0
        return
    if as_json:
        emit(result, True)
        return
    shown = {"run_dir": result["run_dir"], "epochs": result["epochs"], "checkpoint": result["checkpoint"],
             "best_checkpoint": result["best_checkpoint"]}
    shown.update({k: v for k, v in result["metrics"].items() if not k.startswith("lr-") and not k.endswith("_step")})
    emit(shown, False, title=f"microgesture {'pretrain' if task == 'pretrain' else 'train'}")


_CONFIG_HELP = "Config: a packaged name (pretrain_stb, pretrain_moco, pretrain_stb_nw_ucla, pretrain_stb_nw_ucla_cpu, " \
               "pretrain_stb_demo, train_supervised, train_supervised_demo) or a YAML path."
_OVERRIDES_HELP = "Config overrides key=value, e.g. model.fusion=concat moco.balance=uncertainty trainer.max_epochs=2."


def _command(task: str, *, doc: str, aug_help: str, fusion_help: str) -> Callable[..., None]:
    """Build the ``pretrain`` / ``train`` command: one option set, so the two commands cannot drift apart."""

    def command(
        overrides: list[str] = typer.Argument(None, help=_OVERRIDES_HELP, show_default=False),
        config: str = typer.Option(None, "--config", "-c", help=f"{_CONFIG_HELP} Default: {DEFAULT_CONFIG[task]}."),
        data: str = typer.Option(None, "--data", "-d", help="Dataset path, native store, or 'synthetic'."),
        kind: str = typer.Option(None, "--kind", help="Reader kind (e.g. nw_ucla; default: detected)."),
        out: Path = typer.Option(None, "--out", "-o", help=f"Run directory (default runs/{task}-TIMESTAMP)."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
        seed: int = typer.Option(None, "--seed", help="Seed (initialisation, data order, augmentation)."),
        max_epochs: int = typer.Option(None, "--max-epochs", help="Train until this epoch."),
        aug: str = typer.Option(None, "--aug", help=aug_help),
        fusion: str = typer.Option(None, "--fusion", help=fusion_help),
        device: str = typer.Option(None, "--device", help="cpu | cuda | auto."),
        devices: str = typer.Option(None, "--devices", help="Devices per node (a count, or 'auto')."),
        num_nodes: int = typer.Option(None, "--num-nodes", help="Nodes (multi-node DDP under torchrun)."),
        strategy: str = typer.Option(None, "--strategy", help="auto | ddp | ddp_spawn ..."),
        batch_size: int = typer.Option(None, "--batch-size", help="Per-device batch size."),
        workers: int = typer.Option(None, "--workers", help="DataLoader workers (default 0)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
        as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    ) -> None:
        o = _overrides(data=data, kind=kind, out=out, seed=seed, max_epochs=max_epochs, aug=aug, fusion=fusion,
                       device=device, devices=devices, num_nodes=num_nodes, strategy=strategy,
                       batch_size=batch_size, workers=workers, task=task)
        _run(task, config, resume, out, o + list(overrides or []), as_json, quiet)

    command.__doc__ = doc  # typer shows it as the command's help
    return command


pretrain = _command(
    "pretrain",
    doc="Self-supervised MoCo pretraining (dual-stream STB or single-stream baseline); writes checkpoints.",
    aug_help="Augmentation: mg, action, none, or a list 'shear,temporal_crop'.",
    fusion_help="stb_weight | stb_graph | concat | spatial | temporal.",
)
train = _command(
    "supervised",
    doc="Supervised classifier baseline (cross-entropy; top-1 and mean-class accuracy per epoch).",
    aug_help="Augmentation: none (default), mg, action, or a list.",
    fusion_help="For a dual-stream encoder: stb_weight | concat | ...",
)


def train_detector(
    recording: list[Path] = typer.Option(..., "--recording", "-r", help="A recording (video, OpenPose folder, "
                                                                      "skeleton file); repeat, one per --annotations."),
    annotations: list[Path] = typer.Option(..., "--annotations", "-a", help="Its annotations: ELAN .eaf, a CSV of "
                                                                          "start,end,label, or an iMiGUE label file."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    method: str = typer.Option("thresholds", help=f"{' | '.join(METHODS)}: fit the kinematic detectors' thresholds "
                                                  "(few labels) or train a window model (more labels)."),
    window: int = typer.Option(32, help="Window model: frames per window."),
    fps: float | None = typer.Option(None, help="Frame rate for recordings that state none (default 25)."),
    seed: int = typer.Option(0),
    overrides: list[str] = typer.Argument(None, help="Window model: train_window config overrides key=value.",
                                          show_default=False),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Train a detector on annotated recordings; its `model` path is what `microgesture analyze --model` takes.

    The review cycle: analyze → correct events.eaf in ELAN → train-detector on the corrections → analyze.
    """
    if len(recording) != len(annotations):
        raise ConfigError(f"give one --annotations per --recording ({len(recording)} recordings, "
                          f"{len(annotations)} annotation files)")
    res = run_train_detector(list(zip(recording, annotations, strict=True)), out, method=method, window=window,
                             overrides=list(overrides or []), seed=seed,
                             read=ReadOptions(fps=fps, progress=not as_json), progress=not as_json)
    if as_json:
        emit(res, True)
        return
    emit({k: v for k, v in res.items() if k in ("method", "model", "events", "seconds", "classes")}, False,
         title="microgesture train-detector")
