"""The restricted unpickler: arrays and plain containers come out; anything else is refused, never run."""

from __future__ import annotations

import collections
import os
import pickle

import numpy as np
import pytest

from microgesture.data.safepickle import safe_load, safe_loads
from microgesture.errors import DataError, UnsafePickleError


class _Booby:
    """Unpickling this with plain pickle would run a shell command that creates a marker file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Plain:
    def __init__(self):
        self.x = 1


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_arrays_scalars_and_containers_round_trip(protocol):
    obj = {
        "f32": np.arange(12, dtype=np.float32).reshape(3, 4),
        "f16": np.linspace(0, 1, 5, dtype=np.float16),
        "i64": np.array([[1, 2], [3, 4]]),
        "fortran": np.asfortranarray(np.ones((2, 3), np.float32)),
        "scalar": np.float32(2.5),
        "dtype": np.dtype("<f4"),
        "list": [1, 2.0, "three", None, True],
        "tuple": (1, (2, 3)),
        "set": {1, 2},
        "frozenset": frozenset({"a"}),
        "ordered": collections.OrderedDict(a=1),
        "bytes": b"\x00\x01",
        "complex": 1 + 2j,
    }
    out = safe_loads(pickle.dumps(obj, protocol=protocol))
    assert out.keys() == obj.keys()
    for k, v in obj.items():
        if isinstance(v, np.ndarray):
            assert out[k].dtype == v.dtype and np.array_equal(out[k], v)
        else:
            assert out[k] == v and type(out[k]) is type(v)


def test_malicious_reduce_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"annotations": [_Booby(str(marker))]}))
    with pytest.raises(UnsafePickleError) as err:
        safe_load(path)
    assert not marker.exists(), "the pickle's payload ran"
    msg = str(err.value)
    assert msg.startswith(str(path)) and "system" in msg and "not allowed" in msg
    # the same pickle really is dangerous under plain pickle (proves the test is meaningful)
    pickle.loads(path.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize("payload", [
    _Plain(),
    eval,  # builtins.eval: a builtin, but not an allowed one
    collections.Counter("ab"),
    np.array([_Plain()], dtype=object),  # an object array smuggling a class instance
])
def test_non_array_objects_are_refused(payload):
    with pytest.raises(UnsafePickleError, match="not allowed"):
        safe_loads(pickle.dumps(payload), source="x.pkl")


def test_truncated_pickle_is_a_data_error_naming_the_file(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps({"a": np.zeros((50, 50))})[:-100])
    with pytest.raises(DataError, match=r"cut\.pkl: .*truncated or corrupt"):
        safe_load(path)


def test_empty_missing_and_garbage_files(tmp_path):
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        safe_load(empty)
    with pytest.raises(DataError, match="does not exist"):
        safe_load(tmp_path / "nope.pkl")
    with pytest.raises(DataError, match="is a directory"):
        safe_load(tmp_path)
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"this is not a pickle at all")
    with pytest.raises(DataError, match="junk.pkl"):
        safe_load(junk)


@pytest.mark.real_data
def test_real_release_label_pickles_load_safely(smg_label_pkl, imigue_root):
    """The (names, labels) pickles shipped with SMG and iMiGUE need nothing beyond the allow-list."""
    names, labels = safe_load(smg_label_pkl)
    assert len(names) == len(labels) == 610 and names[0] == "Sample00360"
    assert min(labels) == 0 and max(labels) == 16
    imigue = imigue_root / "raw_release_labels" / "train_label.pkl"
    if not imigue.exists():
        pytest.skip(f"{imigue} not present")
    names, labels = safe_load(imigue)  # protocol 2, written by Python 2-era tooling
    assert len(names) == len(labels) == 10228 and names[0] == "0187_0"
    assert min(labels) == 0 and max(labels) == 31
