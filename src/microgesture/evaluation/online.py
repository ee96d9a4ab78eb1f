"""Online-recognition evaluation runs: iMiGUE video 298 (real) and synthetic interview streams, each method
scored with :mod:`online_metrics` beside the published online baselines (``microgesture online-eval``).

Why these protocols: video 298 is the only complete real MG stream available here. Methods that learn are
given the frames before a cut (60 % of the stream) and scored on the frames after it — a within-video split
of one subject, so the numbers sit beside the published cross-subject results for scale only.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd

from ..data.readers.imigue import IMIGUE_CLASS_NAMES, load_annotations
from ..data.readers.openpose import read_openpose_folder
from ..data.synthetic import make_interview_stream
from ..errors import DataError
from ..training.windows import OnlineConfig, recognize_stream, synthetic_window_model, train_window_model
from ..utils.io import atomic_write, write_json
from ..utils.paths import data_root
from .online_metrics import PUBLISHED_ONLINE, evaluate_streams, split_stream_events


def evaluate_imigue_video(video_dir, labels_csv, *, run_dir, video: str = "298", train_fraction: float = 0.6,
                          seed: int = 0, progress: bool = True, overrides: tuple[str, ...] = ()) -> dict:
    """Train the window classifier on the first ``train_fraction`` of one iMiGUE stream, score the rest.

    This is a *within-video* split of a single subject (the only full OpenPose stream available here), so
    the numbers are not comparable to cross-subject results; they are printed beside the published
    online baselines for scale only.
    """
    t0 = time.perf_counter()
    clip, _ = read_openpose_folder(video_dir, layout="imigue22", progress=progress)
    t_read = time.perf_counter() - t0
    ann = load_annotations(labels_csv)
    ev = ann[ann["video_id"] == int(video)][["start_frame", "end_frame", "label", "label_name"]]
    if not len(ev):
        raise DataError(labels_csv, f"has no annotations for video {video}")
    offset = clip.first_frame
    cut = offset + int(round(train_fraction * clip.num_frames))
    ev_tr, ev_te, straddling = split_stream_events(ev, cut)
    train_clip = clip.slice_frames(0, cut - offset - 1)
    test_clip = clip.slice_frames(cut - offset, clip.num_frames - 1)
    shutil.rmtree(run_dir, ignore_errors=True)  # a measurement: always trained afresh
    t0 = time.perf_counter()
    wm = train_window_model([(train_clip, ev_tr)], list(IMIGUE_CLASS_NAMES), out=run_dir, label_space="imigue",
                            description=f"iMiGUE video {video}, frames {offset}-{cut - 1}", seed=seed,
                            overrides=["trainer.max_epochs=15", *overrides], progress=progress)
    t_train = time.perf_counter() - t0
    res = recognize_stream(test_clip, wm, OnlineConfig())
    scores = evaluate_streams([(res.events, ev_te)])
    return {
        "protocol": (f"iMiGUE video {video}: trained on frames {offset}-{cut - 1} "
                     f"({train_fraction:.0%} of the stream, {len(ev_tr)} events), tested on frames "
                     f"{cut}-{offset + clip.num_frames - 1} ({len(ev_te)} events); {straddling} event(s) "
                     "crossing the cut dropped; one subject, within-video split"),
        "train_events": len(ev_tr), "test_events": len(ev_te), "dropped_events": straddling,
        "classes_in_model": wm.class_names, "predicted_events": len(res.events),
        "scores": scores, "seconds": {"read": t_read, "train": t_train, **res.timings},
        "model": {k: v for k, v in wm.describe().items() if k != "metrics"},
    }


def evaluate_synthetic(*, streams: int = 3, duration_s: float = 300.0, seed: int = 0, progress: bool = True) -> dict:
    """Score the window model trained on synthetic streams on held-out synthetic interview streams."""
    wm = synthetic_window_model(seed=seed, progress=progress)
    pairs = []
    for k in range(streams):
        clip, truth = make_interview_stream(seed=10_000 + seed * 100 + k, duration_s=duration_s, subject=k)
        pairs.append((recognize_stream(clip, wm, OnlineConfig()).events, truth))
    return {"protocol": f"{streams} held-out synthetic interview streams x {duration_s:.0f} s "
                        f"(seeds {10_000 + seed * 100}..{10_000 + seed * 100 + streams - 1}); model: {wm.path}",
            "test_events": int(sum(len(t) for _, t in pairs)),
            "predicted_events": int(sum(len(p) for p, _ in pairs)),
            "scores": evaluate_streams(pairs)}


def run_online_evaluation(out_dir, *, imigue_root=None, video: str = "298", train_fraction: float = 0.6,
                          synthetic_streams: int = 3, seed: int = 0, progress: bool = True) -> dict:
    """Both evaluations, a table of ours beside the published online baselines, written to ``out_dir``."""
    out_dir = Path(out_dir)
    root = Path(imigue_root) if imigue_root else data_root() / "imigue"
    video_dir = root / "raw" / "Data" / "skeleton" / "raw" / video
    labels = root / "raw" / "Label" / "labels_20200831.csv"
    result: dict = {"synthetic": evaluate_synthetic(streams=synthetic_streams, seed=seed, progress=progress)}
    if video_dir.is_dir() and labels.is_file():
        result["imigue"] = evaluate_imigue_video(video_dir, labels, video=video, train_fraction=train_fraction,
                                                 seed=seed, progress=progress,
                                                 run_dir=out_dir / f"window_model_imigue{video}")
    else:
        result["imigue"] = {"skipped": f"iMiGUE data not found at {video_dir} / {labels}"}
    rows = []
    for name, key in (("ours: iMiGUE video " + video + " (within-video split)", "imigue"),
                      ("ours: synthetic streams", "synthetic")):
        r = result[key]
        if "scores" in r:
            s, d = r["scores"]["smg_online"], r["scores"]["detection"]
            rows.append({"dataset": key, "method": name, "rec": round(s["rec"], 3), "acc": round(s["acc"], 3),
                         "f1": round(s["f1"], 3), "det_p@0.5": round(d["precision"], 3),
                         "det_r@0.5": round(d["recall"], 3), "det_f1@0.5": round(d["f1"], 3),
                         "gt_events": d["n_gt"], "source": "measured here"})
    for ds, methods in PUBLISHED_ONLINE.items():
        for m, (r, a, f) in methods.items():
            rows.append({"dataset": ds, "method": m, "rec": r, "acc": a, "f1": f, "det_p@0.5": None,
                         "det_r@0.5": None, "det_f1@0.5": None, "gt_events": None,
                         "source": "published (SMG README)"})
    result["table"] = rows
    result["note"] = ("Rec/Acc/F1 follow SMG's released online evaluation (same label, overlap ratio > 0.3); "
                      "det_* are greedy one-to-one detection scores at temporal IoU >= 0.5. Published rows are "
                      "cross-subject results on the full test sets and are not directly comparable.")
    write_json(out_dir / "online_eval.json", result)
    with atomic_write(out_dir / "online_eval.csv", "w", encoding="utf-8", newline="") as fh:
        pd.DataFrame(rows).to_csv(fh, index=False)
    return result
