"""One self-contained HTML report per analysis: skeleton replay, MG timeline, counts, emotion reading, provenance.

Why self-contained: the report is what a researcher keeps and shares, often offline or on an air-gapped
machine; it references no URL, CDN or side file (scripts, styles, the timeline PNG and the skeleton data
are inline). The replay is drawn from keypoints on a ``<canvas>`` — there is no picture of the person in
it, only joints and bones — and is downsampled so the file stays small (a few MB at most for hours of
stream). Rendering is by jinja2 with autoescaping; every string from the input is escaped.
"""

from __future__ import annotations

import base64
import html
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import numpy as np
import pandas as pd

from ..data.clip import Clip
from ..data.layouts import get_layout
from ..emotion.timeline import event_order
from ..utils.io import _json_default, atomic_write
from .plots import class_colors, timeline_png

MAX_REPLAY_FRAMES = 3000  # keypoint frames embedded for the replay (int16: ~0.35 MB for 22 joints)


@dataclass
class ReportData:
    """What the report shows. Everything except ``title`` may be missing: a partial report shows what was read."""

    title: str
    status: str = "complete"  # complete | partial | failed
    error: str | None = None  # the message of the stage that failed
    failed_stage: str | None = None
    warnings: list[str] = field(default_factory=list)
    input: dict[str, Any] = field(default_factory=dict)  # path, kind, stats
    stages: list[dict[str, Any]] = field(default_factory=list)  # {name, status, seconds, detail}
    clip: Clip | None = None  # the single-person skeleton stream that was analysed
    events: pd.DataFrame | None = None  # start, end (s), label, label_name, score
    truth: pd.DataFrame | None = None  # optional ground truth (same columns) for comparison
    class_names: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    emotion: dict[str, Any] | None = None  # emotion.reading.read_emotion's dict (older {reasoner, result} too)
    model: dict[str, Any] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None


def replay_payload(clip: Clip, max_frames: int = MAX_REPLAY_FRAMES) -> dict[str, Any]:
    """Keypoints for the canvas replay: int16 pixel coordinates (-32768 = missing), base64, downsampled."""
    kp = clip.keypoints[0, :, :, :2]
    t, v, _ = kp.shape
    step = max(1, math.ceil(t / max_frames))
    sub = kp[::step]
    finite = np.isfinite(sub)
    if finite.any():  # robust extent (1st-99th percentile) so a few outlier joints do not shrink the figure

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo = np.nanpercentile(sub, 1, axis=(0, 1))
            hi = np.nanpercentile(sub, 99, axis=(0, 1))
    else:
        lo, hi = np.zeros(2), np.ones(2)
    span = float(max(hi - lo)) or 1.0
    q = 24000.0 / span  # fixed-point scale; outliers up to ~0.35 spans beyond the extent still fit int16
    arr = np.where(finite, np.clip(np.round((sub - lo) * q), -32767, 32767), -32768).astype("<i2")
    layout = get_layout(clip.meta.layout)
    fps = clip.fps
    return {
        "num_frames": int(len(sub)), "num_joints": int(v), "frame_step": int(step), "fps": fps,
        "scale": 1.0 / q, "origin": [float(lo[0]), float(lo[1])],
        "extent": [float(hi[0] - lo[0]), float(hi[1] - lo[1])],
        "edges": [list(map(int, e)) for e in layout.edges],
        "joints": list(layout.joints), "layout": layout.name,
        "data": base64.b64encode(arr.tobytes()).decode("ascii"),
    }


def counts_table(events: pd.DataFrame | None, duration_s: float) -> list[dict[str, Any]]:
    """Per-class event counts, total seconds and rate per minute (sorted by count)."""
    if events is None or not len(events):
        return []
    minutes = duration_s / 60 if duration_s else float("nan")
    dur = (events["end"] - events["start"]).clip(lower=0)
    g = events.assign(dur=dur).groupby("label_name", sort=False).agg(n=("dur", "size"), seconds=("dur", "sum"),
                                                                      mean_score=("score", "mean"))
    g = g.sort_values("n", ascending=False)
    return [{"class": str(k), "count": int(r.n), "seconds": round(float(r.seconds), 1),
             "per_minute": round(float(r.n / minutes), 2) if minutes == minutes and minutes > 0 else None,
             "mean_score": round(float(r.mean_score), 3)} for k, r in g.iterrows()]


def ordered_events(events: pd.DataFrame | None) -> pd.DataFrame | None:
    """Events in timeline order (start, then end; stable) with ``event_id`` e1, e2, ... and ``evidence_text``.

    Why: the emotion stage numbers events in this same order (``emotion.timeline.event_ids``), so an
    evidence item citing ``e3`` links to the row and the bar of the third event here.
    """
    if events is None:
        return None
    ev = events.iloc[event_order(events["start"], events["end"])].reset_index(drop=True) if len(events) else \
        events.reset_index(drop=True)
    ids = [f"e{i + 1}" for i in range(len(ev))]
    return ev.assign(event_id=ids, evidence_text=[_evidence_text(x) for x in ev.get("evidence", [None] * len(ev))])


def _evidence_text(x: Any) -> str:
    if isinstance(x, dict):
        return str(x.get("text") or "")
    if isinstance(x, str) and x.strip():
        try:
            obj = json.loads(x)
        except json.JSONDecodeError:
            return x
        return str(obj.get("text") or "") if isinstance(obj, dict) else x
    return ""


def metrics_rows(metrics: dict[str, Any] | None) -> tuple[list[dict[str, Any]], list[str]]:
    """The online-recognition scores as table rows (one per metric family) and the free-text notes."""
    names = {"detection": "detection, per class", "detection_class_agnostic": "detection, class-agnostic",
             "smg_online": "SMG online metric"}
    rows, notes = [], []
    for k, v in (metrics or {}).items():
        if isinstance(v, dict):
            rows.append({"metric": names.get(k, k.replace("_", " ")),
                         "matched": v.get("tp", v.get("correct")), "predicted": v.get("n_pred"),
                         "annotated": v.get("n_gt"), "precision": v.get("precision", v.get("acc")),
                         "recall": v.get("recall", v.get("rec")), "f1": v.get("f1"),
                         "setting": (f"tIoU ≥ {v['iou_threshold']:g}" if "iou_threshold" in v else
                                     f"alpha {v['alpha']:g}" if "alpha" in v else "")})
        elif v is not None:
            notes.append(f"{k}: {v}" if k != "note" else str(v))
    return rows, notes


def emotion_view(emotion: dict[str, Any] | None) -> dict[str, Any] | None:
    """``read_emotion``'s dict as the template reads it; older ``{reasoner, result}`` dicts are converted."""
    if not emotion:
        return None
    if "status" in emotion:
        return emotion
    if "result" in emotion:  # the pre-read_emotion shape of pipeline.analyze
        r = emotion["result"] or {}
        ok = bool(r.get("valence")) and bool(r.get("valid", True))
        return {"reasoner": emotion.get("reasoner") or {}, "setting": {"name": emotion.get("setting")},
                "status": "ok" if ok else "no usable reading", "label": r.get("valence"),
                "valence": r.get("valence"), "arousal": r.get("arousal"), "confidence": r.get("confidence"),
                "probability": None, "interval": None, "features": [], "evidence": [],
                "rationale": "", "raw": None, "notes": ["this reading was made without the grounding check; its "
                                                        "evidence is not shown"], "error": emotion.get("note")}
    if "error" in emotion:
        return {"status": "not run", "error": emotion["error"], "reasoner": {}, "setting": {}}
    return None


def rate_svg(events: pd.DataFrame | None, duration_s: float, width: int = 1000, label_w: int = 190) -> str | None:
    """Inline SVG bars of the MG rate (events per minute) over time, aligned with the timeline above it.

    Bins are one minute for recordings of 3 minutes or more, else 10 or 30 seconds; illustrative (speech)
    gestures are stacked in a lighter tone above the micro-gestures.
    """
    if events is None or duration_s <= 0:
        return None
    binw = 60.0 if duration_s >= 180 else 30.0 if duration_s >= 60 else 10.0
    nb = max(1, int(np.ceil(duration_s / binw)))
    start = events["start"].to_numpy(np.float64) if len(events) else np.zeros(0)
    names = events["label_name"].astype(str).str.lower() if len(events) else pd.Series([], dtype=str)
    illus = names.str.contains("illustrative").to_numpy() if len(events) else np.zeros(0, bool)
    b = np.clip((start // binw).astype(np.int64), 0, nb - 1)
    widths = np.minimum(binw, duration_s - np.arange(nb) * binw)  # the last bin may be shorter
    per_min = 60.0 / np.maximum(widths, 1e-6)
    mg = np.bincount(b[~illus], minlength=nb) * per_min
    il = np.bincount(b[illus], minlength=nb) * per_min
    top = float(max((mg + il).max(), 1.0))
    h, plot_h = 120, 90
    sx = (width - label_w - 10) / duration_s
    out = [f'<svg id="rate-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {h}" width="100%" role="img" '
           f'aria-label="micro-gesture rate per minute" data-bins="{nb}" data-bin-seconds="{binw:g}">',
           f'<text x="{label_w - 6}" y="14" text-anchor="end" class="row-label">events / min</text>',
           f'<text x="{label_w - 6}" y="{plot_h}" text-anchor="end" class="tick-label">0</text>',
           f'<text x="{label_w - 6}" y="22" text-anchor="end" class="tick-label">{top:.0f}</text>']
    for i in range(nb):
        x = label_w + i * binw * sx
        w = max(widths[i] * sx - 2, 1.0)
        hm, hi = plot_h * mg[i] / top, plot_h * il[i] / top
        tip = f"{_mmss(i * binw)}-{_mmss(i * binw + widths[i])}: {mg[i]:.1f} micro-gestures/min, {il[i]:.1f} illustrative/min"
        out.append(f'<g class="rate-bin"><title>{html.escape(tip)}</title>'
                   f'<rect class="rate-mg" x="{x:.1f}" y="{plot_h - hm:.1f}" width="{w:.1f}" height="{hm:.1f}"/>'
                   f'<rect class="rate-il" x="{x:.1f}" y="{plot_h - hm - hi:.1f}" width="{w:.1f}" height="{hi:.1f}"/></g>')
    out.append(f'<line x1="{label_w}" x2="{width - 10}" y1="{plot_h}" y2="{plot_h}" class="row-line"/>')
    for tk in _ticks(duration_s):
        out.append(f'<text x="{label_w + tk * sx:.1f}" y="{plot_h + 16}" text-anchor="middle" '
                   f'class="tick-label">{_mmss(tk)}</text>')
    out.append("</svg>")
    return "".join(out)


def _svg_timeline(events: pd.DataFrame | None, duration_s: float, colors: dict[str, str],
                  truth: pd.DataFrame | None = None) -> str:
    """An inline SVG timeline (one row per class) whose bars carry data attributes for the page's script."""
    names = list(colors)
    width, row_h, label_w = 1000, 18, 190
    h = max(1, len(names)) * row_h + 28
    span = duration_s if duration_s > 0 else 1.0
    sx = (width - label_w - 10) / span
    out = [f'<svg id="timeline-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {h}" '
           f'width="100%" role="img" aria-label="micro-gesture timeline">']
    for i, n in enumerate(names):
        y = i * row_h + 4
        out.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end" class="row-label">{html.escape(n)}</text>')
        out.append(f'<line x1="{label_w}" x2="{width - 10}" y1="{y + row_h / 2}" y2="{y + row_h / 2}" class="row-line"/>')
    rows = {n: i for i, n in enumerate(names)}
    if truth is not None:
        for r in truth.itertuples(index=False):
            y = rows[r.label_name] * row_h + 4
            out.append(f'<rect class="gt" x="{label_w + r.start * sx:.1f}" y="{y + 1}" '
                       f'width="{max((r.end - r.start) * sx, 1.5):.1f}" height="{row_h - 2}"/>')
    for k, r in enumerate((events if events is not None else pd.DataFrame()).itertuples(index=False)):
        y = rows[r.label_name] * row_h + 4
        op = 0.35 + 0.65 * float(np.clip(r.score, 0, 1))
        eid = getattr(r, "event_id", f"e{k + 1}")
        out.append(f'<rect class="mg-event" data-index="{k}" data-event-id="{eid}" data-start="{r.start:.3f}" '
                   f'data-end="{r.end:.3f}" data-label="{html.escape(r.label_name)}" x="{label_w + r.start * sx:.1f}" '
                   f'y="{y + 3}" width="{max((r.end - r.start) * sx, 1.5):.1f}" height="{row_h - 6}" '
                   f'fill="{colors[r.label_name]}" fill-opacity="{op:.2f}"><title>{eid} {html.escape(r.label_name)} '
                   f'{r.start:.1f}-{r.end:.1f} s (score {r.score:.2f})</title></rect>')
    ticks = _ticks(span)
    for tk in ticks:
        x = label_w + tk * sx
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{h - 20}" class="tick"/>'
                   f'<text x="{x:.1f}" y="{h - 6}" text-anchor="middle" class="tick-label">{_mmss(tk)}</text>')
    out.append(f'<line id="playhead" x1="{label_w}" x2="{label_w}" y1="0" y2="{h - 20}" '
               f'data-x0="{label_w}" data-sx="{sx:.6f}"/>')
    out.append("</svg>")
    return "".join(out)


def _ticks(span: float) -> list[float]:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600):
        if span / step <= 12:
            return [float(x) for x in np.arange(0, span + 1e-9, step)]
    return [0.0, span]


def _mmss(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}"


def _template():
    env = jinja2.Environment(loader=jinja2.PackageLoader("microgesture.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)
    # inside <script type="application/json"> entities are not decoded: emit raw JSON, with "</" and "<!--"
    # broken up so the data can never close the script element
    env.filters["tojson_script"] = lambda o: markupsafe.Markup(
        json.dumps(o, default=_json_default).replace("</", "<\\/").replace("<!--", "<\\u0021--"))
    env.filters["tojson_text"] = lambda o: json.dumps(o, indent=2, default=_json_default)  # autoescaped
    return env.get_template("report.html")


def render_report(data: ReportData, out_dir: str | Path, *, name: str = "report.html") -> dict[str, Path]:
    """Write ``report.html`` (self-contained) and ``timeline.png`` into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    events = ordered_events(data.events)
    names = list(dict.fromkeys(list(events["label_name"]) if events is not None and len(events) else []))
    if data.truth is not None and len(data.truth):
        names += [n for n in dict.fromkeys(data.truth["label_name"]) if n not in names]
    colors = class_colors(names)
    paths: dict[str, Path] = {}
    png_b64 = None
    if events is not None:
        missing = _missing_spans(data.clip) if data.clip is not None else []
        png = timeline_png(events, data.duration_s, out_dir / "timeline.png", truth=data.truth,
                           missing_spans=missing, title="micro-gesture timeline (grey: person not visible)")
        png_b64 = base64.b64encode(png).decode("ascii")
        paths["timeline_png"] = out_dir / "timeline.png"
    replay = replay_payload(data.clip) if data.clip is not None else None
    page = _template().render(
        d=data, replay=replay, colors=colors,
        svg=_svg_timeline(events, data.duration_s, colors, data.truth) if events is not None else None,
        counts=counts_table(events, data.duration_s), png_b64=png_b64,
        events=[] if events is None else events.to_dict(orient="records"),
        rate_svg=rate_svg(events, data.duration_s), emotion=emotion_view(data.emotion),
        metrics_table=metrics_rows(data.metrics),
        provenance_json=json.dumps(data.provenance, indent=2, default=_json_default),
    )
    with atomic_write(out_dir / name, "w", encoding="utf-8") as fh:
        fh.write(page)
    paths["html"] = out_dir / name
    return paths


def _missing_spans(clip: Clip, min_s: float = 0.5) -> list[tuple[float, float]]:
    """Time spans (s) where the person is not seen, at least ``min_s`` long (for the grey bands)."""
    seen = np.isfinite(clip.keypoints[0]).all(-1).any(-1)
    fps = clip.fps
    d = np.diff(np.concatenate([[0], (~seen).astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    keep = (ends - starts) / fps >= min_s
    return [(s / fps, e / fps) for s, e in zip(starts[keep], ends[keep], strict=True)]
