"""Load pickles without executing them: only numpy arrays and plain containers may come out.

Why: a pickle is a program. The field ships annotations as pickles (PYSKL, SMG, CrosSCLR label files)
that users download from file-sharing sites; ``pickle.load`` on such a file runs whatever callable it
names. This unpickler resolves only an allow-list of globals (numpy's array/dtype/scalar
reconstructors and builtin containers); any other name raises ``UnsafePickleError`` *before* anything
is called, so a booby-trapped file is refused, never run.
"""

from __future__ import annotations

import builtins
import importlib
import io
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, UnsafePickleError

# The globals numpy needs to rebuild arrays, dtypes and scalars (numpy 1.x writes ``numpy.core``,
# numpy 2.x writes ``numpy._core``; both spellings are admitted and resolved to what is installed).
_NUMPY_INTERNALS = {
    ("multiarray", "_reconstruct"),
    ("multiarray", "scalar"),
    ("numeric", "_frombuffer"),
}
_NUMPY_TOP = {"ndarray", "dtype"}
_BUILTINS = {
    "dict", "list", "tuple", "set", "frozenset", "str", "int", "float", "bool", "complex", "bytes",
    "bytearray",
}
_OTHER = {
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # protocol-2 pickles spell ``bytes`` objects as _codecs.encode(str, "latin1")
}
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


def _resolve(module: str, name: str) -> Any | None:
    """The allowed object for ``module.name``, or None when it is not on the allow-list."""
    module = _PY2_MODULES.get(module, module)
    if module == "builtins" and name in _BUILTINS:
        return getattr(builtins, name)
    if module == "numpy" and name in _NUMPY_TOP:
        return getattr(np, name)
    for prefix in ("numpy.core.", "numpy._core."):
        if module.startswith(prefix) and (module[len(prefix):], name) in _NUMPY_INTERNALS:
            return _numpy_internal(module[len(prefix):], name)
    if (module, name) in _OTHER:
        return getattr(importlib.import_module(module), name)
    return None


def _numpy_internal(submodule: str, name: str) -> Any:
    for base in ("numpy._core", "numpy.core"):  # prefer the non-deprecated spelling where it exists
        try:
            return getattr(importlib.import_module(f"{base}.{submodule}"), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"numpy has no {submodule}.{name}")


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, fh: Any, source: str, encoding: str):
        super().__init__(fh, encoding=encoding)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        obj = _resolve(module, name)
        if obj is None:
            raise UnsafePickleError(
                self._source, f"pickle names {module}.{name}, which is not allowed; refusing to load it")
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(self._source, "pickle uses persistent ids, which are not allowed; "
                                              "refusing to load it")


_CORRUPT = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            struct.error, ImportError, MemoryError, OverflowError, RecursionError, UnicodeDecodeError)


def safe_loads(data: bytes, source: str = "<bytes>", encoding: str = "latin1") -> Any:
    """Unpickle ``data`` admitting only numpy arrays/dtypes/scalars and builtin containers.

    ``encoding`` applies to Python 2 ``str`` objects; latin1 keeps Python 2 numpy pickles readable.
    """
    if not data:
        raise DataError(source, "is empty, not a pickle")
    return _load(io.BytesIO(data), source, encoding)


def _load(fh: Any, source: str, encoding: str) -> Any:
    try:
        return _RestrictedUnpickler(fh, source, encoding).load()
    except UnsafePickleError:
        raise
    except _CORRUPT as e:
        raise DataError(source, f"is not a readable pickle (truncated or corrupt): {type(e).__name__}: {e}") \
            from None


def safe_load(path: str | Path, encoding: str = "latin1") -> Any:
    """Read and safely unpickle the file at ``path`` (see ``safe_loads``)."""
    path = Path(path)
    try:
        fh = open(path, "rb")  # closed below; streamed, so a large file is never held twice in memory
    except FileNotFoundError:
        raise DataError(path, "does not exist") from None
    except IsADirectoryError:
        raise DataError(path, "is a directory, not a pickle file") from None
    except OSError as e:
        raise DataError(path, f"cannot be read: {e.strerror or e}") from None
    with fh:
        if path.stat().st_size == 0:
            raise DataError(path, "is empty, not a pickle")
        return _load(fh, str(path), encoding)
