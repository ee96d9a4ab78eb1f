"""``microgesture demo`` — the main job on embedded synthetic data (``pipeline.demo``)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..pipeline.demo import run_demo
from .common import JSON_HELP, emit


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Path = typer.Option(Path("demo_out"), "--out", help="Output directory."),
    seed: int = typer.Option(0, help="Seed for the synthetic data and training."),
    epochs: int = typer.Option(8, help="Pretraining epochs (the demo config's schedule)."),
    reasoner: str = typer.Option("default", help="Emotion reasoner (`microgesture emotion reasoners`) or none."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Generate the synthetic MG set, check it, pretrain, evaluate and analyse an interview stream."""
    result = run_demo(out, seed=seed, epochs=epochs, reasoner=reasoner, progress=not as_json)
    if as_json:
        emit(result, True)
        return
    emit({k: v for k, v in result.items() if k != "steps"}, False, title="microgesture demo")
    emit([{"step": k, "seconds": v.pop("seconds"), "detail": v} for k, v in result["steps"].items()], False,
         title="steps")
