"""``microgesture experiment NAME`` — the paper's studies as resumable grids (augmentations, fusion, main,
video298), each writing a results table (Markdown + CSV), plots, and the exact configs and seeds."""

from __future__ import annotations

from pathlib import Path

import typer

from ..evaluation.experiments import list_experiments, run_experiment
from .common import JSON_HELP, console, emit


def register(app: typer.Typer) -> None:
    app.command("experiment")(experiment)


def experiment(
    name: str = typer.Argument(..., help="augmentations | fusion | main | video298 (or 'list')."),
    budget: str = typer.Option("small", "--budget", help="small (CPU, minutes) | full (paper-scale, GPU)."),
    out: Path = typer.Option(None, "--out", "-o", help="Output directory (default experiments/NAME-BUDGET)."),
    resume: bool = typer.Option(False, "--resume", help="Skip cells that already finished in --out."),
    seeds: int = typer.Option(None, "--seeds", help="Number of seeds (default: the budget's, >= 3 for small)."),
    datasets: str = typer.Option(None, "--datasets", help="Comma-separated subset of the experiment's datasets."),
    device: str = typer.Option(None, "--device", help="torch device (default: cuda if available, else cpu)."),
    threads: int = typer.Option(None, "--threads", help="torch CPU threads (1 on a CPU shared with other jobs)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Run (or resume) an experiment and print its results table."""

    if name == "list":
        emit(list_experiments(), as_json, title="experiments")
        return
    out = out or Path("experiments") / f"{name}-{budget}"
    result = run_experiment(name, budget=budget, out=out, resume=resume, seeds=seeds,
                            datasets=None if not datasets else [d.strip() for d in datasets.split(",")],
                            device=device, progress=not as_json, threads=threads)
    if as_json:
        emit(result, True)
        return

    console.print(result["markdown"])
    console.print(f"[bold]{name}[/]: {result['cells_run']} cells run, {result['cells_skipped']} reused, "
                  f"{result['seconds']:.0f} s; results in {result['out']}")
