"""Many recordings, one batch: discovery or a manifest, one Dask task per recording, resume, a cohort table.

Why Dask: pose extraction costs seconds per recording per core, so a study's hundreds of videos must spread
over cores and machines; Dask distributed schedules, retries tasks whose worker died, and runs the same code on
a ``LocalCluster``, an existing scheduler or SLURM (``dask-jobqueue``). Why this layout: each recording's outputs
land in ``DIR/recordings/<id>/`` by one directory rename (written first into a hidden temporary sibling), with a
``record.json`` that states the input's content hash and the settings' hash; a rerun reads those records and
redoes only what changed or never finished, so a crash, a corrupt file or a killed worker never loses work, and
the cohort table is built from these files — one row per recording id, nothing counted twice.

``dask``/``distributed`` are imported inside the functions that need them (the rest of the toolkit does not).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from .. import __version__
from ..data.mg_classes import CATEGORIES, MG_CLASS_NAMES, MG_CLASSES, MG_INDEX
from ..data.readers import detect_kind
from ..errors import ConfigError, DataError
from ..report.cohort import CohortColumns, render_cohort_report
from ..utils.io import atomic_write, write_json
from .analyze import AnalyzeOptions, Analyzer

log = logging.getLogger(__name__)

RECORDINGS_DIR = "recordings"
RECORD_FILE = "record.json"  # written last inside the temporary folder: its presence means "finished"
RECORD_FORMAT = "microgesture-batch-record"
FOLDER_KINDS = ("openpose", "native")  # a folder of these kinds is one recording
FILE_KINDS = ("video", "npy", "pyskl")  # a file of these kinds is one recording
MANIFEST_COLUMNS = ("path", "recording_id", "speaker", "group", "setting")
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_TMP_MARK, _OLD_MARK = ".tmp-", ".old-"
_HASH_CHUNK = 1 << 20


# ------------------------------------------------------------------------------------------------
# what to analyse


@dataclass(frozen=True)
class Recording:
    """One input of the batch; ``setting`` (the scenario told to the reasoner) overrides the batch's."""

    id: str
    path: str
    speaker: str | None = None
    group: str | None = None
    setting: str | None = None


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_id(text: str) -> str:
    """A folder name from a relative path or a user's id: ``a/b c.mp4`` → ``a__b_c.mp4`` (never hidden)."""
    s = _UNSAFE.sub("_", text.replace("\\", "/").replace("/", "__")).lstrip("._") or "recording"
    if len(s) > 120:
        s = f"{s[:110]}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    return s


def _unique(ids: list[str], paths: list[str]) -> list[str]:
    """Make derived ids unique (two paths that sanitise alike get a short hash of the path)."""
    seen: dict[str, int] = {}
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
    return [f"{i}-{hashlib.sha1(p.encode()).hexdigest()[:6]}" if seen[i] > 1 else i for i, p in zip(ids, paths,
                                                                                               strict=True)]


def discover(root: str | Path, *, exclude: Sequence[str | Path] = ()) -> tuple[list[Recording], list[str]]:
    """Recordings found below ``root``: each video / ``.npy`` / PYSKL file, each OpenPose or native-store folder
    (not looked into), and each empty leaf folder (an OpenPose folder whose files never arrived: it is listed so
    that it fails with its reason instead of vanishing). Returns ``(recordings, ignored files)``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "is not a folder")
    skip = {Path(p).resolve() for p in exclude}
    found: list[Path] = []
    ignored: list[str] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() not in skip
                         and not _is_output(here / d))
        if here != root and not dirs and not files and not any(os.scandir(here)):
            found.append(here)
            continue
        kind = detect_kind(here)
        if kind in FOLDER_KINDS:
            found.append(here)
            dirs[:] = []
            continue
        for name in sorted(files):
            if name.startswith("."):
                continue
            f = here / name
            (found if detect_kind(f) in FILE_KINDS else ignored).append(f)
    rels = [p.relative_to(root).as_posix() if p != root else root.name for p in found]
    ids = _unique([safe_id(r) for r in rels], rels)
    return [Recording(i, str(p)) for i, p in zip(ids, found, strict=True)], [str(f) for f in ignored]


def _is_output(folder: Path) -> bool:
    """A batch folder or one recording's outputs (their skeleton stores are not new inputs)."""
    return (folder / RECORD_FILE).is_file() or ((folder / "batch.json").is_file()
                                                and (folder / RECORDINGS_DIR).is_dir())


def read_manifest(path: str | Path) -> list[Recording]:
    """Rows ``path[,recording_id][,speaker][,group][,setting]``; relative paths are relative to the manifest."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(path, f"cannot read the manifest: {e}") from None
    df.columns = [c.strip().lower() for c in df.columns]
    if "path" not in df.columns:
        raise DataError(path, f"a manifest needs a 'path' column (optional: {', '.join(MANIFEST_COLUMNS[1:])}); "
                              f"found {list(df.columns)}")
    extra = [c for c in df.columns if c not in MANIFEST_COLUMNS]
    if extra:
        log.warning("%s: columns %s are not used (known: %s)", path, extra, ", ".join(MANIFEST_COLUMNS))
    base = path.parent
    paths, given = [], []
    for k, row in enumerate(df.itertuples(index=False), start=2):
        p = str(row.path).strip()
        if not p:
            raise DataError(path, f"line {k}: empty path")
        full = Path(p) if Path(p).is_absolute() else base / p
        paths.append(str(full))
        rid = str(getattr(row, "recording_id", "") or "").strip()
        given.append(safe_id(rid) if rid else None)
    derived = []
    for p, g in zip(paths, given, strict=True):
        if g is None:
            rel = Path(p).relative_to(base).as_posix() if Path(p).is_relative_to(base) else Path(p).name
            derived.append(safe_id(rel))
        else:
            derived.append(g)
    dup = sorted({i for i in derived if derived.count(i) > 1})
    if dup:
        raise DataError(path, f"recording ids must be unique; repeated: {', '.join(dup[:5])}")

    def col(name: str, k: int) -> str | None:
        v = str(df[name].iloc[k]).strip() if name in df.columns else ""
        return v or None

    return [Recording(i, p, col("speaker", k), col("group", k), col("setting", k))
            for k, (i, p) in enumerate(zip(derived, paths, strict=True))]


def collect_inputs(inputs: Iterable[str | Path], *, exclude: Sequence[str | Path] = ()) -> tuple[list[Recording],
                                                                                                    list[str]]:
    """Recordings from folders (discovered), manifest CSVs, or single inputs; ids must be unique across them."""
    recs: list[Recording] = []
    ignored: list[str] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir() and detect_kind(p) not in FOLDER_KINDS:
            r, ign = discover(p, exclude=exclude)
            recs += r
            ignored += ign
        elif p.is_file() and p.suffix.lower() == ".csv":
            recs += read_manifest(p)
        elif p.exists():
            recs.append(Recording(safe_id(p.name), str(p)))
        else:
            raise DataError(p, "does not exist (give a folder of recordings or a manifest CSV)")
    dup = sorted({r.id for r in recs if sum(1 for s in recs if s.id == r.id) > 1})
    if dup:
        raise ConfigError(f"recording ids repeat across the inputs: {', '.join(dup[:5])}; give a manifest with a "
                          "recording_id column")
    return recs, ignored


# ------------------------------------------------------------------------------------------------
# hashing


def _listing(path: Path) -> Iterator[tuple[str, int, int]]:
    for f in sorted(path.rglob("*")):
        if f.is_file():
            st = f.stat()
            yield f.relative_to(path).as_posix(), st.st_size, st.st_mtime_ns


def input_signature(path: str | Path) -> str:
    """Cheap identity of the input (stat only): ``size:mtime`` for a file, the listing hash for a folder."""
    p = Path(path)
    try:
        if p.is_dir():
            return content_hash(p)
        st = p.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return "missing"


def content_hash(path: str | Path) -> str:
    """What the input holds: sha256 of a file's bytes; for a folder (OpenPose: thousands of small files) the
    sha256 of its sorted file names, sizes and modification times; ``missing`` when it cannot be read."""
    p = Path(path)
    h = hashlib.sha256()
    try:
        if p.is_dir():
            for name, size, mtime in _listing(p):
                h.update(f"{name}\0{size}\0{mtime}\n".encode())
            return "listing-sha256:" + h.hexdigest()
        with open(p, "rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                h.update(chunk)
        return "sha256:" + h.hexdigest()
    except OSError:
        return "missing"


def plain_options(opts: AnalyzeOptions) -> dict[str, Any]:
    """The options that decide a recording's result, JSON-able (``progress`` does not)."""
    d = {f: v for f, v in asdict(opts).items() if f != "progress"}
    return json.loads(json.dumps(d, default=str, sort_keys=True))


def settings_hash(opts: AnalyzeOptions) -> str:
    """Hash of the options, the toolkit version and (for a checkpoint path) the model file's size and mtime."""
    d = {"options": plain_options(opts), "microgesture": __version__}
    if opts.model and Path(str(opts.model)).is_file():
        d["model_file"] = input_signature(opts.model)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def options_for(rec: Recording, base: AnalyzeOptions) -> AnalyzeOptions:
    return replace(base, setting=rec.setting or base.setting, progress=False)


# ------------------------------------------------------------------------------------------------
# on the worker


_ANALYZERS: OrderedDict[tuple[str, int], Analyzer] = OrderedDict()
_STATE: dict[str, Any] = {"made": 0, "threads": None}
_LOCK = threading.Lock()
_MAX_ANALYZERS = 4


def pin_threads(n: int | None) -> None:
    """Give this worker process ``n`` compute threads (torch and the BLAS/OpenMP pools), once."""
    if n is None or _STATE["threads"] == n:
        return
    for k in THREAD_ENV:
        os.environ[k] = str(n)
    torch.set_num_threads(int(n))
    _STATE["threads"] = n


def worker_analyzer(opts: AnalyzeOptions) -> Analyzer:
    """The :class:`Analyzer` for ``opts`` in this worker process and thread, made once and kept (its recogniser
    and reasoner load on first use), so a worker pays for the models once, not once per recording."""
    key = (json.dumps(plain_options(opts), sort_keys=True), threading.get_ident())
    with _LOCK:
        a = _ANALYZERS.get(key)
        if a is None:
            while len(_ANALYZERS) >= _MAX_ANALYZERS:
                _ANALYZERS.popitem(last=False)
            a = _ANALYZERS[key] = Analyzer(opts)
            _STATE["made"] += 1
        else:
            _ANALYZERS.move_to_end(key)
        return a


def worker_state() -> dict[str, Any]:
    """This process's analyzer cache (``client.run(worker_state)``): how many were made and are kept."""
    return {"pid": os.getpid(), "analyzers_made": _STATE["made"], "analyzers_kept": len(_ANALYZERS),
            "torch_threads": torch.get_num_threads(), "pinned": _STATE["threads"]}


def read_record(folder: str | Path) -> dict[str, Any] | None:
    try:
        rec = json.loads((Path(folder) / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) and rec.get("format") == RECORD_FORMAT else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _retarget(obj: Any, old: str, new: str) -> Any:
    if isinstance(obj, str):
        return new + obj[len(old):] if obj.startswith(old) else obj
    if isinstance(obj, dict):
        return {k: _retarget(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_retarget(v, old, new) for v in obj]
    return obj


def publish(tmp: Path, final: Path) -> None:
    """Move the finished folder ``tmp`` to ``final`` (replacing an older result) by renames only."""
    try:
        os.rename(tmp, final)
        return
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            raise
    old = final.with_name(f".{final.name}{_OLD_MARK}{uuid.uuid4().hex[:8]}")
    os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def _record(rec: Recording, opts: AnalyzeOptions, **kw: Any) -> dict[str, Any]:
    return {"format": RECORD_FORMAT, "version": 1, "id": rec.id, "path": rec.path, "speaker": rec.speaker,
            "group": rec.group, "setting": opts.setting, "status": "failed", "error": None, "failed_stage": None,
            "final": True, "kind": None, "input_hash": None, "input_signature": input_signature(rec.path),
            "settings_hash": settings_hash(opts), "options": plain_options(opts), "seconds": None,
            "worker": f"{socket.gethostname()}:{os.getpid()}", "finished_at": _now(), "microgesture": __version__,
            **kw}


def write_record(out_root: str | Path, record: dict[str, Any], run: Callable[[Path], None] | None = None) -> None:
    """Publish ``DIR/recordings/<id>/``: ``run(tmp)`` writes the outputs, then ``record.json`` goes in last."""
    final = Path(out_root) / RECORDINGS_DIR / record["id"]
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}{_TMP_MARK}{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        if run is not None:
            run(tmp)
        write_json(tmp / RECORD_FILE, record)
        publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def analyze_recording(rec: Recording, out_root: str, opts: AnalyzeOptions, threads: int | None = None,
                      reuse: bool = True) -> dict[str, Any]:
    """The Dask task: analyse one recording into ``out_root/recordings/<id>/`` and return its record.

    With ``reuse``, an earlier result for the same content and settings is kept (the input was only touched).
    Analysis failures (a corrupt file, no person in view) are results: status ``failed`` with the one-line
    reason. Only a failure outside the analysis (disk full, a bug) is marked not ``final``, so a rerun retries it.
    """
    pin_threads(threads)
    t0 = time.perf_counter()
    final = Path(out_root) / RECORDINGS_DIR / rec.id
    digest = content_hash(rec.path)
    sh = settings_hash(opts)
    prev = read_record(final)
    if (reuse and prev and prev.get("final") and digest != "missing" and prev.get("input_hash") == digest
            and prev.get("settings_hash") == sh):
        prev = {**prev, "input_signature": input_signature(rec.path), "speaker": rec.speaker, "group": rec.group}
        write_json(final / RECORD_FILE, prev)  # one file, atomically: the next run skips it by stat alone
        return {**prev, "outcome": "unchanged"}
    record = _record(rec, opts, input_hash=digest)

    def run(tmp: Path) -> None:
        try:
            res = worker_analyzer(opts).analyze(rec.path, tmp)
        except Exception as e:  # noqa: BLE001 - analyze never raises for bad input; anything else is ours to log
            record.update(status="failed", error=f"{type(e).__name__}: {e}".splitlines()[0], failed_stage="batch",
                          final=False, seconds=time.perf_counter() - t0)
            return
        record.update(status=res.status, error=res.error, failed_stage=res.failed_stage,
                      seconds=time.perf_counter() - t0)
        summary_path = tmp / "summary.json"
        with contextlib.suppress(OSError, ValueError):
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            record["kind"] = (summary.get("input") or {}).get("kind")
            write_json(summary_path, _retarget(summary, str(tmp), str(final)))  # paths as they will be

    write_record(out_root, record, run)
    return {**record, "outcome": "analysed"}


# ------------------------------------------------------------------------------------------------
# the cohort table


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def emotion_columns(emotion: dict[str, Any] | None) -> dict[str, Any]:
    """The emotion reading of ``summary.json`` as columns, whichever shape the reasoner wrote: the calibrated
    reading (``label``, ``probability`` of ``probability_of``, ``status``) or an LLM's ``{reasoner, result}``."""
    out = {"emotion_status": None, "emotion_label": None, "emotion_probability": None,
           "emotion_probability_of": None, "emotion_confidence": None, "emotion_reasoner": None}
    if not isinstance(emotion, dict) or not emotion:
        return out
    who = emotion.get("reasoner")
    out["emotion_reasoner"] = who.get("name") if isinstance(who, dict) else who
    res = emotion.get("result") if isinstance(emotion.get("result"), dict) else None
    if res is not None:  # {reasoner, result: {valence, arousal, confidence, valid}}
        out.update(emotion_label=res.get("valence"), emotion_confidence=res.get("confidence"),
                   emotion_status="ok" if res.get("valid", True) else "no usable reading")
    elif "status" in emotion or "label" in emotion:
        out.update(emotion_status=emotion.get("status"), emotion_label=emotion.get("label") or emotion.get("valence"),
                   emotion_probability=emotion.get("probability"),
                   emotion_probability_of=emotion.get("probability_of"),
                   emotion_confidence=emotion.get("confidence"))
    elif emotion.get("error"):
        out["emotion_status"] = "none"
    for k in ("emotion_probability", "emotion_confidence"):
        try:
            out[k] = float(out[k]) if out[k] is not None else None
        except (TypeError, ValueError):
            out[k] = None
    return out


def _events(folder: Path) -> pd.Series | None:
    try:
        ev = pd.read_csv(folder / "events.csv", usecols=["label_name"])
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    return ev["label_name"].astype(str)


def _class_set(summaries: list[dict[str, Any]], names_seen: set[str]) -> list[str]:
    """The classes the recognisers can report (from each ``summary.json``'s model) and any seen in events; the
    MG class set in its fixed order first when a recogniser speaks it."""
    names: list[str] = []
    speaks_mg = bool(names_seen & set(MG_CLASS_NAMES))
    for s in summaries:
        model = s.get("model") or {}
        speaks_mg |= model.get("label_space") == "mg"
        names += [str(n) for n in (model.get("classes") or model.get("class_names") or []) if str(n) != "background"]
    names = list(dict.fromkeys(names + sorted(names_seen)))
    if speaks_mg:
        return list(MG_CLASS_NAMES) + [n for n in names if n not in MG_INDEX]
    return names


def category_of_class(name: str) -> str:
    """The body-part category of an MG class; ``unmapped`` for classes outside the MG set (e.g. synthetic)."""
    i = MG_INDEX.get(name)
    return MG_CLASSES[i].category if i is not None else "unmapped"


def cohort_table(recordings: Sequence[Recording], out_root: str | Path) -> tuple[pd.DataFrame, CohortColumns]:
    """One row per recording, read back from ``DIR/recordings/<id>/`` (record, ``summary.json``, ``events.csv``)."""
    out_root = Path(out_root)
    base: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    events: list[pd.Series | None] = []
    for rec in recordings:
        folder = out_root / RECORDINGS_DIR / rec.id
        record = read_record(folder) or {}
        try:
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            summary = {}
        s = summary.get("summary") or {}
        ev = _events(folder) if record.get("status") in ("complete", "partial") else None
        summaries.append(summary)
        events.append(ev)
        duration = s.get("duration_s")
        report = folder / "report.html"
        base.append({
            "id": rec.id, "path": rec.path, "kind": record.get("kind"), "speaker": rec.speaker, "group": rec.group,
            "setting": record.get("setting"), "status": record.get("status", "not analysed"),
            "error": record.get("error") if record else "no result (the batch did not reach it)",
            "failed_stage": record.get("failed_stage"),
            "duration_s": float(duration) if duration else np.nan,
            "visible_share": float(s["visible_rate"]) if s.get("visible_rate") is not None else np.nan,
            **emotion_columns(summary.get("emotion")),
            "seconds": record.get("seconds"), "worker": record.get("worker"),
            "finished_at": record.get("finished_at"), "input_hash": record.get("input_hash"),
            "settings_hash": record.get("settings_hash"),
            "report": report.relative_to(out_root).as_posix() if report.is_file() else None,
        })
    seen = set().union(*[set(e) for e in events if e is not None]) if events else set()
    classes = _class_set(summaries, seen)
    present = {category_of_class(n) for n in classes}
    cats = [c for c in CATEGORIES if c in present] + (["unmapped"] if "unmapped" in present else [])
    cols = CohortColumns(classes=classes, categories=cats,
                         class_columns={n: f"per_min_{_slug(n)}" for n in classes},
                         category_columns={c: f"per_min_cat_{_slug(c)}" for c in cats},
                         class_categories={n: category_of_class(n) for n in classes})
    rows = []
    for row, ev in zip(base, events, strict=True):
        minutes = row["duration_s"] / 60.0 if row["duration_s"] == row["duration_s"] else np.nan
        counts = ev.value_counts() if ev is not None else None
        r = dict(row)
        r["events"] = float(len(ev)) if ev is not None else np.nan
        r["events_per_min"] = r["events"] / minutes if ev is not None and minutes > 0 else np.nan
        mg = [k for k in classes if category_of_class(k) not in ("unmapped", "illustrative")]
        r["mg_events"] = float(sum(int(counts.get(k, 0)) for k in mg)) if counts is not None and mg else np.nan
        r["mg_events_per_min"] = r["mg_events"] / minutes if counts is not None and mg and minutes > 0 else np.nan
        for c in cats:
            n = float(sum(int(counts.get(k, 0)) for k in classes if category_of_class(k) == c)) \
                if counts is not None else np.nan
            r[f"n_cat_{_slug(c)}"] = n
            r[cols.category_columns[c]] = n / minutes if counts is not None and minutes > 0 else np.nan
        for k in classes:
            n = float(counts.get(k, 0)) if counts is not None else np.nan
            r[f"n_{_slug(k)}"] = n
            r[cols.class_columns[k]] = n / minutes if counts is not None and minutes > 0 else np.nan
        rows.append(r)
    table = pd.DataFrame(rows)
    if table.empty:
        table = pd.DataFrame(columns=["id", "path", "status", "error"])
    return table, cols


def write_table(table: pd.DataFrame, out_root: Path) -> dict[str, Path]:
    """``cohort.csv`` always; ``cohort.parquet`` through pyarrow (the ``batch`` extra)."""
    files = {"csv": out_root / "cohort.csv"}
    with atomic_write(files["csv"], "w", encoding="utf-8", newline="") as fh:
        table.to_csv(fh, index=False)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        log.warning("pyarrow is not installed: cohort.parquet not written (pip install 'microgesture[batch]')")
        return files
    files["parquet"] = out_root / "cohort.parquet"
    with atomic_write(files["parquet"], "wb") as fh:
        table.to_parquet(fh, engine="pyarrow", index=False)
    return files


# ------------------------------------------------------------------------------------------------
# the batch (client side)


@dataclass
class BatchResult:
    out_dir: Path
    recordings: int
    analysed: int = 0  # tasks that ran an analysis in this run
    reused: int = 0  # results kept from an earlier run (same content and settings)
    counts: dict[str, int] = field(default_factory=dict)  # status -> recordings
    failed: list[dict[str, str]] = field(default_factory=list)  # {id, path, error}
    files: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    cluster: str = ""
    dashboard: str | None = None
    ignored: int = 0  # files below the input folders that are not recordings
    timings: dict[str, float] = field(default_factory=dict)  # plan, warm_up, cluster, tasks, cohort (seconds)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        return d


def local_cluster(workers: int | None = None, threads_per_worker: int = 1, *, memory_limit: str | float = "auto",
                  dashboard: bool = True):
    """A ``LocalCluster`` of worker *processes*, each running one recording at a time with
    ``threads_per_worker`` compute threads (set before the process starts, so OpenMP/BLAS see it);
    ``workers`` defaults to the usable cores divided by ``threads_per_worker``."""
    from dask.system import CPU_COUNT
    from distributed import LocalCluster

    threads_per_worker = max(1, int(threads_per_worker))
    n = int(workers) if workers else max(1, CPU_COUNT // threads_per_worker)
    env = {k: str(threads_per_worker) for k in THREAD_ENV}
    return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, env=env, memory_limit=memory_limit,
                        dashboard_address=":0",  # any free port: several batches may run on one machine
                        scheduler_kwargs={"dashboard": bool(dashboard and _has_dashboard())})


def _has_dashboard() -> bool:
    return importlib.util.find_spec("bokeh") is not None


@contextlib.contextmanager
def _batch_lock(out_dir: Path) -> Iterator[None]:
    lock = FileLock(str(out_dir / ".batch.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(f"{out_dir}: another analyze-batch is writing there (lock {out_dir / '.batch.lock'})") \
            from None
    try:
        yield
    finally:
        lock.release()


def _clean_leftovers(out_dir: Path) -> int:
    """Remove temporary folders of tasks that never finished (a killed worker's half-written outputs)."""
    folder = out_dir / RECORDINGS_DIR
    n = 0
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(".") and (_TMP_MARK in p.name or _OLD_MARK in p.name) and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
                n += 1
    return n


def plan(recordings: Sequence[Recording], out_dir: Path, opts: AnalyzeOptions, *, force: bool = False,
         redo_failed: bool = False) -> tuple[list[tuple[Recording, bool]], list[Recording]]:
    """``(todo, done)``: a recording is done when its record is final, its settings hash matches and its input's
    stat signature is unchanged; ``todo`` pairs carry whether the task may still reuse a result whose content
    hash matches (the input was touched but not changed)."""
    todo: list[tuple[Recording, bool]] = []
    done: list[Recording] = []
    for rec in recordings:
        ropts = options_for(rec, opts)
        prev = None if force else read_record(out_dir / RECORDINGS_DIR / rec.id)
        redo = prev is not None and redo_failed and prev.get("status") != "complete"
        if (prev and not redo and prev.get("final") and prev.get("settings_hash") == settings_hash(ropts)
                and prev.get("input_signature") == input_signature(rec.path) != "missing"):
            done.append(rec)
        else:
            todo.append((rec, not (force or redo)))
    return todo, done


def _size(path: str) -> int:
    p = Path(path)
    with contextlib.suppress(OSError):
        return p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.iterdir() if f.is_file())
    return 0


def _lost(rec: Recording, opts: AnalyzeOptions, exc: BaseException) -> dict[str, Any]:
    name = type(exc).__name__
    why = (f"the worker analysing it died repeatedly ({name}: out of memory, or a crash in pose extraction)"
           if name == "KilledWorker" else f"{name}: {exc}")
    return _record(rec, opts, error=why.splitlines()[0] if why else name, failed_stage="batch", final=False,
                   input_hash=None)


def run_batch(recordings: Sequence[Recording], out_dir: str | Path, opts: AnalyzeOptions | None = None, *,
              client: Any = None, scheduler: str | None = None, workers: int | None = None,
              threads_per_worker: int = 1, force: bool = False, redo_failed: bool = False, progress: bool = True,
              compare: str | None = "auto", warm_up: bool = True, ignored: Sequence[str] = (),
              on_result: Callable[[dict[str, Any]], None] | None = None) -> BatchResult:
    """Analyse ``recordings`` on Dask (``client``; else a client of ``scheduler``; else a new ``local_cluster``)
    into ``out_dir``, then write the cohort table and report. Resumable: see :func:`plan`."""
    t0 = time.perf_counter()
    opts = opts or AnalyzeOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = BatchResult(out_dir, len(recordings), ignored=len(ignored))
    with _batch_lock(out_dir):
        stale = _clean_leftovers(out_dir)
        if stale:
            log.info("removed %d unfinished temporary folder(s) of an earlier run", stale)
        t = time.perf_counter()
        todo, done = plan(recordings, out_dir, opts, force=force, redo_failed=redo_failed)
        result.reused = len(done)
        result.timings["plan"] = time.perf_counter() - t
        if todo:
            t = time.perf_counter()
            if warm_up:  # one-time model preparation (download, cache) once here, not once per worker at a time
                Analyzer(replace(opts, progress=progress)).recognizer  # noqa: B018 - loads it; a bad --model fails now
            result.timings["warm_up"] = time.perf_counter() - t
            t = time.perf_counter()
            with _client(client, scheduler, workers, threads_per_worker) as (cl, desc):
                result.cluster = desc
                result.dashboard = _dashboard(cl)
                if result.dashboard:
                    log.info("Dask dashboard: %s", result.dashboard)
                result.timings["cluster"] = time.perf_counter() - t
                t = time.perf_counter()
                _run_tasks(cl, todo, out_dir, opts, threads_per_worker, result, progress, on_result, len(done))
                result.timings["tasks"] = time.perf_counter() - t
            _clean_leftovers(out_dir)
        t = time.perf_counter()
        table, cols = cohort_table(recordings, out_dir)
        files = write_table(table, out_dir)
        files["html"] = render_cohort_report(table, cols, out_dir, compare=compare,
                                             meta={"options": plain_options(opts), "cluster": result.cluster,
                                                   "ignored": list(ignored)[:20], "n_ignored": len(ignored)})
        result.timings["cohort"] = time.perf_counter() - t
        result.files = {k: str(v) for k, v in files.items()}
        result.counts = {str(k): int(v) for k, v in table["status"].value_counts().items()} if len(table) else {}
        bad = table[table["status"] != "complete"] if len(table) else table
        result.failed = [{"id": r.id, "path": r.path, "status": r.status, "error": r.error}
                         for r in bad.itertuples(index=False)]
        result.seconds = time.perf_counter() - t0
        write_json(out_dir / "batch.json", {**result.to_dict(), "options": plain_options(opts),
                                            "finished_at": _now()})
        result.files["summary"] = str(out_dir / "batch.json")
    return result


@contextlib.contextmanager
def _client(client: Any, scheduler: str | None, workers: int | None, threads: int) -> Iterator[tuple[Any, str]]:
    if client is not None:
        yield client, f"given client ({client.scheduler.address})"
        return
    from distributed import Client

    if scheduler:
        try:
            cl = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise ConfigError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler there ({e})") from None
        with cl:
            n = len(cl.scheduler_info().get("workers", {}))
            yield cl, f"scheduler {scheduler} ({n} workers)"
        return
    with local_cluster(workers, threads) as cluster, Client(cluster) as cl:
        n = len(cluster.workers)
        yield cl, f"local: {n} worker processes x 1 task, {threads} compute thread(s) each"


def _dashboard(client: Any) -> str | None:
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # noqa: BLE001 - informative only
        return None
    return client.dashboard_link if "dashboard" in services and _has_dashboard() else None


def _run_tasks(client: Any, todo: list[tuple[Recording, bool]], out_dir: Path, opts: AnalyzeOptions,
               threads: int, result: BatchResult, progress: bool,
               on_result: Callable[[dict[str, Any]], None] | None, already: int) -> None:
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    order = sorted(todo, key=lambda t: -_size(t[0].path))  # largest first: the batch's tail is shortest
    futures = {}
    for rank, (rec, reuse) in enumerate(order):
        f = client.submit(analyze_recording, rec, str(out_dir), options_for(rec, opts), threads, reuse,
                          key=f"analyze-{rec.id}-{token}", pure=False, priority=len(order) - rank,
                          retries=1)  # an I/O hiccup; a dead worker is Dask's allowed-failures
        futures[f] = rec
    counts: dict[str, int] = {}
    bar = tqdm(total=len(todo) + already, initial=already, desc="recordings", unit="rec", disable=not progress,
               dynamic_ncols=True)
    try:
        for fut in as_completed(list(futures)):
            rec = futures.pop(fut)
            try:
                record = fut.result()
            except Exception as e:  # noqa: BLE001 - KilledWorker and the like: this recording failed, the batch goes on
                record = {**_lost(rec, options_for(rec, opts), e), "outcome": "lost"}
                write_record(out_dir, {k: v for k, v in record.items() if k != "outcome"})
            fut.release()
            if record.get("outcome") == "unchanged":
                result.reused += 1
            else:
                result.analysed += 1
            counts[record["status"]] = counts.get(record["status"], 0) + 1
            if record["status"] != "complete" and progress:
                bar.write(f"{rec.id}: {record['status']}: {record.get('error')}")
            bar.set_postfix_str(f"{rec.id}: {record['status']} | " + ", ".join(f"{k} {v}" for k, v in
                                                                              sorted(counts.items())))
            bar.update(1)
            if on_result is not None:
                on_result(record)
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        bar.close()
