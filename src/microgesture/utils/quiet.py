"""Keep third-party native libraries from writing to the terminal.

Why: MediaPipe's C++ graph (absl, TensorFlow Lite) prints several lines per graph and per model straight to
file descriptor 2 — below Python, so no logging setting reaches them — and they tear progress bars apart.
:func:`native_stderr_silenced` points descriptor 2 at ``/dev/null`` for a block while Python's own
``sys.stderr`` (our logs, progress bars) keeps writing to the real terminal. ``--verbose`` (environment
``MICROGESTURE_VERBOSE=1``) shows everything again.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

VERBOSE_ENV = "MICROGESTURE_VERBOSE"


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV) == "1"


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Descriptor 2 → /dev/null for the block; ``sys.stderr`` (Python writers) still reaches the terminal."""
    if verbose():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable descriptor 2 (embedded interpreters): nothing to do
        yield
        return
    py_stderr = sys.stderr
    devnull = os.open(os.devnull, os.O_WRONLY)
    replacement = None
    try:
        if getattr(py_stderr, "fileno", None) is not None and _fileno(py_stderr) == 2:
            replacement = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
            sys.stderr = replacement
        os.dup2(devnull, 2)
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, 2)
        sys.stderr = py_stderr
        if replacement is not None:
            replacement.close()
        os.close(saved)
        os.close(devnull)


def _fileno(stream) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):
        return None
