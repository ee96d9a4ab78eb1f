"""KARD reader: real-world (3-D mm) and screen (2-D px) coordinates, subject splits, bad files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from microgesture.data.readers import detect_kind, open_dataset
from microgesture.data.readers.kard import read_kard, read_kard_file
from microgesture.errors import ConfigError, DataError


def _write(folder: Path, name: str, frames: int = 5) -> None:
    rng = np.random.default_rng(frames)
    rw = rng.uniform(-500, 3000, (frames * 15, 3))
    sc = np.concatenate([rng.uniform(0, 640, (frames * 15, 2)), rw[:, 2:]], axis=1)
    (folder / "kard_realworld").mkdir(exist_ok=True)
    (folder / "kard_screen").mkdir(exist_ok=True)
    np.savetxt(folder / "kard_realworld" / f"{name}_realworld.txt", rw, fmt="%.4f")
    np.savetxt(folder / "kard_screen" / f"{name}_screen.txt", sc, fmt="%.4f")


def test_both_coordinate_systems(tmp_path: Path) -> None:
    _write(tmp_path, "a01_s01_e01")
    _write(tmp_path, "a18_s02_e03", frames=7)
    assert detect_kind(tmp_path) == "kard"
    rw = open_dataset(tmp_path, progress=False)
    assert rw.name == "kard_realworld" and rw.layout == "openni15" and len(rw) == 2
    assert rw.clips[0].keypoints.shape == (1, 5, 15, 3) and rw.clips[0].meta.img_shape is None
    scr = read_kard(tmp_path, coords="screen", progress=False)
    c = scr.clips[1]
    assert c.keypoints.shape == (1, 7, 15, 2) and c.meta.img_shape == (480, 640)
    assert c.meta.label == 17 and c.meta.label_name == "Stand up" and c.meta.subject == "2"
    assert rw.splits["train"] == ["a01_s01_e01"] and rw.splits["test"] == ["a18_s02_e03"]
    assert rw.splits["loso2_test"] == ["a18_s02_e03"] and rw.splits["loso2_train"] == ["a01_s01_e01"]
    with pytest.raises(ConfigError):
        read_kard(tmp_path, coords="depth")


@pytest.mark.parametrize("content,needle", [
    ("", "empty file"),
    ("1 2 3\n" * 16, "16 rows is not a multiple of 15"),
    ("1 2 3\n" * 14 + "inf 2 3\n", "NaN or infinite"),
    ("0 0 0\n" * 15, "all coordinates are zero"),
])
def test_bad_files(tmp_path: Path, content: str, needle: str) -> None:
    p = tmp_path / "a01_s01_e01_realworld.txt"
    p.write_text(content)
    with pytest.raises(DataError, match=needle):
        read_kard_file(p)
    ds = read_kard(tmp_path, progress=False)
    assert len(ds) == 0 and ds.skipped[0].path == str(p) and needle.split()[0] in ds.skipped[0].reason


@pytest.mark.real_data
@pytest.mark.parametrize("coords", ["realworld", "screen"])
def test_golden(kard_dir: Path, coords: str) -> None:
    ds = read_kard(kard_dir, coords=coords, progress=False, strict=True)
    assert len(ds) == 540 and not ds.skipped
    assert Counter(c.meta.label for c in ds.clips) == {k: 30 for k in range(18)}
    assert Counter(c.meta.subject for c in ds.clips) == {str(s): 54 for s in range(1, 11)}
    frames = [c.num_frames for c in ds.clips]
    assert min(frames) == 42 and max(frames) == 310
    assert ds.clips[0].num_coords == (3 if coords == "realworld" else 2)
    if coords == "screen":
        u = np.concatenate([c.keypoints[..., 0].ravel() for c in ds.clips])
        assert 0 <= np.nanmin(u) and np.nanmax(u) < 640
