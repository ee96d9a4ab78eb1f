"""Kinematic MG detectors on the real iMiGUE video 298: thresholds fitted before the 60 % cut, scored after it.

Run: ``.venv/bin/python benchmarks/eval_detectors_video298.py [--json] [--save-config fitted.yaml]``.

Protocol: the complete OpenPose stream of video 298 (21,068 frames, one seated player, 56 annotated MG
instances mapped to the toolkit's MG classes with ``IMIGUE_TO_MG``). Cut = round(0.6 × frames) from the stream
start; events straddling the cut are dropped. Thresholds are fitted (``training.detector_fit``, coordinate
search over ``FIT_GRID``) on the frames before the cut only; the detectors then run on the frames after the
cut (a) and on the whole stream (b; includes the fitting frames, so in-sample there); (c) is the packaged
default thresholds with no fitting. Reported: detection P/R/F1 at temporal IoU 0.5, class-aware (MG class
level) and class-agnostic, SMG's online F1, per-class counts, and timings. One subject, one video: these
numbers check the detectors on real recordings; they are not a cross-subject benchmark. Published full-set
online results on iMiGUE (Rec/Acc/F1, SMG README) are printed for scale only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="iMiGUE root (default: <data root>/imigue)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    ap.add_argument("--save-config", type=Path, default=None, help="write the fitted thresholds (YAML override)")
    ap.add_argument("--passes", type=int, default=2, help="coordinate-search passes")
    ap.add_argument("--raga", action="store_true",
                    help="also print the packaged detectors' timelines on the raga recordings (real footage, no labels)")
    ap.add_argument("--compare-grids", action="store_true",
                    help="also compare FIT_GRID with FIT_GRID_EXTENDED by 3-fold validation inside the pre-cut frames")
    args = ap.parse_args(argv)

    from microgesture.data.mg_classes import IMIGUE_TO_MG
    from microgesture.data.readers.imigue import load_annotations
    from microgesture.data.readers.openpose import read_openpose_folder
    from microgesture.evaluation.online_metrics import PUBLISHED_ONLINE
    from microgesture.training.detector_fit import fit_on_stream_start, save_fitted_config
    from microgesture.utils.paths import data_root

    root = args.data or data_root() / "imigue"
    folder = root / "raw" / "Data" / "skeleton" / "raw" / "298"
    labels = root / "raw" / "Label" / "labels_20200831.csv"
    if not folder.is_dir() or not labels.is_file():
        print(f"skipped: {folder} or {labels} not found (set MICROGESTURE_DATA)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    clip, _ = read_openpose_folder(folder, layout="openpose_full", max_persons=1, progress=False)
    t_read = time.perf_counter() - t0
    clip.meta.fps = clip.meta.fps or 25.0
    ann = load_annotations(labels)
    ann = ann[ann["video_id"] == 298]
    ev = ann[["start_frame", "end_frame"]].copy()
    ev["label"] = ann["label"].map(IMIGUE_TO_MG)
    ev = ev.dropna().astype({"label": np.int64}).reset_index(drop=True)

    t0 = time.perf_counter()
    res = fit_on_stream_start(clip, ev, train_fraction=0.6, passes=args.passes)
    t_total = time.perf_counter() - t0
    rep = res["report"]
    if args.save_config:
        save_fitted_config(res["config"], args.save_config, rep)

    rows = []
    for cond, part, label in (("fitted", "after_cut", "(a) fitted, frames after the cut"),
                              ("fitted", "whole_stream", "(b) fitted, whole stream (in-sample before the cut)"),
                              ("default", "after_cut", "(c) packaged defaults, frames after the cut"),
                              ("default", "whole_stream", "(c) packaged defaults, whole stream")):
        s = res[cond][part]
        d, a, m = s["detection"], s["detection_class_agnostic"], s["smg_online"]
        rows.append({"condition": label, "gt": d["n_gt"], "pred": d["n_pred"],
                     "P": d["precision"], "R": d["recall"], "F1": d["f1"],
                     "P_agn": a["precision"], "R_agn": a["recall"], "F1_agn": a["f1"],
                     "SMG_rec": m["rec"], "SMG_acc": m["acc"], "SMG_F1": m["f1"]})
    duration_s = clip.num_frames / clip.meta.fps
    secs = {"read OpenPose JSON (21k files)": t_read, **res["seconds"], "fit (before the cut)": rep.seconds,
            "protocol total (fit + 4 runs)": t_total}
    out = {"protocol": f"iMiGUE video 298, {clip.num_frames} frames; cut at frame {res['cut']}: fitted on "
                       f"{res['train_events']} events before it, scored on {res['test_events']} after it; "
                       f"{res['dropped_events']} straddling event(s) dropped",
           "table": rows,
           "per_class_after_cut": {"fitted": res["fitted"]["after_cut"]["per_class"],
                                   "default": res["default"]["after_cut"]["per_class"]},
           "fit": {"changes": rep.changes, "evaluations": rep.evaluations, "before": rep.before, "after": rep.after},
           "fitted_overrides": res["config"].overrides(),
           "seconds": secs, "stream_seconds": duration_s,
           "published_online_imigue": PUBLISHED_ONLINE["iMiGUE"]}
    if args.compare_grids:
        out["grid_comparison_before_cut"] = compare_grids(clip, ev, res["cut"], args.passes)
    if args.raga:
        out["raga"] = raga_timelines(root.parent / "raga" / "raw")
    if args.json:
        print(json.dumps(out, indent=2, default=float))
        return 0
    print(out["protocol"])
    print()
    hdr = f"{'condition':52s} {'gt':>3s} {'pred':>4s} | {'P':>5s} {'R':>5s} {'F1':>5s} | {'P_agn':>5s} {'R_agn':>5s} " \
          f"{'F1_agn':>6s} | {'SMG F1':>6s}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['condition']:52s} {r['gt']:3d} {r['pred']:4d} | {r['P']:5.3f} {r['R']:5.3f} {r['F1']:5.3f} | "
              f"{r['P_agn']:5.3f} {r['R_agn']:5.3f} {r['F1_agn']:6.3f} | {r['SMG_F1']:6.3f}")
    print("published online F1 on the full iMiGUE test set (SMG README): "
          + ", ".join(f"{k} {v[2]:.3f}" for k, v in PUBLISHED_ONLINE["iMiGUE"].items()))
    print()
    print("per class, frames after the cut (gt / pred / tp at tIoU 0.5):")
    names = sorted(set(out["per_class_after_cut"]["fitted"]) | set(out["per_class_after_cut"]["default"]))
    for n in names:
        f = out["per_class_after_cut"]["fitted"].get(n, {"gt": 0, "pred": 0, "tp": 0})
        d = out["per_class_after_cut"]["default"].get(n, {"gt": 0, "pred": 0, "tp": 0})
        print(f"  {n:16s} fitted {f['gt']:2d} / {f['pred']:2d} / {f['tp']:2d}    defaults {d['gt']:2d} / {d['pred']:2d} / {d['tp']:2d}")
    print()
    print(f"fit: {rep.evaluations} evaluations; changed keys:")
    for c in rep.changes:
        print(f"  pass {c['pass']} {c['key']}: {c['old']} -> {c['new']} (pre-cut F1 {c['f1']:.3f})")
    if args.compare_grids:
        print()
        print("grid choice, 3-fold inside the frames before the cut (fit on two thirds, score the third):")
        for name, r in out["grid_comparison_before_cut"].items():
            print(f"  {name:20s} F1 {r['f1']:.3f}  class-agnostic {r['f1_agnostic']:.3f}  SMG F1 {r['smg_f1']:.3f}  "
                  f"pred {r['n_pred']}")
    if args.raga:
        print()
        print("raga (real OpenPose BODY_25 of seated performers; packaged thresholds; no labels):")
        for who, r in out["raga"].items():
            print(f"  {who}: {r['frames']} frames; cannot tell: {', '.join(sorted(r['cannot_tell'])) or '-'}")
            for e in r["events"]:
                print(f"    {e['start_frame']:4d}-{e['end_frame']:4d} {e['label_name']:16s} {e['evidence']['text']}")
    print()
    print(f"timings (stream {duration_s:.0f} s of video):")
    for k, v in secs.items():
        print(f"  {k:40s} {v:6.2f} s")
    return 0


def raga_timelines(root: Path) -> dict[str, dict]:
    """The packaged detectors on every tracked person of the two raga OpenPose folders (25 fps)."""
    from microgesture.data.readers.openpose import read_openpose_folder
    from microgesture.models.kinematic import detect_events

    out = {}
    for folder, persons in (("example_1person", 1), ("example_3people", 3)):
        if not (root / folder).is_dir():
            continue
        clip, _ = read_openpose_folder(root / folder, layout="openpose_body25", max_persons=persons, progress=False)
        for p in range(persons):
            one = clip.with_(keypoints=clip.keypoints[p:p + 1],
                             scores=None if clip.scores is None else clip.scores[p:p + 1])
            one.meta.fps = 25.0
            res = detect_events(one).to_dict()
            out[f"{folder} person {p}"] = {"frames": clip.num_frames, "events": res["events"],
                                           "cannot_tell": res["cannot_tell"]}
    return out


def compare_grids(clip, ev, cut: int, passes: int) -> dict[str, dict[str, float]]:
    """FIT_GRID vs FIT_GRID_EXTENDED (and the unfitted defaults), 3-fold inside the frames before ``cut``."""
    from microgesture.evaluation.online_metrics import detection_scores, smg_online_metric
    from microgesture.models.kinematic import detect_events
    from microgesture.training.detector_fit import FIT_GRID, FIT_GRID_EXTENDED, fit_thresholds

    offset = clip.meta.frame_range[0] if clip.meta.frame_range else 0
    edges = [offset + round(k * (cut - offset) / 3) for k in range(4)]
    folds = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        part = clip.slice_frames(a - offset, b - offset - 1)
        folds.append((part, ev[(ev["start_frame"] >= a) & (ev["end_frame"] < b)].reset_index(drop=True)))
    out = {}
    for name, grid in (("defaults (no fit)", None), ("FIT_GRID", FIT_GRID), ("FIT_GRID_EXTENDED", FIT_GRID_EXTENDED)):
        pairs = []
        for i, (part, truth) in enumerate(folds):
            cfg = None
            if grid is not None:
                cfg, _ = fit_thresholds([f for j, f in enumerate(folds) if j != i], grid=grid, passes=passes)
            pairs.append((detect_events(part, cfg).events, truth))
        d, a, m = detection_scores(pairs), detection_scores(pairs, class_agnostic=True), smg_online_metric(pairs)
        out[name] = {"f1": d.f1, "f1_agnostic": a.f1, "smg_f1": m.f1, "n_pred": d.n_pred, "n_gt": d.n_gt}
    return out


if __name__ == "__main__":
    raise SystemExit(main())
