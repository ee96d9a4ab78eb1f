"""NTU RGB+D ``.skeleton`` reader on generated files in the exact text format (1 and 2 bodies, bad files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from microgesture.data.readers import detect_kind, open_dataset
from microgesture.data.readers.ntu import NTU120_XSUB_TRAIN, read_ntu, read_ntu_file
from microgesture.errors import DataError


def skeleton_text(frames: list[list[tuple[str, np.ndarray]]]) -> str:
    """The text of a ``.skeleton`` file: per frame a list of (bodyID, joints [25, 12]) pairs."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, joints in bodies:
            lines.append(f"{body_id} 0 1 1 1 1 0 0.05 -0.1 2")
            lines.append("25")
            lines += [" ".join(f"{v:.7g}" if k < 11 else str(int(v)) for k, v in enumerate(j)) for j in joints]
    return "\n".join(lines) + "\n"


def body(rng: np.random.Generator, centre: float, amplitude: float, t: int) -> list[np.ndarray]:
    """``t`` frames of one body: x y z around ``centre`` moving with ``amplitude``; tracked joints."""
    out = []
    base = rng.normal(0, 0.3, (25, 3)) + [centre, 0, 3]
    for f in range(t):
        j = np.zeros((25, 12))
        j[:, :3] = base + amplitude * np.sin(f / 3)
        j[:, 3:5] = [256, 212]
        j[:, 5:7] = [960, 540]
        j[:, 7] = 1
        j[:, 11] = 2
        out.append(j)
    return out


@pytest.fixture
def ntu_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    one = body(rng, 0.0, 0.1, 6)
    one[2][4, :3] = 0  # an untracked joint written as zeros
    one[3][5, 11] = 1  # inferred
    (tmp_path / "S001C001P001R001A001.skeleton").write_text(
        skeleton_text([[("72057594037931101", j)] for j in one]))
    still, moving = body(rng, -1.0, 0.0, 5), body(rng, 1.0, 0.3, 5)
    frames = [[("72057594037931200", s), ("72057594037931201", m)] for s, m in zip(still, moving, strict=True)]
    frames[4] = frames[4][1:]  # the still body leaves in the last frame
    (tmp_path / "S002C002P003R002A050.skeleton").write_text(skeleton_text(frames))
    (tmp_path / "S003C003P045R001A120.skeleton").write_text(skeleton_text([[], []]))  # zero bodies
    text = skeleton_text([[("1", j)] for j in body(rng, 0.0, 0.1, 3)])
    (tmp_path / "S004C001P002R001A002.skeleton").write_text(text[: len(text) // 2])  # truncated
    (tmp_path / "README.txt").write_text("not a skeleton")
    return tmp_path


def test_single_body_file(ntu_dir: Path) -> None:
    c = read_ntu_file(ntu_dir / "S001C001P001R001A001.skeleton")
    assert c.keypoints.shape == (1, 6, 25, 3) and c.meta.layout == "ntu25"
    assert c.meta.label == 0 and c.meta.subject == "1" and c.meta.extra["camera"] == 1
    assert np.isnan(c.keypoints[0, 2, 4]).all() and c.scores[0, 2, 4] == 0
    assert c.scores[0, 3, 5] == 0.5 and c.scores[0, 3, 6] == 1.0
    c2 = read_ntu_file(ntu_dir / "S001C001P001R001A001.skeleton", coords="color")
    assert c2.keypoints.shape == (1, 6, 25, 2) and c2.meta.img_shape == (1080, 1920)
    assert c2.keypoints[0, 0, 0].tolist() == [960, 540] and np.isnan(c2.keypoints[0, 2, 4]).all()


def test_two_bodies_ranked_by_motion(ntu_dir: Path) -> None:
    path = ntu_dir / "S002C002P003R002A050.skeleton"
    c = read_ntu_file(path)
    assert c.keypoints.shape == (2, 5, 25, 3) and c.meta.extra["bodies_seen"] == 2
    assert np.nanmean(c.keypoints[0, :, :, 0]) > 0.5  # the moving body (x ≈ +1) comes first
    assert np.nanmean(c.keypoints[1, :4, :, 0]) < -0.5 and np.isnan(c.keypoints[1, 4]).all()
    one = read_ntu_file(path, max_bodies=1)
    assert one.num_persons == 1 and np.allclose(one.keypoints[0], c.keypoints[0])


def test_dataset_splits_and_reported_bad_files(ntu_dir: Path) -> None:
    assert detect_kind(ntu_dir) == "ntu"
    ds = open_dataset(ntu_dir, progress=False)
    assert ds.clip_ids() == ["S001C001P001R001A001", "S002C002P003R002A050"]
    reasons = {Path(s.path).name: s.reason for s in ds.skipped}
    assert "missing skeleton" in reasons["S003C003P045R001A120.skeleton"]
    assert "truncated" in reasons["S004C001P002R001A002.skeleton"]
    sp = ds.splits
    assert sp["xsub_train"] == ["S001C001P001R001A001"] and sp["xsub_test"] == ["S002C002P003R002A050"]
    assert sp["train"] == sp["xsub_train"]
    assert sp["xview_train"] == ["S002C002P003R002A050"] and sp["xview_test"] == ["S001C001P001R001A001"]
    assert sp["xset_train"] == ["S002C002P003R002A050"] and sp["xset_test"] == ["S001C001P001R001A001"]
    with pytest.raises(DataError, match="missing skeleton"):  # the first bad file in name order
        read_ntu(ntu_dir, progress=False, strict=True)
    excl = ntu_dir / "missing.txt"
    excl.write_text("S003C003P045R001A120\nS004C001P002R001A002\n")
    ds2 = read_ntu(ntu_dir, progress=False, strict=True, exclude=excl)
    assert len(ds2) == 2 and all("missing.txt" in s.reason for s in ds2.skipped)


def test_ntu120_training_subjects() -> None:
    assert len(NTU120_XSUB_TRAIN) == 53 and {1, 38, 45, 103} <= NTU120_XSUB_TRAIN and 3 not in NTU120_XSUB_TRAIN


@pytest.mark.parametrize("mutate,needle", [
    (lambda t: "", "empty file"),
    (lambda t: t.replace("\n25\n", "\n24\n", 1), "has 24 joints"),
    (lambda t: t + "0.5\n", "unexpected values"),
    (lambda t: t.replace("0.05", "nan", 1), "NaN"),
    (lambda t: t.replace("0.05", "abc", 1), "non-numeric value 'abc'"),
    (lambda t: "x" + t, "non-numeric"),
])
def test_malformed_files(tmp_path: Path, mutate, needle: str) -> None:
    rng = np.random.default_rng(2)
    text = skeleton_text([[("7", j)] for j in body(rng, 0.0, 0.1, 2)])
    p = tmp_path / "S001C001P001R001A001.skeleton"
    p.write_text(mutate(text))
    with pytest.raises(DataError, match=needle) as e:
        read_ntu_file(p)
    assert e.value.path == str(p)


def test_class_names_follow_the_official_list_and_the_release(ntu_dir: Path) -> None:
    ds = read_ntu(ntu_dir, progress=False)  # actions A1 and A50 only: an NTU-60 label space
    assert len(ds.class_names) == 60
    assert [c.meta.label_name for c in ds.clips] == ["drink water", "punching/slapping other person"]
    assert ds.class_names[59] == "walking apart from each other"
    shutil.copy(ntu_dir / "S001C001P001R001A001.skeleton", ntu_dir / "S018C001P001R001A061.skeleton")
    ds120 = read_ntu(ntu_dir, progress=False)  # one NTU-120 action: the full 120-way space
    assert len(ds120.class_names) == 120 and ds120.class_names[60] == "put on headphone"
    assert ds120.class_names[119] == "finger-guessing game (playing rock-paper-scissors)"
