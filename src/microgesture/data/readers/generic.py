"""Import your own skeletons: a folder of per-clip ``.npy``/``.csv`` files plus a labels table.

Accepted inputs (``--layout`` is required and checked against the joint count V):

* ``labels.csv`` (or ``--labels FILE``): columns ``clip_id,label`` and optionally ``subject``, ``split``.
  ``label`` is either an integer class index or a class name (names are numbered in sorted order).
  ``clip_id`` is the clip file's name without extension; files are searched recursively.
* ``<clip_id>.npy``: float array ``[T, V, C]`` (one person) or ``[M, T, V, C]``, C = 2 or 3;
  NaN marks a missing joint. Pickled (object) arrays are refused.
* ``<clip_id>.csv``, wide: one row per frame with columns ``x0,y0[,z0],x1,y1,...`` (joint index after
  the letter) and optional ``s0,s1,...`` (confidence), ``frame`` and ``person`` columns.
* ``<clip_id>.csv``, long: columns ``frame,joint,x,y[,z][,score][,person]``, one row per observed joint;
  ``joint`` is an index or a joint name of the layout. Joints with no row are missing (NaN).

A file that cannot be read, or whose joint count does not match the layout, is reported as skipped
(or raises under ``strict``); a labels row without a file and a file without a labels row are reported too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ...errors import ConfigError, DataError
from ..clip import Clip, ClipMeta
from ..dataset import SkeletonDataset, Skipped
from ..layouts import Layout, get_layout, list_layouts
from . import register_reader

LABELS_FILE = "labels.csv"
_WIDE_COL = re.compile(r"^([xyzs])(\d+)$")


def detect_generic(path: Path) -> bool:
    return path.is_dir() and (path / LABELS_FILE).is_file()


def read_generic(
    path: str | Path, *, strict: bool = False, layout: str | None = None, labels: str | Path | None = None,
    name: str | None = None, fps: float | None = None, **_: Any,
) -> SkeletonDataset:
    """Read a folder of per-clip arrays/CSVs described by a labels table (see the module docstring)."""

    root = Path(path)
    if layout is None:
        raise ConfigError(f"{root}: the generic reader needs --layout (one of: {', '.join(list_layouts())})")
    lay = get_layout(layout)
    labels_path = Path(labels) if labels is not None else root / LABELS_FILE
    table = _read_labels(labels_path)
    label_idx, class_names = _label_indices(labels_path, table["label"])

    files: dict[str, list[Path]] = {}
    for f in sorted(root.rglob("*")):
        if f.suffix.lower() in (".npy", ".csv") and f.is_file() and f.resolve() != labels_path.resolve():
            files.setdefault(f.stem, []).append(f)

    clips: list[Clip] = []
    skipped: list[Skipped] = []
    splits: dict[str, list[str]] = {}

    def fail(where: str | Path, problem: str) -> None:
        if strict:
            raise DataError(where, problem)
        skipped.append(Skipped(str(where), problem))

    listed = set()
    rows = table.to_dict("records")
    for row, label in tqdm(list(zip(rows, label_idx, strict=True)), desc=f"reading {root.name}", unit="clip", disable=None):
        cid = row["clip_id"]
        listed.add(cid)
        found = files.get(cid, [])
        if not found:
            fail(f"{labels_path}:{cid}", f"no {cid}.npy or {cid}.csv under {root}")
            continue
        if len(found) > 1:
            fail(found[0], f"clip id {cid!r} matches several files: {', '.join(map(str, found))}")
            continue
        try:
            kp, sc = _read_clip_file(found[0], lay)
            meta = ClipMeta(
                clip_id=cid, dataset=name or root.name, label=int(label),
                label_name=class_names[label] if class_names else None,
                subject=_opt(row.get("subject")), source=str(found[0]), fps=fps, layout=lay.name,
                frame_range=(0, kp.shape[1] - 1),
            )
            clips.append(Clip(kp, meta, sc))
        except DataError as e:
            fail(e.path or found[0], e.problem)
            continue
        split = _opt(row.get("split"))
        if split:
            splits.setdefault(split, []).append(cid)
    for stem, paths in files.items():
        if stem not in listed:
            for p in paths:
                fail(p, f"not listed in {labels_path.name}")
    return SkeletonDataset(name or root.name, lay.name, clips, class_names, splits, skipped)


def _opt(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    s = str(v).strip()
    return s or None


def _read_labels(path: Path):
    if not path.is_file():
        raise DataError(path, "labels table not found (expected a CSV with columns clip_id,label)")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(path, f"is not a readable CSV: {e}") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = {"clip_id", "label"} - set(table.columns)
    if missing:
        raise DataError(path, f"lacks column(s) {sorted(missing)}; found {list(table.columns)}")
    table["clip_id"] = table["clip_id"].str.strip()
    dup = table["clip_id"][table["clip_id"].duplicated()].unique()
    if len(dup):
        raise DataError(path, f"lists clip ids more than once: {list(dup[:5])}")
    if (table["clip_id"] == "").any() or (table["label"].str.strip() == "").any():
        raise DataError(path, "has rows with an empty clip_id or label")
    return table


def _label_indices(path: Path, labels) -> tuple[np.ndarray, list[str] | None]:
    """Integer labels as given, or class names numbered in sorted order (returned as class_names)."""
    values = labels.str.strip()
    if values.str.fullmatch(r"-?\d+").all():
        idx = values.astype(np.int64).to_numpy()
        if (idx < 0).any():
            raise DataError(path, "has negative integer labels")
        return idx, None
    if values.str.fullmatch(r"-?\d+").any():
        raise DataError(path, "mixes integer labels and class names in the label column")
    names = sorted(values.unique())
    lookup = {n: i for i, n in enumerate(names)}
    return values.map(lookup).to_numpy(np.int64), names


def _read_clip_file(path: Path, layout: Layout) -> tuple[np.ndarray, np.ndarray | None]:
    if path.suffix.lower() == ".npy":
        kp, sc = _read_npy(path), None
    else:
        kp, sc = _read_csv(path, layout)
    if kp.shape[2] != layout.num_joints:
        raise DataError(path, f"has {kp.shape[2]} joints but layout {layout.name!r} has {layout.num_joints}")
    if kp.shape[1] == 0:
        raise DataError(path, "has no frames")
    if not np.isfinite(kp).all(axis=-1).any():
        raise DataError(path, "has no observed joint in any frame (all NaN)")
    return kp, sc


def _read_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise DataError(path, f"is not a plain numeric .npy array (pickled objects are refused): {e}") from None
    except (OSError, EOFError) as e:
        raise DataError(path, f"is not a readable .npy file (truncated or corrupt): {e}") from None
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise DataError(path, f"has dtype {arr.dtype}; expected numbers")
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] not in (2, 3):
        raise DataError(path, f"has shape {arr.shape}; expected [T, V, C] or [M, T, V, C] with C = 2 or 3")
    arr = arr.astype(np.float32)
    if np.isinf(arr).any():
        raise DataError(path, "contains infinite values")
    return arr


def _read_csv(path: Path, layout: Layout) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        df = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(path, f"is not a readable CSV: {e}") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    if df.empty:
        raise DataError(path, "has no rows")
    if {"frame", "joint", "x", "y"} <= set(df.columns):
        return _long_csv(path, df, layout)
    if any(_WIDE_COL.match(c) for c in df.columns):
        return _wide_csv(path, df)
    raise DataError(path, "has neither wide columns x0,y0,... nor long columns frame,joint,x,y; "
                          f"found {list(df.columns)[:8]}")


def _numeric(path: Path, df, cols: list[str]) -> np.ndarray:
    try:
        return df[cols].apply(pd.to_numeric, errors="raise").to_numpy(np.float32)
    except (ValueError, TypeError) as e:
        raise DataError(path, f"has non-numeric values in {cols[:4]}...: {e}") from None


def _persons(df) -> tuple[np.ndarray, int]:
    if "person" not in df.columns:
        return np.zeros(len(df), np.int64), 1
    uniq, codes = np.unique(df["person"].astype(str).to_numpy(), return_inverse=True)
    return codes.astype(np.int64), len(uniq)


def _wide_csv(path: Path, df) -> tuple[np.ndarray, np.ndarray | None]:
    cols: dict[str, dict[int, str]] = {}
    for c in df.columns:
        m = _WIDE_COL.match(c)
        if m:
            cols.setdefault(m.group(1), {})[int(m.group(2))] = c
    if "x" not in cols or "y" not in cols:
        raise DataError(path, "wide CSV needs x<j> and y<j> columns")
    v = max(cols["x"]) + 1
    axes = ["x", "y"] + (["z"] if "z" in cols else [])
    for a in axes + (["s"] if "s" in cols else []):
        if sorted(cols[a]) != list(range(v)):
            raise DataError(path, f"wide CSV has {a}-columns for joints {sorted(cols[a])[:6]}..., "
                                  f"expected 0..{v - 1}")
    coords = np.stack([_numeric(path, df, [cols[a][j] for j in range(v)]) for a in axes], axis=-1)  # [R, V, C]
    scores = _numeric(path, df, [cols["s"][j] for j in range(v)]) if "s" in cols else None
    person, m = _persons(df)
    frame = _frame_index(path, df, person)
    t = int(frame.max()) + 1
    kp = np.full((m, t, v, len(axes)), np.nan, np.float32)
    kp[person, frame] = coords
    sc = None
    if scores is not None:
        sc = np.zeros((m, t, v), np.float32)
        sc[person, frame] = scores
    return kp, sc


def _frame_index(path: Path, df, person: np.ndarray) -> np.ndarray:
    if "frame" not in df.columns:
        frame = np.zeros(len(df), np.int64)
        for p in np.unique(person):  # rows are frames in file order, per person
            sel = person == p
            frame[sel] = np.arange(sel.sum())
        return frame
    f = _numeric(path, df, ["frame"])[:, 0]
    if np.isnan(f).any() or (f != np.round(f)).any():
        raise DataError(path, "has missing or non-integer frame numbers")
    f = f.astype(np.int64)
    f -= f.min()
    if np.unique(np.stack([person, f]), axis=1).shape[1] != len(f):
        raise DataError(path, "lists the same frame twice for one person")
    return f


def _long_csv(path: Path, df, layout: Layout) -> tuple[np.ndarray, np.ndarray | None]:
    axes = ["x", "y"] + (["z"] if "z" in df.columns else [])
    coords = _numeric(path, df, axes)
    joint_col = df["joint"]
    if joint_col.dtype.kind in "iu":
        joint = joint_col.to_numpy(np.int64)
    else:
        names = joint_col.astype(str).str.strip()
        if names.str.fullmatch(r"\d+").all():
            joint = names.astype(np.int64).to_numpy()
        else:
            unknown = sorted(set(names) - set(layout.index))
            if unknown:
                raise DataError(path, f"names joints not in layout {layout.name!r}: {unknown[:5]}")
            joint = names.map(layout.index).to_numpy(np.int64)
    v = layout.num_joints
    if (joint < 0).any() or (joint >= v).any():
        raise DataError(path, f"has joint index {int(joint.max())} but layout {layout.name!r} has {v} joints")
    person, m = _persons(df)
    f = _numeric(path, df, ["frame"])[:, 0]
    if np.isnan(f).any() or (f != np.round(f)).any():
        raise DataError(path, "has missing or non-integer frame numbers")
    frame = f.astype(np.int64) - int(f.min())
    key = np.stack([person, frame, joint])
    if np.unique(key, axis=1).shape[1] != key.shape[1]:
        raise DataError(path, "lists the same (frame, joint) twice")
    t = int(frame.max()) + 1
    kp = np.full((m, t, v, len(axes)), np.nan, np.float32)
    kp[person, frame, joint] = coords
    sc = None
    if "score" in df.columns:
        sc = np.zeros((m, t, v), np.float32)
        sc[person, frame, joint] = _numeric(path, df, ["score"])[:, 0]
    return kp, sc


register_reader("generic", read_generic, detect_generic,
                "your own data: a folder of per-clip .npy/.csv files + labels.csv (clip_id,label[,subject][,split])",
                priority=-10)
