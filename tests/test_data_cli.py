"""``microgesture data ...`` end to end, in-process."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from microgesture.cli.main import main
from microgesture.data.native import NativeStore
from microgesture.data.pyskl import write_pyskl
from microgesture.data.synthetic import make_mg_dataset


def _json(capsys, argv: list[str]) -> dict:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def pyskl_file(tmp_path_factory):
    ds = make_mg_dataset(seed=7, clips_per_class=3, num_subjects=4, num_frames=(16, 30))
    return write_pyskl(ds, tmp_path_factory.mktemp("p") / "syn.pkl")


def test_info_json_lists_layouts_readers_and_conversions(capsys):
    out = _json(capsys, ["data", "info", "--json"])
    layouts = {row["layout"]: row for row in out["layouts"]}
    assert layouts["imigue22"]["joints"] == 22 and layouts["imigue22"]["center"] == "ShoulderCenter"
    assert layouts["coco17"]["lr_pairs"] == 8  # eyes, ears, shoulders, elbows, wrists, hips, knees, ankles
    assert {"pyskl", "native", "generic"} <= {r["kind"] for r in out["readers"]}
    assert {"from": "openpose_body25_hands", "to": "imigue22"} in out["conversions"]
    one = _json(capsys, ["data", "info", "--layout", "imigue22", "--json"])
    assert one["num_joints"] == 22 and len(one["bones"]) == 21
    assert ["ShoulderLeft", "ShoulderRight"] in one["lr_pairs"] or ["EyeLeft", "EyeRight"] in one["lr_pairs"]
    assert main(["data", "info"]) == 0  # the human tables render
    assert {"pyskl", "native", "generic", "npy", "video", "openpose"} <= {r["kind"] for r in out["readers"]}


def test_info_classes_lists_the_mg_class_set_and_mappings(capsys):
    out = _json(capsys, ["data", "info", "--classes", "--json"])
    names = [c["class"] for c in out["classes"]]
    assert "touch face" in names and "illustrative" in names and len(names) == 14
    rows = {(r["dataset"], r["dataset_class"]): r["mg_class"] for r in out["mapping"]}
    assert rows[("imigue", "touch chin")] == "touch face" and rows[("imigue", "fold arm")] == "fold arms"
    assert rows[("smg", "Moving legs")] == "(none)"  # no legs in the upper-body definition


def test_check_pyskl_pickle(capsys, pyskl_file):
    r = _json(capsys, ["data", "check", str(pyskl_file), "--json"])
    assert r["clips"] == 27 and r["layout"] == "imigue22" and r["num_classes"] == 9 and r["skipped"] == 0
    assert main(["data", "check", str(pyskl_file)]) == 0
    assert "touching face" in capsys.readouterr().out


def test_synth_then_check_native_store(capsys, tmp_path):
    out = tmp_path / "syn"
    s = _json(capsys, ["data", "synth", str(out), "--clips-per-class", "2", "--subjects", "4", "--streams", "1",
                       "--stream-seconds", "20", "--json"])
    assert s["clips"] == 18 and s["synthetic"] is True and len(s["streams"]) == 1
    assert (out / "streams" / "interview-000" / "events.csv").is_file()
    r = _json(capsys, ["data", "check", str(out), "--json"])
    assert r["clips"] == 18 and r["name"] == "synthetic-mg" and r["split_subject_overlap"] == {"test&train": 0}
    stream = _json(capsys, ["data", "check", str(out / "streams" / "interview-000"), "--json"])
    assert stream["clips"] == 1 and stream["frames"]["total"] == 500


def test_convert_round_trip_keeps_numbers(capsys, tmp_path, pyskl_file):
    native = tmp_path / "native"
    back = tmp_path / "back.pkl"
    r = _json(capsys, ["data", "convert", str(pyskl_file), "--to", "native", "--out", str(native), "--json"])
    assert r["clips"] == 27 and r["fingerprint"] == NativeStore(native).fingerprint
    _json(capsys, ["data", "convert", str(native), "--to", "pyskl", "--out", str(back), "--json"])
    a, b = pickle.loads(pyskl_file.read_bytes()), pickle.loads(back.read_bytes())
    assert a["split"] == b["split"] and a["class_names"] == b["class_names"]
    for x, y in zip(a["annotations"], b["annotations"], strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], np.ndarray):
                assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k])
            else:
                assert x[k] == y[k]
    assert main(["data", "convert", str(pyskl_file), "--to", "native", "--out", str(native)]) == 1
    assert "already exists" in capsys.readouterr().err


def test_convert_to_another_layout(capsys, tmp_path):
    lay = "openpose_body25_hands"
    kp = np.random.default_rng(0).uniform(1, 100, (1, 5, 67, 2)).astype(np.float32)
    path = tmp_path / "op.pkl"
    path.write_bytes(pickle.dumps({"annotations": [{"frame_dir": "x", "label": 0, "keypoint": kp,
                                                    "total_frames": 5}]}))
    out = tmp_path / "im"
    _json(capsys, ["data", "convert", str(path), "--layout", lay, "--to", "native", "--out", str(out),
                   "--to-layout", "imigue22", "--json"])
    store = NativeStore(out)
    assert store.layout == "imigue22" and store[0].keypoints.shape == (1, 5, 22, 2)


def test_errors_are_one_line_with_exit_code(capsys, tmp_path):
    assert main(["data", "check", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {tmp_path / 'nope'}: does not exist") and "\n" not in err
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"\x80\x04 annotations keypoint garbage")
    assert main(["data", "check", str(bad)]) == 1
    assert "truncated or corrupt" in capsys.readouterr().err
    assert main(["data", "check", str(tmp_path), "--kind", "nosuch"]) == 1
    assert "unknown dataset kind 'nosuch'" in capsys.readouterr().err


def test_strict_check_fails_on_skipped_files(capsys, tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    np.save(root / "a.npy", np.ones((3, 17, 2), np.float32))
    np.save(root / "b.npy", np.ones((3, 5, 2), np.float32))  # wrong joint count
    (root / "labels.csv").write_text("clip_id,label\na,0\nb,1\n")
    r = _json(capsys, ["data", "check", str(root), "--layout", "coco17", "--json"])
    assert r["clips"] == 1 and r["skipped"] == 1 and "has 5 joints" in r["skipped_files"][0]["reason"]
    assert main(["data", "check", str(root), "--layout", "coco17", "--strict"]) == 1
    assert "b.npy: has 5 joints" in capsys.readouterr().err


@pytest.mark.real_data
def test_check_finds_the_dataset_below_its_root_and_inside_the_data_root(capsys, real_data, monkeypatch, tmp_path):
    """`data check ../shared/datasets/nw_ucla` (the dataset's root folder, not the folder of its files), and the
    same by a path relative to MICROGESTURE_DATA from another working directory."""
    r = _json(capsys, ["data", "check", str(real_data / "nw_ucla"), "--json"])
    assert r["clips"] == 1484 and r["layout"] == "kinect_v1"
    monkeypatch.setenv("MICROGESTURE_DATA", str(real_data))
    monkeypatch.chdir(tmp_path)
    r = _json(capsys, ["data", "check", "nw_ucla", "--json"])
    assert r["clips"] == 1484
