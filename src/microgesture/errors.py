"""Error types shared by every stage.

Why: the CLI turns these into one-line messages (no traceback unless ``--debug``), and every data error
names the file and the problem so a user can fix their input instead of reading a stack trace.
"""

from __future__ import annotations

from pathlib import Path


class MicrogestureError(Exception):
    """Base class for errors that are the user's to fix (bad input, bad config)."""


class DataError(MicrogestureError):
    """A data file is unreadable, corrupt, truncated, or has the wrong layout.

    The message always starts with the offending path so that reports list it verbatim.
    """

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class UnsafePickleError(DataError):
    """A pickle names a global that is not on the allow-list; it was not executed."""


class ConfigError(MicrogestureError):
    """A configuration value is missing or inconsistent."""


class CheckpointError(MicrogestureError):
    """A checkpoint does not match the architecture it is loaded into, or is not a microgesture checkpoint."""
