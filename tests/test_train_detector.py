"""A user's review cycle: annotated recordings (ELAN / CSV) → `train-detector` (fitted thresholds or a window
model) → `analyze --model` uses it, and its timeline comes back as an ELAN file to correct."""

from __future__ import annotations

import json

import pytest
from pympi import Elan

from microgesture.cli.main import main
from microgesture.data.annotations import read_eaf, write_eaf
from microgesture.data.dataset import SkeletonDataset
from microgesture.data.mg_classes import MG_CLASS_NAMES, SYNTHETIC_TO_MG
from microgesture.data.native import write_native
from microgesture.data.synthetic import make_interview_stream


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    """Two synthetic recordings with their events as an ELAN file and as a CSV, in MG class names."""
    root = tmp_path_factory.mktemp("annotated")
    out = []
    for k in range(2):
        clip, truth = make_interview_stream(seed=40 + k, duration_s=120, classes=[0, 2, 3])
        store = write_native(SkeletonDataset(f"rec{k}", clip.meta.layout, [clip]), root / f"rec{k}")
        names = [MG_CLASS_NAMES[SYNTHETIC_TO_MG[int(v)]] for v in truth["label"]]
        ev = truth.assign(label_name=names, start=truth["start_frame"] / 25, end=(truth["end_frame"] + 1) / 25)
        if k == 0:
            ann = write_eaf(ev, root / "rec0.eaf")
        else:
            ann = root / "rec1.csv"
            ev[["start", "end", "label_name"]].rename(columns={"label_name": "label"}).to_csv(ann, index=False)
        out.append((store, ann))
    return out


def _cli(args, capsys):
    code = main(args)
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip().startswith("{") else out)


@pytest.mark.parametrize("method", ["thresholds", "window"])
def test_train_detector_then_analyze_with_it(tmp_path, annotated, method, capsys):
    args = ["train-detector", "--out", str(tmp_path / "det"), "--method", method, "--json"]
    for rec, ann in annotated:
        args += ["--recording", str(rec), "--annotations", str(ann)]
    if method == "window":
        args += ["trainer.max_epochs=3", "model.channels=[16,16]"]
    code, res = _cli(args, capsys)
    assert code == 0, res
    assert res["method"] == method and res["events"] > 10 and (tmp_path / "det" / "train_detector.json").is_file()
    if method == "window":
        assert res["classes"][-1] == "background" and "fold arms" in res["classes"]
    else:
        assert res["model"].endswith("thresholds.yaml")
    rec, _ = annotated[0]
    code, an = _cli(["analyze", str(rec), "--out", str(tmp_path / "an"), "--model", res["model"], "--reasoner",
                     "none", "--no-progress", "--json"], capsys)
    assert code == 0 and an["status"] == "complete", an
    summary = json.loads((tmp_path / "an" / "summary.json").read_text())
    assert summary["model"]["source"].endswith(("thresholds.yaml", "last.ckpt")) or res["model"] in str(summary["model"])
    eaf = tmp_path / "an" / "events.eaf"
    tiers = set(Elan.Eaf(str(eaf)).get_tier_names())
    assert "background" not in tiers and "fold arms" in tiers  # one tier per class the model can output
    back = read_eaf(eaf)
    assert len(back) == summary["summary"]["recognition"]["events"]


def test_train_detector_errors_name_the_file(tmp_path, annotated, capsys):
    rec, _ = annotated[0]
    (tmp_path / "empty.csv").write_text("start,end,label\n")
    code = main(["train-detector", "-r", str(rec), "-a", str(tmp_path / "empty.csv"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and "empty.csv" in err and "no events" in err
    (tmp_path / "late.csv").write_text("start,end,label\n900,901,fold arms\n")  # after the 120 s recording
    code = main(["train-detector", "-r", str(rec), "-a", str(tmp_path / "late.csv"), "--out", str(tmp_path / "o")])
    assert code == 1 and "falls inside the recording" in capsys.readouterr().err
    code = main(["train-detector", "-r", str(rec), "--out", str(tmp_path / "o"), "-a", str(tmp_path / "late.csv"),
                 "-a", str(tmp_path / "empty.csv")])
    assert code == 1 and "one --annotations per --recording" in capsys.readouterr().err
