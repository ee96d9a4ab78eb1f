"""``microgesture data``: what layouts and readers exist, check a dataset, convert it, make the synthetic set."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import typer

from ..data.check import check_dataset
from ..data.convert import convert_dataset, list_conversions
from ..data.dataset import SkeletonDataset
from ..data.layouts import get_layout, list_layouts
from ..data.mg_classes import MG_CLASSES, mapping_table
from ..data.native import NativeStore, write_native
from ..data.pyskl import write_pyskl
from ..data.readers import list_readers, open_dataset
from ..data.synthetic import make_interview_stream, make_mg_dataset
from ..errors import ConfigError, DataError
from .common import JSON_HELP, console, emit, err_console

app = typer.Typer(
    help="Skeleton datasets: layouts and readers (info), health report (check), conversion, synthetic data.",
    no_args_is_help=True,
)

KIND_HELP = "Dataset kind (see `data info`); sniffed from the path when omitted."
LAYOUT_HELP = "Skeleton layout of the input (see `data info`); needed where the data does not say."


def _reader_options(labels: Path | None) -> dict[str, Any]:
    return {"labels": labels} if labels is not None else {}


# -- info ----------------------------------------------------------------------------------------------
@app.command()
def info(
    layout: str | None = typer.Option(None, "--layout", help="Show one layout's joints, bones and mirror pairs."),
    classes: bool = typer.Option(False, "--classes", help="Show the MG class set and how iMiGUE and SMG classes map "
                                                          "onto it."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List layouts, dataset readers, output formats and layout conversions (or the MG classes)."""
    if classes:
        mg = [{"index": i, "class": c.name, "category": c.category, "what the body does": c.description}
              for i, c in enumerate(MG_CLASSES)]
        if as_json:
            emit({"classes": mg, "mapping": mapping_table()}, True)
            return
        emit(mg, False, title="MG classes (the level timelines and detectors speak)")
        emit(mapping_table(), False, title="dataset classes -> MG class")
        return
    if layout is not None:
        lay = get_layout(layout)
        mirror = dict(lay.lr_pairs) | {b: a for a, b in lay.lr_pairs}
        joints = [{"index": i, "joint": n, "parent": lay.parents.get(n), "mirror": lay.joints[mirror[i]]
                   if i in mirror else None} for i, n in enumerate(lay.joints)]
        result = {
            "layout": lay.name, "description": lay.description, "num_joints": lay.num_joints,
            "center": lay.center, "dims": list(lay.dims), "joints": joints,
            "bones": [[lay.joints[c], lay.joints[p]] for c, p in lay.bones],
            "lr_pairs": [[lay.joints[a], lay.joints[b]] for a, b in lay.lr_pairs],
        }
        if as_json:
            emit(result, True)
        else:
            console.print(f"[bold]{lay.name}[/bold]: {lay.description}  (centre {lay.center}, dims "
                          f"{'/'.join(map(str, lay.dims))})")
            emit(joints, False, title=f"{lay.name} joints ({lay.num_joints}); bones are joint -> parent")
        return
    layouts = []
    for name in list_layouts():
        lay = get_layout(name)
        layouts.append({"layout": name, "joints": lay.num_joints, "center": lay.center, "bones": len(lay.bones),
                        "lr_pairs": len(lay.lr_pairs), "dims": "/".join(map(str, lay.dims)),
                        "description": lay.description})
    readers = list_readers()
    formats = [{"format": "native", "description": "memory-mapped store (directory): `data convert --to native`"},
               {"format": "pyskl", "description": "PYSKL annotation pickle: `data convert --to pyskl`"}]
    conversions = [{"from": a, "to": b} for a, b in list_conversions()]
    if as_json:
        emit({"layouts": layouts, "readers": readers, "formats": formats, "conversions": conversions}, True)
        return
    emit([{k: v for k, v in row.items() if k != "description"} for row in layouts], False,
         title="Layouts (`data info --layout NAME` for joints; --json for descriptions)")
    emit(readers, False, title="Readers (--kind)")
    emit(formats, False, title="Output formats (--to)")
    emit(conversions, False, title="Layout conversions (--to-layout)")


# -- check ---------------------------------------------------------------------------------------------
@app.command()
def check(
    path: Path = typer.Argument(..., help="Dataset file or folder."),
    kind: str | None = typer.Option(None, "--kind", help=KIND_HELP),
    layout: str | None = typer.Option(None, "--layout", help=LAYOUT_HELP),
    labels: Path | None = typer.Option(None, "--labels", help="Labels table for --kind generic."),
    strict: bool = typer.Option(False, "--strict", help="Fail on the first unreadable file; exit 1 on any skip."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Read a dataset and report clips, classes, lengths, missing joints and every unreadable file."""

    dataset = open_dataset(path, kind, strict=strict, layout=layout, **_reader_options(labels))
    with console.status("checking...") if not as_json else contextlib.nullcontext():
        report = check_dataset(dataset)
    report["path"] = str(path)
    if as_json:
        emit(report, True)
    else:
        _print_report(report)
    if report["clips"] == 0:
        raise DataError(path, "no clip could be read")
    if strict and report["skipped"]:
        err_console.print(f"error: {path}: {report['skipped']} file(s) skipped under --strict")
        raise typer.Exit(1)


def _print_report(r: dict[str, Any]) -> None:
    summary = {k: r[k] for k in ("path", "name", "layout", "num_joints", "coordinate_dims", "clips", "num_classes",
                                 "unlabelled_clips", "class_imbalance", "subjects", "splits", "persons",
                                 "frames", "skipped")}
    m = r["missing"]
    summary["missing joints"] = (f"{m['rate']:.2%} of all slots; {m['rate_in_observed_frames']:.2%} in frames "
                                 f"with a person; {m['empty_person_frames']} empty person-frames"
                                 if m["rate"] is not None else "n/a")
    summary["coordinate range"] = r["coordinate_range"]
    emit(summary, False, title="Dataset")
    if r["classes"]:
        emit(r["classes"], False, title="Classes")
    if m["top_joints"]:
        emit(m["top_joints"], False, title="Most often missing joints (in frames with a person)")
    if r["skipped_files"]:
        shown = r["skipped_files"][:50]
        emit(shown, False, title=f"Skipped ({len(r['skipped_files'])}; first {len(shown)} shown)")
    for p in r["problems"]:
        console.print(f"[yellow]warning:[/yellow] {p}")


# -- convert -------------------------------------------------------------------------------------------
@app.command()
def convert(
    path: Path = typer.Argument(..., help="Dataset file or folder to read."),
    to: str = typer.Option(..., "--to", help="Output format: native or pyskl."),
    out: Path = typer.Option(..., "--out", help="Output directory (native) or .pkl file (pyskl)."),
    kind: str | None = typer.Option(None, "--kind", help=KIND_HELP),
    layout: str | None = typer.Option(None, "--layout", help=LAYOUT_HELP),
    to_layout: str | None = typer.Option(None, "--to-layout", help="Convert joints to this layout on the way."),
    labels: Path | None = typer.Option(None, "--labels", help="Labels table for --kind generic."),
    strict: bool = typer.Option(False, "--strict", help="Fail on the first unreadable file."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Convert a dataset to the native store or to a PYSKL pickle (optionally to another layout)."""

    if to not in ("native", "pyskl"):
        raise ConfigError(f"--to must be 'native' or 'pyskl', not {to!r}")
    if out.exists() and not overwrite:
        raise DataError(out, "already exists; pass --overwrite to replace it")
    dataset = open_dataset(path, kind, strict=strict, layout=layout, **_reader_options(labels))
    if len(dataset) == 0:
        raise DataError(path, "no clip could be read; nothing to convert")
    if to_layout is not None:
        dataset = convert_dataset(dataset, to_layout)
    if to == "native":
        written = write_native(dataset, out, overwrite=overwrite, progress=True)
        fingerprint = NativeStore(written).fingerprint
    else:
        written = write_pyskl(dataset, out, progress=True)
        fingerprint = None
    result = {"input": str(path), "output": str(written), "format": to, "layout": dataset.layout,
              "clips": len(dataset), "skipped": len(dataset.skipped), "fingerprint": fingerprint}
    emit(result, as_json, title="Converted")
    if dataset.skipped and not as_json:
        err_console.print(f"warning: {len(dataset.skipped)} file(s) were skipped; run `microgesture data check "
                          f"{path}` to see why")


# -- synth ---------------------------------------------------------------------------------------------
@app.command()
def synth(
    out: Path = typer.Argument(..., help="Directory for the synthetic native store."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same data)."),
    clips_per_class: int = typer.Option(40, "--clips-per-class", help="Clips per class."),
    subjects: int = typer.Option(12, "--subjects", help="Number of synthetic subjects."),
    streams: int = typer.Option(0, "--streams", help="Also write this many long 'interview' streams."),
    stream_seconds: float = typer.Option(120.0, "--stream-seconds", help="Length of each stream."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Write the SYNTHETIC micro-gesture set (for demos and tests; not real data) as a native store.

    Streams go to OUT/streams/interview-XXX/ (a one-clip native store plus events.csv with the ground truth).
    """

    dataset = make_mg_dataset(seed=seed, clips_per_class=clips_per_class, num_subjects=subjects)
    write_native(dataset, out, overwrite=overwrite, progress=not as_json)
    stream_rows = []
    for k in range(streams):
        clip, events = make_interview_stream(seed=seed * 1000 + k, duration_s=stream_seconds)
        sdir = out / "streams" / f"interview-{k:03d}"
        write_native(SkeletonDataset(f"{dataset.name}-stream", dataset.layout, [clip], dataset.class_names),
                     sdir, overwrite=True)
        events.to_csv(sdir / "events.csv", index=False)
        stream_rows.append({"path": str(sdir), "frames": clip.num_frames, "events": len(events)})
    store = NativeStore(out)
    result = {"output": str(out), "synthetic": True, "clips": len(store), "classes": store.class_names,
              "splits": {k: len(v) for k, v in store.splits.items()}, "fingerprint": store.fingerprint,
              "streams": stream_rows}
    emit(result, as_json, title="Synthetic micro-gesture set (procedurally generated, not real data)")
