"""Shared fixtures. Real-data tests read ``MICROGESTURE_DATA``; they skip where it is absent, but fail under CI."""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from microgesture.utils.paths import data_root


def skip_or_fail(msg: str) -> None:
    """Skip outside CI; under ``CI`` a missing prerequisite is a failure (a broken install must not hide)."""
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


def require_module(name: str, hint: str = "", *, find_only: bool = False) -> ModuleType | None:
    """Import optional dependency ``name`` (or, with ``find_only``, only check it is installed — for data
    packages such as the bundled GGUF whose ``__init__`` needs a CLI we do not install): skips where it is
    missing, fails under ``CI``."""
    if find_only:
        if importlib.util.find_spec(name) is None:
            skip_or_fail(f"optional package {name!r} is not installed{'; ' + hint if hint else ''}")
        return None
    try:
        return importlib.import_module(name)
    except ImportError as e:
        skip_or_fail(f"optional dependency {name!r} is not importable ({e}){'; ' + hint if hint else ''}")
        raise  # unreachable: skip_or_fail raises


def require_executable(*names: str) -> str:
    """Path of the first executable found among ``names``: skips where none is, fails under ``CI``."""
    for n in names:
        exe = shutil.which(n)
        if exe:
            return exe
    skip_or_fail(f"none of {names} is on PATH")
    raise AssertionError("unreachable")


def _require(path: Path) -> Path:
    if not path.exists():
        skip_or_fail(f"real data not found at {path} (set MICROGESTURE_DATA)")
    return path


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Root of the real datasets (``../shared/datasets``)."""
    return _require(data_root())


@pytest.fixture(scope="session")
def imigue_root(real_data: Path) -> Path:
    return _require(real_data / "imigue")


@pytest.fixture(scope="session")
def video298_dir(imigue_root: Path) -> Path:
    return _require(imigue_root / "raw" / "Data" / "skeleton" / "raw" / "298")


@pytest.fixture(scope="session")
def imigue_labels_csv(imigue_root: Path) -> Path:
    return _require(imigue_root / "raw" / "Label" / "labels_20200831.csv")


@pytest.fixture(scope="session")
def nw_ucla_dir(real_data: Path) -> Path:
    return _require(real_data / "nw_ucla" / "raw" / "data" / "NW-UCLA" / "all_sqe")


@pytest.fixture(scope="session")
def kard_dir(real_data: Path) -> Path:
    return _require(real_data / "kard" / "raw")


@pytest.fixture(scope="session")
def msr_dir(real_data: Path) -> Path:
    return _require(real_data / "msr_action3d" / "raw" / "data" / "MSRAction3D")


@pytest.fixture(scope="session")
def smg_label_pkl(real_data: Path) -> Path:
    return _require(real_data / "smg" / "raw" / "classification" / "SMG" / "1_st-gcn_smg" / "data"
                    / "SMGskeleton" / "test_label.pkl")
